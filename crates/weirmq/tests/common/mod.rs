//! Helpers shared by the socket tests.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

/// Bound on every single step of a test.
pub const T: Duration = Duration::from_secs(10);

/// A loopback tcp endpoint where nothing listens (a free port, released):
/// for a socket that connects before its peer binds.
pub fn unused_tcp_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("tcp://127.0.0.1:{port}")
}

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

/// Offers `make(0)`, `make(1)`, ... to `try_send` until it has refused for a
/// while (50 tries, 2 ms apart): every queue between the sender and a
/// stalled receiver is full. Returns how many it took.
pub async fn offer_until_refused<M>(
    mut try_send: impl FnMut(M) -> Result<(), weirmq::TrySendError>,
    mut make: impl FnMut(u64) -> M,
) -> u64 {
    let mut taken = 0u64;
    let mut refused = 0;
    while refused < 50 {
        match try_send(make(taken)) {
            Ok(()) => {
                taken += 1;
                refused = 0;
            }
            Err(weirmq::TrySendError::Full(_)) => {
                refused += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(taken < 1_000_000, "the sender was never held back");
    }
    taken
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

/// A hand-played peer's ZMTP 3.1 greeting for `mechanism`, as a client.
pub fn greeting(mechanism: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    out.extend_from_slice(mechanism.as_bytes());
    out.resize(64, 0);
    out
}

/// Appends a command frame (short form): `name`, then `body`.
pub fn push_command(out: &mut Vec<u8>, name: &str, body: &[u8]) {
    let mut command = vec![name.len() as u8];
    command.extend_from_slice(name.as_bytes());
    command.extend_from_slice(body);
    out.extend_from_slice(&[0x04, command.len() as u8]);
    out.extend_from_slice(&command);
}

/// A hand-played NULL peer's side of the handshake: greeting, then READY
/// with its `Socket-Type`.
pub fn null_handshake(socket_type: &str) -> Vec<u8> {
    let mut out = greeting("NULL");
    let mut ready = vec![11];
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    ready.extend_from_slice(socket_type.as_bytes());
    push_command(&mut out, "READY", &ready);
    out
}
