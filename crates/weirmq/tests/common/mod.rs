//! Helpers shared by the socket tests.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

/// Bound on every single step of a test.
pub const T: Duration = Duration::from_secs(10);

/// Runs one step, failing the test if it takes longer than [`T`].
pub async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(T, f)
        .await
        .expect("test step timed out")
}

/// Waits (at most [`T`]) until `done` holds, checking every 5 ms.
pub async fn wait_until(mut done: impl FnMut() -> bool) {
    within(async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// The first monitor event that `pick` takes (waiting at most [`T`]); the
/// events before it are skipped.
pub async fn first_event<R>(
    events: &mut weirmq::Monitor,
    mut pick: impl FnMut(weirmq::MonitorEvent) -> Option<R>,
) -> R {
    within(async {
        loop {
            let event = events.recv().await.expect("the monitor ended");
            if let Some(r) = pick(event) {
                return r;
            }
        }
    })
    .await
}
