//! [`Signal`]: a wake-up that costs one atomic load to raise when nobody
//! waits.
//!
//! Every message popped from a pipe may free room a sender waits for. With a
//! bare `Notify`, each pop would take `notify_waiters`'s lock even when no
//! sender is waiting, which is nearly always. Here waiters are counted: a
//! waiter registers *before* it checks its condition under the pipe's mutex,
//! and the popper reads the count *while holding* that mutex, after changing
//! the condition. The mutex orders the two: either the waiter's check sees
//! the change, or its registration happened before the popper's critical
//! section and the popper sees the count. So no wake-up is lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

#[derive(Debug, Default)]
pub(crate) struct Signal {
    notify: Notify,
    waiting: AtomicUsize,
}

/// A registered waiter; unregisters when dropped (also when the waiting
/// future is cancelled).
pub(crate) struct Registration<'a>(&'a Signal);

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Signal {
    /// Counts a waiter until the registration is dropped. Register before
    /// checking the condition.
    pub(crate) fn register(&self) -> Registration<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Registration(self)
    }

    /// A future for the next [`Signal::wake_all`]; enable it before checking
    /// the condition.
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }

    /// Whether anyone waits: read under the condition's mutex, after
    /// changing the condition (see the module docs).
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Wakes every waiter.
    pub(crate) fn wake_all(&self) {
        self.notify.notify_waiters();
    }

    /// Waits until `check` (which looks at the condition under its mutex)
    /// gives something: it is tried now, and again after every wake-up,
    /// with the waiter registered and the wake-up enabled before each try,
    /// so none is missed. While it waits, `also` is polled too: another
    /// source, which may hand over a result itself.
    pub(crate) async fn wait_for<T>(
        &self,
        mut check: impl FnMut() -> Option<T>,
        mut also: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> T {
        // The common case, the condition holding already, registers nothing.
        if let Some(t) = check() {
            return t;
        }
        let _registered = self.register();
        loop {
            let notified = self.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(t) = check() {
                return t;
            }
            let next = std::future::poll_fn(|cx| match notified.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(None),
                Poll::Pending => also(cx).map(Some),
            })
            .await;
            if let Some(t) = next {
                return t;
            }
        }
    }
}
