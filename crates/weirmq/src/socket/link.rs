//! The connection a REQ's or REP's own task writes and reads through: a
//! request or reply has nothing to batch with (the peer answers before
//! another may go), so the sending task encodes and writes it at once when
//! the connection is idle, and a receiver with one peer reads and decodes
//! the reply itself, instead of handing each to the engine's task and
//! back. The engine implements it for its connection (its module docs
//! describe how the two take turns); the socket only holds it.

use std::task::{Context, Poll};

use bytes::Bytes;
use weirmq_zmtp::Message;

use crate::queue::pipe::Pipe;

/// A connection that a socket's task writes and reads through (REQ and
/// REP).
pub(crate) trait Through: Send + Sync {
    /// Sends what `out` holds: on the caller's task, at once, when the
    /// connection is idle; otherwise the engine is asked to. Never waits
    /// for the stream (only, briefly, for the engine's hold on the link).
    fn write_through(&self, out: &Pipe);

    /// Sends `msg` on the caller's task, past the peer's queue `out`, when
    /// that queue is empty and the connection idle: as [`Through::write_through`]
    /// would, without putting it in the queue and taking it out again.
    /// Otherwise `Err(msg)`, for the queue.
    fn send_through(&self, out: &Pipe, msg: Message) -> Result<(), Message>;

    /// The next message from the stream, with the peer's routing id `id`
    /// in front, for a receiver that found the socket's incoming queue
    /// empty: handed straight to it, while the messages read with it go into
    /// the peer's lane, in order. `Pending` with `cx` woken when the stream has more,
    /// or with nothing registered when the engine is the one to read now
    /// (its messages then come through the queue). Call
    /// [`Through::end_read_through`] once done waiting.
    fn poll_read_through(&self, id: &Bytes, cx: &mut Context<'_>) -> Poll<Message>;

    /// The receiver stopped waiting: the stream's read wake-up goes back
    /// to the engine.
    fn end_read_through(&self);
}
