//! Monitor events: what happens to a socket's connections, delivered over a
//! bounded channel. When the reader falls behind, events are not queued
//! without bound: they are counted as missed ([`Monitor::missed`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use weirmq_zmtp::SocketType;

/// Events a monitor can hold before new ones are counted as missed.
pub const MONITOR_CAPACITY: usize = 1024;

/// Something that happened to one of a socket's connections (libzmq's
/// monitor events, with the reasons spelled out).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MonitorEvent {
    /// `bind` succeeded (ZMQ_EVENT_LISTENING).
    Listening {
        /// The endpoint bound, wildcard port resolved.
        endpoint: String,
    },
    /// A peer connected to a bound endpoint (ZMQ_EVENT_ACCEPTED).
    Accepted {
        /// The peer's address.
        peer: String,
    },
    /// An accepted connection was closed at once: the socket has
    /// [`Options::max_connections`](crate::Options::max_connections) open
    /// already (counted in [`Stats::rejected`](crate::Stats::rejected)).
    ConnectionRejected {
        /// The peer's address.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A connection from `connect` was made (ZMQ_EVENT_CONNECTED).
    Connected {
        /// The endpoint connected to.
        endpoint: String,
    },
    /// A `connect` attempt failed; another follows after `delay`
    /// (ZMQ_EVENT_CONNECT_RETRIED).
    ConnectRetried {
        /// The endpoint.
        endpoint: String,
        /// The wait before the next attempt.
        delay: std::time::Duration,
    },
    /// The ZMTP handshake finished (ZMQ_EVENT_HANDSHAKE_SUCCEEDED).
    HandshakeSucceeded {
        /// The peer's address or endpoint.
        peer: String,
        /// The socket type the peer announced.
        socket_type: Option<SocketType>,
    },
    /// The handshake failed, and why (ZMQ_EVENT_HANDSHAKE_FAILED_*).
    HandshakeFailed {
        /// The peer's address or endpoint.
        peer: String,
        /// What went wrong.
        reason: String,
    },
    /// A message was dropped for a full peer, as [`WhenFull::Drop`]
    /// chose (libzmq drops without telling anyone).
    ///
    /// [`WhenFull::Drop`]: crate::WhenFull::Drop
    MessageDropped {
        /// The peer that missed the message.
        peer: String,
    },
    /// Messages that will never arrive because a connection ended, counted
    /// in [`Stats::lost`](crate::Stats::lost), which says which ones. (libzmq
    /// loses these without telling anyone.)
    MessagesLost {
        /// The peer's address or endpoint.
        peer: String,
        /// How many.
        count: u64,
    },
    /// A peer's outgoing queue reached the high mark of
    /// [`Options::queue_alert`](crate::Options::queue_alert): it is not
    /// keeping up. Reported again only after a [`MonitorEvent::QueueLow`].
    QueueHigh {
        /// The peer's address or endpoint.
        peer: String,
        /// Messages queued to it then.
        messages: usize,
        /// Their payload octets.
        bytes: usize,
    },
    /// A peer's outgoing queue, after a [`MonitorEvent::QueueHigh`], is
    /// back under the low mark.
    QueueLow {
        /// The peer's address or endpoint.
        peer: String,
        /// Messages queued to it then.
        messages: usize,
        /// Their payload octets.
        bytes: usize,
    },
    /// A peer's incoming lane (what it sent, waiting for `recv`) reached
    /// the high mark of [`Options::queue_alert`](crate::Options::queue_alert)
    /// of the receive HWM: the application is not keeping up with it, and
    /// once the lane is full its connection is read no more until `recv`
    /// takes it down to half the HWM. Reported again only after a
    /// [`MonitorEvent::IncomingQueueLow`].
    IncomingQueueHigh {
        /// The peer's address or endpoint.
        peer: String,
        /// Messages waiting in its lane then.
        messages: usize,
        /// Their payload octets.
        bytes: usize,
    },
    /// A peer's incoming lane, after a [`MonitorEvent::IncomingQueueHigh`],
    /// is back under the low mark. (The lane's depth does not count what
    /// `recv` has already taken out of it for its current turn, up to a
    /// turn's worth: those are handed out without the queue's lock.)
    IncomingQueueLow {
        /// The peer's address or endpoint.
        peer: String,
        /// Messages waiting in its lane then.
        messages: usize,
        /// Their payload octets.
        bytes: usize,
    },
    /// One `send` has waited
    /// [`Options::send_blocked_alert`](crate::Options::send_blocked_alert)
    /// for room, and goes on waiting (reported once per send).
    SendBlocked {
        /// How long it had waited.
        waited: std::time::Duration,
    },
    /// An established connection ended, and why (ZMQ_EVENT_DISCONNECTED).
    Disconnected {
        /// The peer's address or endpoint.
        peer: String,
        /// What ended it.
        reason: String,
    },
}

/// Every monitor event is also a `tracing` event, inside the span of the
/// socket and (for a connection's events) the connection: at WARN what
/// loses messages or refuses peers, at INFO what ends a connection or
/// drains a queue, at DEBUG the ordinary life of connections, and at TRACE
/// what can happen once per message (a drop chosen with `WhenFull::Drop`).
fn trace(event: &MonitorEvent) {
    use tracing::{debug, info, trace, warn};
    match event {
        MonitorEvent::Listening { endpoint } => debug!(%endpoint, "listening"),
        MonitorEvent::Accepted { peer } => debug!(%peer, "accepted"),
        MonitorEvent::ConnectionRejected { peer, reason } => {
            warn!(%peer, %reason, "connection rejected")
        }
        MonitorEvent::Connected { endpoint } => debug!(%endpoint, "connected"),
        MonitorEvent::ConnectRetried { endpoint, delay } => {
            debug!(%endpoint, ?delay, "connect failed, retrying")
        }
        MonitorEvent::HandshakeSucceeded { peer, socket_type } => {
            debug!(%peer, peer_type = ?socket_type, "handshake succeeded")
        }
        MonitorEvent::HandshakeFailed { peer, reason } => {
            warn!(%peer, %reason, "handshake failed")
        }
        MonitorEvent::MessageDropped { peer } => trace!(%peer, "message dropped (WhenFull::Drop)"),
        MonitorEvent::MessagesLost { peer, count } => warn!(%peer, count, "messages lost"),
        MonitorEvent::QueueHigh {
            peer,
            messages,
            bytes,
        } => warn!(%peer, messages, bytes, "queue at its high mark"),
        MonitorEvent::QueueLow {
            peer,
            messages,
            bytes,
        } => info!(%peer, messages, bytes, "queue back under its low mark"),
        MonitorEvent::IncomingQueueHigh {
            peer,
            messages,
            bytes,
        } => warn!(%peer, messages, bytes, "incoming queue at its high mark"),
        MonitorEvent::IncomingQueueLow {
            peer,
            messages,
            bytes,
        } => info!(%peer, messages, bytes, "incoming queue back under its low mark"),
        MonitorEvent::SendBlocked { waited } => warn!(?waited, "send blocked"),
        MonitorEvent::Disconnected { peer, reason } => info!(%peer, %reason, "disconnected"),
    }
}

/// The receiving end of a socket's monitor.
#[derive(Debug)]
pub struct Monitor {
    rx: mpsc::Receiver<MonitorEvent>,
    missed: Arc<AtomicU64>,
}

impl Monitor {
    /// The next event; `None` once the socket is gone.
    pub async fn recv(&mut self) -> Option<MonitorEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<MonitorEvent> {
        self.rx.try_recv().ok()
    }

    /// Events that found the channel full and were counted instead of queued.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }
}

/// The sending side, kept by the socket.
#[derive(Debug, Default)]
pub(crate) struct MonitorTx {
    tx: Option<mpsc::Sender<MonitorEvent>>,
    missed: Arc<AtomicU64>,
}

impl MonitorTx {
    pub(crate) fn start(&mut self) -> Monitor {
        let (tx, rx) = mpsc::channel(MONITOR_CAPACITY);
        let missed = Arc::new(AtomicU64::new(0));
        self.tx = Some(tx);
        self.missed = missed.clone();
        Monitor { rx, missed }
    }

    pub(crate) fn emit(&self, event: MonitorEvent) {
        trace(&event);
        if let Some(tx) = &self.tx {
            if tx.try_send(event).is_err() {
                self.missed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
