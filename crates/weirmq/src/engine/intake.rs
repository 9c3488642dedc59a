//! What a connection's reading costs the socket's memory budget
//! ([`crate::queue::budget`]): room is asked for before each read, and
//! given back for what the read did not use, for what decoding consumed
//! without keeping (frame headers, commands, a SUB's unwanted messages)
//! and, by the peer's lane, for what the application took.
//!
//! The octets in the connection (read and not decoded, and the frames of a
//! message partly received) stay counted until decoding turns them into
//! messages, which stay counted until they leave the socket.
//!
//! Room that decoding frees is kept for the connection's next read rather
//! than given back and asked for again: in the steady state a connection
//! reads without touching the budget's lock. What it holds unused goes
//! back once it is more than a read or two, at once when another account
//! waits for room, and when the connection has been idle for
//! [`IDLE_AFTER`] (its read buffer with it).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use weirmq_zmtp::Connection;

use crate::queue::budget::Account;

/// A read when the last one filled its buffer (more was waiting) ...
pub(crate) const READ_BUSY: usize = 64 * 1024;
/// ... and otherwise: the connection's own allowance, what an idle
/// connection's read buffer holds at most (it is given back when nothing is
/// buffered in it, see [`Intake::idle`]).
pub(crate) const READ_IDLE: usize = crate::queue::budget::ALLOWANCE;

/// Unused room a connection keeps for its next reads; more goes back.
const KEEP: usize = 2 * READ_BUSY;

/// After this long with nothing read and nothing buffered, a connection
/// gives back its read buffer and its unused room.
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(500);

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
    /// When octets last came.
    last_read: Instant,
}

impl Intake {
    pub(crate) fn new(account: Arc<Account>) -> Intake {
        Intake {
            account,
            grant: 0,
            in_conn: 0,
            kept: 0,
            read_size: READ_IDLE,
            last_read: Instant::now(),
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
    pub(crate) fn read(&mut self, n: usize, limit: usize, now: Instant) {
        self.grant -= n;
        self.in_conn += n;
        self.read_size = if n == limit { READ_BUSY } else { READ_IDLE };
        if n > 0 {
            self.last_read = now;
        }
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

    /// After decoding: what left the connection without being kept is
    /// room for the next read (what was kept beyond it, a routing id put in
    /// front of a message, comes out of that room, or is counted in).
    pub(crate) fn settle(&mut self, conn: &Connection) {
        let now = conn.buffered_input() + conn.buffered_message();
        let consumed = self.in_conn.saturating_sub(now);
        match self.kept.checked_sub(consumed) {
            Some(extra) if extra <= self.grant => self.grant -= extra,
            Some(extra) => {
                let unused = std::mem::take(&mut self.grant);
                self.account.force(extra - unused);
            }
            None => self.grant += consumed - self.kept,
        }
        if self.kept > 0 || now == 0 {
            // A message is done: the reserve, if this connection had it to
            // finish one, may go to another.
            self.account.completed();
        }
        self.in_conn = now;
        self.kept = 0;
        if self.grant > KEEP {
            self.account.shrink(self.grant - READ_BUSY);
            self.grant = READ_BUSY;
        }
    }

    /// The stream is drained for now: unused room goes back if another
    /// connection waits for some.
    pub(crate) fn drained_now(&mut self) {
        if self.account.is_contended() {
            self.account.shrink(std::mem::take(&mut self.grant));
        }
    }

    /// When the connection will have been idle long enough to give back
    /// its read buffer and its room (none while anything is buffered, or
    /// nothing is held).
    pub(crate) fn idle_at(&self, conn: &Connection) -> Option<Instant> {
        let holds = self.grant > 0 || conn.input_capacity() > 0;
        (holds && conn.buffered_input() == 0).then(|| self.last_read + IDLE_AFTER)
    }

    /// Gives back the read buffer and unused room, if the connection has
    /// been idle long enough ([`Intake::idle_at`]).
    pub(crate) fn idle(&mut self, conn: &mut Connection, now: Instant) {
        if self.idle_at(conn).is_some_and(|at| at <= now) {
            self.account.shrink(std::mem::take(&mut self.grant));
            conn.shrink_input();
        }
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
