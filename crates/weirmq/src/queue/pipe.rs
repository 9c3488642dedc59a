//! The bounded pipe: what is queued to one peer.
//!
//! A pipe holds messages between the application and one connection's
//! engine (what peers send the other way waits in their lanes of the
//! socket's [`Inbound`](crate::queue::inbound::Inbound)). Its [`Hwm`] bounds it in messages and in bytes, and the only way
//! in is [`Pipe::try_push`], which hands the message back when full; a
//! sender that wants to wait does so on [`Pipe::writable`] (or the socket's
//! shared room signal) and tries again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use weirmq_zmtp::Message;

use crate::options::Hwm;
use crate::pattern::fq::{DepthWatch, take_front};
use crate::queue::entry::Entry;
use crate::queue::pressure::{Reader, Watch, Watched};
use crate::queue::signal::Signal;

/// Why a push did not happen.
#[derive(Debug)]
pub(crate) enum PushError {
    Full(Message),
    Closed(Message),
}

struct State {
    queue: VecDeque<Entry>,
    bytes: usize,
    closed: bool,
    /// Messages that ever went in and came out (counted under the lock the
    /// push or pop holds anyway: no atomic per message).
    pushed: u64,
    popped: u64,
    pressure: Watched,
}

/// Messages and payload octets that left a socket's pipes for their
/// connections: one count for all of a socket's pipes, added to once per
/// batch taken (not per message), so it only grows, whoever comes and
/// goes.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    messages: AtomicU64,
    bytes: AtomicU64,
}

impl Traffic {
    fn add(&self, messages: usize, bytes: usize) {
        self.messages.fetch_add(messages as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// (messages, payload octets) so far.
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

struct Shared {
    hwm: Hwm,
    /// Keep only the newest message.
    conflate: bool,
    /// Messages replaced under `conflate`.
    replaced: AtomicU64,
    state: Mutex<State>,
    /// Raised when a message arrives or the pipe closes.
    readable: Signal,
    /// Raised when room frees up or the pipe closes; may be shared by all
    /// the pipes of a socket, so a sender can wait for "any peer".
    writable: Arc<Signal>,
    /// What left for the connection, counted with the socket's other pipes.
    sent: Arc<Traffic>,
}

/// Both ends of a bounded queue (cheap to clone).
#[derive(Clone)]
pub(crate) struct Pipe {
    shared: Arc<Shared>,
}

impl Pipe {
    #[cfg(test)]
    pub(crate) fn new(hwm: Hwm, writable: Arc<Signal>) -> Pipe {
        Pipe::with_conflate(hwm, writable, false)
    }

    /// A pipe that, with `conflate`, keeps only the newest message.
    #[cfg(test)]
    pub(crate) fn with_conflate(hwm: Hwm, writable: Arc<Signal>, conflate: bool) -> Pipe {
        Pipe::watched(hwm, writable, conflate, None, Arc::default())
    }

    /// A pipe that, with `conflate`, keeps only the newest message,
    /// reports crossings of `watch`'s marks, and counts what leaves it in
    /// `sent`.
    pub(crate) fn watched(
        hwm: Hwm,
        writable: Arc<Signal>,
        conflate: bool,
        watch: Option<Watch>,
        sent: Arc<Traffic>,
    ) -> Pipe {
        Pipe {
            shared: Arc::new(Shared {
                hwm,
                conflate,
                replaced: AtomicU64::new(0),
                state: Mutex::new(State {
                    // Grows on demand, never past the HWM.
                    queue: VecDeque::new(),
                    bytes: 0,
                    closed: false,
                    pushed: 0,
                    popped: 0,
                    pressure: Watched::new(watch),
                }),
                readable: Signal::default(),
                writable,
                sent,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue inconsistent
        // (every update is a single push or pop), so poisoning is ignored.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `msg` if there is room.
    pub(crate) fn try_push(&self, msg: Message) -> Result<(), PushError> {
        // A small message is copied before the lock is taken, and its frame
        // freed after the lock is let go: the other side, which waits for
        // the lock, waits for neither. A sender refused gets back what it
        // gave.
        let copy = Entry::copy_of(&msg);
        let mut st = self.lock();
        if st.closed {
            return Err(PushError::Closed(msg));
        }
        if !self.admits(&mut st, msg.byte_len()) {
            st.pressure.refused();
            return Err(PushError::Full(msg));
        }
        let (entry, copied) = match copy {
            Some(entry) => (entry, Some(msg)),
            None => (Entry::Shared(msg), None),
        };
        self.enqueue(&mut st, entry);
        self.pushed(st, 1);
        drop(copied);
        Ok(())
    }

    /// Whether the HWM admits a message of `len` payload octets now, under
    /// the lock. Under conflate it always does: what is queued is dropped
    /// (counted as replaced) to make way.
    fn admits(&self, st: &mut State, len: usize) -> bool {
        if self.shared.conflate {
            let replaced = st.queue.len() as u64;
            st.queue.clear();
            st.bytes = 0;
            self.shared.replaced.fetch_add(replaced, Ordering::Relaxed);
            return true;
        }
        Self::fits(st.queue.len(), st.bytes, &self.shared.hwm, len)
    }

    #[inline]
    fn enqueue(&self, st: &mut State, entry: Entry) {
        st.bytes += entry.byte_len();
        st.queue.push_back(entry);
    }

    /// After a push of `n` messages, under the lock: counts them and wakes
    /// waiting readers (reading whether one waits before the lock goes, see
    /// [`Signal`]). Readers wait only for an empty queue to fill, so only
    /// the push that ends emptiness wakes them.
    #[inline]
    fn pushed(&self, mut st: MutexGuard<'_, State>, n: u64) {
        st.pushed += n;
        let was_empty = st.queue.len() as u64 <= n;
        let wake = was_empty && self.shared.readable.has_waiters();
        let (depth, bytes) = (st.queue.len(), st.bytes);
        st.pressure.grew(depth, bytes);
        drop(st);
        if wake {
            self.shared.readable.wake_all();
        }
    }

    /// Accounts for `n` messages of `bytes` payload octets that left the
    /// queue (under the lock `st`), then wakes waiting writers if that made
    /// room enough.
    fn taken_out(&self, mut st: MutexGuard<'_, State>, n: usize, bytes: usize) {
        st.bytes -= bytes;
        st.popped += n as u64;
        let room = self.below_low_water(&st);
        let wake = room && self.shared.writable.has_waiters();
        let (depth, left) = (st.queue.len(), st.bytes);
        st.pressure.shrank(depth, left, room);
        drop(st);
        if wake {
            self.shared.writable.wake_all();
        }
    }

    /// Adds a SUB's subscription change (`%x01` or `%x00`, then the topic)
    /// whatever the HWM: a command of ours, not data. The socket sends a
    /// change only when a topic's count leaves or returns to zero, so a
    /// change still queued for the same topic is the opposite one: the two
    /// cancel out and both go (a subscription may take effect at any time
    /// later; one that never reached the peer changed nothing). Changes a
    /// peer does not read thus hold at most one place per topic, however
    /// often the application, or a proxy's downstream, toggles it. The one
    /// that leaves counts as taken out. Refused only when closed.
    pub(crate) fn push_subscription(&self, change: Message) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        let change = Entry::from(change);
        fn topic(e: &Entry) -> Option<&[u8]> {
            match e.single_frame() {
                Some([0 | 1, topic @ ..]) => Some(topic),
                _ => None,
            }
        }
        let queued =
            topic(&change).and_then(|t| st.queue.iter().rposition(|e| topic(e) == Some(t)));
        if let Some(gone) = queued.and_then(|at| st.queue.remove(at)) {
            self.taken_out(st, 1, gone.byte_len());
            return;
        }
        self.enqueue(&mut st, change);
        self.pushed(st, 1);
    }

    /// Puts back, at the front and in their order, messages taken out for a
    /// connection that ended before writing them, so the next connection
    /// sends them first and nothing is reordered. They held their place in
    /// the queue before, so the HWM does not refuse them: the pipe may then
    /// hold more than its HWM, by what one connection had taken and not
    /// written (messages already in memory, moved back, not copied), and
    /// takes nothing new until it is under its HWM again. Under conflate
    /// only the newest survives; the others count as replaced. Returns how
    /// many were refused because the pipe is closed (the caller counts them).
    pub(crate) fn requeue<I>(&self, msgs: I) -> usize
    where
        I: DoubleEndedIterator<Item = Entry> + ExactSizeIterator,
    {
        let n = msgs.len();
        if n == 0 {
            return 0;
        }
        let mut st = self.lock();
        if st.closed {
            return n;
        }
        let mut msgs = msgs;
        let kept = if self.shared.conflate {
            // Whatever is queued now is newer than any of these.
            let newest = msgs.next_back().filter(|_| st.queue.is_empty());
            let kept = usize::from(newest.is_some());
            if let Some(entry) = newest {
                self.enqueue(&mut st, entry);
            }
            self.shared
                .replaced
                .fetch_add((n - kept) as u64, Ordering::Relaxed);
            kept
        } else {
            for entry in msgs.rev() {
                st.bytes += entry.byte_len();
                st.queue.push_front(entry);
            }
            n
        };
        self.pushed(st, kept as u64);
        0
    }

    /// The one rule for room, shared by [`Pipe::try_push`] and
    /// [`Pipe::has_room`]: an empty queue takes anything (or a message over
    /// the byte limit could never be sent); otherwise both limits must hold
    /// after the push.
    fn fits(queued: usize, bytes: usize, hwm: &Hwm, len: usize) -> bool {
        queued == 0 || (queued < hwm.messages() && bytes + len <= hwm.bytes())
    }

    /// Whether a waiting sender should be woken: not on every pop of a full
    /// pipe, which would wake it once per message, but once the queue is
    /// down to half its HWM (libzmq's low-water mark), so it then pushes a
    /// batch. An empty queue takes anything, so a sender waiting for room
    /// for a large message is woken at the latest when the queue empties.
    fn below_low_water(&self, st: &State) -> bool {
        let hwm = &self.shared.hwm;
        st.queue.is_empty() || (st.queue.len() <= hwm.messages() / 2 && st.bytes <= hwm.bytes() / 2)
    }

    /// Whether a message of `len` payload octets would be accepted now.
    /// (A sender told "no" found the pipe full: that counts in the time it
    /// spends full.)
    pub(crate) fn has_room(&self, len: usize) -> bool {
        let mut st = self.lock();
        let room =
            self.shared.conflate || Self::fits(st.queue.len(), st.bytes, &self.shared.hwm, len);
        if !room {
            st.pressure.refused();
        }
        room
    }

    /// Takes up to `max` messages into `out`; returns how many.
    #[cfg(test)]
    pub(crate) fn pop_batch(&self, max: usize, out: &mut VecDeque<Entry>) -> usize {
        self.pop_into(out, max, usize::MAX)
    }

    /// Moves messages from the front to the back of `out` under one lock:
    /// at most `max` of them, and no more once `max_bytes` payload octets
    /// are taken (at least one message, whatever its size); returns how
    /// many. All of them into an empty `out` is a swap (see
    /// [`take_front`]).
    pub(crate) fn pop_into(
        &self,
        out: &mut VecDeque<Entry>,
        max: usize,
        max_bytes: usize,
    ) -> usize {
        let mut st = self.lock();
        let bytes = st.bytes;
        let (n, taken) = take_front(&mut st.queue, bytes, out, max, max_bytes);
        if n > 0 {
            self.taken_out(st, n, taken);
            self.shared.sent.add(n, taken);
        }
        n
    }

    /// Takes one message, if any.
    #[cfg(test)]
    pub(crate) fn try_pop(&self) -> Option<Message> {
        let mut one = VecDeque::with_capacity(1);
        self.pop_into(&mut one, 1, 0);
        one.pop_front().map(Entry::into_message)
    }

    /// Waits for a message; `None` once the pipe is closed and empty.
    #[cfg(test)]
    pub(crate) async fn pop(&self) -> Option<Message> {
        self.wait_for(|| self.try_pop()).await
    }

    /// Waits until `take` finds something, trying it now and after each
    /// push into the empty queue; `None` once the pipe is closed and `take`
    /// found nothing.
    async fn wait_for<T>(&self, mut take: impl FnMut() -> Option<T>) -> Option<T> {
        let check = || match take() {
            Some(t) => Some(Some(t)),
            None => self.is_closed().then_some(None),
        };
        self.shared
            .readable
            .wait_for(check, |_| std::task::Poll::Pending)
            .await
    }

    /// Waits until there is a message or the pipe is closed.
    pub(crate) async fn readable(&self) {
        self.wait_for(|| (!self.lock().queue.is_empty()).then_some(()))
            .await;
    }

    /// Refuses further pushes; queued messages can still be popped. Returns
    /// the messages still queued, which the caller counts as it must.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.shared.readable.wake_all();
        self.shared.writable.wake_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Open and empty: a message sent past it now overtakes nothing.
    pub(crate) fn is_idle(&self) -> bool {
        let st = self.lock();
        !st.closed && st.queue.is_empty()
    }

    /// (messages, bytes) queued now.
    pub(crate) fn depth(&self) -> (usize, usize) {
        let st = self.lock();
        (st.queue.len(), st.bytes)
    }

    /// The deepest the pipe has been (messages) since `reader` last asked,
    /// and all the time it has spent full.
    pub(crate) fn pressure(&self, reader: Reader) -> (usize, std::time::Duration) {
        let mut st = self.lock();
        let now = st.queue.len();
        (st.pressure.take_peak(reader, now), st.pressure.time_full())
    }

    /// Messages replaced by newer ones under conflate.
    pub(crate) fn replaced(&self) -> u64 {
        self.shared.replaced.load(Ordering::Relaxed)
    }

    /// Messages that ever went in and came out.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (u64, u64) {
        let st = self.lock();
        (st.pushed, st.popped)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn pipe(messages: usize, bytes: usize) -> Pipe {
        Pipe::new(
            Hwm::new(messages, bytes).unwrap(),
            Arc::new(Signal::default()),
        )
    }

    #[test]
    fn message_limit_hands_the_message_back() {
        let p = pipe(2, 1 << 20);
        p.try_push(Message::from("a")).unwrap();
        p.try_push(Message::from("b")).unwrap();
        let Err(PushError::Full(m)) = p.try_push(Message::from("c")) else {
            panic!()
        };
        assert_eq!(m, Message::from("c"));
        assert_eq!(p.depth(), (2, 2));
    }

    #[test]
    fn byte_limit_counts_payload_and_admits_one_oversized_message_when_empty() {
        let p = pipe(100, 10);
        p.try_push(Message::from(vec![0; 6])).unwrap();
        assert!(matches!(
            p.try_push(Message::from(vec![0; 5])),
            Err(PushError::Full(_))
        ));
        p.try_push(Message::from(vec![0; 4])).unwrap();
        assert_eq!(p.depth(), (2, 10));
        let mut out = VecDeque::new();
        assert_eq!(p.pop_batch(10, &mut out), 2);
        p.try_push(Message::from(vec![0; 50])).unwrap();
        assert!(matches!(
            p.try_push(Message::from("x")),
            Err(PushError::Full(_))
        ));
    }

    /// `has_room` (what waiters and the PUB pre-check ask) must agree with
    /// `try_push` for every size, or a waiter spins (it was told there is
    /// room, the push fails, repeat) and a PUB under Wait drops.
    #[test]
    fn pop_into_stops_at_the_count_or_once_the_bytes_are_reached() {
        let p = pipe(100, 1 << 20);
        for n in 0..10u8 {
            p.try_push(Message::from(vec![n; 10])).unwrap();
        }
        let mut out = VecDeque::new();
        assert_eq!(p.pop_into(&mut out, 3, 1 << 20), 3, "by count");
        assert_eq!(
            p.pop_into(&mut out, 100, 25),
            3,
            "by bytes: 10, 20, 30 >= 25"
        );
        assert_eq!(p.pop_into(&mut out, 100, 0), 1, "always one");
        let firsts: Vec<u8> = out
            .iter()
            .filter_map(|e| e.single_frame())
            .map(|f| f[0])
            .collect();
        assert_eq!(firsts, [0, 1, 2, 3, 4, 5, 6], "in order");
        assert_eq!(p.depth(), (3, 30));
        assert_eq!(p.counts(), (10, 7));
        assert_eq!(p.pop_into(&mut out, 100, 1 << 20), 3);
        assert_eq!(p.pop_into(&mut out, 100, 1 << 20), 0, "empty");
    }

    /// Taking the whole queue into an empty batch swaps the two: the same
    /// messages in the same order, counted as taken, and the pipe goes on
    /// working in the batch's old storage.
    #[test]
    fn pop_into_an_empty_batch_takes_the_whole_queue_in_order() {
        let p = pipe(100, 1 << 20);
        for round in 0..3u8 {
            for n in 0..5u8 {
                p.try_push(Message::from(vec![round * 10 + n; 10])).unwrap();
            }
            // Over the byte limit only with the last one: all are taken.
            let mut out = VecDeque::with_capacity(64);
            assert_eq!(p.pop_into(&mut out, 5, 41), 5);
            let firsts: Vec<u8> = out
                .iter()
                .filter_map(|e| e.single_frame())
                .map(|f| f[0])
                .collect();
            assert_eq!(firsts, [0, 1, 2, 3, 4].map(|n| round * 10 + n));
            assert_eq!(p.depth(), (0, 0));
        }
        assert_eq!(p.counts(), (15, 15));
        for n in 0..3u8 {
            p.try_push(Message::from(vec![n; 10])).unwrap();
        }
        let mut out = VecDeque::new();
        assert_eq!(
            p.pop_into(&mut out, 2, 1 << 20),
            2,
            "more than max: by count"
        );
        assert_eq!(p.depth(), (1, 10));
        let mut out = VecDeque::new();
        p.try_push(Message::from(vec![9; 10])).unwrap();
        assert_eq!(p.pop_into(&mut out, 5, 10), 1, "past the bytes: by bytes");
    }

    /// What the pipe does, as plainly as it can be said: a queue of
    /// `(id, len)`, a message going in while [`Pipe::fits`] says so, and
    /// taking stopping at `max` messages or once `max_bytes` are reached.
    struct Model {
        queue: VecDeque<(u8, usize)>,
        bytes: usize,
        hwm: Hwm,
    }

    impl Model {
        fn push(&mut self, id: u8, len: usize) -> bool {
            let hwm = &self.hwm;
            let q = self.queue.len();
            let fits = q == 0 || (q < hwm.messages() && self.bytes + len <= hwm.bytes());
            if fits {
                self.queue.push_back((id, len));
                self.bytes += len;
            }
            fits
        }

        fn pop(&mut self, max: usize, max_bytes: usize) -> Vec<(u8, usize)> {
            let mut out = Vec::new();
            let mut taken = 0;
            while out.len() < max && (out.is_empty() || taken < max_bytes) {
                let Some((id, len)) = self.queue.pop_front() else {
                    break;
                };
                taken += len;
                self.bytes -= len;
                out.push((id, len));
            }
            out
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        /// Into an empty batch, or one that holds something already.
        Pop(usize, usize, bool),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let len = 0..40usize;
        prop_oneof![
            len.prop_map(Op::Push),
            (0..12usize, 0..120usize, any::<bool>()).prop_map(|(m, b, e)| Op::Pop(m, b, e)),
        ]
    }

    fn ids(batch: &VecDeque<Entry>) -> Vec<(u8, usize)> {
        batch
            .iter()
            .map(|e| (e.first_frame().first().copied().unwrap_or(0), e.byte_len()))
            .collect()
    }

    proptest::proptest! {
        /// Every way in and out (one message, a batch by swap or by copy,
        /// taking all or part) keeps the model's order, limits and counts.
        #[test]
        fn pushes_and_takes_agree_with_the_model(
            hwm_messages in 1..10usize,
            hwm_bytes in 1..100usize,
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let hwm = Hwm::new(hwm_messages, hwm_bytes).unwrap();
            let p = Pipe::new(hwm, Arc::new(Signal::default()));
            let mut model = Model { queue: VecDeque::new(), bytes: 0, hwm };
            let mut next_id = 0u8;
            // A message of `len` octets whose first octet is its id (and one
            // octet long at least, as every queued message is).
            let mut message = |len: usize| {
                next_id = next_id.wrapping_add(1);
                let mut body = vec![0u8; len.max(1)];
                body[0] = next_id;
                (next_id, body.len(), Message::from(body))
            };
            for op in ops {
                match op {
                    Op::Push(len) => {
                        let (id, len, msg) = message(len);
                        proptest::prop_assert_eq!(p.try_push(msg).is_ok(), model.push(id, len));
                    }
                    Op::Pop(max, max_bytes, empty) => {
                        let mut out = VecDeque::new();
                        if !empty {
                            out.push_back(Entry::from(Message::from(vec![0u8; 3])));
                        }
                        let n = p.pop_into(&mut out, max, max_bytes);
                        let want = model.pop(max, max_bytes);
                        proptest::prop_assert_eq!(n, want.len());
                        proptest::prop_assert_eq!(&ids(&out)[usize::from(!empty)..], &want[..]);
                    }
                }
                proptest::prop_assert_eq!(p.depth(), (model.queue.len(), model.bytes));
            }
        }
    }

    #[test]
    fn has_room_agrees_with_try_push() {
        let p = pipe(100, 10);
        for (len, fits) in [(6, true), (5, false), (4, true), (1, false), (0, true)] {
            assert_eq!(p.has_room(len), fits, "len {len}");
            let pushed = p.try_push(Message::from(vec![0u8; len])).is_ok();
            assert_eq!(pushed, fits, "len {len}");
        }
    }

    #[test]
    fn conflate_keeps_only_the_newest() {
        let p = Pipe::with_conflate(Hwm::new(5, 100).unwrap(), Arc::new(Signal::default()), true);
        for m in ["a", "b", "c"] {
            p.try_push(Message::from(m)).unwrap();
        }
        assert_eq!(p.depth(), (1, 1));
        assert_eq!(p.replaced(), 2);
        assert_eq!(p.try_pop(), Some(Message::from("c")));
    }

    fn change(subscribe: bool, topic: &str) -> Message {
        let mut m = vec![u8::from(subscribe)];
        m.extend_from_slice(topic.as_bytes());
        Message::from(m)
    }

    /// Subscription changes a peer does not read hold one place per topic
    /// at most: a change still queued is undone by the opposite one, not
    /// followed by it; other messages (an XSUB's data) stay as they were.
    #[test]
    fn unread_subscription_changes_stay_one_per_topic() {
        let p = pipe(2, 100);
        p.push_subscription(change(true, "a"));
        p.try_push(Message::from("data")).unwrap();
        for round in 0..10_000 {
            for topic in ["b", "c", "d"] {
                let subscribed = round % 2 == 0;
                p.push_subscription(change(subscribed, topic));
            }
        }
        // Each of b, c and d was subscribed and cancelled 5,000 times: none
        // of it is left. Then one more for b; a cancel for a, already
        // queued, undoes it.
        assert_eq!(p.depth().0, 2, "what toggled left nothing");
        p.push_subscription(change(true, "b"));
        p.push_subscription(change(false, "a"));
        let mut out = VecDeque::new();
        p.pop_into(&mut out, 10, usize::MAX);
        let out: Vec<Message> = out.into_iter().map(Entry::into_message).collect();
        assert_eq!(out, [Message::from("data"), change(true, "b")]);
        let (pushed, popped) = p.counts();
        assert_eq!(pushed, popped, "what left is counted as taken out");
    }

    #[test]
    fn closed_pipe_refuses_but_drains() {
        let p = pipe(10, 100);
        p.try_push(Message::from("a")).unwrap();
        p.close();
        assert!(matches!(
            p.try_push(Message::from("b")),
            Err(PushError::Closed(_))
        ));
        assert_eq!(p.try_pop(), Some(Message::from("a")));
        assert_eq!(p.counts(), (1, 1));
    }

    #[test]
    fn requeue_puts_messages_back_in_front_in_order() {
        let p = pipe(2, 100);
        for m in ["a", "b"] {
            p.try_push(Message::from(m)).unwrap();
        }
        let mut taken = VecDeque::new();
        p.pop_batch(2, &mut taken);
        p.try_push(Message::from("c")).unwrap();
        p.try_push(Message::from("d")).unwrap();
        assert_eq!(p.requeue(taken.into_iter()), 0);
        assert_eq!(p.depth(), (4, 4), "past the HWM by what came back");
        assert!(matches!(
            p.try_push(Message::from("e")),
            Err(PushError::Full(_))
        ));
        let order: Vec<Message> = std::iter::from_fn(|| p.try_pop()).collect();
        assert_eq!(order, ["a", "b", "c", "d"].map(Message::from));
        p.close();
        assert_eq!(p.requeue([Entry::from(Message::from("x"))].into_iter()), 1);
    }

    #[test]
    fn requeue_under_conflate_keeps_only_the_newest() {
        let p = Pipe::with_conflate(Hwm::new(5, 100).unwrap(), Arc::new(Signal::default()), true);
        p.requeue(
            ["a", "b"]
                .map(|m| Entry::from(Message::from(m)))
                .into_iter(),
        );
        assert_eq!((p.depth(), p.replaced()), ((1, 1), 1));
        p.requeue([Entry::from(Message::from("c"))].into_iter());
        assert_eq!(p.try_pop(), Some(Message::from("b")), "queued is newer");
        assert_eq!(p.replaced(), 2);
    }

    #[tokio::test]
    async fn pop_returns_none_when_closed_and_empty() {
        let p = pipe(1, 100);
        let q = p.clone();
        let waiter = tokio::spawn(async move { q.pop().await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        p.close();
        assert_eq!(waiter.await.unwrap(), None);
    }
}
