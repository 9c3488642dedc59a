//! Fair queuing (libzmq's `fq_t`, RFC 28's "fair-queue"): every peer has
//! its own incoming lane, bounded by the receive HWM, and the receiver
//! takes turns over the lanes that hold anything, so a peer that floods
//! fills only its own lane and a quiet peer's message waits for one turn of
//! each busy peer, not behind a whole HWM of flood.
//!
//! A turn hands the receiver a [`Batch`] of up to a quantum of one lane's
//! messages at once: the lock around the queue (which every connection
//! pushes under) is taken once per batch, not once per message. A batch
//! could make a quiet peer wait for the rest of a busy peer's quantum, so a
//! lane that becomes ready while another lane's batch is out *preempts* it
//! ([`Pushed::preempt`]): the receiver, told before it hands out the next
//! message, gives the rest of the batch back to the front of its lane and
//! takes the next turn. A peer alone keeps its whole batch: only another
//! lane preempts.
//!
//! Sans-IO: no locks, no wake-ups. The caller holds the queue under a lock,
//! the batch under another, and wakes whoever the results name. Each lane
//! also keeps a watch of the caller's (`W`: how hard the lane presses
//! against its HWM, say), which the queue tells of each change of the
//! lane's depth and each refusal ([`DepthWatch`]), under the same lock.

use std::collections::VecDeque;

use crate::options::Hwm;

/// What a lane holds knows its payload size.
pub(crate) trait Weighed {
    /// Payload octets.
    fn weight(&self) -> usize;
}

/// Moves entries from the front of `from` (which holds `bytes` payload
/// octets) to the back of `into`: at most `max` of them, and no more once
/// `max_bytes` payload octets are moved (at least one, whatever its size).
/// Returns (entries, octets) moved.
///
/// When that is all of `from` and `into` is empty, the two swap instead:
/// no copying however many there are, and `from` goes on in the storage
/// `into` had (so the two sides of a queue pass a pair of buffers back and
/// forth and allocate nothing).
pub(crate) fn take_front<E: Weighed>(
    from: &mut VecDeque<E>,
    bytes: usize,
    into: &mut VecDeque<E>,
    max: usize,
    max_bytes: usize,
) -> (usize, usize) {
    // The rule below, for the whole queue at once: within `max`, and under
    // `max_bytes` until the last entry.
    let all = from.len() <= max
        && from
            .back()
            .is_some_and(|last| from.len() == 1 || bytes - last.weight() < max_bytes);
    if all {
        let n = from.len();
        if into.is_empty() {
            std::mem::swap(from, into);
        } else {
            into.append(from);
        }
        return (n, bytes);
    }
    // Counted first, then moved in one go.
    let (mut n, mut taken) = (0, 0);
    for entry in from.iter() {
        if n == max || (n > 0 && taken >= max_bytes) {
            break;
        }
        taken += entry.weight();
        n += 1;
    }
    into.extend(from.drain(..n));
    (n, taken)
}

/// A lane, while it exists (a slot and the generation of its use, so a
/// stale id never reaches a newer lane in the same slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LaneId {
    slot: u32,
    generation: u32,
}

struct Lane<E, T, W> {
    queue: VecDeque<E>,
    bytes: usize,
    hwm: Hwm,
    /// Keep only the newest message (libzmq's CONFLATE, per peer).
    conflate: bool,
    /// Messages replaced under `conflate`.
    replaced: u64,
    /// Messages taken out of it into batches, less those given back: what
    /// was handed out, and what a batch of its still holds.
    taken: u64,
    /// In the ready ring.
    ready: bool,
    /// Its producer has gone: it takes nothing more, and goes once empty
    /// (what it holds is still delivered, as libzmq's pipes are read up to
    /// their end).
    detached: bool,
    tag: T,
    watch: W,
}

impl<E: Weighed, T, W> Lane<E, T, W> {
    /// Empties the lane for a newer message (conflate): what it held counts
    /// as replaced. Returns (messages, octets) gone.
    fn clear(&mut self) -> (usize, usize) {
        let gone = (self.queue.len(), self.bytes);
        self.replaced += gone.0 as u64;
        self.queue.clear();
        self.bytes = 0;
        gone
    }
}

enum Slot<E, T, W> {
    Used {
        generation: u32,
        lane: Lane<E, T, W>,
    },
    Free {
        generation: u32,
    },
}

/// The receiver's share: up to a quantum of one lane's messages, handed out
/// one by one without the queue's lock.
#[derive(Debug)]
pub(crate) struct Batch<E> {
    lane: Option<LaneId>,
    entries: VecDeque<E>,
    /// Payload octets of the batch as it was taken. What was handed out
    /// is this less what is left, counted at the end of the turn: nothing
    /// is counted per message.
    taken: usize,
}

impl<E> Default for Batch<E> {
    fn default() -> Self {
        Batch {
            lane: None,
            entries: VecDeque::new(),
            taken: 0,
        }
    }
}

impl<E: Weighed> Batch<E> {
    /// The next message of the batch.
    pub(crate) fn pop(&mut self) -> Option<E> {
        self.entries.pop_front()
    }

    /// Nothing left to hand out.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The lane its messages come from, during its turn.
    pub(crate) fn lane(&self) -> Option<LaneId> {
        self.lane
    }

    /// Messages not yet handed out.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// (messages, payload octets) not yet handed out.
    pub(crate) fn depth(&self) -> (usize, usize) {
        (self.entries.len(), weight_of(&self.entries))
    }

    /// Payload octets handed out of this batch so far (counted now, not
    /// per message: for the stats).
    pub(crate) fn handed_so_far(&self) -> usize {
        self.taken.saturating_sub(weight_of(&self.entries))
    }
}

/// Payload octets of `entries`.
fn weight_of<E: Weighed>(entries: &VecDeque<E>) -> usize {
    entries.iter().map(Weighed::weight).sum()
}

/// What a queue tells its watch of a lane, as the lane's depth changes.
pub(crate) trait DepthWatch {
    /// Entries came in: the lane holds `messages` of `bytes` now.
    fn grew(&mut self, messages: usize, bytes: usize);
    /// Entries were taken out: the lane holds `messages` of `bytes` now,
    /// and with `room` it is down to its low-water mark (half its HWM),
    /// where a producer refused is let go.
    fn shrank(&mut self, messages: usize, bytes: usize, room: bool);
    /// A push found the lane full.
    fn refused(&mut self);
}

/// No watch.
impl DepthWatch for () {
    fn grew(&mut self, _: usize, _: usize) {}
    fn shrank(&mut self, _: usize, _: usize, _: bool) {}
    fn refused(&mut self) {}
}

/// One lane, as [`FairQueue::looks`] shows it.
pub(crate) struct Look<'a, T, W> {
    pub(crate) tag: &'a T,
    pub(crate) watch: &'a mut W,
    /// (messages, payload octets) it holds, not counting a batch out.
    pub(crate) depth: (usize, usize),
    /// Messages taken out of it into batches, less those given back: what
    /// was handed out, and what the batch out holds if it is the lane's.
    pub(crate) taken: u64,
    /// The batch out is the lane's.
    pub(crate) loaned: bool,
    /// Its producer has gone.
    pub(crate) detached: bool,
}

/// What a turn did, for the caller to act on.
#[derive(Debug)]
pub(crate) struct Turn<T> {
    /// The lane whose batch ended with this turn, and the payload octets
    /// handed out of it: gone from the socket.
    pub(crate) handed: Option<(T, usize)>,
    /// The lane taken from, if that brought it down to its low-water mark
    /// (half its HWM, libzmq's rule): its producer may be waiting for room.
    pub(crate) room: Option<T>,
}

/// How much one turn takes: up to a number of messages, and no more once a
/// number of payload octets is reached (at least one message, whatever its
/// size). A lane alone takes a large batch (the lock is taken less often);
/// with others waiting for their turn, a small one (they wait less).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quantum {
    /// When no other lane is ready.
    pub(crate) alone: (usize, usize),
    /// When other lanes wait for their turn.
    pub(crate) shared: (usize, usize),
}

impl Quantum {
    /// The same quantum either way.
    #[cfg(test)]
    pub(crate) fn fixed(messages: usize, bytes: usize) -> Quantum {
        Quantum {
            alone: (messages, bytes),
            shared: (messages, bytes),
        }
    }
}

/// What a push did, for the caller to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pushed {
    /// The first lane became ready: a waiting receiver must be woken.
    pub(crate) wake: bool,
    /// A lane became ready while another's batch is out: the receiver
    /// should give that batch back and take a turn.
    pub(crate) preempt: bool,
    /// Payload octets replaced under conflate: gone from the socket.
    pub(crate) replaced: usize,
}

/// Why a push did not happen.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused<E> {
    /// The lane is at its HWM.
    Full(E),
    /// The lane is detached or gone.
    Closed(E),
}

/// The lanes and the ring of those ready (see the module docs).
pub(crate) struct FairQueue<E, T, W = ()> {
    slots: Vec<Slot<E, T, W>>,
    free: Vec<u32>,
    /// Lanes holding messages, in the order of their turns.
    ready: VecDeque<LaneId>,
    /// The lane whose batch the receiver holds.
    loaned: Option<LaneId>,
    /// Messages and payload octets in all lanes (not in the batch).
    queued: (usize, usize),
    /// Messages replaced under conflate in lanes that have gone.
    replaced_gone: u64,
}

impl<E: Weighed, T: Clone, W> Default for FairQueue<E, T, W> {
    fn default() -> Self {
        FairQueue {
            slots: Vec::new(),
            free: Vec::new(),
            ready: VecDeque::new(),
            loaned: None,
            queued: (0, 0),
            replaced_gone: 0,
        }
    }
}

impl<E: Weighed, T: Clone, W: DepthWatch + Default> FairQueue<E, T, W> {
    /// A new lane bounded by `hwm`; `tag` comes back with the turns that
    /// concern it. Its watch starts as the default.
    #[cfg(test)]
    pub(crate) fn open(&mut self, hwm: Hwm, conflate: bool, tag: T) -> LaneId {
        self.open_watched(hwm, conflate, tag, W::default())
    }
}

impl<E: Weighed, T: Clone, W: DepthWatch> FairQueue<E, T, W> {
    /// A new lane bounded by `hwm`, kept watch over by `watch`; `tag` comes
    /// back with the turns that concern it.
    pub(crate) fn open_watched(&mut self, hwm: Hwm, conflate: bool, tag: T, watch: W) -> LaneId {
        let lane = Lane {
            queue: VecDeque::new(),
            bytes: 0,
            hwm,
            conflate,
            replaced: 0,
            taken: 0,
            ready: false,
            detached: false,
            tag,
            watch,
        };
        match self.free.pop() {
            Some(slot) => {
                let generation = match &self.slots[slot as usize] {
                    Slot::Free { generation } => generation.wrapping_add(1),
                    Slot::Used { .. } => unreachable!("free slots are free"),
                };
                self.slots[slot as usize] = Slot::Used { generation, lane };
                LaneId { slot, generation }
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 lanes");
                self.slots.push(Slot::Used {
                    generation: 0,
                    lane,
                });
                LaneId {
                    slot,
                    generation: 0,
                }
            }
        }
    }

    fn lane(&self, id: LaneId) -> Option<&Lane<E, T, W>> {
        match self.slots.get(id.slot as usize) {
            Some(Slot::Used { generation, lane }) if *generation == id.generation => Some(lane),
            _ => None,
        }
    }

    fn lane_mut(&mut self, id: LaneId) -> Option<&mut Lane<E, T, W>> {
        match self.slots.get_mut(id.slot as usize) {
            Some(Slot::Used { generation, lane }) if *generation == id.generation => Some(lane),
            _ => None,
        }
    }

    /// The one rule for room: an empty lane takes anything (or a message
    /// over the byte limit could never arrive); otherwise both limits must
    /// hold after the push. Under conflate there is always room: the newest
    /// replaces what is queued.
    fn fits(lane: &Lane<E, T, W>, len: usize) -> bool {
        lane.conflate
            || lane.queue.is_empty()
            || (lane.queue.len() < lane.hwm.messages() && lane.bytes + len <= lane.hwm.bytes())
    }

    /// Whether a message of `len` payload octets would go into the lane now
    /// (`true` for a lane that is gone: a push then fails at once, so
    /// nobody waits for it).
    pub(crate) fn has_room(&self, id: LaneId, len: usize) -> bool {
        self.lane(id)
            .is_none_or(|lane| lane.detached || Self::fits(lane, len))
    }

    /// Adds `entry` to the lane if its HWM has room.
    pub(crate) fn push(&mut self, id: LaneId, entry: E) -> Result<Pushed, Refused<E>> {
        let Some(lane) = self.lane_mut(id) else {
            return Err(Refused::Closed(entry));
        };
        if lane.detached {
            return Err(Refused::Closed(entry));
        }
        let len = entry.weight();
        if !Self::fits(lane, len) {
            lane.watch.refused();
            return Err(Refused::Full(entry));
        }
        let gone = lane.conflate.then(|| lane.clear());
        lane.queue.push_back(entry);
        lane.bytes += len;
        lane.watch.grew(lane.queue.len(), lane.bytes);
        Ok(self.added(id, 1, len, gone.unwrap_or_default()))
    }

    /// Moves entries from the front of `entries` (`bytes` payload octets in
    /// all) into the lane, in order, while each fits; what does not fit
    /// stays. Returns the payload octets moved.
    ///
    /// A batch that fits whole goes in as a block copy, or into an empty
    /// lane by a swap: a receiver that keeps up finds it there with no
    /// copying under the lock.
    pub(crate) fn push_batch(
        &mut self,
        id: LaneId,
        entries: &mut VecDeque<E>,
        bytes: usize,
    ) -> Result<(usize, Pushed), Refused<()>> {
        let Some(lane) = self.lane_mut(id) else {
            return Err(Refused::Closed(()));
        };
        if lane.detached {
            return Err(Refused::Closed(()));
        }
        debug_assert_eq!(bytes, entries.iter().map(E::weight).sum::<usize>());
        let n = entries.len();
        if lane.conflate {
            // Each replaces what is queued: only the last survives.
            let mut gone = lane.clear();
            let keep = entries.pop_back();
            gone.0 += entries.len();
            gone.1 += bytes - keep.as_ref().map_or(0, E::weight);
            lane.replaced += entries.len() as u64;
            entries.clear();
            if let Some(entry) = keep {
                lane.bytes = entry.weight();
                lane.queue.push_back(entry);
            }
            lane.watch.grew(lane.queue.len(), lane.bytes);
            return Ok((bytes, self.added(id, n, bytes, gone)));
        }
        let (k, moved) = if Self::fits_whole(lane, n, bytes) {
            if lane.queue.is_empty() {
                std::mem::swap(&mut lane.queue, entries);
            } else {
                lane.queue.append(entries);
            }
            (n, bytes)
        } else {
            // Those that fit are counted first, then moved in one go.
            let (mut queued, mut total) = (lane.queue.len(), lane.bytes);
            for entry in entries.iter() {
                let len = entry.weight();
                let fits = queued == 0
                    || (queued < lane.hwm.messages() && total + len <= lane.hwm.bytes());
                if !fits {
                    break;
                }
                queued += 1;
                total += len;
            }
            let k = queued - lane.queue.len();
            let moved = total - lane.bytes;
            lane.queue.extend(entries.drain(..k));
            (k, moved)
        };
        lane.bytes += moved;
        if !entries.is_empty() {
            lane.watch.refused();
        }
        lane.watch.grew(lane.queue.len(), lane.bytes);
        Ok((moved, self.added(id, k, moved, (0, 0))))
    }

    /// Whether `n` entries of `bytes` octets in all, pushed in turn, would
    /// all fit: they do if the last one does, except that an empty lane
    /// takes one of any size.
    fn fits_whole(lane: &Lane<E, T, W>, n: usize, bytes: usize) -> bool {
        (lane.queue.is_empty() && n == 1)
            || (lane.queue.len() + n <= lane.hwm.messages()
                && lane.bytes + bytes <= lane.hwm.bytes())
    }

    /// Counts `n` entries of `bytes` octets added to the lane (`gone` were
    /// replaced) and schedules it if it just became ready.
    fn added(&mut self, id: LaneId, n: usize, bytes: usize, gone: (usize, usize)) -> Pushed {
        self.queued.0 = self.queued.0 + n - gone.0;
        self.queued.1 = self.queued.1 + bytes - gone.1;
        let Some(lane) = self.lane_mut(id) else {
            unreachable!("checked by the caller");
        };
        let replaced = gone.1;
        if lane.ready || lane.queue.is_empty() {
            return Pushed {
                wake: false,
                preempt: false,
                replaced,
            };
        }
        lane.ready = true;
        let wake = self.ready.is_empty();
        self.ready.push_back(id);
        let preempt = self.loaned.is_some_and(|loaned| loaned != id);
        Pushed {
            wake,
            preempt,
            replaced,
        }
    }

    /// Ends `batch`'s turn (what it still holds goes back to the front of
    /// its lane, in order) and takes the next: a quantum of the lane whose
    /// turn it is.
    pub(crate) fn take(&mut self, batch: &mut Batch<E>, quantum: Quantum) -> Turn<T> {
        let handed = self.end_turn(batch);
        let Some(id) = self.ready.pop_front() else {
            return Turn { handed, room: None };
        };
        let (max, max_bytes) = if self.ready.is_empty() {
            quantum.alone
        } else {
            quantum.shared
        };
        let Some(lane) = self.lane_mut(id) else {
            unreachable!("ready lanes exist");
        };
        let (n, bytes) = take_front(
            &mut lane.queue,
            lane.bytes,
            &mut batch.entries,
            max,
            max_bytes,
        );
        lane.bytes -= bytes;
        lane.taken += n as u64;
        let below = lane.queue.is_empty()
            || (lane.queue.len() <= lane.hwm.messages() / 2 && lane.bytes <= lane.hwm.bytes() / 2);
        lane.watch.shrank(lane.queue.len(), lane.bytes, below);
        let room = below.then(|| lane.tag.clone());
        if lane.queue.is_empty() {
            lane.ready = false;
        } else {
            self.ready.push_back(id);
        }
        self.queued.0 -= n;
        self.queued.1 -= bytes;
        batch.lane = Some(id);
        batch.taken = bytes;
        self.loaned = Some(id);
        Turn { handed, room }
    }

    /// Gives what `batch` still holds back to its lane, and tells what was
    /// handed out of it.
    fn end_turn(&mut self, batch: &mut Batch<E>) -> Option<(T, usize)> {
        self.loaned = None;
        let id = batch.lane.take()?;
        let left = weight_of(&batch.entries);
        let handed = std::mem::take(&mut batch.taken) - left;
        let Some(lane) = self.lane_mut(id) else {
            unreachable!("a loaned lane stays until its batch is back");
        };
        let tag = lane.tag.clone();
        if !batch.entries.is_empty() {
            let n = batch.entries.len();
            // Older than what the lane holds: in front, in order. (This may
            // take the lane past its HWM by what the batch held, until it
            // is taken again: those messages were in memory already.)
            while let Some(entry) = batch.entries.pop_back() {
                lane.queue.push_front(entry);
            }
            lane.bytes += left;
            lane.taken -= n as u64;
            let was_ready = std::mem::replace(&mut lane.ready, true);
            self.queued.0 += n;
            self.queued.1 += left;
            // Its turn is over: to the back of the ring.
            if was_ready {
                self.ready.retain(|l| *l != id);
            }
            self.ready.push_back(id);
        }
        self.remove_if_done(id);
        Some((tag, handed))
    }

    /// Detaches a lane: it takes nothing more, and goes once what it holds
    /// has been taken and handed out. `last_look` sees its watch one last
    /// time, as it is detached.
    pub(crate) fn detach(&mut self, id: LaneId, last_look: impl FnOnce(&mut W)) {
        if let Some(lane) = self.lane_mut(id) {
            lane.detached = true;
            last_look(&mut lane.watch);
            self.remove_if_done(id);
        }
    }

    /// A look at every lane: its tag and watch, what it holds and what
    /// was taken out of it.
    pub(crate) fn looks(&mut self) -> impl Iterator<Item = Look<'_, T, W>> {
        let loaned = self.loaned;
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(move |(at, slot)| match slot {
                Slot::Used { lane, generation } => Some(Look {
                    loaned: loaned
                        == Some(LaneId {
                            slot: at as u32,
                            generation: *generation,
                        }),
                    depth: (lane.queue.len(), lane.bytes),
                    taken: lane.taken,
                    detached: lane.detached,
                    tag: &lane.tag,
                    watch: &mut lane.watch,
                }),
                Slot::Free { .. } => None,
            })
    }

    fn remove_if_done(&mut self, id: LaneId) {
        let done = self
            .lane(id)
            .is_some_and(|lane| lane.detached && lane.queue.is_empty())
            && self.loaned != Some(id);
        if done {
            let generation = id.generation;
            let slot =
                std::mem::replace(&mut self.slots[id.slot as usize], Slot::Free { generation });
            if let Slot::Used { lane, .. } = slot {
                self.replaced_gone += lane.replaced;
            }
            self.free.push(id.slot);
        }
    }

    /// (messages, payload octets) in the lanes, not counting the batch out.
    pub(crate) fn depth(&self) -> (usize, usize) {
        self.queued
    }

    /// (messages, payload octets) in one lane.
    #[cfg(test)]
    pub(crate) fn lane_depth(&self, id: LaneId) -> (usize, usize) {
        self.lane(id)
            .map_or((0, 0), |lane| (lane.queue.len(), lane.bytes))
    }

    /// Messages replaced under conflate, in all lanes ever.
    pub(crate) fn replaced(&self) -> u64 {
        self.replaced_gone + self.lanes().map(|lane| lane.replaced).sum::<u64>()
    }

    fn lanes(&self) -> impl Iterator<Item = &Lane<E, T, W>> {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Used { lane, .. } => Some(lane),
            Slot::Free { .. } => None,
        })
    }

    /// The tags of the lanes that exist now.
    pub(crate) fn tags(&self) -> impl Iterator<Item = &T> {
        self.lanes().map(|lane| &lane.tag)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use proptest::prelude::*;

    /// A test message: its lane, its sequence number in that lane, its size.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct M {
        lane: usize,
        seq: u32,
        len: usize,
    }

    impl Weighed for M {
        fn weight(&self) -> usize {
            self.len
        }
    }

    fn hwm(messages: usize, bytes: usize) -> Hwm {
        Hwm::new(messages, bytes).unwrap()
    }

    fn m(lane: usize, seq: u32) -> M {
        M { lane, seq, len: 10 }
    }

    type Fq = FairQueue<M, usize>;

    /// Takes every message, a turn at a time, in the order the receiver
    /// would hand them out (first giving the batch back if a push since it
    /// was taken said `preempt`).
    fn drain(fq: &mut Fq, batch: &mut Batch<M>, max: usize, mut preempted: bool) -> Vec<M> {
        let mut out = Vec::new();
        loop {
            if batch.is_empty() || std::mem::take(&mut preempted) {
                fq.take(batch, Quantum::fixed(max, usize::MAX));
            }
            match batch.pop() {
                Some(e) => out.push(e),
                None => return out,
            }
        }
    }

    #[test]
    fn turns_alternate_between_busy_lanes_a_quantum_each() {
        let mut fq = Fq::default();
        let a = fq.open(hwm(100, 1 << 20), false, 0);
        let b = fq.open(hwm(100, 1 << 20), false, 1);
        for seq in 0..8 {
            fq.push(a, m(0, seq)).unwrap();
        }
        for seq in 0..3 {
            fq.push(b, m(1, seq)).unwrap();
        }
        let mut batch = Batch::default();
        let lanes: Vec<usize> = drain(&mut fq, &mut batch, 2, false)
            .iter()
            .map(|e| e.lane)
            .collect();
        assert_eq!(lanes, [0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn a_lane_that_becomes_ready_preempts_another_lanes_batch() {
        let mut fq = Fq::default();
        let flood = fq.open(hwm(1000, 1 << 20), false, 0);
        let quiet = fq.open(hwm(1000, 1 << 20), false, 1);
        for seq in 0..100 {
            fq.push(flood, m(0, seq)).unwrap();
        }
        let mut batch = Batch::default();
        fq.take(&mut batch, Quantum::fixed(64, usize::MAX));
        assert_eq!(batch.depth().0, 64);
        assert_eq!(batch.pop(), Some(m(0, 0)));
        // More flood does not preempt its own batch ...
        let more = fq.push(flood, m(0, 100)).unwrap();
        assert!(!more.preempt);
        // ... a quiet lane does.
        let pushed = fq.push(quiet, m(1, 0)).unwrap();
        assert!(pushed.preempt);
        let turn = fq.take(&mut batch, Quantum::fixed(64, usize::MAX));
        assert_eq!(batch.depth().0, 1);
        assert_eq!(
            turn.handed,
            Some((0, 10)),
            "one flood message was handed out"
        );
        assert_eq!(batch.pop(), Some(m(1, 0)), "the quiet message is next");
        // The flood goes on where it stopped, in order.
        let rest = drain(&mut fq, &mut batch, 64, false);
        let seqs: Vec<u32> = rest.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    }

    /// What a lane shows of itself: its depth, and what was taken out of
    /// it less what a preempted batch gave back; the lane whose batch is
    /// out says so.
    #[test]
    fn a_look_counts_what_was_taken_less_what_came_back() {
        let mut fq = Fq::default();
        let flood = fq.open(hwm(1000, 1 << 20), false, 0);
        let quiet = fq.open(hwm(1000, 1 << 20), false, 1);
        for seq in 0..10 {
            fq.push(flood, m(0, seq)).unwrap();
        }
        let mut batch = Batch::default();
        fq.take(&mut batch, Quantum::fixed(6, usize::MAX));
        batch.pop();
        batch.pop();
        let seen = |fq: &mut Fq| -> Vec<(usize, (usize, usize), u64, bool)> {
            fq.looks()
                .map(|l| (*l.tag, l.depth, l.taken, l.loaned))
                .collect()
        };
        assert_eq!(
            seen(&mut fq),
            [(0, (4, 40), 6, true), (1, (0, 0), 0, false)]
        );
        // The quiet lane's turn: the flood's four left go back in front.
        fq.push(quiet, m(1, 0)).unwrap();
        fq.take(&mut batch, Quantum::fixed(6, usize::MAX));
        assert_eq!(
            seen(&mut fq),
            [(0, (8, 80), 2, false), (1, (0, 0), 1, true)]
        );
    }

    #[test]
    fn a_lane_alone_takes_a_large_quantum_and_a_small_one_while_others_wait() {
        let mut fq = Fq::default();
        let a = fq.open(hwm(100, 1 << 20), false, 0);
        let b = fq.open(hwm(100, 1 << 20), false, 1);
        for seq in 0..50 {
            fq.push(a, m(0, seq)).unwrap();
        }
        let quantum = Quantum {
            alone: (20, usize::MAX),
            shared: (3, 25),
        };
        let mut batch = Batch::default();
        let mut turn = |fq: &mut Fq| {
            while batch.pop().is_some() {}
            fq.take(&mut batch, quantum);
            batch.depth().0
        };
        assert_eq!(turn(&mut fq), 20, "alone");
        fq.push(b, m(1, 0)).unwrap();
        // By bytes: 10, 20, 30 >= 25.
        assert_eq!(turn(&mut fq), 3, "b waits");
        assert_eq!(turn(&mut fq), 1, "b's turn");
        assert_eq!(turn(&mut fq), 20, "alone again");
    }

    #[test]
    fn a_full_lane_refuses_and_an_empty_one_takes_anything() {
        let mut fq = Fq::default();
        let a = fq.open(hwm(2, 25), false, 0);
        fq.push(a, m(0, 0)).unwrap();
        fq.push(a, m(0, 1)).unwrap();
        assert_eq!(fq.push(a, m(0, 2)), Err(Refused::Full(m(0, 2))));
        assert!(!fq.has_room(a, 1));
        let b = fq.open(hwm(2, 25), false, 1);
        let big = M {
            lane: 1,
            seq: 0,
            len: 1000,
        };
        assert!(fq.has_room(b, 1000));
        fq.push(b, big).unwrap();
        assert!(!fq.has_room(b, 1));
        assert_eq!(fq.depth(), (3, 1020));
        assert_eq!(fq.lane_depth(b), (1, 1000));
    }

    #[test]
    fn a_detached_lane_is_read_to_its_end_then_goes() {
        let mut fq = Fq::default();
        let a = fq.open(hwm(10, 1000), false, 0);
        fq.push(a, m(0, 0)).unwrap();
        fq.push(a, m(0, 1)).unwrap();
        let mut batch = Batch::default();
        fq.take(&mut batch, Quantum::fixed(1, usize::MAX));
        fq.detach(a, |_| ());
        assert_eq!(fq.push(a, m(0, 2)), Err(Refused::Closed(m(0, 2))));
        assert!(fq.has_room(a, 10), "nobody waits for a closed lane");
        let got = drain(&mut fq, &mut batch, 10, false);
        assert_eq!(got, [m(0, 0), m(0, 1)]);
        assert_eq!(fq.lane_depth(a), (0, 0));
        // Its slot is reused, and the old id does not reach the new lane.
        let b = fq.open(hwm(10, 1000), false, 1);
        assert_ne!(a, b);
        assert_eq!(fq.push(a, m(0, 3)), Err(Refused::Closed(m(0, 3))));
        fq.push(b, m(1, 0)).unwrap();
        assert_eq!(fq.lane_depth(b), (1, 10));
    }

    #[test]
    fn a_detached_lane_whose_batch_comes_back_is_still_delivered() {
        let mut fq = Fq::default();
        let a = fq.open(hwm(10, 1000), false, 0);
        let b = fq.open(hwm(10, 1000), false, 1);
        for seq in 0..3 {
            fq.push(a, m(0, seq)).unwrap();
        }
        let mut batch = Batch::default();
        fq.take(&mut batch, Quantum::fixed(10, usize::MAX));
        fq.detach(a, |_| ());
        assert!(fq.push(b, m(1, 0)).unwrap().preempt);
        let got = drain(&mut fq, &mut batch, 10, true);
        assert_eq!(got, [m(1, 0), m(0, 0), m(0, 1), m(0, 2)]);
    }

    #[test]
    fn the_room_signal_comes_at_the_low_water_mark() {
        let mut fq = Fq::default();
        let a = fq.open(hwm(8, 1 << 20), false, 7);
        for seq in 0..8 {
            fq.push(a, m(0, seq)).unwrap();
        }
        let mut batch = Batch::default();
        assert!(
            fq.take(&mut batch, Quantum::fixed(3, usize::MAX))
                .room
                .is_none(),
            "5 left"
        );
        while batch.pop().is_some() {}
        assert_eq!(
            fq.take(&mut batch, Quantum::fixed(1, usize::MAX)).room,
            Some(7),
            "4 left"
        );
    }

    #[test]
    fn conflate_keeps_the_newest_per_lane() {
        let mut fq = Fq::default();
        let a = fq.open(hwm(5, 100), true, 0);
        let b = fq.open(hwm(5, 100), true, 1);
        for seq in 0..3 {
            fq.push(a, m(0, seq)).unwrap();
        }
        let mut batch: VecDeque<M> = (3..6).map(|s| m(0, s)).collect();
        let (moved, pushed) = fq.push_batch(a, &mut batch, 30).unwrap();
        assert_eq!(
            (moved, pushed.replaced),
            (30, 30),
            "one queued and two of three"
        );
        fq.push(b, m(1, 0)).unwrap();
        assert_eq!(fq.replaced(), 5);
        assert_eq!(fq.depth(), (2, 20));
        let mut batch = Batch::default();
        assert_eq!(drain(&mut fq, &mut batch, 1, false), [m(0, 5), m(1, 0)]);
    }

    #[test]
    fn a_batch_push_moves_what_fits_in_order() {
        let mut fq = Fq::default();
        let a = fq.open(hwm(4, 35), false, 0);
        let mut batch: VecDeque<M> = (0..6).map(|s| m(0, s)).collect();
        let (moved, pushed) = fq.push_batch(a, &mut batch, 60).unwrap();
        assert_eq!(moved, 30);
        assert!(pushed.wake);
        assert_eq!(batch.len(), 3);
        assert_eq!(fq.lane_depth(a), (3, 30));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Open,
        Push {
            lane: usize,
            len: usize,
        },
        Batch {
            lane: usize,
            lens: Vec<usize>,
        },
        Detach {
            lane: usize,
        },
        /// Hand out up to `n` messages (taking turns as the receiver does,
        /// honouring preemption), each turn at most `max` messages.
        Recv {
            n: usize,
            max: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => Just(Op::Open),
            6 => (0..6usize, 0..30usize).prop_map(|(lane, len)| Op::Push { lane, len }),
            3 => (0..6usize, proptest::collection::vec(0..30usize, 1..10))
                .prop_map(|(lane, lens)| Op::Batch { lane, lens }),
            1 => (0..6usize).prop_map(|lane| Op::Detach { lane }),
            4 => (1..20usize, 1..5usize).prop_map(|(n, max)| Op::Recv { n, max }),
        ]
    }

    proptest! {
        /// Whatever the pushes, batches, detaches and turns:
        /// - every message pushed is handed out exactly once, in its lane's
        ///   order, once everything is drained;
        /// - a lane holds at most its HWM (plus one batch given back);
        /// - the counts agree with what the lanes hold;
        /// - a lane that becomes ready waits at most one turn of each lane
        ///   ready before it: of the messages handed out before its first
        ///   one, at most `max` per other lane, after the batch out when it
        ///   became ready is given back.
        #[test]
        fn the_fair_queue_agrees_with_the_model(
            ops in proptest::collection::vec(op(), 1..200),
            hwm_messages in 1..30usize,
            hwm_bytes in 1..80usize,
        ) {
            let limit = hwm(hwm_messages, hwm_bytes);
            let mut fq = Fq::default();
            let mut batch: Batch<M> = Batch::default();
            let mut lanes: Vec<LaneId> = Vec::new();
            let mut seq: HashMap<usize, u32> = HashMap::new();
            let mut pushed: HashMap<usize, Vec<u32>> = HashMap::new();
            let mut handed: HashMap<usize, Vec<u32>> = HashMap::new();
            let mut detached = vec![false; 0];
            // For each lane that became ready: the messages of other lanes
            // handed out since, per lane, until its own first one; and the
            // lane whose batch was out then, which must wait behind it.
            let mut waiting: HashMap<usize, HashMap<usize, usize>> = HashMap::new();
            let mut preempting: HashMap<usize, usize> = HashMap::new();
            // What the pushes since the last turn told the receiver.
            let mut preempted = false;
            let mut max_turn = 1;
            let hand_out = |e: M, waiting: &mut HashMap<usize, HashMap<usize, usize>>,
                                handed: &mut HashMap<usize, Vec<u32>>| {
                handed.entry(e.lane).or_default().push(e.seq);
                waiting.remove(&e.lane);
                for others in waiting.values_mut() {
                    *others.entry(e.lane).or_default() += 1;
                }
            };
            for op in ops {
                match op {
                    Op::Open => {
                        lanes.push(fq.open(limit, false, lanes.len()));
                        detached.push(false);
                    }
                    Op::Push { lane, len } if lane < lanes.len() => {
                        let s = *seq.entry(lane).or_default();
                        let was_empty = fq.lane_depth(lanes[lane]).0 == 0;
                        let msg = M { lane, seq: s, len };
                        let room = fq.has_room(lanes[lane], len);
                        match fq.push(lanes[lane], msg) {
                            Ok(result) => {
                                preempted |= result.preempt;
                                prop_assert!(room && !detached[lane]);
                                seq.insert(lane, s + 1);
                                pushed.entry(lane).or_default().push(s);
                                if was_empty && batch.lane != Some(lanes[lane]) {
                                    waiting.entry(lane).or_default();
                                    match batch.entries.front() {
                                        Some(out) => preempting.insert(lane, out.lane),
                                        None => preempting.remove(&lane),
                                    };
                                }
                            }
                            Err(Refused::Full(_)) => prop_assert!(!room),
                            Err(Refused::Closed(_)) => prop_assert!(detached[lane]),
                        }
                    }
                    Op::Batch { lane, lens } if lane < lanes.len() => {
                        let first = *seq.entry(lane).or_default();
                        let was_empty = fq.lane_depth(lanes[lane]).0 == 0;
                        let mut entries: VecDeque<M> = lens
                            .iter()
                            .enumerate()
                            .map(|(i, &len)| M { lane, seq: first + i as u32, len })
                            .collect();
                        let bytes = lens.iter().sum();
                        let before = entries.len();
                        match fq.push_batch(lanes[lane], &mut entries, bytes) {
                            Ok((moved, result)) => {
                                preempted |= result.preempt;
                                let went = before - entries.len();
                                let sum: usize = lens[..went].iter().sum();
                                prop_assert_eq!(moved, sum);
                                for s in first..first + went as u32 {
                                    pushed.entry(lane).or_default().push(s);
                                }
                                seq.insert(lane, first + went as u32);
                                if went > 0 && was_empty && batch.lane != Some(lanes[lane]) {
                                    waiting.entry(lane).or_default();
                                    match batch.entries.front() {
                                        Some(out) => preempting.insert(lane, out.lane),
                                        None => preempting.remove(&lane),
                                    };
                                }
                            }
                            Err(_) => prop_assert!(detached[lane]),
                        }
                    }
                    Op::Detach { lane } if lane < lanes.len() => {
                        fq.detach(lanes[lane], |_| ());
                        detached[lane] = true;
                    }
                    Op::Recv { n, max } => {
                        max_turn = max_turn.max(max);
                        for _ in 0..n {
                            if batch.is_empty() || std::mem::take(&mut preempted) {
                                fq.take(&mut batch, Quantum::fixed(max, usize::MAX));
                            }
                            match batch.pop() {
                                Some(e) => hand_out(e, &mut waiting, &mut handed),
                                None => break,
                            }
                        }
                    }
                    _ => {}
                }
                for (i, &id) in lanes.iter().enumerate() {
                    let (msgs, bytes) = fq.lane_depth(id);
                    // A lane may pass its HWM only by a batch given back.
                    prop_assert!(msgs <= hwm_messages + max_turn, "lane {} holds {}", i, msgs);
                    if msgs > 1 && msgs <= hwm_messages {
                        prop_assert!(bytes <= hwm_bytes + 30 * (max_turn + 1));
                    }
                }
                let total = lanes.iter().map(|&id| fq.lane_depth(id)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
                prop_assert_eq!(fq.depth(), total);
                // Each lane's count of what was taken, less the batch out if
                // it is the lane's, is what was handed out of it.
                let out = batch.len() as u64;
                for l in fq.looks() {
                    let shown = l.taken - if l.loaned { out } else { 0 };
                    let given = handed.get(l.tag).map_or(0, Vec::len) as u64;
                    prop_assert_eq!(shown, given, "lane {}", l.tag);
                }
                for (lane, others) in &waiting {
                    for (other, &count) in others.iter() {
                        prop_assert!(count <= max_turn, "a ready lane waited {} messages of another", count);
                        if preempting.get(lane) == Some(other) {
                            prop_assert_eq!(count, 0, "the batch out was not preempted");
                        }
                    }
                }
            }
            // Drained, everything came out once, in order.
            loop {
                while let Some(e) = batch.pop() {
                    hand_out(e, &mut waiting, &mut handed);
                }
                fq.take(&mut batch, Quantum::fixed(max_turn, usize::MAX));
                if batch.is_empty() {
                    break;
                }
            }
            prop_assert_eq!(fq.depth(), (0, 0));
            for (lane, seqs) in &pushed {
                prop_assert_eq!(handed.get(lane).map(Vec::as_slice).unwrap_or(&[]), seqs.as_slice());
            }
            prop_assert_eq!(handed.values().map(Vec::len).sum::<usize>(), pushed.values().map(Vec::len).sum::<usize>());
        }
    }
}
