//! Errors of socket operations.

use std::io;
use std::time::Duration;

use weirmq_zmtp::Message;

/// What went wrong with a socket operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint string is not one weirmq understands.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An option value that cannot work.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The operation did not complete within its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The socket is closed.
    #[error("the socket is closed")]
    Closed,
    /// A message with no frames.
    #[error("a message must have at least one frame")]
    EmptyMessage,
    /// No connected peer has the routing id the message is addressed to
    /// (the message is not sent; libzmq's ROUTER would drop it silently).
    #[error("no connected peer has that routing id")]
    Unroutable,
    /// The operation is not allowed in the socket's current state, such as a
    /// REQ sending twice without receiving the reply.
    #[error("{0}")]
    InvalidState(&'static str),
    /// A message without the frames this socket type needs.
    #[error("{0}")]
    InvalidMessage(&'static str),
    /// Binding or connecting failed at the operating system.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Why [`try_send`](crate::SendSocket::try_send) handed a message back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError {
    /// Every peer's queue is at its high-water mark (or there is no peer):
    /// sending now would have to wait.
    #[error("queue full")]
    Full(Message),
    /// The socket is closed.
    #[error("the socket is closed")]
    Closed(Message),
    /// No connected peer has the routing id the message is addressed to.
    #[error("no connected peer has that routing id")]
    Unroutable(Message),
    /// A message with no frames: there is nothing to send.
    #[error("a message must have at least one frame")]
    Empty(Message),
    /// The socket's turn-taking does not allow it now: a REQ awaiting its
    /// reply, a REP that has no request to reply to.
    #[error("out of turn: {1}")]
    OutOfTurn(Message, &'static str),
    /// Sending now would go over
    /// [`Options::send_rate`](crate::Options::send_rate): it would have
    /// to wait.
    #[error("over the send rate")]
    RateLimited(Message),
}

impl TrySendError {
    /// The message that was not sent.
    pub fn into_message(self) -> Message {
        match self {
            TrySendError::Full(m)
            | TrySendError::Closed(m)
            | TrySendError::Unroutable(m)
            | TrySendError::Empty(m)
            | TrySendError::OutOfTurn(m, _)
            | TrySendError::RateLimited(m) => m,
        }
    }

    /// The same refusal, with `f` applied to the message handed back.
    pub(crate) fn map(self, f: impl FnOnce(Message) -> Message) -> TrySendError {
        match self {
            TrySendError::Full(m) => TrySendError::Full(f(m)),
            TrySendError::Closed(m) => TrySendError::Closed(f(m)),
            TrySendError::Unroutable(m) => TrySendError::Unroutable(f(m)),
            TrySendError::Empty(m) => TrySendError::Empty(f(m)),
            TrySendError::OutOfTurn(m, why) => TrySendError::OutOfTurn(f(m), why),
            TrySendError::RateLimited(m) => TrySendError::RateLimited(f(m)),
        }
    }
}
