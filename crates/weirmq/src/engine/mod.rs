//! The engine: one task per connection, driving a sans-IO
//! [`weirmq_zmtp::Connection`] over a byte stream.
//!
//! Data path: outgoing messages are taken from the peer's pipe in batches and
//! encoded into the connection's send buffer, which leaves in vectored writes
//! of up to [`WRITE_BATCH`] octets; incoming octets are read straight into
//! the connection's input buffer and decoded into the socket's incoming pipe.
//! When that pipe is full the engine stops decoding *and* stops reading, so
//! the sender's TCP window closes: backpressure reaches the remote peer.
//!
//! Every message taken from a pipe is accounted for until its last octet is
//! written: when a connection ends first, the messages the peer got nothing
//! of go back to the front of a kept pipe (a connecting socket's, for the
//! reconnect); the rest are counted as lost.
//!
//! The sending half of a connection (the [`Connection`], its unwritten
//! output and the stream's write half) is a [`Link`], shared with the
//! socket. REQ and REP write through it: a request or reply has nothing to
//! batch with (the peer answers before another may go), so the sending task
//! encodes and writes it at once when the connection is idle, instead of
//! waking the engine on another thread to do it. That hand-off was most of
//! a round trip's cost over plain TCP. When the write cannot finish, or the
//! engine is busy with the link, the engine is kicked to carry on.
//!
//! They read through it too: a REQ or REP with one peer that waits for a
//! message reads and decodes the stream on its own task, so the reply
//! reaches it without the engine's wake-up in between. For as long as it
//! waits, it holds the stream's read wake-up (the engine is not woken for
//! octets the receiver takes); when it stops, it gives the wake-up back.
//! Whatever it cannot finish (a full queue, the end of the stream, a
//! protocol error, a command's answer to write) it hands to the engine,
//! with a kick. It reads only while the engine holds nothing decoded, so
//! messages keep their order.

use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};
use std::time::Instant;

use bytes::{Buf, Bytes};
use tokio::sync::{Notify, watch};
use weirmq_zmtp::{AuthDecision, Connection, Event, Message};

use crate::monitor::MonitorEvent;
use crate::queue::entry::{Entry, INLINE_MAX};
use crate::queue::inbound::InLane;
use crate::queue::pipe::{Pipe, PushError};
use crate::socket::{Core, Peer, Through, Ticket, Unwelcome};
use crate::transport::Stream;

mod auth;
mod intake;

use intake::Intake;

/// Octets of encoded output gathered before writing.
const WRITE_BATCH: usize = 128 * 1024;
/// Messages taken from a pipe under one lock.
const POP_BATCH: usize = 256;

/// A deadline that never comes (as tokio's own: about 30 years).
const FAR_FUTURE: std::time::Duration = std::time::Duration::from_secs(86400 * 365 * 30);

/// Why an engine stopped.
#[derive(Debug)]
pub(crate) enum End {
    /// The socket was closed.
    Closed,
    /// The peer closed the stream.
    Eof,
    /// The protocol failed (bad input, timeout, ERROR from the peer).
    Protocol(weirmq_zmtp::Error),
    /// The stream failed.
    Io(std::io::Error),
    /// The peer subscribed to more topics than a peer may.
    TooManySubscriptions,
    /// The socket did not let the peer in (a ROUTER peer announced a
    /// routing id another peer has; a PAIR has its peer).
    Unwelcome(Unwelcome),
    /// Closed in its handshake to make room for a newer connection.
    Evicted,
    /// A newer connection took over this peer's routing id (ROUTER handover).
    HandedOver,
}

/// Outgoing octets handed out by the connection and not yet written, and
/// the messages among them not yet wholly written.
#[derive(Default)]
struct Unsent {
    chunks: VecDeque<Bytes>,
    len: usize,
    /// Octets taken from the connection since it began.
    taken: u64,
    /// Octets written since it began.
    written: u64,
    /// Messages encoded and not wholly written, oldest first, each with the
    /// stream offsets of its first octet and just past its last. Moved here
    /// from the pipe's batch (not copied, and the deque's capacity is
    /// reused: no allocation per message), they leave as soon as they are
    /// written, so this holds at most the messages of two write batches and
    /// one message beyond them.
    in_flight: VecDeque<(u64, u64, Entry)>,
}

impl Unsent {
    fn fill(&mut self, conn: &mut Connection) {
        while let Some(chunk) = conn.poll_transmit() {
            self.len += chunk.len();
            self.taken += chunk.len() as u64;
            self.chunks.push_back(chunk);
        }
    }

    /// Where the connection's output ends now, as a stream offset.
    fn output_end(&self, conn: &Connection) -> u64 {
        self.taken + conn.pending_transmit() as u64
    }

    /// Tracks `entry`, which `conn` has just encoded from stream offset
    /// `start`.
    fn encoded(&mut self, conn: &Connection, start: u64, entry: Entry) {
        let end = self.output_end(conn);
        self.in_flight.push_back((start, end, entry));
    }

    /// Takes the messages not wholly written: `(untouched, partial)`, where
    /// `partial` counts the one message the peer got part of (at most one).
    fn take_unwritten(
        &mut self,
    ) -> (
        impl ExactSizeIterator<Item = Entry> + DoubleEndedIterator,
        u64,
    ) {
        let partial = self
            .in_flight
            .front()
            .is_some_and(|(start, _, _)| *start < self.written);
        let mut all = std::mem::take(&mut self.in_flight);
        if partial {
            all.pop_front();
        }
        (
            all.into_iter().map(|(_, _, entry)| entry),
            u64::from(partial),
        )
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        self.written += n as u64;
        while self
            .in_flight
            .front()
            .is_some_and(|(_, end, _)| *end <= self.written)
        {
            self.in_flight.pop_front();
        }
        while n > 0 {
            let front = &mut self.chunks[0];
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }

    /// Writes what `stream` takes now, without waiting; advances past it.
    fn try_write<S: Stream>(&mut self, stream: &S) -> std::io::Result<()> {
        let mut slices = [IoSlice::new(&[]); 64];
        let mut k = 0;
        for (slot, chunk) in slices.iter_mut().zip(&self.chunks) {
            *slot = IoSlice::new(chunk);
            k += 1;
        }
        match stream.try_write_vectored(&slices[..k])? {
            0 => Err(ErrorKind::WriteZero.into()),
            n => {
                self.advance(n);
                Ok(())
            }
        }
    }
}

/// A connection and its stream: what the engine and a socket's task that
/// writes or reads through it share (see the module docs). The engine holds
/// it from the start of the connection to the end; [`Link::take`] gives it
/// back then.
pub(crate) struct Link<S> {
    wire: Mutex<Option<Wire<S>>>,
    /// Raised by a sender or receiver that left work for the engine.
    kick: Notify,
    /// Whether the engine holds decoded messages not handed on yet, or is
    /// closing: a reading-through receiver then leaves the stream to it, so
    /// that nothing overtakes those messages. Raised under the lock;
    /// lowered once they are handed on, without it.
    engine_holds: AtomicBool,
}

/// What a [`Link`] guards.
struct Wire<S> {
    conn: Connection,
    unsent: Unsent,
    stream: S,
    /// Reused for each batch taken from the pipe.
    batch: VecDeque<Entry>,
    /// The read side's turn-taking and what a receiver handed back.
    reading: Reading,
    /// The peer's incoming lane, once it is ready (for a receiver reading
    /// through, which queues there what it does not take itself).
    lane: Option<Arc<InLane>>,
    /// What reading costs the socket's memory budget.
    intake: Intake,
}

/// What a read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
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
struct Reading {
    /// The engine's wake-up, for a receiver to put back in the stream's
    /// read slot when it stops.
    engine: Option<Waker>,
    /// A receiver reads through, and holds the read slot.
    receiver: bool,
    /// A message the receiver decoded and found no room for; the engine
    /// hands it on, then decodes the rest before it reads again.
    held: Option<Entry>,
    /// How the connection ended, as the receiver found out.
    ended: Option<End>,
}

impl<S: Stream> Link<S> {
    fn new(wire: Wire<S>) -> Link<S> {
        Link {
            wire: Mutex::new(Some(wire)),
            kick: Notify::new(),
            engine_holds: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Wire<S>>> {
        crate::socket::lock(&self.wire)
    }

    /// Ends sharing: the engine has the parts back for its last flush.
    fn take(&self) -> Wire<S> {
        match self.lock().take() {
            Some(wire) => wire,
            None => unreachable!("only the engine takes its link, once"),
        }
    }

    /// Runs `f` on the connection, under the lock.
    fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        match self.lock().as_mut() {
            Some(wire) => f(&mut wire.conn),
            None => unreachable!("the engine holds its link until `drive` returns"),
        }
    }

    /// Writes some of the unwritten output.
    fn poll_write(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.lock().as_mut() {
            Some(wire) => wire.poll_write(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// The engine's wait for room in the memory budget.
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self.lock().as_mut() {
            Some(wire) => wire.intake.poll_room(&wire.conn, cx),
            None => Poll::Ready(()),
        }
    }

    /// The engine's wait for input: never ready while a receiver reads
    /// through (its wake-up is kept for the receiver to give back).
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
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
    /// Encodes messages from `out`, a batch at a time, while the output is
    /// under [`WRITE_BATCH`] and until a batch comes up short; whether
    /// `out` was found empty. A SUB's pipe carries its subscriptions.
    fn encode_from(&mut self, out: &Pipe, subscriber: bool) -> bool {
        let Wire {
            conn,
            unsent,
            batch,
            ..
        } = self;
        // Not after a failure: the messages stay queued for the engine's
        // end to account for.
        let mut emptied = false;
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
                // The pipe only holds non-empty messages and the
                // connection is ready: these cannot fail.
                if subscriber {
                    // A SUB's pipe carries its subscriptions: %x01 or
                    // %x00 and the topic, sent as the peer's revision
                    // wants them (commands for 3.1, frames for 3.0).
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
                let start = unsent.output_end(conn);
                if entry.encode(conn).is_ok() {
                    unsent.encoded(conn, start, entry);
                }
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
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
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
    fn write_now(&mut self, out: &Pipe) -> bool {
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
    fn write_unsent(&mut self) -> bool {
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
    fn read_input(&mut self) -> Result<Read, End> {
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
                self.intake.read(n, room);
                self.conn.input_received(Instant::now());
                Ok(Read::Some)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                self.intake.read(0, room);
                Ok(Read::Nothing)
            }
            Err(e) => Err(End::Io(e)),
        }
    }

    /// After decoding: settles the budget, and when the stream is drained
    /// and nothing is buffered, gives back what reading does not need now.
    fn decoded(&mut self) {
        self.intake.settle(&self.conn);
        if self.intake.drained() && self.conn.buffered_input() == 0 {
            self.intake.idle(&mut self.conn);
        }
    }

    /// The read slot back to the engine after a receiver's turn (without
    /// waking it), if a receiver had it: the engine's wake-up to call when
    /// the stream is ready already.
    fn give_back(&mut self) -> Option<Waker> {
        if !std::mem::take(&mut self.reading.receiver) {
            return None;
        }
        let engine = self.reading.engine.clone()?;
        self.stream
            .poll_read_ready(&mut Context::from_waker(&engine))
            .is_ready()
            .then_some(engine)
    }

    /// A reading-through receiver's turn (see [`Through::poll_read_through`]):
    /// the first message read, if any (`None`: `cx` waits for the stream,
    /// or the engine was handed what stopped it, and `kick` is set).
    fn read_through(
        &mut self,
        id: &Bytes,
        cx: &mut Context<'_>,
        kick: &mut bool,
    ) -> Option<Message> {
        let now = Instant::now();
        let mut first = None;
        loop {
            // Everything read is decoded before the next read: a read may
            // meet the end of the stream.
            let failed = match self.conn.poll_event(now) {
                Ok(Some(Event::Message(mut msg))) => {
                    msg.push_front(id.clone());
                    if first.is_none() {
                        first = Some(msg);
                        continue;
                    }
                    let Some(lane) = &self.lane else {
                        unreachable!("a ready connection has its lane");
                    };
                    // Queued or held, it stays counted in the budget (the
                    // first, handed over at once, does not).
                    self.intake.kept(msg.byte_len());
                    match lane.try_push(msg) {
                        Ok(()) => {}
                        // The engine waits for room (or counts it lost, if
                        // the socket is closing), then decodes the rest.
                        Err(PushError::Full(msg) | PushError::Closed(msg)) => {
                            self.reading.held = Some(Entry::from(msg));
                            *kick = true;
                            self.decoded();
                            return first;
                        }
                    }
                    continue;
                }
                // Nothing else reaches a REQ or REP once it is ready (a
                // subscription means nothing to them).
                Ok(Some(_)) => continue,
                // The stream's readiness first: a read that finds nothing
                // is a system call spent. A read that empties the stream
                // leaves it not ready, so with a message this returns
                // without another read, and the engine, given the read
                // slot back, is not woken for octets already taken.
                // (Readiness found stale is cleared by the read.)
                Ok(None) => {
                    self.decoded();
                    match self.stream.poll_read_ready(cx) {
                        Poll::Pending => return first,
                        Poll::Ready(Err(e)) => End::Io(e),
                        Poll::Ready(Ok(())) => match self.read_input() {
                            Ok(Read::Some | Read::Nothing) => continue,
                            // The engine waits for the budget.
                            Ok(Read::Starved) => {
                                *kick = true;
                                return first;
                            }
                            Err(end) => end,
                        },
                    }
                }
                Err(e) => End::Protocol(e),
            };
            self.decoded();
            self.reading.ended = Some(failed);
            *kick = true;
            return first;
        }
    }
}

impl<S: Stream> Through for Link<S> {
    fn write_through(&self, out: &Pipe) {
        // Waiting for the lock costs less than handing the message to the
        // engine: the engine holds it only for short, non-blocking work.
        let done = match self.lock().as_mut() {
            Some(wire) => wire.write_now(out),
            // The connection has ended; the pipe keeps the message.
            None => true,
        };
        if !done {
            self.kick.notify_one();
        }
    }

    fn send_through(&self, out: &Pipe, msg: Message) -> Result<(), Message> {
        let mut guard = self.lock();
        let Some(wire) = guard.as_mut() else {
            return Err(msg);
        };
        if wire.unsent.len > 0 || !wire.conn.is_ready() || !out.is_idle() {
            return Err(msg);
        }
        let start = wire.unsent.output_end(&wire.conn);
        let entry = Entry::from(msg);
        // Non-empty (the socket refuses empty messages) and the connection
        // is ready: this cannot fail.
        if entry.encode(&mut wire.conn).is_ok() {
            wire.unsent.encoded(&wire.conn, start, entry);
        }
        let done = wire.write_unsent();
        drop(guard);
        if !done {
            self.kick.notify_one();
        }
        Ok(())
    }

    fn poll_read_through(&self, id: &Bytes, cx: &mut Context<'_>) -> Poll<Message> {
        let mut guard = self.lock();
        // The connection has ended: its messages are in the queue already.
        let Some(wire) = guard.as_mut() else {
            return Poll::Pending;
        };
        let reading = &wire.reading;
        // The engine reads now: it has work handed over, or decoded
        // messages to hand on first. What it decodes wakes the receiver
        // through the queue.
        let engine_reads = reading.held.is_some()
            || reading.ended.is_some()
            || !wire.conn.is_ready()
            || self.engine_holds.load(Ordering::Acquire);
        let mut kick = false;
        let first = if engine_reads {
            None
        } else {
            wire.reading.receiver = true;
            let first = wire.read_through(id, cx, &mut kick);
            // Decoding may have left output behind: a PONG, an ERROR.
            kick |= wire.conn.wants_transmit();
            first
        };
        // What the engine is to finish, it reads on from: a receiver that
        // held on to the read slot would keep it from that.
        let wake = if engine_reads || kick {
            wire.give_back()
        } else {
            None
        };
        drop(guard);
        if let Some(engine) = wake {
            engine.wake();
        }
        if kick {
            self.kick.notify_one();
        }
        // Without a message: waiting for the stream, or the engine's turn.
        match first {
            Some(msg) => Poll::Ready(msg),
            None => Poll::Pending,
        }
    }

    fn end_read_through(&self) {
        let wake = self.lock().as_mut().and_then(Wire::give_back);
        if let Some(engine) = wake {
            engine.wake();
        }
    }
}

/// XPUB: a peer's subscription or cancel that could not be handed on for want
/// of room for the note it may make (see [`Core::upstream_change`]); reading
/// waits until it can. The peer's own set has the change already.
struct Held {
    subscribe: bool,
    topic: Bytes,
}

impl Held {
    /// The octets to wait for.
    fn len(&self) -> usize {
        1 + self.topic.len()
    }

    /// Hands it on: `Err(self)` when there is no room yet.
    fn deliver(self, core: &Core) -> Result<(), Held> {
        match core.role.peer_subscription(self.subscribe, &self.topic) {
            Ok(()) => Ok(()),
            Err(_) => Err(self),
        }
    }
}

/// Messages decoded before they are handed on together, under one lock.
const IN_BATCH: usize = 64;
/// ... or this many payload octets, whichever comes first: the engine's own
/// share of memory beyond the HWM (plus at most one message).
const IN_BATCH_BYTES: usize = 64 * 1024;

/// What the engine decoded and has not handed on yet, in order: data, handed
/// on in batches, then at most one item that has to wait behind it.
#[derive(Default)]
struct Backlog {
    data: VecDeque<Entry>,
    bytes: usize,
    held: Option<Held>,
    /// The peer's incoming lane, once its handshake is done.
    lane: Option<Arc<InLane>>,
    /// Payload octets of the messages taken in since the engine last told
    /// the budget (they stay counted until they leave the socket).
    taken_in: usize,
}

impl Backlog {
    fn is_empty(&self) -> bool {
        self.data.is_empty() && self.held.is_none()
    }

    fn push(&mut self, entry: Entry) {
        self.bytes += entry.byte_len();
        self.data.push_back(entry);
    }

    /// Takes in a received message (a SUB's only if it matches one of our
    /// subscriptions), handing the batch on once it is full; false when
    /// the incoming queue had no room for all of it: decoding stops.
    fn take_in(&mut self, core: &Core, subscriber: bool, entry: Entry, closing: &mut bool) -> bool {
        if subscriber && !core.role.keeps(entry.first_frame()) {
            return true;
        }
        self.taken_in += entry.byte_len();
        self.push(entry);
        !self.is_full() || self.deliver(core, closing)
    }

    /// Enough for one hand-on.
    fn is_full(&self) -> bool {
        self.data.len() >= IN_BATCH || self.bytes >= IN_BATCH_BYTES
    }

    /// Waits until the first waiting item may have room: data in the peer's
    /// lane, a subscription note in the socket's lane of notes.
    async fn writable(&self, core: &Core) {
        match (&self.lane, self.data.front(), &self.held) {
            (Some(lane), Some(entry), _) => lane.writable(entry.byte_len()).await,
            (_, None, Some(note)) => core.role.note_room(note.len()).await,
            _ => {}
        }
    }

    /// A subscription note: handed on after the data before it, or held;
    /// whether it went.
    fn note(&mut self, core: &Core, note: Held, closing: &mut bool) -> bool {
        if self.deliver(core, closing) {
            hand_on(core, note, &mut self.held)
        } else {
            if !*closing {
                self.held = Some(note);
            }
            false
        }
    }

    /// Hands on, in order, what the incoming queue has room for; whether
    /// everything went.
    fn deliver(&mut self, core: &Core, closing: &mut bool) -> bool {
        if !self.data.is_empty() {
            let Some(lane) = &self.lane else {
                unreachable!("messages come after the handshake, which opens the lane");
            };
            match lane.try_push_batch(&mut self.data, self.bytes) {
                Ok(bytes) => self.bytes -= bytes,
                Err(()) => {
                    *closing = true;
                    return false;
                }
            }
            if !self.data.is_empty() {
                return false;
            }
        }
        match self.held.take() {
            Some(item) => hand_on(core, item, &mut self.held),
            None => true,
        }
    }
}

/// Hands `item` on, or keeps it in `held`; whether it went.
fn hand_on(core: &Core, item: Held, held: &mut Option<Held>) -> bool {
    match item.deliver(core) {
        Ok(()) => true,
        Err(back) => {
            *held = Some(back);
            false
        }
    }
}

/// Runs one connection until it ends.
///
/// `kept` carries a connecting socket's peer from one connection to the next:
/// when a connection to the endpoint ends, the messages still queued to it
/// wait in the kept pipe and leave on the next connection (libzmq keeps a
/// connecting socket's pipe in the same way). Accepted connections pass
/// `None`: a peer that dialled in and left is gone.
pub(crate) async fn run<S>(
    core: Arc<Core>,
    peer_name: String,
    stream: S,
    kept: Option<&mut Option<Arc<Peer>>>,
    ticket: Option<Ticket>,
    stop: watch::Receiver<bool>,
) -> End
where
    S: Stream,
{
    let _running = core.engine_started();
    let conn = match Connection::new(
        core.options.zmtp_config(core.shape.socket_type),
        Instant::now(),
    ) {
        Ok(c) => c,
        Err(e) => unreachable!("options were validated: {e}"),
    };
    let link = Arc::new(Link::new(Wire {
        conn,
        unsent: Unsent::default(),
        stream,
        batch: VecDeque::with_capacity(POP_BATCH),
        reading: Reading::default(),
        lane: None,
        intake: Intake::new(Arc::new(core.budget.open())),
    }));
    let keep = kept.is_some() && core.shape.keeps_pipe_on_reconnect;
    let mut out: Option<Arc<Peer>> = None;
    let reuse = match kept {
        Some(slot) if keep => Some(slot),
        _ => None,
    };
    let earlier = reuse.as_ref().and_then(|slot| (*slot).clone());
    let mut backlog = Backlog::default();
    let end = drive(
        &core,
        &peer_name,
        &link,
        &mut out,
        &mut backlog,
        earlier,
        ticket,
        stop,
    )
    .await;
    // No sender writes through the link any more (one that took it before
    // this is done when `take` has it).
    if let Some(peer) = out.as_ref() {
        peer.set_link(None);
    }
    let mut wire = link.take();
    // A message a reading-through receiver found no room for is part of it.
    if let Some(entry) = wire.reading.held.take() {
        backlog.push(entry);
    }
    // What was decoded but not handed on when the connection ended: data is
    // lost (waiting for room here would let peers that come and go pile up
    // messages); an XPUB's pending subscription change is undone in the
    // peer's set, so that its departure below cancels exactly what reached
    // the union of subscriptions.
    let mut lost = backlog.data.len() as u64;
    // What the connection held goes back to the budget; what waits in the
    // peer's lane stays counted until the application takes it.
    wire.intake.end(backlog.bytes);
    if let (Some(Held { subscribe, topic }), Some(peer)) = (backlog.held.take(), out.as_ref()) {
        let mut subscriptions = crate::socket::lock(&peer.subscriptions);
        if subscribe {
            subscriptions.remove(&topic);
        } else {
            subscriptions.add(topic);
        }
    }
    let reason = match &end {
        End::Closed => None,
        End::Eof => Some("closed by the peer".to_owned()),
        End::Protocol(e) => Some(e.to_string()),
        End::Io(e) => Some(e.to_string()),
        End::TooManySubscriptions => Some("too many subscriptions".to_owned()),
        End::Unwelcome(why) => Some(why.reason().to_owned()),
        End::Evicted => Some("evicted while in the handshake".to_owned()),
        End::HandedOver => Some("routing id taken over by a newer connection".to_owned()),
    };
    if let Some(reason) = reason {
        let peer = peer_name.clone();
        core.emit(if wire.conn.peer().is_some() {
            MonitorEvent::Disconnected { peer, reason }
        } else {
            MonitorEvent::HandshakeFailed { peer, reason }
        });
    }
    // Out of routing at once: nothing new may be queued to a connection that
    // is ending. (Without immediate, a kept peer stays routed while it is
    // down, as in libzmq.)
    let keeps = reuse.is_some() && !matches!(end, End::Closed);
    if let Some(peer) = out.as_ref() {
        if !keeps || core.options.immediate {
            core.detach_peer(peer);
        }
    }
    // Best effort: write what is left (the rest of the messages, then what
    // the connection still holds, such as an ERROR command after a protocol
    // failure, in stream order) before the stream is dropped. Not after the
    // peer closed or the stream failed: the octets would only feign delivery.
    wire.unsent.fill(&mut wire.conn);
    let writable = !matches!(end, End::Eof | End::Io(_));
    let flush = async {
        while writable && wire.unsent.len > 0 {
            if std::future::poll_fn(|cx| wire.poll_write(cx))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = wire.stream.shutdown_write();
    };
    // A close already spent its linger in `drive`; other endings get one.
    let budget = match end {
        End::Closed => std::time::Duration::from_millis(100).min(core.options.linger),
        _ => core.options.linger,
    };
    let _ = tokio::time::timeout(budget, flush).await;
    let Wire {
        mut unsent, stream, ..
    } = wire;
    drop(stream);
    // Messages the peer got nothing of go back in front of a kept pipe, in
    // order, for the next connection. One it got part of is lost: it may be
    // the very message the peer refused (too large, say), and sending it
    // again would only end the next connection too.
    let (untouched, partial) = unsent.take_unwritten();
    lost += partial;
    match (out.take(), reuse) {
        (Some(peer), Some(slot)) if keeps => {
            lost += peer.out.requeue(untouched) as u64;
            core.count_lost(&peer_name, lost);
            *slot = Some(peer);
        }
        (Some(peer), slot) => {
            core.remove_peer(&peer, lost + untouched.len() as u64);
            // Counted once, here: the connector must not count it again.
            if let Some(slot) = slot {
                *slot = None;
            }
            let subscriptions = std::mem::take(&mut *crate::socket::lock(&peer.subscriptions));
            core.role.peer_gone(subscriptions).await;
        }
        (None, _) => core.count_lost(&peer_name, lost + untouched.len() as u64),
    }
    end
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
async fn drive<S: Stream>(
    core: &Core,
    peer_name: &str,
    link: &Arc<Link<S>>,
    out: &mut Option<Arc<Peer>>,
    backlog: &mut Backlog,
    mut earlier: Option<Arc<Peer>>,
    ticket: Option<Ticket>,
    mut stop: watch::Receiver<bool>,
) -> End {
    let shape = core.shape;
    let through = shape.through;
    let sends = shape.has_pipe;
    let receives = shape.receives;
    let subscriber = shape.subscriber;
    let routing = shape.routing_id_in_front;
    let fast = receives && !routing;
    let mut closing = false;
    // The stream was found readable: read (under the lock) on the next turn.
    let mut readable = false;
    // The memory budget had no room for a read.
    let mut starved = false;
    // Counts the peer among the connected ones while it is (from its
    // handshake to the end of the connection).
    let mut _connected = None;
    // Whether a writing-through sender asked for help; at first, for what
    // was queued before this connection.
    let mut kicked = true;
    let mut linger_until = None;
    // A question to the ZAP handler, while one is out.
    let mut zap: Option<Pin<Box<dyn std::future::Future<Output = AuthDecision> + Send>>> = None;
    // The signals that last the whole connection are armed once, not built
    // and dropped on every turn of the loop (that cost more than the rest of
    // a small message's turn). A close, or an unbind or disconnect: end
    // like a close, flushing within the linger.
    let mut close_signal = std::pin::pin!(async {
        tokio::select! {
            _ = core.closed() => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    });
    // Eviction, while in the handshake.
    let evicted = ticket.as_ref().map(|t| t.evicted.clone());
    let mut evicted = std::pin::pin!(async move {
        match evicted {
            Some(signal) => signal.notified().await,
            None => std::future::pending().await,
        }
    });
    // A writing-through sender's kick: re-armed each time it fires.
    let mut kick = std::pin::pin!(link.kick.notified());
    // A newer connection taking over the peer's routing id, once there is
    // a peer.
    let mut replaced: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send>>> = None;
    loop {
        let now = Instant::now();
        // The link is locked for this synchronous part only, never across
        // the wait below.
        let (deadline, want_out, unsent_len, decoded_all) = {
            let mut guard = link.lock();
            let Some(wire) = guard.as_mut() else {
                unreachable!("the engine holds its link until `drive` returns")
            };
            // What a reading-through receiver handed over: how the
            // connection ended, or a message to find room for (the input
            // after it is decoded before anything more is read).
            if let Some(end) = wire.reading.ended.take() {
                return end;
            }
            if let Some(entry) = wire.reading.held.take() {
                backlog.push(entry);
                readable = false;
            }
            // (A receiver may have read it first.)
            if std::mem::take(&mut readable) {
                match wire.read_input() {
                    Ok(Read::Starved) => starved = true,
                    Ok(Read::Some | Read::Nothing) => {}
                    Err(end) => return end,
                }
            }
            let conn = &mut wire.conn;
            // 1. Deliver what was decoded, as far as the incoming pipe has room.
            if !backlog.is_empty() && backlog.deliver(core, &mut closing) {
                // Reading resumes: the pause was ours, not the peer's silence,
                // so it must not count towards its heartbeat.
                conn.input_received(Instant::now());
            }
            // Decoding stops while anything waits for room: nothing piles up
            // here, and the peer feels the backpressure.
            let mut stalled = !backlog.is_empty();
            // Whether all complete frames read so far are decoded: only then
            // may the next read come (it may be the end of the stream).
            let mut decoded_all = false;
            while !stalled && !closing {
                // The common case first: a small message, copied straight
                // out of the input buffer.
                if fast {
                    if let Some(entry) = conn.poll_small_message(INLINE_MAX, Entry::inline) {
                        stalled = !backlog.take_in(core, subscriber, entry, &mut closing);
                        continue;
                    }
                }
                match conn.poll_event(now) {
                    Ok(None) => {
                        decoded_all = true;
                        break;
                    }
                    Ok(Some(Event::HandshakeSucceeded(info))) => {
                        core.emit(MonitorEvent::HandshakeSucceeded {
                            peer: peer_name.to_owned(),
                            socket_type: info.socket_type,
                        });
                        // The ticket stays until the end: it holds the
                        // connection's place under `max_connections`.
                        if let Some(t) = &ticket {
                            t.done();
                        }
                        if sends {
                            match core.add_peer(conn, peer_name, earlier.take()) {
                                Ok(peer) => {
                                    if through {
                                        peer.set_link(Some(link.clone()));
                                    }
                                    let handed_over = peer.clone();
                                    replaced = Some(Box::pin(async move {
                                        handed_over.replaced.notified().await
                                    }));
                                    *out = Some(peer);
                                }
                                Err(why) => return End::Unwelcome(why),
                            }
                        }
                        _connected = Some(core.peer_connected());
                        if receives {
                            // The peer's own lane: what it sends waits
                            // there, behind nobody else's, counted in the
                            // budget until the application takes it.
                            let account = wire.intake.account().clone();
                            let lane = Arc::new(core.inbound.open_lane(Some(account)));
                            backlog.lane = Some(lane.clone());
                            wire.lane = Some(lane);
                        }
                    }
                    Ok(Some(Event::Message(mut msg))) if receives => {
                        if routing {
                            // ROUTER shows the sender's id; REQ and REP use it to
                            // match replies to the peer they belong to.
                            if let Some(peer) = out.as_ref() {
                                msg.push_front(peer.id.clone());
                            }
                        }
                        // Copied in here if small, and the input buffer's
                        // share dropped on this thread, not the reader's.
                        stalled =
                            !backlog.take_in(core, subscriber, Entry::from(msg), &mut closing);
                    }
                    Ok(Some(Event::Subscribe(topic))) => {
                        if let Some(peer) = out.as_ref() {
                            // A peer's subscriptions are a set, as in libzmq: a
                            // repeated SUBSCRIBE changes nothing, one CANCEL ends it.
                            let mut subs = crate::socket::lock(&peer.subscriptions);
                            if subs.count(&topic) > 0 {
                                continue;
                            }
                            if !subs.add(topic.clone()) {
                                return End::TooManySubscriptions;
                            }
                            drop(subs);
                            // XPUB: a topic's first subscriber is news upstream.
                            let note = Held {
                                subscribe: true,
                                topic,
                            };
                            stalled = !backlog.note(core, note, &mut closing);
                        }
                    }
                    Ok(Some(Event::Cancel(topic))) => {
                        if let Some(peer) = out.as_ref() {
                            // Cancelling what was never subscribed is ignored, as
                            // libzmq does.
                            if crate::socket::lock(&peer.subscriptions).remove(&topic) {
                                // A PUB waiting for room at this peer may
                                // not need it any more.
                                core.wake_senders();
                                // XPUB: so is a topic's last subscriber leaving.
                                let note = Held {
                                    subscribe: false,
                                    topic,
                                };
                                stalled = !backlog.note(core, note, &mut closing);
                            }
                        }
                    }
                    Ok(Some(Event::Authenticate(request))) => {
                        match auth::judge(core, &request, peer_name) {
                            auth::Verdict::Now(decision) => {
                                if let Err(e) = conn.authenticate(decision) {
                                    return End::Protocol(e);
                                }
                            }
                            auth::Verdict::Later(answer) => zap = Some(answer),
                        }
                    }
                    // Messages to a socket that does not receive them.
                    Ok(Some(_)) => {}
                    Err(e) => return End::Protocol(e),
                }
            }
            wire.intake.kept(std::mem::take(&mut backlog.taken_in));
            wire.decoded();
            // 2. Encode outgoing messages, a batch at a time. A writing-
            // through sender sends its own, and kicks when it leaves some
            // (taking them here would only race it for the link); once the
            // engine writes, it goes on taking them, as the sender's
            // messages then wait behind its output anyway.
            match out.as_ref() {
                Some(peer) if !through || kicked => {
                    wire.encode_from(&peer.out, subscriber);
                    kicked = false;
                }
                _ => wire.unsent.fill(&mut wire.conn),
            }
            let conn = &mut wire.conn;
            let unsent_len = wire.unsent.len;
            if closing {
                let until = *linger_until.get_or_insert_with(|| {
                    let now = tokio::time::Instant::now();
                    // An endless linger (`Duration::MAX`) must not overflow:
                    // a deadline that never comes, as tokio's own timeouts.
                    now.checked_add(core.options.linger)
                        .unwrap_or_else(|| now + FAR_FUTURE)
                });
                if tokio::time::Instant::now() >= until {
                    return End::Closed;
                }
                let drained = out.as_ref().is_none_or(|p| p.out.depth().0 == 0);
                if drained && unsent_len == 0 {
                    return End::Closed;
                }
            }

            // 3. Wait for whatever can move next.
            let deadline = conn.poll_timeout();
            let want_out = out.is_some() && conn.pending_transmit() + unsent_len < WRITE_BATCH;
            if through && (!backlog.is_empty() || closing) {
                link.engine_holds.store(true, Ordering::Release);
            }
            (deadline, want_out, unsent_len, decoded_all)
        };
        // What was decoded goes on outside the lock: the receiver it wakes
        // may want the link at once, to reply.
        if !backlog.data.is_empty() {
            backlog.deliver(core, &mut closing);
        }
        let paused = !backlog.is_empty();
        if through && !paused && !closing {
            // Handed on: a reading-through receiver may read after it.
            link.engine_holds.store(false, Ordering::Release);
        }
        // Decoding stopped for want of room, and there is room now: decode
        // the rest of what was read before reading on. (Reading first would
        // take the end of the stream for the end of the connection, and
        // drop the peer's last messages with the input.)
        if !paused && !decoded_all && !closing {
            continue;
        }
        // Nor while the ZAP handler judges the peer: its handshake stands
        // still, and what it sends meanwhile would only pile up in the input
        // buffer until the answer (or the handshake timeout).
        let want_read = !paused && !starved && !closing && zap.is_none();
        tokio::select! {
            r = std::future::poll_fn(|cx| link.poll_readable(cx)), if want_read => match r {
                Ok(()) => readable = true,
                Err(e) => return End::Io(e),
            },
            r = std::future::poll_fn(|cx| link.poll_write(cx)), if unsent_len > 0 => match r {
                Ok(()) => kicked = true,
                Err(e) if e.kind() == std::io::ErrorKind::WriteZero => return End::Eof,
                Err(e) => return End::Io(e),
            },
            // A writing-through socket's sender raises the kick instead of
            // the pipe's signal (which it leaves alone: waking this task
            // is the hand-off it avoids).
            _ = async { out.as_ref().expect("guarded").out.readable().await }, if want_out && !closing && !through => {}
            _ = kick.as_mut(), if through => {
                kicked = true;
                kick.set(link.kick.notified());
            }
            _ = backlog.writable(core), if paused => {}
            // No room in the memory budget: the peer is not read until some
            // is set aside for this connection.
            _ = std::future::poll_fn(|cx| link.poll_room(cx)), if starved => {
                starved = false;
                readable = true;
                // The pause was ours, not the peer's silence.
                link.with_conn(|conn| conn.input_received(Instant::now()));
            }
            // While reading is paused for backpressure the peer's traffic
            // waits unread, so its silence proves nothing: no expiry then
            // (libzmq arms no heartbeat timer while its input is stopped).
            _ = sleep_until(deadline), if deadline.is_some() && !paused && !starved => {
                if let Err(e) = link.with_conn(|conn| conn.handle_timeout(Instant::now())) {
                    return End::Protocol(e);
                }
            }
            decision = async { zap.as_mut().expect("guarded").await }, if zap.is_some() => {
                zap = None;
                if let Err(e) = link.with_conn(|conn| conn.authenticate(decision)) {
                    return End::Protocol(e);
                }
            }
            _ = close_signal.as_mut(), if !closing => closing = true,
            _ = async { replaced.as_mut().expect("guarded").await }, if replaced.is_some() => {
                return End::HandedOver;
            }
            _ = evicted.as_mut(), if ticket.is_some() => {
                return End::Evicted;
            }
            _ = tokio::time::sleep_until(linger_until.unwrap_or_else(tokio::time::Instant::now)), if closing => {}
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await;
    }
}
