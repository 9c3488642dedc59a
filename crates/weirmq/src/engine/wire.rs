//! A connection and its stream, as the engine and a socket's own task share
//! them (see the module docs of the engine): the [`Link`], and what it
//! guards, the [`Wire`], whose reads (within the memory budget), encodes
//! and writes are the same whoever calls them.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};
use std::time::Instant;

use tokio::sync::Notify;
use weirmq_zmtp::Connection;

use super::intake::{self, Intake};
use super::unsent::Unsent;
use super::{End, POP_BATCH, WRITE_BATCH};
use crate::queue::entry::Entry;
use crate::queue::inbound::InLane;
use crate::queue::pipe::Pipe;
use crate::transport::Stream;

/// A connection and its stream: what the engine and a socket's task that
/// writes or reads through it share (see the module docs). The engine holds
/// it from the start of the connection to the end; [`Link::take`] gives it
/// back then.
pub(crate) struct Link<S> {
    wire: Mutex<Option<Wire<S>>>,
    /// Raised by a sender or receiver that left work for the engine.
    pub(super) kick: Notify,
    /// Whether the engine holds decoded messages not handed on yet, or is
    /// closing: a reading-through receiver then leaves the stream to it, so
    /// that nothing overtakes those messages. Raised under the lock;
    /// lowered once they are handed on, without it.
    pub(super) engine_holds: AtomicBool,
}

/// What a [`Link`] guards.
pub(super) struct Wire<S> {
    pub(super) conn: Connection,
    pub(super) unsent: Unsent,
    pub(super) stream: S,
    /// Reused for each batch taken from the pipe.
    batch: VecDeque<Entry>,
    /// The read side's turn-taking and what a receiver handed back.
    pub(super) reading: Reading,
    /// The peer's incoming lane, once it is ready (for a receiver reading
    /// through, which queues there what it does not take itself).
    pub(super) lane: Option<Arc<InLane>>,
    /// What reading costs the socket's memory budget.
    pub(super) intake: Intake,
}

/// What a read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Read {
    /// Octets, now in the connection's input.
    Some,
    /// Nothing: the stream is not ready any more.
    Nothing,
    /// No room in the memory budget: nothing was read.
    Starved,
}

/// Who reads a [`Wire`]'s stream, and what a reading-through receiver left
/// for the engine.
#[derive(Default)]
pub(super) struct Reading {
    /// The engine's wake-up, for a receiver to put back in the stream's
    /// read slot when it stops.
    engine: Option<Waker>,
    /// A receiver reads through, and holds the read slot.
    pub(super) receiver: bool,
    /// A message the receiver decoded and found no room for; the engine
    /// hands it on, then decodes the rest before it reads again.
    pub(super) held: Option<Entry>,
    /// How the connection ended, as the receiver found out.
    pub(super) ended: Option<End>,
}

impl<S: Stream> Link<S> {
    pub(super) fn new(wire: Wire<S>) -> Link<S> {
        Link {
            wire: Mutex::new(Some(wire)),
            kick: Notify::new(),
            engine_holds: AtomicBool::new(false),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Option<Wire<S>>> {
        crate::socket::lock(&self.wire)
    }

    /// Ends sharing: the engine has the parts back for its last flush.
    pub(super) fn take(&self) -> Wire<S> {
        match self.lock().take() {
            Some(wire) => wire,
            None => unreachable!("only the engine takes its link, once"),
        }
    }

    /// Runs `f` on the wire, under the lock.
    pub(super) fn with_wire<T>(&self, f: impl FnOnce(&mut Wire<S>) -> T) -> T {
        match self.lock().as_mut() {
            Some(wire) => f(wire),
            None => unreachable!("the engine holds its link until `drive` returns"),
        }
    }

    /// Writes some of the unwritten output.
    pub(super) fn poll_write(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.lock().as_mut() {
            Some(wire) => wire.poll_write(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// The engine's wait for room in the memory budget.
    pub(super) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self.lock().as_mut() {
            Some(wire) => wire.intake.poll_room(&wire.conn, cx),
            None => Poll::Ready(()),
        }
    }

    /// The engine's wait for input: never ready while a receiver reads
    /// through (its wake-up is kept for the receiver to give back).
    pub(super) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut guard = self.lock();
        let Some(wire) = guard.as_mut() else {
            unreachable!("the engine holds its link until `drive` returns")
        };
        let reading = &mut wire.reading;
        if !reading
            .engine
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            reading.engine = Some(cx.waker().clone());
        }
        if reading.receiver {
            return Poll::Pending;
        }
        wire.stream.poll_read_ready(cx)
    }
}

impl<S: Stream> Wire<S> {
    /// A connection's wire, before its handshake.
    pub(super) fn new(conn: Connection, stream: S, intake: Intake) -> Wire<S> {
        Wire {
            conn,
            unsent: Unsent::default(),
            stream,
            batch: VecDeque::with_capacity(POP_BATCH),
            reading: Reading::default(),
            lane: None,
            intake,
        }
    }

    /// Encodes one message, and tracks it until it is wholly written.
    #[inline]
    pub(super) fn encode(&mut self, entry: Entry) {
        encode_tracked(&mut self.conn, &mut self.unsent, entry);
    }

    /// Encodes messages from `out`, a batch at a time, while the output is
    /// under [`WRITE_BATCH`] and until a batch comes up short; whether
    /// `out` was found empty. A SUB's pipe carries its subscriptions.
    pub(super) fn encode_from(&mut self, out: &Pipe, subscriber: bool) -> bool {
        // Not after a failure: the messages stay queued for the engine's
        // end to account for.
        let mut emptied = false;
        // The parts apart, so that the loop keeps them in registers rather
        // than going through `self` for each message.
        let Wire {
            conn,
            unsent,
            batch,
            ..
        } = self;
        if !conn.is_ready() {
            return emptied;
        }
        while conn.pending_transmit() + unsent.len < WRITE_BATCH {
            batch.clear();
            // No more than a write batch of octets at a time (or one
            // message): what is taken leaves room in the pipe for as much
            // again, so a whole pipe taken at once would double what a
            // peer that does not read costs.
            let taken = out.pop_into(batch, POP_BATCH, WRITE_BATCH);
            if taken == 0 {
                emptied = true;
                break;
            }
            for entry in batch.drain(..) {
                if subscriber {
                    // A SUB's pipe carries its subscriptions: %x01 or
                    // %x00 and the topic, sent as the peer's revision
                    // wants them (commands for 3.1, frames for 3.0).
                    // The connection is ready: these cannot fail.
                    match entry.single_frame() {
                        Some([1, topic @ ..]) => {
                            drop(conn.subscribe(topic));
                            continue;
                        }
                        Some([0, topic @ ..]) => {
                            drop(conn.cancel(topic));
                            continue;
                        }
                        // XSUB: other messages go upstream as data.
                        _ => {}
                    }
                }
                encode_tracked(conn, unsent, entry);
            }
            // A short batch was all the pipe had: write it before taking
            // more. Taking again at once would find only what the sender
            // queued in the last few hundred nanoseconds, and each take
            // pulls the pipe's lock and queue away from the sender's core
            // (per message, when the engine keeps up: the sender then
            // spent half its time on the lock). While the write runs, the
            // sender queues a batch worth taking.
            if taken < POP_BATCH && conn.pending_transmit() + unsent.len > 0 {
                break;
            }
        }
        unsent.fill(conn);
        emptied
    }

    /// Writes some of the unwritten output (nothing if there is none).
    pub(super) fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.unsent.len > 0 {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.unsent.try_write(&self.stream) {
                Ok(()) => return Poll::Ready(Ok(())),
                // Readiness was stale (and is cleared now): wait again.
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Encodes what `out` holds and writes as much as the stream takes
    /// without waiting; whether everything went. Only when the engine is
    /// not writing itself (nothing unwritten): what is left over is the
    /// engine's to write.
    pub(super) fn write_now(&mut self, out: &Pipe) -> bool {
        if self.unsent.len > 0 || !self.conn.is_ready() {
            return false;
        }
        loop {
            let emptied = self.encode_from(out, false);
            if !self.write_unsent() {
                return false;
            }
            if emptied {
                return true;
            }
        }
    }

    /// Takes the connection's output and writes all that the stream takes
    /// without waiting; whether everything went. The engine meets an error
    /// (or the wait) on its next turn.
    pub(super) fn write_unsent(&mut self) -> bool {
        self.unsent.fill(&mut self.conn);
        while self.unsent.len > 0 {
            if self.unsent.try_write(&self.stream).is_err() {
                return false;
            }
        }
        true
    }

    /// Reads what the stream holds into the connection's input, without
    /// waiting, within the room the memory budget grants; the end of the
    /// stream or a failure ends the connection.
    pub(super) fn read_input(&mut self) -> Result<Read, End> {
        let size = self.intake.read_size();
        let want = self.conn.read_wanted(size);
        let room = self.intake.room(want, intake::mid_message(&self.conn));
        if room == 0 {
            return Ok(Read::Starved);
        }
        // The buffer grows by no more than the room granted.
        let mut buf = self.conn.read_buffer_within(size, room);
        let room = buf.limit();
        match self.stream.try_read_buf(&mut buf) {
            Ok(0) => Err(End::Eof),
            Ok(n) => {
                let now = Instant::now();
                self.intake.read(n, room, now);
                self.conn.input_received(now);
                Ok(Read::Some)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                self.intake.read(0, room, Instant::now());
                Ok(Read::Nothing)
            }
            Err(e) => Err(End::Io(e)),
        }
    }

    /// After decoding: settles the budget, and when the stream is drained
    /// and nothing is buffered, gives back what reading does not need now.
    pub(super) fn decoded(&mut self) {
        self.intake.settle(&self.conn);
        if self.intake.drained() && self.conn.buffered_input() == 0 {
            self.intake.drained_now();
        }
    }

    /// The next deadline: the protocol's (handshake, heartbeats), or the
    /// moment the connection, idle, gives back its read buffer.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match (self.conn.poll_timeout(), self.intake.idle_at(&self.conn)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A deadline came: the protocol's timers, and idleness.
    pub(super) fn on_deadline(&mut self, now: Instant) -> Result<(), End> {
        self.conn.handle_timeout(now).map_err(End::Protocol)?;
        self.intake.idle(&mut self.conn, now);
        Ok(())
    }

    /// The read slot back to the engine after a receiver's turn (without
    /// waking it), if a receiver had it: the engine's wake-up to call when
    /// the stream is ready already.
    pub(super) fn give_back(&mut self) -> Option<Waker> {
        if !std::mem::take(&mut self.reading.receiver) {
            return None;
        }
        let engine = self.reading.engine.clone()?;
        self.stream
            .poll_read_ready(&mut Context::from_waker(&engine))
            .is_ready()
            .then_some(engine)
    }
}

/// Encodes `entry` on `conn` and tracks it in `unsent` until it is wholly
/// written.
#[inline]
fn encode_tracked(conn: &mut Connection, unsent: &mut Unsent, entry: Entry) {
    let start = unsent.output_end(conn);
    // The socket refuses empty messages, and the callers encode only on a
    // ready connection: this cannot fail.
    if entry.encode(conn).is_ok() {
        unsent.encoded(conn, start, entry);
    }
}
