//! Sizing the receive buffer before each read from the transport.
//!
//! Frames leave the receive buffer without a copy (the decoder splits them
//! off), so an octet is copied only when its frame straddles the end of the
//! buffer's allocation: the part already in has to move to an allocation
//! with room for the rest. With small frames that is a few octets per read.
//! With frames larger than a read it is most of every frame, into a fresh
//! allocation per read (64 KiB messages, profiled: about half of each body
//! copied, and the new pages faulted in by the kernel's copy). So, before
//! each read ([`Connection::read_buffer`](crate::Connection::read_buffer)):
//!
//! - once a large frame's header is in, the buffer gets one allocation that
//!   holds the whole frame and [`Sizing::read_ahead`] octets more: the body
//!   arrives in place and leaves without a copy, and the read that ends it
//!   usually brings the next header;
//! - while frames are large, a read into a buffer that shows no header yet
//!   takes at most `read_ahead` octets, so no more than that has to move
//!   once the header shows another large frame;
//! - otherwise, a read takes the spare room, `room` octets reserved when it
//!   runs low.
//!
//! What a peer merely announces is never reserved. Ahead of the octets that
//! have arrived, a frame gets at most [`Sizing::ahead`] octets or as many
//! again as have arrived, whichever is more: a claim of 1 GiB costs 256 KiB
//! until its octets come, and a body that keeps coming grows its allocation
//! by doubling. (The decoder's limits still apply: a header over the maximum
//! message size fails the connection when it is decoded.)
//!
//! Large frames' allocations are reused once the application has dropped
//! the frames in them ([`Recycler`]), rather than handed back to the
//! allocator one by one.

use std::collections::VecDeque;
use std::mem;

use bytes::BytesMut;

use crate::frame::{Header, MAX_HEADER_LEN};

/// The thresholds of the policy in the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizing {
    /// Frames of this many octets or more (header and body) are read into an
    /// allocation of their own.
    pub(crate) large: usize,
    /// Most octets reserved for a frame ahead of its arrival, unless as many
    /// have arrived already.
    pub(crate) ahead: usize,
    /// Octets read past the end of a large frame, to learn the next header.
    pub(crate) read_ahead: usize,
    /// Allocations kept for reuse ([`Recycler`]).
    pub(crate) spares: usize,
    /// Largest allocation kept for reuse.
    pub(crate) keep_max: usize,
}

/// The sizing in use: half a usual 64 KiB read makes a frame large (above
/// that, reads of `room` octets would copy much of every frame). At most
/// 4 × 320 KiB of allocations whose frames are gone are kept per connection.
pub(crate) const SIZING: Sizing = Sizing {
    large: 32 * 1024,
    ahead: 256 * 1024,
    read_ahead: 512,
    spares: 4,
    keep_max: 320 * 1024,
};

/// What the next read is for.
enum Plan {
    /// The rest of a large frame: `grant` octets of it (and `extra` past
    /// its end, when that is all of it).
    Large { grant: usize, extra: usize },
    /// While frames are large: a next header.
    Header,
    /// Small frames: a usual read.
    Usual,
}

/// The receive buffer's earlier allocations, kept to be reused once the
/// frames in them are dropped.
///
/// Every frame the application is handed holds a share of the allocation it
/// arrived in, and the last share to go frees it, on whatever thread drops
/// it. With an allocation per large frame, that is a `malloc` here and a
/// `free` there per frame, and the allocator hands the pages back to the
/// kernel and takes them again over and over (64 KiB messages, profiled:
/// page faults were a fifth of the receiver's time). Instead the buffer's
/// allocation, when it moves on, is kept here, and a later one is taken
/// from here when its frames have all been dropped. What is kept is
/// bounded: [`Sizing::spares`] allocations of at most [`Sizing::keep_max`]
/// octets each.
#[derive(Debug, Default)]
pub(crate) struct Recycler {
    /// The size of the receive buffer's allocation, when it is one made here
    /// for a large frame (only those are kept: a connection of small frames
    /// keeps nothing). `None` once the buffer may have been given another
    /// one behind our back ([`Recycler::forget`]).
    current: Option<usize>,
    /// Empty handles on earlier allocations, oldest first, with their sizes.
    spares: VecDeque<(BytesMut, usize)>,
}

impl Recycler {
    /// The receive buffer may have been reallocated elsewhere.
    pub(crate) fn forget(&mut self) {
        self.current = None;
    }

    /// Drops every kept allocation; whether there was any.
    pub(crate) fn clear(&mut self) -> bool {
        self.current = None;
        let had = !self.spares.is_empty();
        self.spares.clear();
        had
    }

    /// A kept allocation with room for `size` octets whose frames are all
    /// gone, with its size.
    fn take(&mut self, size: usize) -> Option<(BytesMut, usize)> {
        let at = self
            .spares
            .iter_mut()
            .position(|(spare, cap)| *cap >= size && spare.try_reclaim(size))?;
        self.spares.remove(at)
    }

    /// Keeps `old`, the buffer's allocation until now, if it can be reused.
    fn retire(&mut self, sizing: &Sizing, mut old: BytesMut) {
        let Some(size) = self.current.take() else {
            return;
        };
        if size <= sizing.keep_max && sizing.spares > 0 {
            if self.spares.len() == sizing.spares {
                self.spares.pop_front();
            }
            old.clear();
            self.spares.push_back((old, size));
        }
    }
}

impl Sizing {
    /// How many octets the next read would take with no cap (what
    /// [`Sizing::make_room`] returns for `cap` of `usize::MAX`, before any
    /// allocation): for a caller that asks for the room first.
    pub(crate) fn want(&self, src: &BytesMut, room: usize, recent: usize) -> usize {
        match self.plan(src, recent) {
            Plan::Large { grant, extra } => grant + extra,
            Plan::Header => self.read_ahead,
            Plan::Usual => room.max(1),
        }
    }

    /// What the next read is for (see the module docs).
    fn plan(&self, src: &BytesMut, recent: usize) -> Plan {
        let have = src.len();
        // While frames are large, every frame not yet in gets an exact read,
        // small ones included (a routing id before each large body, say).
        let large_run = recent >= self.large;
        match Header::peek(src) {
            Some(header)
                if have < header.frame_len() && (large_run || header.frame_len() >= self.large) =>
            {
                let missing = header.frame_len() - have;
                // Never more than `ahead`, or as much again as arrived.
                let grant = missing.min(self.ahead.max(have));
                let extra = if grant == missing { self.read_ahead } else { 0 };
                Plan::Large { grant, extra }
            }
            None if large_run => Plan::Header,
            _ => Plan::Usual,
        }
    }

    /// Makes room in `src`, whose front is the first frame not yet decoded,
    /// for the next read, and returns how many octets that read should take
    /// at most (never zero, never more than the spare capacity, nor than
    /// `cap`). `room` is the caller's usual read; `recent` the largest
    /// recent frame ([`FrameDecoder::recent_frame_len`](crate::FrameDecoder));
    /// `cap` the most the read may bring in, and so the most a new
    /// allocation holds beyond what is buffered (a caller's memory budget).
    pub(crate) fn make_room(
        &self,
        src: &mut BytesMut,
        recycler: &mut Recycler,
        room: usize,
        recent: usize,
        cap: usize,
    ) -> usize {
        let cap = cap.max(1);
        match self.plan(src, recent) {
            Plan::Large { grant, extra } => {
                let grant = grant.min(cap);
                let extra = extra.min(cap - grant);
                if spare(src) < grant {
                    self.reallocate(src, recycler, grant + extra, true);
                }
                spare(src).min(grant + extra)
            }
            Plan::Header => {
                // Room enough for a header, and no more than `read_ahead`.
                if spare(src) < MAX_HEADER_LEN {
                    self.reallocate(src, recycler, self.read_ahead.min(cap), false);
                }
                spare(src).min(self.read_ahead).min(cap)
            }
            Plan::Usual => {
                let room = room.max(1).min(cap);
                if spare(src) < room.div_ceil(2) {
                    self.reallocate(src, recycler, room, false);
                }
                spare(src).min(cap)
            }
        }
    }

    /// Gives `src` room for `additional` octets more: in its own allocation
    /// if the frames split off it are all gone, else in a kept one, else in
    /// a new one of just the size needed, which may be kept in turn when it
    /// is for a large frame (`large`). (`BytesMut::reserve` would allocate at
    /// least the buffer's original capacity, and more with doubling: a large
    /// frame's allocation would then carry the next frames' octets too, and
    /// live as long as they do.)
    fn reallocate(
        &self,
        src: &mut BytesMut,
        recycler: &mut Recycler,
        additional: usize,
        large: bool,
    ) {
        if src.try_reclaim(additional) {
            return;
        }
        let size = src.len() + additional;
        let (mut next, keep) = match recycler.take(size) {
            Some((spare, spare_size)) => (spare, Some(spare_size)),
            None => {
                #[cfg(test)]
                tests::FRESH.with(|fresh| fresh.set(fresh.get() + size));
                (BytesMut::with_capacity(size), large.then_some(size))
            }
        };
        next.extend_from_slice(src);
        let old = mem::replace(src, next);
        recycler.retire(self, old);
        recycler.current = keep;
    }
}

/// Makes room for a read of about `room` octets (at least one): reserved
/// anew when less than half is spare. Returns the spare capacity.
pub(crate) fn unframed_room(src: &mut BytesMut, room: usize) -> usize {
    if spare(src) < room.div_ceil(2).max(1) {
        src.reserve(room.max(1));
    }
    spare(src)
}

fn spare(src: &BytesMut) -> usize {
    src.capacity() - src.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameDecoder, Limits, encode_frame};
    use proptest::prelude::*;
    use std::cell::Cell;

    thread_local! {
        /// Octets `reallocate` has allocated afresh on this thread.
        pub(super) static FRESH: Cell<usize> = const { Cell::new(0) };
    }

    /// Small thresholds, so that every branch is reached with short frames.
    const TINY: Sizing = Sizing {
        large: 32,
        ahead: 64,
        read_ahead: 4,
        spares: 2,
        keep_max: 100,
    };

    const ROOM: usize = 64 * 1024;

    fn wire(bodies: &[Vec<u8>]) -> Vec<u8> {
        let mut w = BytesMut::new();
        for (i, body) in bodies.iter().enumerate() {
            encode_frame(&mut w, i % 3 == 1, false, body);
        }
        w.to_vec()
    }

    fn bodies(sizes: &[usize]) -> Vec<Vec<u8>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|k| (k * 7 + i) as u8).collect())
            .collect()
    }

    /// What a transport's `read_buf` does: appends to the spare capacity at
    /// most `limit` octets of those `available`.
    fn read(src: &mut BytesMut, limit: usize, available: &[u8]) -> usize {
        assert!(limit > 0, "a read of nothing would look like the end");
        assert!(limit <= spare(src), "limit past the spare capacity");
        let n = limit.min(available.len());
        let before = src.capacity();
        src.extend_from_slice(&available[..n]);
        assert_eq!(src.capacity(), before, "the read itself must not grow");
        n
    }

    /// What a receive loop saw.
    #[derive(Debug, Default)]
    struct Received {
        frames: usize,
        /// Octets moved from one allocation to another by `make_room`.
        copied: usize,
        /// Octets allocated afresh.
        fresh: usize,
        reads: usize,
        /// Allocations kept at the end.
        spares: usize,
    }

    /// Receives `bodies` on the wire, whose octets arrive up to each of
    /// `arrivals` in turn (then all), reading as `make_room` says with reads
    /// of `room`; each body decoded is checked, and the latest `hold` are
    /// kept (as by an application that lags behind). Checks on
    /// the way that no new allocation runs ahead of the arrived octets by
    /// more than the sizing allows.
    fn receive(
        sizing: &Sizing,
        room: usize,
        bodies: &[Vec<u8>],
        arrivals: &[usize],
        hold: usize,
    ) -> Received {
        receive_capped(sizing, room, bodies, arrivals, hold, &[])
    }

    /// [`receive`], each read capped in turn by one of `caps` (none: no
    /// cap), as a memory budget caps it: no read takes more, and no new
    /// allocation holds more than the buffered octets and the cap.
    fn receive_capped(
        sizing: &Sizing,
        room: usize,
        bodies: &[Vec<u8>],
        arrivals: &[usize],
        hold: usize,
        caps: &[usize],
    ) -> Received {
        let mut caps = caps.iter().copied().cycle();
        let stream = wire(bodies);
        let limits = Limits::new(1 << 30, 1 << 20, 1 << 30).unwrap();
        let mut dec = FrameDecoder::new(limits);
        let mut src = BytesMut::new();
        let mut recycler = Recycler::default();
        let mut got = Received::default();
        let mut held = VecDeque::new();
        let mut arrivals = arrivals.iter().copied().chain([stream.len()]);
        let (mut at, mut arrived) = (0, 0);
        while at < stream.len() {
            while arrived == at {
                arrived = arrivals.next().unwrap().clamp(arrived, stream.len());
            }
            let (ptr, len, fresh) = (src.as_ptr(), src.len(), FRESH.get());
            let cap = caps.next().unwrap_or(usize::MAX).max(1);
            let limit =
                sizing.make_room(&mut src, &mut recycler, room, dec.recent_frame_len(), cap);
            assert!(limit <= cap, "a read of {limit} past the cap of {cap}");
            if src.as_ptr() != ptr {
                got.copied += len;
            }
            let new = FRESH.get() - fresh;
            got.fresh += new;
            let bound = 2 * (src.len() + room) + sizing.ahead + sizing.read_ahead;
            assert!(new <= bound, "allocated {new}, past {bound}");
            assert!(
                new == 0 || new <= len.saturating_add(cap),
                "allocated {new} for {len} and a cap of {cap}"
            );
            assert!(recycler.spares.len() <= sizing.spares);
            assert!(recycler.spares.iter().all(|(_, n)| *n <= sizing.keep_max));
            at += read(&mut src, limit, &stream[at..arrived]);
            got.reads += 1;
            while let Some(frame) = dec.decode(&mut src).unwrap() {
                assert_eq!(frame.body, bodies[got.frames], "frame {}", got.frames);
                got.frames += 1;
                held.push_back(frame.body);
                if held.len() > hold {
                    held.pop_front();
                }
            }
        }
        assert!(src.is_empty(), "octets left over");
        assert_eq!(got.frames, bodies.len());
        got.spares = recycler.spares.len();
        got
    }

    #[test]
    fn a_large_frame_arrives_in_one_allocation_and_leaves_uncopied() {
        let body = vec![0xA5; 64 * 1024];
        let stream = wire(&[body.clone(), body.clone()]);
        let mut src = BytesMut::new();
        let mut rec = Recycler::default();
        let mut dec = FrameDecoder::new(Limits::default());
        // The first read brings the header and some of the body.
        let limit = SIZING.make_room(&mut src, &mut rec, ROOM, 0, usize::MAX);
        let mut at = read(&mut src, limit, &stream[..1000]);
        let limit = SIZING.make_room(&mut src, &mut rec, ROOM, 0, usize::MAX);
        assert_eq!(
            limit,
            MAX_HEADER_LEN + body.len() - 1000 + SIZING.read_ahead,
            "the rest of the frame and the next header, in one read"
        );
        let base = src.as_ptr() as usize;
        at += read(&mut src, limit, &stream[at..]);
        let frame = dec.decode(&mut src).unwrap().unwrap();
        assert_eq!(frame.body, body);
        assert_eq!(frame.body.as_ptr() as usize, base + MAX_HEADER_LEN);
        assert_eq!(src.len(), SIZING.read_ahead, "the next frame's start");
        // The next frame: only the read-ahead moves.
        let limit = SIZING.make_room(&mut src, &mut rec, ROOM, dec.recent_frame_len(), usize::MAX);
        let missing = MAX_HEADER_LEN + body.len() - SIZING.read_ahead;
        assert_eq!(limit, missing + SIZING.read_ahead);
        let base = src.as_ptr() as usize;
        at += read(&mut src, limit, &stream[at..]);
        assert_eq!(at, stream.len());
        let frame = dec.decode(&mut src).unwrap().unwrap();
        assert_eq!(frame.body, body);
        assert_eq!(frame.body.as_ptr() as usize, base + MAX_HEADER_LEN);
        // Nothing in view, after large frames: a short read for a header.
        let limit = SIZING.make_room(&mut src, &mut rec, ROOM, dec.recent_frame_len(), usize::MAX);
        assert!((MAX_HEADER_LEN..=SIZING.read_ahead).contains(&limit));
    }

    #[test]
    fn a_claim_reserves_no_more_than_ahead_then_doubles_with_arrivals() {
        // A header announcing 1 GiB, and 100 octets of it.
        let mut stream = vec![0x02];
        stream.extend_from_slice(&(1u64 << 30).to_be_bytes());
        stream.extend_from_slice(&[0; 100]);
        let mut src = BytesMut::from(&stream[..]);
        let mut rec = Recycler::default();
        let limit = SIZING.make_room(&mut src, &mut rec, ROOM, 0, usize::MAX);
        assert_eq!(limit, SIZING.ahead);
        assert!(src.capacity() < stream.len() + SIZING.ahead + 1024);
        // Once those have arrived, the allocation doubles.
        src.extend_from_slice(&vec![0; limit]);
        let have = src.len();
        let limit = SIZING.make_room(&mut src, &mut rec, ROOM, 0, usize::MAX);
        assert_eq!(limit, have);
        assert!(src.capacity() < 2 * have + 1024);
    }

    #[test]
    fn small_frames_read_room_at_a_time() {
        let mut src = BytesMut::new();
        let mut rec = Recycler::default();
        assert!(SIZING.make_room(&mut src, &mut rec, ROOM, 0, usize::MAX) >= ROOM);
        // A small frame cut short gets no allocation of its own.
        src.extend_from_slice(&[0x00, 200, 1, 2, 3]);
        assert!(SIZING.make_room(&mut src, &mut rec, ROOM, 0, usize::MAX) >= ROOM / 2);
        // Nor does a large one that fits.
        let mut src = BytesMut::with_capacity(128 * 1024);
        src.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 1, 0, 0, 7]);
        let base = src.as_ptr();
        let limit = SIZING.make_room(&mut src, &mut rec, ROOM, 0, usize::MAX);
        assert_eq!(src.as_ptr(), base);
        assert_eq!(limit, 64 * 1024 - 1 + SIZING.read_ahead);
    }

    #[test]
    fn steady_large_frames_copy_only_the_read_ahead() {
        // Frames of 52 octets: large for TINY, within its `ahead`.
        let got = receive(&TINY, 64, &bodies(&[50; 20]), &[], usize::MAX);
        // The first read (64 octets, sizes unknown), then the read-ahead.
        assert!(got.copied <= 12 + 19 * TINY.read_ahead, "{got:?}");
        assert_eq!(got.reads, 20);
        // Each frame's allocation holds it and the read-ahead, no more.
        assert!(got.fresh <= 64 + 19 * (52 + TINY.read_ahead), "{got:?}");
    }

    #[test]
    fn allocations_are_reused_once_their_frames_are_dropped() {
        let bodies = bodies(&[50; 40]);
        // A short header, the body, the read-ahead.
        let one = 2 + 50 + TINY.read_ahead;
        let held = receive(&TINY, 64, &bodies, &[], usize::MAX);
        assert!(held.fresh >= 39 * one, "{held:?}");
        // Dropped at once: the buffer's own allocation is reused.
        let dropped = receive(&TINY, 64, &bodies, &[], 0);
        assert!(dropped.fresh <= 64 + one, "{dropped:?}");
        // Dropped late: kept ones are.
        for lag in 1..=TINY.spares {
            let lagging = receive(&TINY, 64, &bodies, &[], lag);
            assert!(lagging.fresh <= 64 + (lag + 2) * one, "{lag}: {lagging:?}");
        }
        let too_late = receive(&TINY, 64, &bodies, &[], TINY.spares + 1);
        assert!(too_late.fresh >= 39 * one, "{too_late:?}");
    }

    #[test]
    fn kept_allocations_are_few_and_small() {
        // `receive` checks the bounds after every step: allocations of 50-
        // and 60-octet frames are kept, those of 90 and more are not.
        for hold in [0, 1, usize::MAX] {
            let got = receive(
                &TINY,
                64,
                &bodies(&[50, 60, 90, 98, 50, 60, 50, 99]),
                &[],
                hold,
            );
            assert_eq!(got.spares, TINY.spares, "{got:?}");
        }
        // Small frames' allocations are not kept.
        for hold in [0, 1, usize::MAX] {
            let got = receive(&TINY, 64, &bodies(&[5; 200]), &[], hold);
            assert_eq!(got.spares, 0, "{got:?}");
        }
    }

    #[test]
    fn a_peer_switching_to_small_frames_gets_full_reads_again() {
        let mut sizes = vec![100; 4];
        sizes.extend([1; 400]);
        let got = receive(&TINY, 64, &bodies(&sizes), &[], usize::MAX);
        assert!(got.reads < 40, "{} reads", got.reads);
    }

    #[test]
    fn every_split_point_of_large_and_small_frames() {
        let bodies = bodies(&[3, 40, 0, 100, 5, 31, 33, 250, 1, 70]);
        let len = wire(&bodies).len();
        for cut in 0..=len {
            for hold in [0, 1, usize::MAX] {
                receive(&TINY, 64, &bodies, &[cut], hold);
            }
        }
        for chunk in 1..=20 {
            let arrivals: Vec<usize> = (chunk..len).step_by(chunk).collect();
            receive(&TINY, 64, &bodies, &arrivals, 1);
        }
    }

    proptest! {
        #[test]
        fn any_frames_any_arrivals(
            sizes in prop::collection::vec(prop_oneof![0usize..40, 0usize..400], 0..12),
            mut arrivals in prop::collection::vec(0usize..5000, 0..30),
            room in 1usize..100,
            hold in prop_oneof![0usize..4, Just(usize::MAX)],
        ) {
            arrivals.sort_unstable();
            receive(&TINY, room, &bodies(&sizes), &arrivals, hold);
        }

        #[test]
        fn any_frames_any_arrivals_any_caps(
            sizes in prop::collection::vec(prop_oneof![0usize..40, 0usize..400], 0..12),
            mut arrivals in prop::collection::vec(0usize..5000, 0..30),
            room in 1usize..100,
            caps in prop::collection::vec(1usize..300, 1..8),
        ) {
            arrivals.sort_unstable();
            receive_capped(&TINY, room, &bodies(&sizes), &arrivals, 1, &caps);
        }

        #[test]
        fn any_frames_any_arrivals_real_sizing(
            sizes in prop::collection::vec(prop_oneof![0usize..300, 30_000usize..70_000], 0..6),
            mut arrivals in prop::collection::vec(0usize..300_000, 0..30),
            hold in prop_oneof![0usize..6, Just(usize::MAX)],
        ) {
            arrivals.sort_unstable();
            receive(&SIZING, ROOM, &bodies(&sizes), &arrivals, hold);
        }
    }
}
