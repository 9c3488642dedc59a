//! The core of a socket: what its parts share. The concerns live in files
//! of their own (peers, sending, receiving, admission, life, stats); this
//! one builds it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use weirmq_zmtp::Connection;

use super::admission::Admission;
use super::lifecycle::Lifecycle;
use super::peers::Peers;
use super::role::Role;
use super::shape::Shape;
use super::zap::Zap;
use crate::error::Error;
use crate::monitor::{Monitor, MonitorEvent, MonitorTx};
use crate::options::Options;
use crate::queue::budget::{ALLOWANCE, Budget};
use crate::queue::inbound::Inbound;
use crate::queue::lock;
use crate::queue::pipe::Traffic;
use crate::queue::signal::Signal;
use crate::rate::Bucket;

/// What a socket's parts share.
pub(crate) struct Core {
    /// What the socket's type does with its peers.
    pub(crate) shape: Shape,
    /// The socket type's own handling of what its peers do.
    pub(crate) role: Arc<dyn Role>,
    pub(crate) options: Options,
    /// The ZAP handler, as far as connections need it.
    pub(crate) zap: Arc<dyn Zap>,
    /// The incoming queue: a lane per peer, which its engine pushes into,
    /// fair-queued for `recv`.
    pub(crate) inbound: Arc<Inbound>,
    /// The memory budget for incoming data, which every connection's
    /// reading and every peer's lane is counted in.
    pub(crate) budget: Arc<Budget>,
    pub(super) peers: Mutex<Peers>,
    /// ROUTER: the routing ids given to the peers of endpoints it connects
    /// to, by endpoint.
    pub(super) connect_ids: Mutex<std::collections::HashMap<String, bytes::Bytes>>,
    /// Signalled when any peer pipe frees room or a peer arrives or leaves.
    pub(super) room: Arc<Signal>,
    pub(super) life: Lifecycle,
    pub(super) admission: Admission,
    /// Shared with the peers' pipes, which report their alerts to it.
    pub(super) monitor: Arc<Mutex<MonitorTx>>,
    /// Peers connected now.
    pub(super) connected: AtomicUsize,
    /// Numbers each peer, so that the stats pair its incoming lane with it
    /// (names may repeat: inproc and ipc peers bear the endpoint's).
    pub(super) serials: AtomicU64,
    /// Drops of peers that have since gone (those of current peers are in
    /// each peer).
    pub(super) dropped_gone: AtomicU64,
    /// Messages that will never arrive (see [`Core::count_lost`]).
    pub(super) lost: AtomicU64,
    /// REQ and REP: messages a receiver read through the connection and
    /// took without the incoming queue.
    pub(super) received_through: AtomicU64,
    /// Nanoseconds `send` calls have spent waiting for room.
    pub(super) send_blocked_ns: AtomicU64,
    /// The socket's `tracing` span: its type; its connections' spans and
    /// its own events are inside it.
    pub(crate) span: tracing::Span,
    /// What left the peers' pipes for their connections.
    pub(super) sent: Arc<Traffic>,
    /// Connections whose handshake failed, and of those, the ones our
    /// authenticator (or ZAP handler) refused.
    pub(crate) handshake_failures: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    /// Connect attempts that failed and were retried.
    pub(crate) connect_retries: AtomicU64,
    /// Payload octets of the messages REQ and REP read through.
    pub(super) received_through_bytes: AtomicU64,
    /// The token bucket of [`Options::send_rate`], if there is one.
    pub(super) send_rate: Option<Mutex<Bucket>>,
}

impl Core {
    /// A socket of `shape` and `role`, with `options` (checked now, so that
    /// bind and connect cannot fail later for a reason the caller could
    /// have been told at once).
    pub(crate) fn new(
        shape: Shape,
        role: Arc<dyn Role>,
        options: Options,
        zap: Arc<dyn Zap>,
    ) -> Result<Arc<Core>, Error> {
        options.limits()?;
        options.check_for(shape.socket_type)?;
        if options
            .recv_rate_per_peer
            .is_some_and(|r| r.messages().is_some())
        {
            return Err(Error::InvalidOption(
                "recv_rate_per_peer limits octets per second only (messages are known only \
                 once read)"
                    .into(),
            ));
        }
        // The same for what the connection checks (routing id, heartbeat
        // TTL, ...): one connection built now proves every later one valid.
        let probe = options.zmtp_config(shape.socket_type);
        Connection::new(probe, std::time::Instant::now())
            .map_err(|e| Error::InvalidOption(e.to_string()))?;
        let inbound = Inbound::new(options.recv_hwm, options.conflate);
        role.start(&inbound);
        let budget = Budget::new(options.recv_budget, options.budget_reserve(), ALLOWANCE);
        let send_rate = options
            .send_rate
            .map(|rate| Mutex::new(Bucket::new(rate, std::time::Instant::now())));
        Ok(Arc::new(Core {
            shape,
            role,
            options,
            zap,
            inbound,
            budget,
            peers: Mutex::new(Peers::default()),
            connect_ids: Mutex::default(),
            room: Arc::new(Signal::default()),
            life: Lifecycle::default(),
            admission: Admission::default(),
            monitor: Arc::new(Mutex::new(MonitorTx::default())),
            connected: AtomicUsize::new(0),
            serials: AtomicU64::new(0),
            dropped_gone: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            received_through: AtomicU64::new(0),
            send_blocked_ns: AtomicU64::new(0),
            span: tracing::info_span!("socket", kind = ?shape.socket_type),
            send_rate,
            sent: Arc::default(),
            handshake_failures: AtomicU64::new(0),
            auth_failures: AtomicU64::new(0),
            connect_retries: AtomicU64::new(0),
            received_through_bytes: AtomicU64::new(0),
        }))
    }

    /// Starts (or restarts) the monitor.
    pub(crate) fn monitor(&self) -> Monitor {
        lock(&self.monitor).start()
    }

    /// Reports an event to the monitor, if there is one.
    pub(crate) fn emit(&self, event: MonitorEvent) {
        lock(&self.monitor).emit(event);
    }

    /// A peer's handshake is done and it is let in: counted in
    /// [`Stats::peers`](super::Stats::peers) until the guard drops, when
    /// its connection ends.
    pub(crate) fn peer_connected(&self) -> Connected<'_> {
        self.connected.fetch_add(1, Ordering::Relaxed);
        Connected(self)
    }
}

/// Counts a connected peer for as long as it lives.
pub(crate) struct Connected<'a>(&'a Core);

impl Drop for Connected<'_> {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}
