//! Errors, split by origin.
//!
//! A [`MalformedError`] means the peer's bytes break the ZMTP grammar; a
//! [`ProtocolError`] means well-formed input that the protocol does not allow
//! at this point or from this peer; a [`TimeoutError`] means the peer went
//! silent. Each of these closes the one connection it happened on. Mistakes by
//! the caller are [`UsageError`] and [`ConfigError`] and leave the connection
//! as it was.

use std::fmt;

use bytes::Bytes;

use crate::mechanism_name::MechanismName;
use crate::socket_type::SocketType;

/// Why a connection failed. Every variant closes that one connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer's bytes do not follow the ZMTP grammar.
    #[error("malformed input from peer: {0}")]
    Malformed(#[from] MalformedError),
    /// The peer sent well-formed input that the protocol does not allow here.
    #[error("protocol violation by peer: {0}")]
    Protocol(#[from] ProtocolError),
    /// The peer went silent for too long.
    #[error("timed out: {0}")]
    Timeout(#[from] TimeoutError),
    /// The peer sent an ERROR command and is closing the connection.
    #[error("peer sent ERROR: {0}")]
    PeerError(ErrorReason),
    /// Our authenticator refused the peer, with this status code.
    #[error("authentication denied: {0}")]
    AuthDenied(ErrorReason),
    /// The peer failed a CURVE check: a box that does not open, a replayed
    /// nonce, a command of the wrong size.
    #[error("CURVE: {0}")]
    Curve(#[from] CurveError),
}

/// A CURVE (RFC 26) check the peer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CurveError {
    /// A CURVE command whose size does not match its name.
    #[error("{command} of {size} octets (must be {expected})")]
    BadSize {
        /// The command.
        command: &'static str,
        /// The body size received.
        size: usize,
        /// What RFC 26 and libzmq require.
        expected: &'static str,
    },
    /// A HELLO for a CurveZMQ version other than 1.0.
    #[error("HELLO for CurveZMQ version {major}.{minor} (1.0 required)")]
    Version {
        /// The major version octet.
        major: u8,
        /// The minor version octet.
        minor: u8,
    },
    /// A box that does not open with the keys it must be sealed with: the
    /// peer has the wrong key, or the octets were forged or damaged.
    #[error("the {0} box does not open (wrong key, or forged)")]
    Unopened(&'static str),
    /// The INITIATE vouch names another short-term key or another server.
    #[error("the INITIATE vouch does not match this connection")]
    BadVouch,
    /// A short nonce that is not above the last one: a replayed or reordered
    /// frame (libzmq CVE-2014-7203).
    #[error("nonce {got} is not above the previous {last}: replayed or reordered")]
    NonceNotIncreasing {
        /// The nonce received.
        got: u64,
        /// The last nonce accepted.
        last: u64,
    },
    /// After the handshake every frame must be a MESSAGE.
    #[error("a frame after the handshake is not a MESSAGE")]
    NotMessage,
}

/// The reason text of an ERROR command, as the peer sent it.
///
/// Shown escaped (non-printable octets as `\xNN`), so a hostile peer cannot
/// write control characters into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorReason(pub Bytes);

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Debug for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorReason({self})")
    }
}

/// A field of the wire format, named in [`MalformedError`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The name-length octet and name that start every command.
    CommandName,
    /// The length octet and name of a metadata property.
    PropertyName,
    /// The 4-octet length of a metadata property value.
    PropertyValueLength,
    /// The value of a metadata property.
    PropertyValue,
    /// The reason of an ERROR command.
    ErrorReason,
    /// The 2-octet TTL of a PING command.
    PingTtl,
    /// A PLAIN user name or password.
    Credential,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::CommandName => "command name",
            Field::PropertyName => "property name",
            Field::PropertyValueLength => "property value length",
            Field::PropertyValue => "property value",
            Field::ErrorReason => "ERROR reason",
            Field::PingTtl => "PING TTL",
            Field::Credential => "PLAIN credential",
        })
    }
}

/// The peer's bytes break the ZMTP grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedError {
    /// The first ten octets are not `%xFF padding %x7F`: not a ZMTP 2.0+ peer
    /// (ZMTP 1.0 sends an identity frame here) or not ZMTP at all.
    #[error("bad greeting signature")]
    BadSignature,
    /// The greeting's mechanism field holds characters RFC 23 does not allow.
    #[error("malformed mechanism name in greeting")]
    BadMechanismName,
    /// A frame with the COMMAND and MORE flags both set.
    #[error("command frame with the MORE flag")]
    CommandWithMore,
    /// A message frame (or the message so far) larger than the configured maximum.
    #[error("message of {size} octets exceeds the limit of {limit}")]
    MessageTooLarge {
        /// The size the peer announced, plus the earlier frames of the message.
        size: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// A command frame larger than the configured maximum.
    #[error("command of {size} octets exceeds the limit of {limit}")]
    CommandTooLarge {
        /// The size the peer announced.
        size: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// A multipart message with more frames than the configured maximum.
    #[error("message has more than {limit} frames")]
    TooManyFrames {
        /// The configured maximum.
        limit: usize,
    },
    /// A field ends before its fixed size.
    #[error("{0} is truncated")]
    Truncated(Field),
    /// A length field claims more octets than the command holds.
    #[error("{field} claims {claimed} octets but only {available} remain")]
    LengthPastEnd {
        /// Which field.
        field: Field,
        /// The length the peer wrote.
        claimed: u64,
        /// The octets actually left in the command body.
        available: usize,
    },
    /// Octets after the last field of a command that has no room for them.
    #[error("unexpected octets after the {0}")]
    TrailingData(Field),
    /// A command name or a property name of zero length.
    #[error("empty {0}")]
    EmptyName(Field),
    /// A PING or PONG context over the 16 octets RFC 37 allows.
    #[error("PING/PONG context of {len} octets exceeds 16")]
    PingContextTooLong {
        /// The context length received.
        len: usize,
    },
    /// A Socket-Type property that names no known socket type.
    #[error("unknown Socket-Type {0}")]
    UnknownSocketType(ErrorReason),
    /// An Identity starting with a zero octet: RFC 37 reserves those for the
    /// ids a ROUTER generates, so accepting one would let a peer pose as
    /// another, anonymous, peer.
    #[error("Identity starts with a reserved zero octet")]
    ReservedIdentity,
    /// A property that decides how the connection is treated
    /// (`Socket-Type`, `Identity`) appears more than once, in any case.
    #[error("property {0} appears more than once")]
    DuplicateProperty(&'static str),
    /// An Identity property longer than 255 octets.
    #[error("Identity of {len} octets exceeds 255")]
    IdentityTooLong {
        /// The length received.
        len: usize,
    },
}

/// The peer sent well-formed input that the protocol does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A ZMTP 1.0 or 2.0 peer (or major version 0..2). Refused: speaking the
    /// old protocols would bypass security (libzmq CVE-2014-9721).
    #[error("unsupported ZMTP version {major} (3.0 or later required)")]
    UnsupportedVersion {
        /// The major version (revision) octet the peer sent.
        major: u8,
    },
    /// The peer asked for a mechanism this implementation does not know.
    #[error("unsupported security mechanism {0}")]
    UnsupportedMechanism(MechanismName),
    /// The peer asked for a different mechanism than ours.
    #[error("security mechanism mismatch: we use {ours}, peer uses {theirs}")]
    MechanismMismatch {
        /// Our mechanism.
        ours: MechanismName,
        /// The peer's mechanism.
        theirs: MechanismName,
    },
    /// The peer's socket type cannot talk to ours.
    #[error("incompatible socket types: we are {ours}, peer is {theirs}")]
    IncompatibleSocketType {
        /// Our socket type.
        ours: SocketType,
        /// The peer's socket type.
        theirs: SocketType,
    },
    /// A command that is not valid at this point of the handshake.
    #[error("unexpected command {name} during the handshake")]
    UnexpectedCommand {
        /// The command name as received.
        name: ErrorReason,
    },
    /// A message frame before the handshake finished.
    #[error("message frame before the handshake finished")]
    MessageBeforeHandshake,
    /// The handshake was interrupted by an earlier failure.
    #[error("the handshake was aborted")]
    HandshakeAborted,
}

/// The peer went silent for too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeoutError {
    /// The greeting and security handshake did not finish in time.
    #[error("handshake did not finish in time")]
    Handshake,
    /// Nothing arrived within the heartbeat timeout after our PING.
    #[error("no traffic within the heartbeat timeout after PING")]
    Heartbeat,
    /// Nothing arrived within the TTL the peer announced in its PING.
    #[error("no traffic within the TTL the peer announced")]
    PeerTtl,
}

/// The caller used the connection in a way it does not allow right now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// Messages can only be sent once the handshake has succeeded.
    #[error("the handshake has not finished: messages cannot be sent yet")]
    NotReady,
    /// The connection has failed or been closed.
    #[error("the connection is closed")]
    Closed,
    /// A message must have at least one frame.
    #[error("a message must have at least one frame")]
    EmptyMessage,
    /// A command body longer than a frame can carry in this implementation.
    #[error("{what} of {len} octets is too long (at most {max})")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
}

/// A connection configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Routing ids (identities) are 1 to 255 octets on the wire; the empty
    /// id means "none".
    #[error("routing id of {len} octets is too long (at most 255)")]
    RoutingIdTooLong {
        /// The length given.
        len: usize,
    },
    /// RFC 37 reserves routing ids starting with a zero octet for the
    /// implementation's own generated ids.
    #[error("routing id must not start with a zero octet (reserved for generated ids)")]
    RoutingIdReserved,
    /// The heartbeat TTL travels in tenths of a second in 16 bits.
    #[error("heartbeat TTL {0:?} exceeds the 6553.5 s the PING command can carry")]
    HeartbeatTtlTooLong(std::time::Duration),
    /// A zero duration where a positive one is needed.
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// A limit of zero would refuse every message.
    #[error("{0} must be greater than zero")]
    ZeroLimit(&'static str),
    /// A metadata property the caller set is reserved for the connection.
    #[error("property {0} is set by the connection itself")]
    ReservedProperty(ErrorReason),
    /// The mechanism cannot serve this socket type or role.
    #[error("{0}")]
    Mechanism(&'static str),
}
