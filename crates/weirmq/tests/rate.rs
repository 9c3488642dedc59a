//! Rate limits: a sender under `Options::send_rate` waits (or `try_send`
//! hands the message back), and a peer over `recv_rate_per_peer` is read no
//! faster while the other peers are served as before. Checked by counting
//! against the elapsed time, with wide margins below (a loaded machine may
//! send less) and the bucket's exact bound above (it may never send more).

mod common;

use std::time::{Duration, Instant};

use weirmq::prelude::*;
use weirmq::{Error, Message, Options, Pull, Push, Rate, TrySendError};

use common::within;

/// Most that a bucket of `per_second` with a burst of a tenth of a second
/// lets through in `elapsed`: the rate, the burst, and one more taken in
/// debt.
fn bound(per_second: f64, elapsed: Duration, one: f64) -> f64 {
    per_second * elapsed.as_secs_f64() + per_second / 10.0 + one
}

async fn pipe(push: Options, pull: Options) -> (Push, Pull) {
    let pull = Pull::with_options(pull).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::with_options(push).unwrap();
    push.connect(&endpoint).await.unwrap();
    (push, pull)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_waits_under_the_rate_in_messages_and_in_octets() {
    for (rate, size, per_second) in [
        (Rate::per_second(Some(2_000), None).unwrap(), 16, 2_000.0),
        (
            Rate::per_second(None, Some(4 << 20)).unwrap(),
            16 << 10,
            256.0,
        ),
    ] {
        let (push, pull) = pipe(Options::default().with_send_rate(rate), Options::default()).await;
        let draining = tokio::spawn(async move { while pull.recv().await.is_ok() {} });
        let body = vec![1u8; size];
        let start = Instant::now();
        let mut sent = 0u32;
        while start.elapsed() < Duration::from_millis(1500) {
            within(push.send(body.clone())).await.unwrap();
            sent += 1;
        }
        let elapsed = start.elapsed();
        let most = bound(per_second, elapsed, 1.0);
        let sent = f64::from(sent);
        assert!(sent <= most, "{sent} sent in {elapsed:?}, more than {most}");
        assert!(
            sent >= 0.5 * per_second * elapsed.as_secs_f64(),
            "only {sent} sent in {elapsed:?}"
        );
        draining.abort();
    }
}

#[tokio::test]
async fn try_send_hands_the_message_back_over_the_rate() {
    let rate = Rate::per_second(Some(10), None).unwrap();
    let (push, _pull) = pipe(Options::default().with_send_rate(rate), Options::default()).await;
    common::wait_until(|| push.stats().peers == 1).await;
    // A burst of a tenth of a second at 10/s: one message, and one more in
    // debt.
    push.try_send("one").unwrap();
    push.try_send("two").unwrap();
    match push.try_send("three") {
        Err(TrySendError::RateLimited(m)) => assert_eq!(m, Message::from("three")),
        other => panic!("{other:?}"),
    }
    // `send` waits for the debt to be paid (a tenth of a second or two).
    let start = Instant::now();
    within(push.send("three")).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_receive_rate_in_messages_is_refused() {
    let rate = Rate::per_second(Some(10), None).unwrap();
    let refused = Pull::with_options(Options::default().with_recv_rate_per_peer(rate));
    assert!(
        matches!(refused, Err(Error::InvalidOption(_))),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_over_its_receive_rate_is_read_no_faster_and_the_others_go_on() {
    const RATE: u64 = 256 << 10;
    let limited =
        Options::default().with_recv_rate_per_peer(Rate::per_second(None, Some(RATE)).unwrap());
    let pull = Pull::with_options(limited).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    // The flood: 1 KiB messages as fast as the receiver lets them in.
    let flood = Push::new();
    flood.connect(&endpoint).await.unwrap();
    let flooding = tokio::spawn(async move {
        let body = vec![b'f'; 1024];
        while flood.send(body.clone()).await.is_ok() {}
    });
    // The quiet peer: a small message every 50 ms.
    let quiet = Push::new();
    quiet.connect(&endpoint).await.unwrap();
    let talking = tokio::spawn(async move {
        for i in 0..30u8 {
            quiet.send(vec![b'q', i]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        quiet
    });
    let (mut flood_octets, mut quiet_seen) = (0u64, Vec::new());
    let mut first_flood = None;
    let deadline = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < deadline {
        let Ok(got) = tokio::time::timeout(Duration::from_millis(100), pull.recv()).await else {
            continue;
        };
        let msg = got.unwrap();
        let frame = &msg.frames()[0];
        if frame[0] == b'q' {
            quiet_seen.push(frame[1]);
        } else {
            first_flood.get_or_insert_with(Instant::now);
            flood_octets += frame.len() as u64;
        }
    }
    let elapsed = first_flood.expect("the flood got through").elapsed();
    // The flood's octets within the rate: what the bucket allows, and one
    // read of up to the read buffer's size taken in debt.
    let most = bound(RATE as f64, elapsed, f64::from(256u32 << 10));
    assert!(
        (flood_octets as f64) <= most,
        "{flood_octets} octets in {elapsed:?}, over {most}"
    );
    assert!(
        flood_octets as f64 >= 0.3 * RATE as f64 * elapsed.as_secs_f64(),
        "{flood_octets}"
    );
    // The quiet peer, under its own rate, was not held back by the flood.
    let quiet = within(talking).await.unwrap();
    assert_eq!(quiet_seen, (0..quiet_seen.len() as u8).collect::<Vec<_>>());
    assert!(
        quiet_seen.len() >= 25,
        "the quiet peer got {} through",
        quiet_seen.len()
    );
    drop(quiet);
    flooding.abort();
}
