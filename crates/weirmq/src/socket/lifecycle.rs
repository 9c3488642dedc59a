//! A socket's life: its bound and connected endpoints (each with a stop
//! signal, for unbind and disconnect), the engines running its connections,
//! and closing, which stops them all, flushing what is queued to peers
//! within the linger time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::core::Core;
use crate::queue::lock;

/// What a socket's life is made of.
pub(crate) struct Lifecycle {
    /// Raised once, when the socket closes.
    pub(super) closed: watch::Sender<bool>,
    /// The same, for the send and receive paths to read without the
    /// watch's lock.
    is_closed: AtomicBool,
    /// Bound endpoints, resolved (`tcp://127.0.0.1:40123`).
    endpoints: Mutex<Vec<String>>,
    /// A stop signal per bound or connected endpoint.
    links: Mutex<HashMap<String, Vec<watch::Sender<bool>>>>,
    /// Engines running now, and a signal each time one ends.
    engines: AtomicU64,
    engine_ended: Notify,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            closed: watch::channel(false).0,
            is_closed: AtomicBool::new(false),
            endpoints: Mutex::new(Vec::new()),
            links: Mutex::new(HashMap::new()),
            engines: AtomicU64::new(0),
            engine_ended: Notify::new(),
        }
    }
}

/// Counts a running engine for as long as it lives.
pub(crate) struct EngineGuard(Arc<Core>);

impl Drop for EngineGuard {
    fn drop(&mut self) {
        self.0.life.engines.fetch_sub(1, Ordering::AcqRel);
        self.0.life.engine_ended.notify_waiters();
    }
}

impl Core {
    /// Whether the socket is closed.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.life.is_closed.load(Ordering::Acquire)
    }

    /// Resolves once the socket is closed.
    pub(crate) async fn closed(&self) {
        let mut rx = self.life.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Closes the socket: listeners and connectors stop, engines flush what
    /// they hold (within the linger time) and end, receivers see `Closed`.
    pub(crate) fn close(&self) {
        self.life.is_closed.store(true, Ordering::Release);
        self.life.closed.send_replace(true);
        self.inbound.close();
        self.wake_senders();
    }

    /// Closes the socket and waits until its connections have flushed what
    /// was queued to them and ended, or `linger` has passed.
    pub(crate) async fn close_and_flush(&self, linger: Duration) {
        self.close();
        let all_ended = async {
            loop {
                let ended = self.life.engine_ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if self.life.engines.load(Ordering::Acquire) == 0 {
                    return;
                }
                ended.await;
            }
        };
        let _ = tokio::time::timeout(linger, all_ended).await;
    }

    /// Registers a running engine until the guard drops.
    pub(crate) fn engine_started(self: &Arc<Core>) -> EngineGuard {
        self.life.engines.fetch_add(1, Ordering::AcqRel);
        EngineGuard(self.clone())
    }

    /// Registers a bound or connected endpoint; the receiver turns true when
    /// it is unbound or disconnected.
    pub(crate) fn link(&self, endpoint: String) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        // Connecting twice to one endpoint makes two connections, as in
        // libzmq; disconnect ends both.
        lock(&self.life.links).entry(endpoint).or_default().push(tx);
        rx
    }

    /// Stops a bound or connected endpoint; `false` if there is none.
    pub(crate) fn unlink(&self, endpoint: &str) -> bool {
        match lock(&self.life.links).remove(endpoint) {
            Some(links) => {
                for tx in links {
                    tx.send_replace(true);
                }
                true
            }
            None => false,
        }
    }

    /// Notes an endpoint bound (as resolved).
    pub(crate) fn bound(&self, endpoint: String) {
        lock(&self.life.endpoints).push(endpoint);
    }

    /// Forgets a bound endpoint.
    pub(crate) fn unbound(&self, endpoint: &str) {
        lock(&self.life.endpoints).retain(|e| e != endpoint);
    }

    /// The endpoint bound last.
    pub(crate) fn last_endpoint(&self) -> Option<String> {
        lock(&self.life.endpoints).last().cloned()
    }
}
