//! The traffic and failure counters of `Stats`: messages and payload
//! octets out and in (REQ/REP's read-through path included), handshake
//! and authentication failures, connect retries.

mod common;

use std::time::Duration;

use bytes::Bytes;
use weirmq::prelude::*;
use weirmq::{AuthDecision, AuthRequest, Keypair, Options, Pull, Push, Rep, Req};

use common::{unused_tcp_endpoint, wait_until, within};

#[tokio::test]
async fn messages_and_octets_are_counted_both_ways() {
    let pull = Pull::new();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    push.connect(&endpoint).await.unwrap();
    for i in 0..100u8 {
        // Two frames: 7 + 3 octets.
        let msg: weirmq::Message = [vec![i; 7], vec![i; 3]].into_iter().collect();
        within(push.send(msg)).await.unwrap();
    }
    wait_until(|| push.stats().sent == 100).await;
    assert_eq!(push.stats().sent_bytes, 1_000);
    for _ in 0..60 {
        within(pull.recv()).await.unwrap();
    }
    let stats = pull.stats();
    assert_eq!((stats.received, stats.received_bytes), (60, 600));
    for _ in 0..40 {
        within(pull.recv()).await.unwrap();
    }
    assert_eq!(pull.stats().received_bytes, 1_000);
}

#[tokio::test]
async fn replies_read_through_are_counted_too() {
    let rep = Rep::new();
    let endpoint = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let req = Req::new();
    req.connect(&endpoint).await.unwrap();
    let serving = tokio::spawn(async move {
        for _ in 0..5 {
            let request = rep.recv().await.unwrap();
            rep.send(request).await.unwrap();
        }
        rep
    });
    for _ in 0..5 {
        within(req.send("ping!")).await.unwrap();
        within(req.recv()).await.unwrap();
    }
    // Octets as the socket received them: each reply with its envelope
    // (the peer's 5-octet routing id, the empty delimiter) and its body.
    let stats = req.stats();
    assert_eq!((stats.received, stats.received_bytes), (5, 5 * (5 + 5)));
    within(serving).await.unwrap();
}

#[tokio::test]
async fn handshake_and_auth_failures_and_retries_are_counted() {
    let judge = |request: &AuthRequest, _: &str| match request {
        AuthRequest::Plain { password, .. } if password == &b"right"[..] => AuthDecision::Allow {
            user_id: Bytes::from_static(b"u"),
        },
        _ => AuthDecision::Deny {
            status: Bytes::from_static(b"400"),
        },
    };
    let plain = Pull::with_options(
        Options::default()
            .with_plain_server()
            .with_authenticator(judge),
    )
    .unwrap();
    let at = plain.bind("tcp://127.0.0.1:*").await.unwrap();
    let wrong = Push::with_options(Options::default().with_plain_client("u", "wrong")).unwrap();
    wrong.connect(&at).await.unwrap();
    wait_until(|| plain.stats().auth_failures >= 1).await;
    assert!(plain.stats().handshake_failures >= 1);

    // A CURVE client with the wrong server key: its box does not open.
    let server = Keypair::generate();
    let curve = Pull::with_options(Options::default().with_curve_server(server)).unwrap();
    let at = curve.bind("tcp://127.0.0.1:*").await.unwrap();
    let stranger =
        Options::default().with_curve_client(Keypair::generate().public, Keypair::generate());
    let client = Push::with_options(stranger).unwrap();
    client.connect(&at).await.unwrap();
    wait_until(|| curve.stats().handshake_failures >= 1).await;
    assert_eq!(
        curve.stats().auth_failures,
        0,
        "not a refusal: a failed handshake"
    );

    // Nobody listens: the dialer retries.
    let mut quick = Options::default();
    quick.reconnect_interval = Duration::from_millis(10);
    let lonely = Push::with_options(quick).unwrap();
    lonely.connect(&unused_tcp_endpoint()).await.unwrap();
    wait_until(|| lonely.stats().connect_retries >= 3).await;
}
