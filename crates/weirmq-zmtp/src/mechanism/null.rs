//! The NULL mechanism (RFC 37 "The NULL Security Mechanism").
//!
//! ```text
//! null = ready *message | error
//! ```
//! Both peers send READY at once after the greeting and wait for the other's.
//! A peer may send messages once it has both sent and received READY.
//!
//! With [`Config::null_authenticate`](crate::Config::null_authenticate)
//! (libzmq: a socket with a ZAP domain), our READY waits for the caller's
//! verdict on the peer ([`AuthRequest::Null`]), as libzmq 4.3's
//! `null_mechanism_t::next_handshake_command` waits for its ZAP reply. A
//! READY the peer sends meanwhile is held, undecoded, until the verdict.

use crate::command::Command;
use crate::error::{Error, ErrorReason, ProtocolError};
use crate::mechanism::{AuthRequest, Codec, Handshake, Step};
use crate::metadata::Metadata;
use crate::outbox::Outbox;

/// Our READY is sent; the peer's is awaited.
#[derive(Debug)]
pub(crate) struct AwaitingReady {
    _sealed: (),
}

/// Nothing sent yet: the caller judges the peer before our READY goes out.
#[derive(Debug)]
pub(crate) struct AwaitingDecision {
    ours: Metadata,
}

impl AwaitingReady {
    pub(crate) fn start(ours: &Metadata, out: &mut Outbox) -> AwaitingReady {
        out.ready(ours);
        AwaitingReady { _sealed: () }
    }

    pub(crate) fn handle(self, command: Command) -> Result<Step, Error> {
        match command {
            Command::Ready(peer) => Ok(Step::Done(peer, Codec::Clear)),
            // A ZAP denial arrives here as ERROR "400" (libzmq).
            Command::Error(reason) => Err(Error::PeerError(reason)),
            other => Err(ProtocolError::UnexpectedCommand {
                name: ErrorReason(bytes::Bytes::copy_from_slice(other.name())),
            }
            .into()),
        }
    }
}

impl AwaitingDecision {
    /// Asks the caller to judge the peer; nothing is queued until then.
    pub(crate) fn start(ours: &Metadata) -> Step {
        Step::Authenticate(
            AuthRequest::Null,
            Handshake::NullDecision(AwaitingDecision { ours: ours.clone() }),
        )
    }

    /// The caller allowed the peer: our READY, then the peer's.
    pub(crate) fn allow(self, out: &mut Outbox) -> Step {
        Step::Continue(Handshake::Null(AwaitingReady::start(&self.ours, out)))
    }
}
