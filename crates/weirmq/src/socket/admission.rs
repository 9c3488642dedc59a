//! Admitting accepted connections: a cap on how many a socket has
//! ([`Options::max_connections`](crate::Options::max_connections)), and on
//! how many are still in their handshake, where the oldest is evicted to
//! make room, so that idle or slow unauthenticated connections cannot keep
//! a real client out (libzmq CVE-2020-15166): a real handshake takes
//! milliseconds, and an attacker would have to outpace every newcomer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::core::Core;
use crate::monitor::MonitorEvent;
use crate::queue::lock;

/// The accepted connections a socket has.
#[derive(Default)]
pub(crate) struct Admission {
    /// Those still in their handshake, oldest first.
    handshaking: Mutex<VecDeque<(u64, Arc<Notify>)>>,
    next_ticket: AtomicU64,
    /// Connections closed to make room for newer ones in the handshake.
    pub(super) evicted: AtomicU64,
    /// Accepted connections now.
    accepted: AtomicUsize,
    /// Accepted connections closed at once for being over the cap.
    pub(super) rejected: AtomicU64,
}

/// An accepted connection's place among the socket's connections, and
/// among those still in their handshake until [`Ticket::done`]. Dropping
/// it, when the connection ends, gives both up.
pub(crate) struct Ticket {
    core: Arc<Core>,
    id: u64,
    /// Signalled when this connection is evicted.
    pub(crate) evicted: Arc<Notify>,
}

impl Ticket {
    /// The handshake finished: the connection no longer counts as being in
    /// it.
    pub(crate) fn done(&self) {
        lock(&self.core.admission.handshaking).retain(|(id, _)| *id != self.id);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.done();
        self.core.admission.accepted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Core {
    /// Admits an accepted connection from `peer`, unless the socket has
    /// `max_connections` already: then it is refused (`None`), counted and
    /// reported, and the caller closes it. An admitted connection enters
    /// the handshake, evicting the oldest there if `max_handshaking` are.
    pub(crate) fn admit(self: &Arc<Core>, peer: &str) -> Option<Ticket> {
        let admission = &self.admission;
        let max = self.options.max_connections;
        let counted = admission
            .accepted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        if counted.is_err() {
            admission.rejected.fetch_add(1, Ordering::Relaxed);
            self.emit(MonitorEvent::ConnectionRejected {
                peer: peer.to_owned(),
                reason: format!("over max_connections ({max})"),
            });
            return None;
        }
        let id = admission.next_ticket.fetch_add(1, Ordering::Relaxed);
        let evicted = Arc::new(Notify::new());
        let mut waiting = lock(&admission.handshaking);
        while waiting.len() >= self.options.max_handshaking {
            if let Some((_, oldest)) = waiting.pop_front() {
                oldest.notify_one();
                admission.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        waiting.push_back((id, evicted.clone()));
        Some(Ticket {
            core: self.clone(),
            id,
            evicted,
        })
    }
}
