//! REQ and REP read and write through their connection on their own task
//! ([`Through`], see the engine's module docs): a request or a reply goes
//! out at once when the connection is idle, and a receiver with one peer
//! reads and decodes its messages itself, with the same steps as the
//! engine ([`Wire::encode`], [`Wire::read_input`], [`decode`]). Whatever it
//! cannot finish it hands to the engine, with a kick.

use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use weirmq_zmtp::{Connection, Event, Message};

use super::End;
use super::decode::{Decoded, Sink, decode};
use super::intake::Intake;
use super::wire::{Link, Read, Wire};
use crate::queue::entry::Entry;
use crate::queue::inbound::InLane;
use crate::queue::pipe::{Pipe, PushError};
use crate::socket::Through;
use crate::transport::Stream;

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
        wire.encode(Entry::from(msg));
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

/// What a reading-through receiver does with what it decodes: the first
/// message is its own; the rest go into the peer's lane, in order, and one
/// with no room there is held for the engine, which decodes the rest.
struct Receiver<'a> {
    id: &'a Bytes,
    first: Option<Message>,
    lane: Option<&'a InLane>,
    intake: &'a mut Intake,
    held: &'a mut Option<Entry>,
}

impl Sink for Receiver<'_> {
    fn copies_small(&self) -> bool {
        // The routing id goes in front of every message.
        false
    }

    fn message(&mut self, mut msg: Message) -> Result<bool, End> {
        msg.push_front(self.id.clone());
        if self.first.is_none() {
            self.first = Some(msg);
            return Ok(true);
        }
        let Some(lane) = self.lane else {
            unreachable!("a ready connection has its lane");
        };
        // Queued or held, it stays counted in the budget (the first, handed
        // over at once, does not).
        self.intake.kept(msg.byte_len());
        match lane.try_push(msg) {
            Ok(()) => Ok(true),
            // The engine waits for room (or counts it lost, if the socket
            // is closing), then decodes the rest.
            Err(PushError::Full(msg) | PushError::Closed(msg)) => {
                *self.held = Some(Entry::from(msg));
                Ok(false)
            }
        }
    }

    fn event(&mut self, _: &mut Connection, _: Event) -> Result<bool, End> {
        // Nothing else reaches a REQ or REP once it is ready (a
        // subscription means nothing to them).
        Ok(true)
    }
}

impl<S: Stream> Wire<S> {
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
            let Wire {
                conn,
                reading,
                lane,
                intake,
                ..
            } = self;
            let mut receiver = Receiver {
                id,
                first: first.take(),
                lane: lane.as_deref(),
                intake,
                held: &mut reading.held,
            };
            let decoded = decode(conn, now, &mut receiver);
            first = receiver.first;
            self.decoded();
            let failed = match decoded {
                Ok(Decoded::Stopped) => {
                    *kick = true;
                    return first;
                }
                Err(end) => end,
                // The stream's readiness first: a read that finds nothing
                // is a system call spent. A read that empties the stream
                // leaves it not ready, so with a message this returns
                // without another read, and the engine, given the read
                // slot back, is not woken for octets already taken.
                // (Readiness found stale is cleared by the read.)
                Ok(Decoded::All) => match self.stream.poll_read_ready(cx) {
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
                },
            };
            self.reading.ended = Some(failed);
            *kick = true;
            return first;
        }
    }
}
