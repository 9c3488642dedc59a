//! What a connection's reading costs the socket's memory budget
//! ([`crate::queue::budget`]): room is asked for before each read, and
//! given back for what the read did not use, for what decoding consumed
//! without keeping (frame headers, commands, a SUB's unwanted messages)
//! and, by the peer's lane, for what the application took.
//!
//! The octets in the connection (read and not decoded, and the frames of a
//! message partly received) stay counted until decoding turns them into
//! messages, which stay counted until they leave the socket.

use std::sync::Arc;
use std::task::{Context, Poll};

use weirmq_zmtp::Connection;

use crate::queue::budget::Account;

/// A read when the last one filled its buffer (more was waiting) ...
pub(crate) const READ_BUSY: usize = 64 * 1024;
/// ... and otherwise: the connection's own allowance, what an idle
/// connection's read buffer holds at most (it is given back when nothing is
/// buffered in it, see [`Intake::idle`]).
pub(crate) const READ_IDLE: usize = crate::queue::budget::ALLOWANCE;

/// One connection's reading, as the budget sees it.
pub(crate) struct Intake {
    account: Arc<Account>,
    /// Room granted for reads and not used yet.
    grant: usize,
    /// Octets read and still in the connection, counted in the account.
    in_conn: usize,
    /// Payload octets of messages decoded and kept since the last settle.
    kept: usize,
    /// The next read's size: [`READ_BUSY`] after a read that filled its
    /// buffer, [`READ_IDLE`] after one that did not.
    read_size: usize,
}

impl Intake {
    pub(crate) fn new(account: Arc<Account>) -> Intake {
        Intake {
            account,
            grant: 0,
            in_conn: 0,
            kept: 0,
            read_size: READ_IDLE,
        }
    }

    /// The size of the next read, as the connection's traffic suggests.
    pub(crate) fn read_size(&self) -> usize {
        self.read_size
    }

    /// Room for a read of up to `want` octets now; 0 when the budget has
    /// none (wait with [`Intake::poll_room`]). `mid_message`: the
    /// connection is in the middle of a message ([`mid_message`]).
    pub(crate) fn room(&mut self, want: usize, mid_message: bool) -> usize {
        if self.grant < want {
            self.grant += self.account.try_grow(want - self.grant, mid_message);
        }
        self.grant.min(want)
    }

    /// Waits for room in the budget (the next read's worth, or what there
    /// is); `cx` is woken when some has been set aside.
    pub(crate) fn poll_room(&mut self, conn: &Connection, cx: &mut Context<'_>) -> Poll<()> {
        let want = self.read_size.saturating_sub(self.grant).max(1);
        let got = std::task::ready!(self.account.poll_grow(want, mid_message(conn), cx));
        self.grant += got;
        Poll::Ready(())
    }

    /// A read of `n` octets into room of `limit` came in (0: the stream
    /// had nothing).
    pub(crate) fn read(&mut self, n: usize, limit: usize) {
        self.grant -= n;
        self.in_conn += n;
        self.read_size = if n == limit { READ_BUSY } else { READ_IDLE };
    }

    /// The last read took all the stream had.
    pub(crate) fn drained(&self) -> bool {
        self.read_size == READ_IDLE
    }

    /// A decoded message of `len` payload octets is kept (queued, or held
    /// for room): it stays counted until it leaves the socket.
    pub(crate) fn kept(&mut self, len: usize) {
        self.kept += len;
    }

    /// After decoding: what left the connection without being kept goes
    /// back to the budget (what was kept beyond it, a routing id put in
    /// front of a message, is counted in).
    pub(crate) fn settle(&mut self, conn: &Connection) {
        let now = conn.buffered_input() + conn.buffered_message();
        let consumed = self.in_conn.saturating_sub(now);
        match self.kept.checked_sub(consumed) {
            Some(extra) => self.account.force(extra),
            None => self.account.shrink(consumed - self.kept),
        }
        if self.kept > 0 || now == 0 {
            // A message is done: the reserve, if this connection had it to
            // finish one, may go to another.
            self.account.completed();
        }
        self.in_conn = now;
        self.kept = 0;
    }

    /// Nothing more to read for now: unused room goes back, and so does
    /// the read buffer's memory when nothing is buffered in it.
    pub(crate) fn idle(&mut self, conn: &mut Connection) {
        self.account.shrink(std::mem::take(&mut self.grant));
        conn.shrink_input();
    }

    /// The connection ends: what it held itself goes back (what waits in
    /// the peer's lane stays counted until taken), with `lost` payload
    /// octets of messages decoded and not delivered.
    pub(crate) fn end(&mut self, lost: usize) {
        let n = std::mem::take(&mut self.grant) + std::mem::take(&mut self.in_conn) + lost;
        self.account.shrink(n.min(self.account.held()));
    }
}

/// Whether the connection is in the middle of a message: octets of it are
/// read, none of it can be delivered yet. Such a connection may take the
/// budget's reserve to finish it.
pub(crate) fn mid_message(conn: &Connection) -> bool {
    conn.buffered_input() + conn.buffered_message() > 0
}
