//! Security mechanisms as handshake state machines.
//!
//! Each mechanism is a chain of states; a state consumes one command by value
//! and returns the next state or the finished handshake, so no code path can
//! reach traffic without passing every check of the handshake. The connection
//! drives whichever chain its [`Mechanism`] selects.

use bytes::Bytes;

use crate::command::Command;
use crate::error::Error;
use crate::frame::Frame;
use crate::greeting::MechanismName;
use crate::metadata::Metadata;
use crate::outbox::Outbox;

mod null;

/// The security mechanism of a connection, with its settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mechanism {
    /// NULL (RFC 37): no authentication, no encryption. Symmetric.
    #[default]
    Null,
}

impl Mechanism {
    /// The name sent in the greeting.
    pub fn name(&self) -> MechanismName {
        match self {
            Mechanism::Null => MechanismName::NULL,
        }
    }

    /// The greeting's as-server octet. NULL peers send 0 (RFC 37).
    pub fn as_server(&self) -> bool {
        match self {
            Mechanism::Null => false,
        }
    }
}

/// A handshake in progress, whichever the mechanism.
#[derive(Debug)]
pub(crate) enum Handshake {
    Null(null::AwaitingReady),
}

/// What a handshake state returns for one command.
#[derive(Debug)]
pub(crate) enum Step {
    /// Still handshaking, in this state.
    #[expect(
        dead_code,
        reason = "NULL finishes in one step; PLAIN and CURVE take several"
    )]
    Continue(Handshake),
    /// Finished: the peer's metadata, and how traffic is framed from now on.
    Done(Metadata, Codec),
}

/// How frames travel once the handshake is done. NULL and PLAIN send them in
/// the clear; CURVE will seal each one into a MESSAGE command (RFC 26), and
/// every frame in either direction passes through here, so no path can bypass
/// the encryption.
#[derive(Debug)]
pub(crate) enum Codec {
    Clear,
}

impl Codec {
    /// Queues one message frame.
    pub(crate) fn seal_frame(&mut self, more: bool, body: &Bytes, out: &mut Outbox) {
        match self {
            Codec::Clear => out.frame(more, body),
        }
    }

    /// Queues one command (PING, PONG, SUBSCRIBE, ...).
    pub(crate) fn seal_command(&mut self, command: &Command, out: &mut Outbox) {
        match self {
            Codec::Clear => out.command(command),
        }
    }

    /// Turns a frame off the wire into the frame it carries.
    pub(crate) fn open(&mut self, frame: Frame) -> Result<Frame, Error> {
        match self {
            Codec::Clear => Ok(frame),
        }
    }
}

impl Handshake {
    /// Starts the handshake after the greetings, queuing our first command.
    pub(crate) fn start(mechanism: &Mechanism, ours: &Metadata, out: &mut Outbox) -> Handshake {
        match mechanism {
            Mechanism::Null => Handshake::Null(null::AwaitingReady::start(ours, out)),
        }
    }

    /// Feeds one command received during the handshake.
    pub(crate) fn handle(self, command: Command, _out: &mut Outbox) -> Result<Step, Error> {
        match self {
            Handshake::Null(state) => state.handle(command),
        }
    }
}
