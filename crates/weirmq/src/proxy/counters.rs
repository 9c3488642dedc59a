//! What a proxy counts: messages and octets each way (libzmq's eight
//! STATISTICS counters are these, seen from each side), and what it could
//! not forward.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Messages and octets forwarded one way. Alone on its cache line: each
/// direction is counted by its own loop, and the two may run on two
/// threads.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(super) struct Direction {
    messages: AtomicU64,
    octets: AtomicU64,
}

impl Direction {
    /// One message of `octets` forwarded.
    pub(super) fn count(&self, octets: u64) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.octets.fetch_add(octets, Ordering::Relaxed);
    }

    fn get(&self) -> (u64, u64) {
        (
            self.messages.load(Ordering::Relaxed),
            self.octets.load(Ordering::Relaxed),
        )
    }
}

/// A proxy's counters.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Frontend to backend.
    pub(super) forth: Direction,
    /// Backend to frontend.
    pub(super) back: Direction,
    unroutable: AtomicU64,
    dropped: AtomicU64,
    bad_commands: AtomicU64,
}

impl Counters {
    pub(super) fn unroutable(&self) {
        self.unroutable.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn bad_command(&self) {
        self.bad_commands.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stats(&self) -> ProxyStats {
        let (forth_messages, forth_octets) = self.forth.get();
        let (back_messages, back_octets) = self.back.get();
        ProxyStats {
            frontend: SideStats {
                messages_in: forth_messages,
                bytes_in: forth_octets,
                messages_out: back_messages,
                bytes_out: back_octets,
            },
            backend: SideStats {
                messages_in: back_messages,
                bytes_in: back_octets,
                messages_out: forth_messages,
                bytes_out: forth_octets,
            },
            unroutable: self.unroutable.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            bad_commands: self.bad_commands.load(Ordering::Relaxed),
        }
    }
}

/// What went through one side of a proxy: a multipart message counts once,
/// its octets are the sum of its frames' (as libzmq counts them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideStats {
    /// Messages received on this side and forwarded.
    pub messages_in: u64,
    /// Their octets.
    pub bytes_in: u64,
    /// Messages sent on this side.
    pub messages_out: u64,
    /// Their octets.
    pub bytes_out: u64,
}

/// A proxy's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// The frontend's side.
    pub frontend: SideStats,
    /// The backend's side.
    pub backend: SideStats,
    /// Messages a ROUTER side had no peer for (a reply to a client that
    /// has gone): not forwarded.
    pub unroutable: u64,
    /// Messages the proxy held when it was told to terminate or when a send
    /// failed: not forwarded.
    pub dropped: u64,
    /// Control commands that were not understood, or could not be
    /// answered, and were ignored.
    pub bad_commands: u64,
}

impl ProxyStats {
    /// The eight counters of libzmq's STATISTICS reply, in its order: the
    /// frontend's messages in, octets in, messages out, octets out, then the
    /// backend's.
    pub fn libzmq_counters(&self) -> [u64; 8] {
        let (f, b) = (self.frontend, self.backend);
        [
            f.messages_in,
            f.bytes_in,
            f.messages_out,
            f.bytes_out,
            b.messages_in,
            b.bytes_in,
            b.messages_out,
            b.bytes_out,
        ]
    }
}

/// A running proxy's counters (see [`Proxy::counters`](super::Proxy::counters)).
#[derive(Debug, Clone)]
pub struct ProxyCounters(pub(super) Arc<Counters>);

impl ProxyCounters {
    /// The counters now.
    pub fn get(&self) -> ProxyStats {
        self.0.stats()
    }
}
