//! Security mechanisms as handshake state machines.
//!
//! Each mechanism is a chain of states; a state consumes one command by value
//! and returns the next state or the finished handshake, so no code path can
//! reach traffic without passing every check of the handshake. The connection
//! drives whichever chain its [`Mechanism`] selects.

use bytes::{Bytes, BytesMut};

use crate::command::Command;
use crate::error::Error;
use crate::frame::{Frame, FrameDecoder};
use crate::keys::{Keypair, PublicKey};
use crate::mechanism_name::MechanismName;
use crate::metadata::Metadata;
use crate::outbox::Outbox;

mod crypto;
mod curve;
mod null;
mod plain;

pub(crate) use curve::MESSAGE_OVERHEAD;

/// The security mechanism of a connection, with its settings.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mechanism {
    /// NULL (RFC 37): no authentication, no encryption. Symmetric.
    #[default]
    Null,
    /// PLAIN client (RFC 24): sends a user name and a password, each at most
    /// 255 octets, in the clear.
    PlainClient {
        /// The user name.
        username: Bytes,
        /// The password (never shown by `Debug`).
        password: Bytes,
    },
    /// PLAIN server: each client's credentials come to the caller as an
    /// [`Event::Authenticate`](crate::Event::Authenticate) to allow or deny.
    PlainServer,
    /// CURVE client (RFC 26): encrypts and authenticates the connection to
    /// the server whose long-term public key is `server_key`, proving to it
    /// that we hold `keypair`.
    CurveClient {
        /// The server's long-term public key, known in advance.
        server_key: PublicKey,
        /// Our long-term keypair; the server sees its public half.
        keypair: Keypair,
    },
    /// CURVE server: proves to clients that it holds `keypair`; each client's
    /// long-term public key comes to the caller as an
    /// [`Event::Authenticate`](crate::Event::Authenticate) to allow or deny.
    CurveServer {
        /// Our long-term keypair; clients must know its public half.
        keypair: Keypair,
    },
}

impl std::fmt::Debug for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mechanism::Null => f.write_str("Null"),
            Mechanism::PlainClient { username, .. } => f
                .debug_struct("PlainClient")
                .field("username", &username.escape_ascii().to_string())
                .field("password", &"<redacted>")
                .finish(),
            Mechanism::PlainServer => f.write_str("PlainServer"),
            Mechanism::CurveClient {
                server_key,
                keypair,
            } => f
                .debug_struct("CurveClient")
                .field("server_key", server_key)
                .field("keypair", keypair)
                .finish(),
            Mechanism::CurveServer { keypair } => f
                .debug_struct("CurveServer")
                .field("keypair", keypair)
                .finish(),
        }
    }
}

/// Credentials a server mechanism asks the caller to judge.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthRequest {
    /// PLAIN: a user name and a password.
    Plain {
        /// The user name.
        username: Bytes,
        /// The password (never shown by `Debug`).
        password: Bytes,
    },
    /// CURVE: the client's long-term public key, which it has proved it
    /// holds the secret key of.
    Curve {
        /// The client's long-term public key.
        public_key: PublicKey,
    },
    /// NULL, on a connection configured to ask
    /// ([`Config::null_authenticate`](crate::Config::null_authenticate);
    /// libzmq: a socket with a ZAP domain): no credentials, the peer is
    /// judged by what the caller knows of it (its address). Asked before
    /// our READY is sent.
    Null,
}

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthRequest::Plain { username, .. } => f
                .debug_struct("Plain")
                .field("username", &username.escape_ascii().to_string())
                .field("password", &"<redacted>")
                .finish(),
            AuthRequest::Curve { public_key } => f
                .debug_struct("Curve")
                .field("public_key", public_key)
                .finish(),
            AuthRequest::Null => f.write_str("Null"),
        }
    }
}

impl Mechanism {
    /// The name sent in the greeting.
    pub fn name(&self) -> MechanismName {
        match self {
            Mechanism::Null => MechanismName::NULL,
            Mechanism::PlainClient { .. } | Mechanism::PlainServer => MechanismName::PLAIN,
            Mechanism::CurveClient { .. } | Mechanism::CurveServer { .. } => MechanismName::CURVE,
        }
    }

    /// The greeting's as-server octet. NULL peers send 0 (RFC 37).
    pub fn as_server(&self) -> bool {
        matches!(self, Mechanism::PlainServer | Mechanism::CurveServer { .. })
    }
}

/// A handshake in progress, whichever the mechanism.
#[derive(Debug)]
pub(crate) enum Handshake {
    Null(null::AwaitingReady),
    NullDecision(null::AwaitingDecision),
    PlainClientWelcome(plain::ClientAwaitingWelcome),
    PlainClientReady(plain::ClientAwaitingReady),
    PlainServerHello(plain::ServerAwaitingHello),
    PlainServerDecision(plain::ServerAwaitingDecision),
    PlainServerInitiate(plain::ServerAwaitingInitiate),
    CurveClientWelcome(curve::client::ClientAwaitingWelcome),
    CurveClientReady(curve::client::ClientAwaitingReady),
    CurveServerHello(curve::server::ServerAwaitingHello),
    CurveServerInitiate(curve::server::ServerAwaitingInitiate),
    CurveServerDecision(curve::server::ServerAwaitingDecision),
    /// Done, by the caller's decision rather than by a command: the
    /// connection finishes it at its next poll.
    Finished(Metadata, Codec),
}

/// What a handshake state returns for one command.
#[derive(Debug)]
pub(crate) enum Step {
    /// Still handshaking, in this state.
    Continue(Handshake),
    /// The caller must judge these credentials; the handshake waits in this
    /// state for [`Handshake::decide`].
    Authenticate(AuthRequest, Handshake),
    /// Finished: the peer's metadata, and how traffic is framed from now on.
    Done(Metadata, Codec),
}

/// How frames travel once the handshake is done. NULL and PLAIN send them in
/// the clear; CURVE seals each one into a MESSAGE (RFC 26). Every frame and
/// command in either direction passes through here, so no path can bypass
/// the encryption.
#[derive(Debug)]
pub(crate) enum Codec {
    Clear,
    Curve(Box<curve::CurveCodec>),
}

impl Codec {
    /// Queues one message frame.
    pub(crate) fn seal_frame(&mut self, more: bool, body: &Bytes, out: &mut Outbox) {
        match self {
            Codec::Clear => out.frame(more, body),
            Codec::Curve(c) => c.seal_frame(more, body, out),
        }
    }

    /// Queues one message frame, copying its body.
    pub(crate) fn seal_slice(&mut self, more: bool, body: &[u8], out: &mut Outbox) {
        match self {
            Codec::Clear => out.frame_copied(more, body),
            Codec::Curve(c) => c.seal_frame(more, body, out),
        }
    }

    /// Queues one command (PING, PONG, SUBSCRIBE, ...).
    pub(crate) fn seal_command(&mut self, command: &Command, out: &mut Outbox) {
        match self {
            Codec::Clear => out.command(command),
            Codec::Curve(c) => c.seal_command(command, out),
        }
    }

    /// Takes the next frame off the wire and turns it into the frame it
    /// carries.
    pub(crate) fn next_frame(
        &mut self,
        decoder: &mut FrameDecoder,
        input: &mut BytesMut,
    ) -> Result<Option<Frame>, Error> {
        match self {
            Codec::Clear => Ok(decoder.decode(input)?),
            Codec::Curve(c) => {
                let Some((_, _, body)) = decoder.decode_mut(input)? else {
                    return Ok(None);
                };
                let frame = c.open(body)?;
                decoder.account_sealed(&frame);
                Ok(Some(frame))
            }
        }
    }

    /// What each frame on the wire adds to the frame it carries, if frames
    /// are wrapped.
    pub(crate) fn overhead(&self) -> Option<usize> {
        match self {
            Codec::Clear => None,
            Codec::Curve(_) => Some(MESSAGE_OVERHEAD),
        }
    }
}

impl Handshake {
    /// Starts the handshake after the greetings, queuing our first command
    /// (or, for NULL when `null_authenticate`, first asking the caller).
    pub(crate) fn start(
        mechanism: &Mechanism,
        null_authenticate: bool,
        ours: &Metadata,
        out: &mut Outbox,
    ) -> Step {
        let state = match mechanism {
            Mechanism::Null if null_authenticate => return null::AwaitingDecision::start(ours),
            Mechanism::Null => Handshake::Null(null::AwaitingReady::start(ours, out)),
            Mechanism::PlainClient { username, password } => Handshake::PlainClientWelcome(
                plain::ClientAwaitingWelcome::start(username, password, ours, out),
            ),
            Mechanism::PlainServer => {
                Handshake::PlainServerHello(plain::ServerAwaitingHello::start(ours))
            }
            Mechanism::CurveClient {
                server_key,
                keypair,
            } => Handshake::CurveClientWelcome(curve::client::ClientAwaitingWelcome::start(
                server_key, keypair, ours, out,
            )),
            Mechanism::CurveServer { keypair } => Handshake::CurveServerHello(
                curve::server::ServerAwaitingHello::start(keypair, ours),
            ),
        };
        Step::Continue(state)
    }

    /// Feeds the body of one command frame received during the handshake.
    /// CURVE parses its commands itself: their bodies are sealed boxes, not
    /// the metadata a clear READY carries.
    pub(crate) fn handle(self, body: Bytes, out: &mut Outbox) -> Result<Step, Error> {
        match self {
            Handshake::Null(state) => state.handle(Command::decode(body)?),
            Handshake::PlainClientWelcome(state) => state.handle(Command::decode(body)?, out),
            Handshake::PlainClientReady(state) => state.handle(Command::decode(body)?),
            Handshake::PlainServerHello(state) => state.handle(Command::decode(body)?),
            Handshake::PlainServerInitiate(state) => state.handle(Command::decode(body)?, out),
            Handshake::CurveClientWelcome(state) => state.handle(body, out),
            Handshake::CurveClientReady(state) => state.handle(body),
            Handshake::CurveServerHello(state) => state.handle(body, out),
            Handshake::CurveServerInitiate(state) => state.handle(body),
            // No command is expected while the caller decides, nor after the
            // decision finished the handshake (the connection never feeds
            // one then).
            Handshake::PlainServerDecision(_)
            | Handshake::CurveServerDecision(_)
            | Handshake::NullDecision(_)
            | Handshake::Finished(..) => {
                let name = Command::decode(body).map(|c| Bytes::copy_from_slice(c.name()))?;
                Err(crate::error::ProtocolError::UnexpectedCommand {
                    name: crate::error::ErrorReason(name),
                }
                .into())
            }
        }
    }

    /// Whether the handshake waits for the caller's decision.
    pub(crate) fn awaits_decision(&self) -> bool {
        matches!(
            self,
            Handshake::PlainServerDecision(_)
                | Handshake::CurveServerDecision(_)
                | Handshake::NullDecision(_)
        )
    }

    /// Applies the caller's decision on the credentials: continue, or send
    /// ERROR with the status code and fail.
    pub(crate) fn decide(self, decision: &AuthDecision, out: &mut Outbox) -> Result<Step, Error> {
        match (self, decision) {
            (Handshake::NullDecision(state), AuthDecision::Allow { .. }) => Ok(state.allow(out)),
            // libzmq 4.3 (null_mechanism.cpp; zap_client.cpp for PLAIN and
            // CURVE, after the CurveZMQ RFC): a "300" (temporary failure)
            // sends no ERROR; the peer is just disconnected.
            (_, AuthDecision::Deny { status }) if status[..] == *b"300" => {
                Err(Error::AuthDenied(crate::error::ErrorReason(status.clone())))
            }
            (Handshake::PlainServerDecision(state), AuthDecision::Allow { .. }) => {
                Ok(state.allow(out))
            }
            (Handshake::CurveServerDecision(state), AuthDecision::Allow { .. }) => {
                Ok(state.allow(out))
            }
            (_, AuthDecision::Deny { status }) => {
                // ZAP status codes travel as the ERROR reason (libzmq).
                out.command(&Command::Error(crate::error::ErrorReason(status.clone())));
                Err(Error::AuthDenied(crate::error::ErrorReason(status.clone())))
            }
            (state, AuthDecision::Allow { .. }) => Ok(Step::Continue(state)),
        }
    }
}

/// The caller's verdict on an [`AuthRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthDecision {
    /// Let the client in, known as `user_id` (ZAP's User-Id).
    Allow {
        /// The identity the application sees for this peer.
        user_id: Bytes,
    },
    /// Refuse it; `status` is ZAP's code ("400" denied, "300" temporary,
    /// "500" internal), sent to the client in an ERROR command (but for
    /// "300": the client is disconnected without one, as libzmq does).
    Deny {
        /// The status code.
        status: Bytes,
    },
}
