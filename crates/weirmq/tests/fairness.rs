//! Fair queuing across peers (RFC 28; libzmq's `fq`): a peer that floods a
//! socket fills its own incoming lane, and a quiet peer's message is handed
//! out within a turn of the flood, not behind a whole HWM of it.
//!
//! The log-aggregation scenario of `shared/seeds/001_…`: a ROUTER reads
//! slowly, one DEALER sends 1 KiB messages as fast as backpressure lets
//! it, another sends now and then. Counted, not timed: how many flood
//! messages `recv` hands out between the quiet message's arrival and the
//! quiet message itself.

mod common;

use std::time::Duration;
use weirmq::prelude::*;

use common::{T, wait_until, within};
use weirmq::{Dealer, Pull, Push, Router};

/// Flood messages the receiver may hand out before a quiet peer's message
/// that is already queued: a turn of the flood (8 messages while another
/// peer waits), and a message or two a receiver had in hand.
const A_FEW: usize = 10;

/// Waits until the quiet message is queued: the count goes past `before`
/// (or a second has passed: a queue shared by all peers, being full, takes
/// it only after the flood before it, and the count below tells).
async fn arrived(queued: impl Fn() -> usize, before: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while queued() <= before && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits until the socket's incoming queue holds a steady number of
/// messages (its senders are held back by the HWM), and returns it.
async fn steady(queued: impl Fn() -> usize) -> usize {
    within(async {
        loop {
            let before = queued();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let after = queued();
            if after == before && after > 0 {
                return after;
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_dealer_is_heard_within_a_few_messages_of_a_flood() {
    let router = Router::new();
    let endpoint = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let flood = Dealer::new();
    flood.connect(&endpoint).await.unwrap();
    let quiet = Dealer::new();
    quiet.connect(&endpoint).await.unwrap();
    // Both peers are known to the ROUTER before the flood starts.
    quiet.send("hello").await.unwrap();
    let hello = within(router.recv()).await.unwrap();
    let quiet_id = hello.frames()[0].clone();
    wait_until(|| router.stats().peers == 2).await;

    let body = bytes::Bytes::from(vec![0xAB; 1024]);
    let flooding = tokio::spawn(async move {
        loop {
            if flood.send(body.clone()).await.is_err() {
                return;
            }
        }
    });

    for round in 0..5 {
        // The flood's lane is full (or above its low-water mark, half the
        // HWM, until which its sender is not let go on) and its sender held
        // back: a shared queue would hand all of these out first.
        let before = steady(|| router.stats().queued_in_messages).await;
        assert!(
            before >= 500,
            "round {round}: the flood fills its lane ({before} queued)"
        );
        quiet
            .send(format!("quiet {round}").into_bytes())
            .await
            .unwrap();
        arrived(|| router.stats().queued_in_messages, before).await;
        let mut flood_first = 0;
        loop {
            let msg = within(router.recv()).await.unwrap();
            if msg.frames()[0] == quiet_id {
                assert_eq!(&msg.frames()[1][..], format!("quiet {round}").as_bytes());
                break;
            }
            flood_first += 1;
        }
        assert!(
            flood_first <= A_FEW,
            "round {round}: {flood_first} flood messages were handed out before the \
             quiet peer's, (a few at most, not a whole HWM)"
        );
    }
    flooding.abort();
}

/// The same for PULL, with the reading application keeping up meanwhile:
/// every quiet message arrives, in order, and its wait is a few flood
/// messages each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_hears_a_quiet_push_within_a_few_messages_of_a_flood() {
    let pull = Pull::new();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let flood = Push::new();
    flood.connect(&endpoint).await.unwrap();
    let quiet = Push::new();
    quiet.connect(&endpoint).await.unwrap();
    quiet.send("hello").await.unwrap();
    assert_eq!(
        &within(pull.recv()).await.unwrap().frames()[0][..],
        b"hello"
    );

    let body = bytes::Bytes::from(vec![0xAB; 1024]);
    let flooding = tokio::spawn(async move { while flood.send(body.clone()).await.is_ok() {} });
    for round in 0..5u32 {
        let before = steady(|| pull.stats().queued_in_messages).await;
        quiet.send(round.to_be_bytes().to_vec()).await.unwrap();
        arrived(|| pull.stats().queued_in_messages, before).await;
        let mut flood_first = 0;
        loop {
            let msg = tokio::time::timeout(T, pull.recv()).await.unwrap().unwrap();
            if msg.byte_len() == 4 {
                assert_eq!(&msg.frames()[0][..], round.to_be_bytes());
                break;
            }
            flood_first += 1;
        }
        assert!(
            flood_first <= A_FEW,
            "round {round}: {flood_first} flood messages before the quiet one"
        );
    }
    flooding.abort();
}
