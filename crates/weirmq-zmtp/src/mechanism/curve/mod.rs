//! The CURVE mechanism (RFC 26, CurveZMQ, as libzmq 4.3 implements it).
//!
//! ```text
//! C: HELLO    = C', Box[64 zeros](C'->S)
//! S: WELCOME  = Box[S' + cookie](S->C'),  cookie = Box[C' + s'](K)
//! C: INITIATE = cookie, Box[C + vouch + metadata](C'->S'),
//!               vouch = Box[C' + S](C->S')
//! S: READY    = Box[metadata](S'->C')
//! then MESSAGE = short nonce, Box[flags + frame](C'<->S'), in both directions
//! ```
//! Capital letters are public keys, small ones secret; primes are the
//! short-term keys made for one connection, so a stolen long-term key does
//! not open recorded traffic. `K` is a key the server makes for this one
//! handshake and forgets after INITIATE: until the client proves, in
//! INITIATE, that it holds `c'` and `c`, the server keeps no state about the
//! client, only `K`; what it needs comes back to it inside the cookie.
//!
//! Sizes and nonce prefixes follow libzmq (zmtp-notes.md): the RFC grammar's
//! `CurveZMQMESSAGE-` prefix is an erratum for `CurveZMQMESSAGEC` (client to
//! server) and `CurveZMQMESSAGES` (server to client).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::command::Command;
use crate::error::{CurveError, Error, ErrorReason, MalformedError, ProtocolError};
use crate::frame::{Frame, encode_header};
use crate::mechanism::crypto::{BoxKey, NONCE_TAIL_LEN, StreamKey, TAG_LEN};
use crate::outbox::Outbox;

pub(crate) mod client;
pub(crate) mod server;

const HELLO: &[u8] = b"\x05HELLO";
const WELCOME: &[u8] = b"\x07WELCOME";
const INITIATE: &[u8] = b"\x08INITIATE";
const READY: &[u8] = b"\x05READY";
const MESSAGE: &[u8] = b"\x07MESSAGE";

const HELLO_NONCE: &[u8; 16] = b"CurveZMQHELLO---";
const WELCOME_NONCE: &[u8; 8] = b"WELCOME-";
const COOKIE_NONCE: &[u8; 8] = b"COOKIE--";
const VOUCH_NONCE: &[u8; 8] = b"VOUCH---";
const INITIATE_NONCE: &[u8; 16] = b"CurveZMQINITIATE";
const READY_NONCE: &[u8; 16] = b"CurveZMQREADY---";
const MESSAGE_NONCE_C: &[u8; 16] = b"CurveZMQMESSAGEC";
const MESSAGE_NONCE_S: &[u8; 16] = b"CurveZMQMESSAGES";

/// HELLO: name, version 1.0, 72 octets of padding (the RFC's "70" is an
/// erratum), C', short nonce, Box[64 zeros].
const HELLO_LEN: usize = 200;
const HELLO_PADDING: usize = 72;
/// WELCOME: name, 16-octet nonce, Box[S' + cookie] (16 + 32 + 96).
const WELCOME_LEN: usize = 168;
/// A cookie: 16-octet nonce, Box[C' + s'].
const COOKIE_LEN: usize = 96;
/// A vouch: 16-octet nonce, Box[C' + S].
const VOUCH_LEN: usize = 96;
/// INITIATE: name, cookie, short nonce, Box[C + vouch] before any metadata.
const INITIATE_MIN: usize = 9 + COOKIE_LEN + 8 + TAG_LEN + 32 + VOUCH_LEN;
/// READY: name, short nonce, an empty box.
const READY_MIN: usize = 6 + 8 + TAG_LEN;
/// What a MESSAGE adds to the frame it carries: name, short nonce, tag,
/// flags.
pub(crate) const MESSAGE_OVERHEAD: usize = 8 + 8 + TAG_LEN + 1;

/// The MESSAGE flags octet (libzmq passes exactly these two bits).
const FLAG_MORE: u8 = 0x01;
const FLAG_COMMAND: u8 = 0x02;

/// Refuses a command of the wrong size.
fn check_size(
    command: &'static str,
    body: &[u8],
    ok: bool,
    expected: &'static str,
) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(CurveError::BadSize {
            command,
            size: body.len(),
            expected,
        }
        .into())
    }
}

/// A handshake command other than the one expected: ERROR ends the
/// handshake with the peer's reason, anything else is a protocol error.
fn unexpected(body: Bytes) -> Error {
    match Command::decode(body) {
        Ok(Command::Error(reason)) => Error::PeerError(reason),
        Ok(other) => ProtocolError::UnexpectedCommand {
            name: ErrorReason(Bytes::copy_from_slice(other.name())),
        }
        .into(),
        Err(e) => e.into(),
    }
}

fn short_nonce(octets: &[u8]) -> u64 {
    let mut be = [0; 8];
    be.copy_from_slice(&octets[..8]);
    u64::from_be_bytes(be)
}

/// Traffic after a CURVE handshake: every frame, and every command (PING,
/// SUBSCRIBE, ...), travels sealed in a MESSAGE under the short-term keys.
pub(crate) struct CurveCodec {
    /// Seals our MESSAGEs: the session key with our direction's nonce
    /// prefix.
    send: StreamKey,
    /// Opens the peer's, with its prefix.
    recv: StreamKey,
    /// The short nonce of our next MESSAGE.
    next_nonce: u64,
    /// The peer's last short nonce; the next must be above it.
    peer_nonce: u64,
}

impl std::fmt::Debug for CurveCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurveCodec")
            .field("next_nonce", &self.next_nonce)
            .field("peer_nonce", &self.peer_nonce)
            .finish_non_exhaustive()
    }
}

impl CurveCodec {
    /// Traffic under the session key (C' and S'), from the client's side
    /// (`client`) or the server's, once the handshake has used the short
    /// nonces below `next_nonce` and the peer's up to `peer_nonce`.
    pub(crate) fn new(session: &BoxKey, client: bool, next_nonce: u64, peer_nonce: u64) -> Self {
        let (send, recv) = if client {
            (MESSAGE_NONCE_C, MESSAGE_NONCE_S)
        } else {
            (MESSAGE_NONCE_S, MESSAGE_NONCE_C)
        };
        CurveCodec {
            send: session.stream(send),
            recv: session.stream(recv),
            next_nonce,
            peer_nonce,
        }
    }

    /// Seals one frame into a MESSAGE, built in place in the send buffer: one
    /// copy of the body, encrypted where it lies.
    fn seal(&mut self, flags: u8, body: &[u8], out: &mut Outbox) {
        let tail = self.next_nonce.to_be_bytes();
        // 2^64 MESSAGEs would take millennia; wrapping would reuse a nonce.
        self.next_nonce = self
            .next_nonce
            .checked_add(1)
            .expect("CURVE nonce space exhausted");
        let staged = out.staged(crate::frame::MAX_HEADER_LEN + MESSAGE_OVERHEAD + body.len());
        encode_header(staged, false, false, MESSAGE_OVERHEAD + body.len());
        staged.extend_from_slice(MESSAGE);
        staged.extend_from_slice(&tail);
        let tag_at = staged.len();
        staged.extend_from_slice(&[0; TAG_LEN]);
        staged.put_u8(flags);
        staged.extend_from_slice(body);
        let (tag, plain) = staged[tag_at..].split_at_mut(TAG_LEN);
        tag.copy_from_slice(&self.send.seal_in_place(&tail, plain));
    }

    pub(crate) fn seal_frame(&mut self, more: bool, body: &[u8], out: &mut Outbox) {
        self.seal(if more { FLAG_MORE } else { 0 }, body, out);
    }

    pub(crate) fn seal_command(&mut self, command: &Command, out: &mut Outbox) {
        let mut frame = BytesMut::new();
        command.encode(&mut frame);
        let header = if command.body_len() > 255 { 9 } else { 2 };
        self.seal(FLAG_COMMAND, &frame[header..], out);
    }

    /// Opens one MESSAGE into the frame it carries, decrypting in place: the
    /// frame that comes out shares the receive buffer, uncopied.
    pub(crate) fn open(&mut self, mut body: BytesMut) -> Result<Frame, Error> {
        if !body.starts_with(MESSAGE) {
            return Err(CurveError::NotMessage.into());
        }
        check_size(
            "MESSAGE",
            &body,
            body.len() >= MESSAGE_OVERHEAD,
            "at least 33",
        )?;
        let mut tail = [0; NONCE_TAIL_LEN];
        tail.copy_from_slice(&body[8..16]);
        let got = u64::from_be_bytes(tail);
        // RFC 26: "the server SHALL verify that the nonce is strictly greater
        // than the last one" (and the client likewise): a replayed or
        // reordered MESSAGE closes the connection (libzmq CVE-2014-7203).
        if got <= self.peer_nonce {
            return Err(CurveError::NonceNotIncreasing {
                got,
                last: self.peer_nonce,
            }
            .into());
        }
        let mut tag = [0; TAG_LEN];
        tag.copy_from_slice(&body[16..32]);
        self.recv
            .open_in_place(&tail, &mut body[32..], &tag)
            .map_err(|_| CurveError::Unopened("MESSAGE"))?;
        // Only an authentic MESSAGE moves the window: a forged one with a
        // huge nonce must not lock the real peer out.
        self.peer_nonce = got;
        let flags = body[32];
        let more = flags & FLAG_MORE != 0;
        let command = flags & FLAG_COMMAND != 0;
        if more && command {
            return Err(MalformedError::CommandWithMore.into());
        }
        // The frame is what follows the flags, where it was decrypted.
        body.advance(MESSAGE_OVERHEAD);
        Ok(Frame {
            more,
            command,
            body: body.freeze(),
        })
    }
}
