//! The NULL mechanism (RFC 37 "The NULL Security Mechanism").
//!
//! ```text
//! null = ready *message | error
//! ```
//! Both peers send READY at once after the greeting and wait for the other's.
//! A peer may send messages once it has both sent and received READY.

use crate::command::Command;
use crate::error::{Error, ErrorReason, ProtocolError};
use crate::mechanism::{Codec, Step};
use crate::metadata::Metadata;
use crate::outbox::Outbox;

/// Our READY is sent; the peer's is awaited.
#[derive(Debug)]
pub(crate) struct AwaitingReady {
    _sealed: (),
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
