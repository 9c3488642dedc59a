//! A socket's incoming side: one lane per peer, fair-queued
//! ([`crate::pattern::fq`]), under one lock that connections push under,
//! and the receiver's batch under another.
//!
//! Connections push into their own [`InLane`], bounded by the receive HWM;
//! `recv` hands out the batch of the lane whose turn it is, taking the
//! queue's lock once per batch. A full lane stops its connection's reading,
//! so backpressure reaches that peer alone; the other peers' lanes go on.
//! Each lane keeps watch of its own pressure: its peak depth, the time it
//! spent full (its peer held back), and, with alerts asked for, crossings
//! of the high and low marks, reported as its depth changes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use weirmq_zmtp::Message;

use crate::options::Hwm;
use crate::pattern::fq::{Batch, FairQueue, LaneId, Pushed, Quantum, Refused};
use crate::queue::budget::Account;
use crate::queue::entry::Entry;
use crate::queue::lock;
use crate::queue::pipe::PushError;
use crate::queue::pressure::{Reader, Watch, Watched};
use crate::queue::signal::Signal;

/// What each lane shares with the queue: the wake-up of its connection
/// waiting for room, and the budget account its messages are counted in.
#[derive(Debug, Default)]
pub(crate) struct LaneShared {
    writable: Signal,
    account: Option<Arc<Account>>,
    /// Whose lane it is, for the stats (none for a lane of the socket's
    /// own, as an XPUB's notes).
    peer: Option<LanePeer>,
}

/// Whose lane it is, for the per-peer stats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LanePeer {
    /// The peer's address or endpoint (inproc and ipc peers accepted on
    /// one endpoint all bear its name).
    pub(crate) name: String,
    /// The peer's number on the socket, unique among its peers ever (a
    /// socket that keeps its peers finds it by this one).
    pub(crate) serial: u64,
}

/// One peer's lane, for [`Inbound::peer_lanes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LaneStats {
    /// Whose lane it is.
    pub(crate) owner: LanePeer,
    /// Messages waiting in it (in the receiver's batch too).
    pub(crate) messages: usize,
    /// Their payload octets.
    pub(crate) bytes: usize,
    /// The most it held since the reader last asked.
    pub(crate) peak: usize,
    /// All the time it spent full.
    pub(crate) time_full: Duration,
    /// Messages handed out of it.
    pub(crate) received: u64,
}

type Lanes = FairQueue<Entry, Arc<LaneShared>, Watched>;

/// The receiver's side: its batch and what it has handed out.
#[derive(Default)]
struct Receiving {
    batch: Batch<Entry>,
    /// Messages taken into batches so far: those handed out, and those
    /// the batch still holds (not counted per message).
    taken: u64,
    /// Payload octets of the batches handed out before the current one.
    handed_bytes: u64,
}

impl Receiving {
    /// Messages handed out so far.
    fn received(&self) -> u64 {
        self.taken - self.batch.len() as u64
    }
}

/// The incoming queue of a socket (see the module docs).
pub(crate) struct Inbound {
    /// Each lock on a cache line of its own: connections push under the
    /// first, the receiver takes every message under the second, and
    /// sharing a line would move it between their cores on each.
    lanes: Mutex<Lanes>,
    receiving: Mutex<Receiving>,
    /// Raised when the first lane becomes ready, or the queue closes.
    readable: Signal,
    /// Mirrors [`FairQueue::is_preempted`] (written under the lanes' lock),
    /// so a receiver holding a batch learns of it without that lock.
    preempted: AtomicBool,
    /// Set once the socket closes: every push is refused.
    closed: AtomicBool,
    /// Nanoseconds the lanes of peers now gone spent full.
    full_gone_ns: AtomicU64,
    hwm: Hwm,
    conflate: bool,
    /// What a receiver takes from one lane per turn.
    quantum: Quantum,
}

/// A turn: with no other peer waiting, up to 64 messages or 64 KiB (the
/// lock, which every connection pushes under, is taken once per batch);
/// with others waiting, 8 messages or 8 KiB, so that a busy peer's turn
/// holds them up for little.
const QUANTUM: Quantum = Quantum {
    alone: (64, 64 * 1024),
    shared: (8, 8 * 1024),
};

impl Inbound {
    /// An incoming queue whose lanes are bounded by `hwm`, and with
    /// `conflate` keep only their newest message.
    pub(crate) fn new(hwm: Hwm, conflate: bool) -> Arc<Inbound> {
        Arc::new(Inbound {
            lanes: Mutex::new(FairQueue::default()),
            receiving: Mutex::new(Receiving::default()),
            readable: Signal::default(),
            preempted: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            full_gone_ns: AtomicU64::new(0),
            hwm,
            conflate,
            // Under conflate only the newest message counts: none is held
            // back in a batch.
            quantum: if conflate {
                Quantum {
                    alone: (1, 0),
                    shared: (1, 0),
                }
            } else {
                QUANTUM
            },
        })
    }

    /// A lane for the messages of `peer` (`None` for one of the socket's
    /// own), counted in `account` (if any) until they are handed out, its
    /// crossings of `watch`'s marks (if any) reported; it goes when the
    /// handle is dropped and what it holds has been received.
    pub(crate) fn open_lane(
        self: &Arc<Inbound>,
        peer: Option<LanePeer>,
        account: Option<Arc<Account>>,
        watch: Option<Watch>,
    ) -> InLane {
        let shared = Arc::new(LaneShared {
            writable: Signal::default(),
            account,
            peer,
        });
        let watched = Watched::new(watch);
        let id = lock(&self.lanes).open_watched(self.hwm, self.conflate, shared.clone(), watched);
        InLane {
            inbound: self.clone(),
            id,
            shared,
        }
    }

    /// Acts on a push, under the lanes' lock: a preemption is recorded, and
    /// receivers are woken when the first lane became ready.
    fn pushed(&self, lanes: MutexGuard<'_, Lanes>, pushed: Pushed) {
        if pushed.preempt {
            self.preempted.store(true, Ordering::Relaxed);
        }
        let wake = pushed.wake && self.readable.has_waiters();
        drop(lanes);
        if wake {
            self.readable.wake_all();
        }
    }

    /// The next message: from the batch, or from a new turn when the batch
    /// is spent or preempted.
    #[inline]
    pub(crate) fn try_recv(&self) -> Option<Message> {
        self.try_recv_from().map(|(msg, _)| msg)
    }

    /// [`Inbound::try_recv`], and the lane the message came from (an
    /// XPUB's lane of notes, say: [`InLane::id`]).
    #[inline]
    pub(crate) fn try_recv_from(&self) -> Option<(Message, LaneId)> {
        let mut receiving = lock(&self.receiving);
        if receiving.batch.is_empty() || self.preempted.load(Ordering::Relaxed) {
            let mut lanes = lock(&self.lanes);
            // What the batch still holds goes back to its lane.
            receiving.taken -= receiving.batch.len() as u64;
            let turn = lanes.take(&mut receiving.batch, self.quantum);
            receiving.taken += receiving.batch.len() as u64;
            self.preempted.store(false, Ordering::Relaxed);
            let wake = turn.room.filter(|lane| lane.writable.has_waiters());
            drop(lanes);
            if let Some(lane) = wake {
                lane.writable.wake_all();
            }
            // What was handed out of the last batch has left the socket.
            if let Some((lane, handed)) = turn.handed {
                receiving.handed_bytes += handed as u64;
                if let Some(account) = &lane.account {
                    account.dequeued(handed);
                }
            }
        }
        let lane = receiving.batch.lane()?;
        let entry = receiving.batch.pop()?;
        drop(receiving);
        Some((entry.into_message(), lane))
    }

    /// Waits until `take` finds something, trying it now and whenever a
    /// lane becomes ready; `None` once the queue is closed and `take` found
    /// nothing. While it waits it polls `also` too: another source, which
    /// hands over the next message itself when the queue is empty (a
    /// receiver reading through its connection).
    pub(crate) async fn wait_for<T>(
        &self,
        mut take: impl FnMut() -> Option<T>,
        mut also: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> Option<T> {
        let check = || match take() {
            Some(t) => Some(Some(t)),
            None => self.is_closed().then_some(None),
        };
        self.readable.wait_for(check, |cx| also(cx).map(Some)).await
    }

    /// Refuses every push from now on; what is queued can still be
    /// received. Wakes receivers and connections waiting for room.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let lanes = lock(&self.lanes);
        let waiting: Vec<Arc<LaneShared>> = lanes.tags().cloned().collect();
        drop(lanes);
        self.readable.wake_all();
        for lane in waiting {
            lane.writable.wake_all();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// (messages, payload octets) received and not yet handed out, and the
    /// messages handed out so far.
    pub(crate) fn depth(&self) -> ((usize, usize), u64) {
        let receiving = lock(&self.receiving);
        let (batch, batch_bytes) = receiving.batch.depth();
        let (queued, queued_bytes) = lock(&self.lanes).depth();
        (
            (queued + batch, queued_bytes + batch_bytes),
            receiving.received(),
        )
    }

    /// Payload octets of the messages handed out so far.
    pub(crate) fn received_bytes(&self) -> u64 {
        let receiving = lock(&self.receiving);
        receiving.handed_bytes + receiving.batch.handed_so_far() as u64
    }

    /// Messages replaced under conflate, in lanes that still exist.
    pub(crate) fn replaced(&self) -> u64 {
        lock(&self.lanes).replaced()
    }

    /// The most messages one peer's lane held since `reader` last asked,
    /// and all the time the lanes have spent full (their peers held back),
    /// summed over the lanes, those of peers gone too.
    pub(crate) fn pressure(&self, reader: Reader) -> (usize, Duration) {
        // The receiver's lock first, as a receiver takes them.
        let receiving = lock(&self.receiving);
        let out = receiving.batch.len();
        let mut lanes = lock(&self.lanes);
        let (peak, full) = lanes.looks().fold((0, Duration::ZERO), |(peak, full), l| {
            let now = l.depth.0 + if l.loaned { out } else { 0 };
            (
                peak.max(l.watch.take_peak(reader, now)),
                full + l.watch.time_full(),
            )
        });
        drop(lanes);
        drop(receiving);
        let gone = Duration::from_nanos(self.full_gone_ns.load(Ordering::Relaxed));
        (peak, full + gone)
    }

    /// The lanes of the peers whose connections are up (not of those gone,
    /// whose lanes are still being read): what each holds (the receiver's
    /// batch counted in its lane), the most it held since `reader` last
    /// asked, its time full, what was handed out of it.
    pub(crate) fn peer_lanes(&self, reader: Reader) -> Vec<LaneStats> {
        let receiving = lock(&self.receiving);
        let (batch, batch_bytes) = receiving.batch.depth();
        let mut lanes = lock(&self.lanes);
        // The figures under the locks; the names copied after.
        let seen: Vec<_> = lanes
            .looks()
            .filter(|l| !l.detached && l.tag.peer.is_some())
            .map(|l| {
                let (out, out_bytes) = if l.loaned {
                    (batch, batch_bytes)
                } else {
                    (0, 0)
                };
                let (messages, bytes) = (l.depth.0 + out, l.depth.1 + out_bytes);
                let peak = l.watch.take_peak(reader, messages);
                let figures = (messages, bytes, peak, l.watch.time_full());
                (l.tag.clone(), figures, l.taken - out as u64)
            })
            .collect();
        drop(lanes);
        drop(receiving);
        seen.into_iter()
            .filter_map(|(tag, (messages, bytes, peak, time_full), received)| {
                Some(LaneStats {
                    owner: tag.peer.clone()?,
                    messages,
                    bytes,
                    peak,
                    time_full,
                    received,
                })
            })
            .collect()
    }
}

/// A peer's lane: its connection pushes what it receives here.
pub(crate) struct InLane {
    inbound: Arc<Inbound>,
    id: LaneId,
    shared: Arc<LaneShared>,
}

impl InLane {
    /// Which lane it is, as [`Inbound::try_recv_from`] tells.
    pub(crate) fn id(&self) -> LaneId {
        self.id
    }

    fn lanes(&self) -> MutexGuard<'_, Lanes> {
        lock(&self.inbound.lanes)
    }

    /// Adds `msg` if the lane has room.
    pub(crate) fn try_push(&self, msg: Message) -> Result<(), PushError> {
        if self.inbound.is_closed() {
            return Err(PushError::Closed(msg));
        }
        // A small message is copied before the lock is taken (see
        // [`Entry`]), and a refused one handed back as it came.
        let copy = Entry::copy_of(&msg);
        let mut lanes = self.lanes();
        let (entry, copied) = match copy {
            Some(entry) => (entry, Some(msg)),
            None => (Entry::Shared(msg), None),
        };
        let len = entry.byte_len();
        match lanes.push(self.id, entry) {
            Ok(pushed) => {
                self.pushed(lanes, pushed, len);
                drop(copied);
                Ok(())
            }
            Err(Refused::Full(entry)) => Err(PushError::Full(
                copied.unwrap_or_else(|| entry.into_message()),
            )),
            Err(Refused::Closed(entry)) => Err(PushError::Closed(
                copied.unwrap_or_else(|| entry.into_message()),
            )),
        }
    }

    /// Queues a notice the socket makes itself (a ROUTER_NOTIFY departure),
    /// waiting for room as a peer's message would; its octets, which no
    /// read brought in, are counted in the budget as they are queued. Only
    /// a closing socket refuses it.
    pub(crate) async fn push_notice(&self, mut msg: Message) {
        let len = msg.byte_len();
        loop {
            self.writable(len).await;
            if let Some(account) = &self.shared.account {
                account.force(len);
            }
            match self.try_push(msg) {
                Ok(()) => return,
                Err(refused) => {
                    if let Some(account) = &self.shared.account {
                        account.shrink(len);
                    }
                    match refused {
                        PushError::Full(m) => msg = m,
                        PushError::Closed(_) => return,
                    }
                }
            }
        }
    }

    /// Moves messages from the front of `msgs` (`bytes` payload octets in
    /// all) into the lane, in order, while each fits; returns the payload
    /// octets moved, `Err` when the lane or the socket is closed.
    pub(crate) fn try_push_batch(
        &self,
        msgs: &mut VecDeque<Entry>,
        bytes: usize,
    ) -> Result<usize, ()> {
        if self.inbound.is_closed() {
            return Err(());
        }
        let mut lanes = self.lanes();
        match lanes.push_batch(self.id, msgs, bytes) {
            Ok((moved, pushed)) => {
                self.pushed(lanes, pushed, moved);
                Ok(moved)
            }
            Err(_) => Err(()),
        }
    }

    /// Acts on a push of `bytes` payload octets (see [`Inbound::pushed`]):
    /// they are queued now, and what conflate replaced has left the socket.
    #[inline]
    fn pushed(&self, lanes: MutexGuard<'_, Lanes>, pushed: Pushed, bytes: usize) {
        // Counted as queued before the lock goes: a receiver could take and
        // hand it out (and count it as gone) the moment it may see it.
        if let Some(account) = &self.shared.account {
            account.queued(bytes);
        }
        self.inbound.pushed(lanes, pushed);
        if let Some(account) = &self.shared.account {
            account.dequeued(pushed.replaced);
        }
    }

    /// Whether a message of `len` payload octets would be taken now (or
    /// refused at once, the socket being closed).
    fn has_room(&self, len: usize) -> bool {
        self.inbound.is_closed() || self.lanes().has_room(self.id, len)
    }

    /// Waits until a message of `len` payload octets would be taken (or
    /// refused at once).
    pub(crate) async fn writable(&self, len: usize) {
        let room = || self.has_room(len).then_some(());
        self.shared.writable.wait_for(room, |_| Poll::Pending).await;
    }
}

impl Drop for InLane {
    /// The peer is gone: its lane takes nothing more, and goes once what it
    /// holds has been received.
    fn drop(&mut self) {
        let mut spent = Duration::ZERO;
        self.lanes().detach(self.id, |watch| spent = watch.retire());
        let ns = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.inbound.full_gone_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::options::Hwm;

    /// Two receivers: one waits on an empty queue; messages arrive, and the
    /// other takes them as a batch (handing out one) before the waiter
    /// runs. The waiter must then find the rest in the batch, not wait on
    /// the now empty queue for a push that may never come.
    #[tokio::test]
    async fn a_waiting_receiver_finds_what_another_took_in_a_batch() {
        let inbound = Inbound::new(Hwm::default(), false);
        let waiter = tokio::spawn({
            let inbound = inbound.clone();
            async move {
                inbound
                    .wait_for(|| inbound.try_recv(), |_| Poll::Pending)
                    .await
            }
        });
        // The waiter runs until it waits.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let lane = inbound.open_lane(None, None, None);
        for m in ["a", "b", "c"] {
            lane.try_push(Message::from(m)).unwrap();
        }
        // No await between the pushes and this: the waiter has not run.
        assert_eq!(inbound.try_recv(), Some(Message::from("a")));
        let got = tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("the waiter missed the messages in the batch")
            .unwrap();
        assert_eq!(got, Some(Message::from("b")));
    }
}
