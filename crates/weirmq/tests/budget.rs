//! One memory budget per socket for incoming data (`Options::recv_budget`)
//! and the cap on accepted connections (`Options::max_connections`): what
//! a stalled application can be made to hold, who gets room when it frees
//! up, that large messages always finish, and that every octet counted is
//! given back. (What it means for the process's memory is measured in
//! `budget_memory.rs`.)

mod common;

use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use common::{T, first_event, wait_until, within};
use weirmq::{Dealer, Error, Hwm, MonitorEvent, Options, Pub, Pull, Push, Rep, Req, Router, Sub};

/// A receiving socket's options: a small budget, messages of up to 256 KiB
/// (so the budget may be as small as 1 MiB), and lanes that a budget of
/// that size fills long before their HWM.
fn small_budget(budget: usize) -> Options {
    Options::default()
        .with_max_message_size(256 * 1024)
        .with_recv_budget(budget)
        .with_hwm(Hwm::new(1_000_000, 1 << 30).unwrap())
}

/// Waits until `value` has stayed the same for 100 ms (the senders are held
/// back), and returns it.
async fn steady(value: impl Fn() -> usize) -> usize {
    within(async {
        loop {
            let before = value();
            tokio::time::sleep(Duration::from_millis(100)).await;
            if value() == before {
                return before;
            }
        }
    })
    .await
}

/// Runs `peers` on a runtime of its own, on its own thread, as peers in
/// another process would be: a sender that never has to wait (its queue
/// has room) never yields its thread, and would otherwise hold up the
/// receiving socket's connections behind it on the test's runtime.
fn elsewhere<F>(peers: F) -> std::thread::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
            .block_on(peers)
    })
}

/// A message `seq` of sender `from`, `len` octets.
fn numbered(from: u8, seq: u32, len: usize) -> Bytes {
    let mut body = vec![from; len.max(5)];
    body[1..5].copy_from_slice(&seq.to_be_bytes());
    Bytes::from(body)
}

fn sender_and_seq(frame: &[u8]) -> (u8, u32) {
    (
        frame[0],
        u32::from_be_bytes(frame[1..5].try_into().unwrap()),
    )
}

#[test]
fn a_budget_too_small_for_the_largest_message_is_refused_with_a_reason() {
    let options = Options::default().with_recv_budget(20 << 20);
    let Err(Error::InvalidOption(reason)) = Pull::with_options(options) else {
        panic!("a 20 MiB budget cannot finish a 16 MiB message and hold anything else");
    };
    assert!(reason.contains("twice max_message_size"), "{reason}");
    assert!(Pull::with_options(Options::default().with_max_connections(0)).is_err());
    assert!(Pull::with_options(small_budget(1 << 20)).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_application_holds_at_most_the_budget_and_loses_nothing() {
    const BUDGET: usize = 2 << 20;
    const EACH: u32 = 3000;
    let pull = Pull::with_options(small_budget(BUDGET)).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let senders = elsewhere({
        let endpoint = endpoint.clone();
        async move {
            let mut pushes = Vec::new();
            for from in 0..4u8 {
                let push = Push::new();
                push.connect(&endpoint).await.unwrap();
                pushes.push(tokio::spawn(async move {
                    for seq in 0..EACH {
                        push.send(numbered(from, seq, 1024)).await.unwrap();
                    }
                    push.close().await;
                }));
            }
            for push in pushes {
                push.await.unwrap();
            }
        }
    });
    // Four times 3 MiB offered to a 2 MiB budget that nobody reads from.
    let queued = steady(|| pull.stats().queued_in_bytes).await;
    let st = pull.stats();
    assert!(queued <= BUDGET, "queued {queued} octets: {st:?}");
    assert!(st.recv_budget_used <= BUDGET, "{st:?}");
    assert!(queued >= BUDGET / 2, "the budget is used: {st:?}");
    // Everything arrives, in order per sender.
    let mut next = [0u32; 4];
    for _ in 0..4 * EACH {
        let msg = within(pull.recv()).await.unwrap();
        let (from, seq) = sender_and_seq(&msg.frames()[0]);
        assert_eq!(seq, next[from as usize], "sender {from}");
        next[from as usize] += 1;
    }
    senders.join().unwrap();
    assert_eq!(pull.stats().lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_that_frees_up_goes_to_the_peer_holding_the_least() {
    const BUDGET: usize = 2 << 20;
    const LIGHT: u32 = 20;
    let pull = Pull::with_options(small_budget(BUDGET)).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let mut events = pull.monitor();
    let (stop_heavy, heavy_stops) = tokio::sync::oneshot::channel::<()>();
    let (stop_light, light_stops) = tokio::sync::oneshot::channel::<()>();
    let heavy = elsewhere({
        let endpoint = endpoint.clone();
        async move {
            let heavy = Push::new();
            heavy.connect(&endpoint).await.unwrap();
            let flooding = async {
                for seq in 0..50_000 {
                    heavy.send(numbered(0, seq, 1024)).await.unwrap();
                }
            };
            tokio::select! {
                _ = flooding => {}
                _ = heavy_stops => {}
            }
        }
    });
    // The budget is spent on the heavy peer before the light one comes.
    steady(|| pull.stats().recv_budget_used).await;
    assert!(pull.stats().recv_budget_used >= BUDGET / 2);
    // (The heavy one's handshake.)
    first_event(&mut events, |e| {
        matches!(e, MonitorEvent::HandshakeSucceeded { .. }).then_some(())
    })
    .await;
    let heavy_queued = pull.stats().queued_in_messages;
    let used = pull.stats().recv_budget_used;
    // Each of the light one's messages is larger than its own read
    // allowance: it needs room from the budget for every one.
    let light = elsewhere({
        let endpoint = endpoint.clone();
        async move {
            let light = Push::new();
            light.connect(&endpoint).await.unwrap();
            for seq in 0..LIGHT {
                light.send(numbered(1, seq, 64 * 1024)).await.unwrap();
            }
            let _ = light_stops.await;
        }
    });
    // The light one is in, held back (not one message fits what it may
    // hold without the budget), and waits for room.
    first_event(&mut events, |e| {
        matches!(e, MonitorEvent::HandshakeSucceeded { .. }).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let st = pull.stats();
    assert_eq!(st.queued_in_messages, heavy_queued, "{st:?}");
    assert_eq!(st.recv_budget_used, used, "{st:?}");
    // Each message taken frees room, which goes to the light peer first:
    // one of its messages comes in for about every 64 of the heavy one's.
    // (Read in bursts, with pauses in which both peers come to wait for
    // room: then the order in which they get it is what counts.)
    let mut reads = 0;
    let mut light_got = 0;
    while light_got < LIGHT {
        if reads % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let msg = within(pull.recv()).await.unwrap();
        reads += 1;
        if msg.frames()[0][0] == 1 {
            light_got += 1;
        }
        assert!(
            reads <= 4000,
            "after {reads} messages the light peer had {light_got} of its {LIGHT} in: \
             the room freed went to the heavy one"
        );
    }
    println!("the light peer's {LIGHT} messages were in after {reads} reads");
    stop_heavy.send(()).unwrap();
    stop_light.send(()).unwrap();
    heavy.join().unwrap();
    light.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_from_many_peers_all_finish_within_a_small_budget() {
    // Room for two 256 KiB messages and their margin: eight peers sending
    // 256 KiB messages at once would each hold part of one and wait for
    // each other forever, were one not kept room to finish.
    const MESSAGE: usize = 256 * 1024;
    let router = Router::with_options(small_budget(1 << 20)).unwrap();
    let endpoint = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let (go, going) = tokio::sync::oneshot::channel::<()>();
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let peers = elsewhere({
        let endpoint = endpoint.clone();
        async move {
            let mut dealers = Vec::new();
            for _ in 0..8u8 {
                let dealer = Dealer::new();
                dealer.connect(&endpoint).await.unwrap();
                dealers.push(dealer);
            }
            going.await.unwrap();
            // All at once.
            for (from, dealer) in dealers.iter().enumerate() {
                let from = from as u8;
                dealer.send(numbered(from, 0, MESSAGE)).await.unwrap();
                // And one in four frames.
                let frames: weirmq::Message = (1..=4u32)
                    .map(|i| numbered(from, i, MESSAGE / 4))
                    .collect::<Vec<_>>()
                    .into();
                dealer.send(frames).await.unwrap();
            }
            let _ = finished.await;
        }
    });
    wait_until(|| router.stats().peers == 8).await;
    go.send(()).unwrap();
    let mut got = [0; 8];
    for _ in 0..16 {
        let msg = within(router.recv()).await.unwrap();
        let body = &msg.frames()[1..];
        let total: usize = body.iter().map(|f| f.len()).sum();
        assert_eq!(total, MESSAGE);
        let (from, _) = sender_and_seq(&body[0]);
        got[from as usize] += 1;
    }
    assert_eq!(got, [2; 8]);
    done.send(()).unwrap();
    peers.join().unwrap();
}

/// Every octet counted in the budget is given back once the application
/// has taken everything (and asked for more, which ends its last batch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_is_all_given_back_once_everything_is_received() {
    // PUSH to PULL: small, middling and large messages.
    let pull = Pull::new();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    push.connect(&endpoint).await.unwrap();
    let sizes = [16usize, 1024, 100_000, 3];
    for i in 0..400 {
        push.send(vec![7u8; sizes[i % sizes.len()]]).await.unwrap();
    }
    for _ in 0..400 {
        within(pull.recv()).await.unwrap();
    }
    assert!(pull.try_recv().is_none());
    wait_until(|| pull.stats().recv_budget_used == 0).await;

    // DEALER to ROUTER: the routing id put in front is counted too.
    let router = Router::new();
    let endpoint = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let dealer = Dealer::new();
    dealer.connect(&endpoint).await.unwrap();
    for _ in 0..200 {
        let msg: weirmq::Message = ["a", "bb", "ccc"].into_iter().collect();
        dealer.send(msg).await.unwrap();
    }
    for _ in 0..200 {
        within(router.recv()).await.unwrap();
    }
    assert!(router.try_recv().is_none());
    wait_until(|| router.stats().recv_budget_used == 0).await;

    // PUB to SUB: what the subscriber filters out goes back at once.
    let publisher = Pub::new();
    let endpoint = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = Sub::new();
    sub.subscribe("yes").unwrap();
    sub.connect(&endpoint).await.unwrap();
    wait_until(|| publisher.stats().peers == 1).await;
    while publisher.try_send("yes probe").is_ok() && sub.try_recv().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for i in 0..300 {
        let topic = if i % 3 == 0 { "yes" } else { "no" };
        publisher
            .send(format!("{topic} {i}").into_bytes())
            .await
            .unwrap();
    }
    publisher.send("yes end").await.unwrap();
    while within(sub.recv()).await.unwrap() != weirmq::Message::from("yes end") {}
    assert!(sub.try_recv().is_none());
    wait_until(|| sub.stats().recv_budget_used == 0).await;

    // REQ and REP, whose replies and requests are read through.
    let rep = Rep::new();
    let endpoint = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let req = Req::new();
    req.connect(&endpoint).await.unwrap();
    for _ in 0..50 {
        req.send("ping").await.unwrap();
        let request = within(rep.recv()).await.unwrap();
        rep.send(request).await.unwrap();
        within(req.recv()).await.unwrap();
    }
    wait_until(|| rep.stats().recv_budget_used == 0 && req.stats().recv_budget_used == 0).await;

    // Conflate: what a newer message replaces goes back too.
    let latest = Pull::with_options(Options::default().with_conflate(true)).unwrap();
    let endpoint = latest.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    push.connect(&endpoint).await.unwrap();
    for i in 0..500u32 {
        push.send(i.to_be_bytes().to_vec()).await.unwrap();
    }
    wait_until(|| latest.stats().dropped > 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    while latest.try_recv().is_some() {}
    assert!(latest.try_recv().is_none());
    wait_until(|| latest.stats().recv_budget_used == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once_and_counted() {
    let pull = Pull::with_options(Options::default().with_max_connections(2)).unwrap();
    let mut events = pull.monitor();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let first = Push::new();
    let second = Push::new();
    for push in [&first, &second] {
        push.connect(&endpoint).await.unwrap();
        first_event(&mut events, |e| {
            matches!(e, MonitorEvent::HandshakeSucceeded { .. }).then_some(())
        })
        .await;
    }
    let third = Push::new();
    third.connect(&endpoint).await.unwrap();
    let reason = first_event(&mut events, |e| match e {
        MonitorEvent::ConnectionRejected { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert!(reason.contains("max_connections"), "{reason}");
    assert!(pull.stats().rejected >= 1);
    // One leaves, and the third gets in on its next try.
    drop(first);
    third.send("third").await.unwrap();
    let got = tokio::time::timeout(T, pull.recv()).await.unwrap().unwrap();
    assert_eq!(got, weirmq::Message::from("third"));
}
