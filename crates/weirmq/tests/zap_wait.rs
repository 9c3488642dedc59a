//! A server socket's connection while the process's ZAP handler judges the
//! client's credentials: the handshake stands still, and so does reading,
//! so a client cannot make us hold what it sends meanwhile.
//!
//! In a test binary of its own: the ZAP endpoint is process-wide.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use weirmq::prelude::*;

use tokio::io::AsyncWriteExt;
use weirmq::{Options, Pull, Router, ZAP_ENDPOINT};

mod common;

use common::*;

/// A hand-played PLAIN client: greeting, then HELLO.
fn plain_hello() -> Vec<u8> {
    let mut out = greeting("PLAIN");
    let mut hello = vec![5];
    hello.extend_from_slice(b"admin");
    hello.push(6);
    hello.extend_from_slice(b"secret");
    push_command(&mut out, "HELLO", &hello);
    out
}

/// While the ZAP handler has not answered, the client goes on sending (the
/// start of a frame it claims to be huge, then its octets): the server
/// must leave them unread, so that the client is held back by TCP, instead
/// of reading them all into the connection's input buffer until the
/// handshake times out.
#[tokio::test]
async fn a_connection_awaiting_zap_reads_nothing_more() {
    // A handler that takes the question and never answers.
    let zap = Router::new();
    zap.bind(ZAP_ENDPOINT).await.unwrap();
    wait_until(weirmq::zap_handler_bound).await;
    let server = Pull::with_options(
        Options::default()
            .with_plain_server()
            .with_handshake_timeout(Duration::from_secs(60)),
    )
    .unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").await.unwrap();
    let mut client = tokio::net::TcpStream::connect(ep.trim_start_matches("tcp://"))
        .await
        .unwrap();
    client.write_all(&plain_hello()).await.unwrap();
    // The question reached the handler: the connection now waits.
    within(zap.recv()).await.unwrap();

    // More than the kernels' buffers may hold (their limits here included).
    const FLOOD: usize = 64 << 20;
    let written = Arc::new(AtomicUsize::new(0));
    let flood = tokio::spawn({
        let written = written.clone();
        async move {
            let mut header = vec![0x02];
            header.extend_from_slice(&(1u64 << 40).to_be_bytes());
            client.write_all(&header).await.unwrap();
            let chunk = vec![0u8; 64 * 1024];
            while written.load(Ordering::Relaxed) < FLOOD {
                if client.write_all(&chunk).await.is_err() {
                    break;
                }
                written.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            client
        }
    });
    // Until the writer is held back (nothing more for 500 ms) or is through.
    let mut last = usize::MAX;
    within(async {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = written.load(Ordering::Relaxed);
            if now == last || now >= FLOOD {
                return;
            }
            last = now;
        }
    })
    .await;
    let now = written.load(Ordering::Relaxed);
    assert!(
        now < FLOOD,
        "the server took {now} octets from a client still in its handshake"
    );
    flood.abort();
}
