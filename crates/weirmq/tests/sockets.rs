//! weirmq sockets against each other over tcp and ipc.

use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{Dealer, Error, Hwm, Message, MonitorEvent, Options, Pair, Pull, Push, TrySendError};

mod common;

use common::*;

fn ipc_endpoint(dir: &tempfile::TempDir, name: &str) -> String {
    format!("ipc://{}", dir.path().join(name).display())
}

async fn push_pull_round(push: &Push, pull: &Pull) {
    let big = Bytes::from(vec![0x5Au8; 1 << 20]);
    let msgs: Vec<Message> = vec![
        Message::from("hello"),
        ["a", "", "c"].into_iter().collect(),
        Message::from(big),
        Message::from(vec![1u8; 255]),
        Message::from(vec![2u8; 256]),
    ];
    for m in &msgs {
        within(push.send(m.clone())).await.unwrap();
    }
    for m in &msgs {
        assert_eq!(&within(pull.recv()).await.unwrap(), m);
    }
}

#[tokio::test]
async fn push_pull_tcp_both_directions() {
    let pull = Pull::new();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    assert!(
        ep.starts_with("tcp://127.0.0.1:") && !ep.ends_with(":0"),
        "{ep}"
    );
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    push_pull_round(&push, &pull).await;

    let push = Push::new();
    let ep = push.bind("tcp://127.0.0.1:*").await.unwrap();
    let pull = Pull::new();
    pull.connect(&ep).await.unwrap();
    push_pull_round(&push, &pull).await;
}

#[tokio::test]
async fn push_pull_tcp_ipv6() {
    let pull = Pull::new();
    let ep = pull.bind("tcp://[::1]:*").await.unwrap();
    assert!(ep.starts_with("tcp://[::1]:"), "{ep}");
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    push_pull_round(&push, &pull).await;
}

#[tokio::test]
async fn push_pull_ipc_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let pull = Pull::new();
    let ep = pull.bind(&ipc_endpoint(&dir, "a.sock")).await.unwrap();
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    push_pull_round(&push, &pull).await;

    let push = Push::new();
    let ep = push.bind(&ipc_endpoint(&dir, "b.sock")).await.unwrap();
    let pull = Pull::new();
    pull.connect(&ep).await.unwrap();
    push_pull_round(&push, &pull).await;
}

#[tokio::test]
async fn connect_before_bind_reconnects() {
    let ep = unused_tcp_endpoint();
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let pull = Pull::new();
    pull.bind(&ep).await.unwrap();
    within(push.send("late")).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("late"));
}

/// `recv` takes messages from the incoming queue in batches; those it has
/// not handed out yet still count as queued, not as received.
#[tokio::test]
async fn stats_count_a_received_batch_as_queued_until_handed_out() {
    let pull = Pull::new();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    for n in 0..10u8 {
        within(push.send(vec![n; 100])).await.unwrap();
    }
    wait_until(|| pull.stats().queued_in_messages == 10).await;
    assert_eq!(
        within(pull.recv()).await.unwrap(),
        Message::from(vec![0; 100])
    );
    let st = pull.stats();
    assert_eq!((st.received, st.queued_in_messages), (1, 9), "{st:?}");
    assert_eq!(st.queued_in_bytes, 900);
    for n in 1..10u8 {
        assert_eq!(pull.try_recv(), Some(Message::from(vec![n; 100])));
    }
    let st = pull.stats();
    assert_eq!((st.received, st.queued_in_messages), (10, 0), "{st:?}");
}

#[tokio::test]
async fn push_round_robins_over_pulls() {
    let push = Push::new();
    let ep = push.bind("tcp://127.0.0.1:*").await.unwrap();
    let pulls = [Pull::new(), Pull::new()];
    for p in &pulls {
        p.connect(&ep).await.unwrap();
    }
    wait_until(|| push.stats().peers >= 2).await;
    for i in 0..10u8 {
        push.send(vec![i]).await.unwrap();
    }
    for p in &pulls {
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(within(p.recv()).await.unwrap().frames()[0][0]);
        }
        assert!(
            got.windows(2).all(|w| w[1] == w[0] + 2),
            "alternating: {got:?}"
        );
    }
}

#[tokio::test]
async fn dealer_and_pair_talk_both_ways() {
    let a = Dealer::new();
    let ep = a.bind("tcp://127.0.0.1:*").await.unwrap();
    let b = Dealer::new();
    b.connect(&ep).await.unwrap();
    within(b.send(["", "req"].into_iter().collect::<Message>()))
        .await
        .unwrap();
    let got = within(a.recv()).await.unwrap();
    assert_eq!(got.len(), 2);
    within(a.send("rep")).await.unwrap();
    assert_eq!(within(b.recv()).await.unwrap(), Message::from("rep"));

    let a = Pair::new();
    let ep = a.bind("tcp://127.0.0.1:*").await.unwrap();
    let b = Pair::new();
    b.connect(&ep).await.unwrap();
    within(a.send("x")).await.unwrap();
    assert_eq!(within(b.recv()).await.unwrap(), Message::from("x"));
    within(b.send("y")).await.unwrap();
    assert_eq!(within(a.recv()).await.unwrap(), Message::from("y"));
}

/// A PAIR has one peer (RFC 31): a second is refused while the first is
/// connected (libzmq's PAIR refuses it too), and once the first leaves,
/// the second gets in on its next try.
#[tokio::test]
async fn a_pair_refuses_a_second_peer_while_it_has_one() {
    let a = Pair::new();
    let mut events = a.monitor();
    let ep = a.bind("tcp://127.0.0.1:*").await.unwrap();
    let first = Pair::new();
    first.connect(&ep).await.unwrap();
    within(first.send("first")).await.unwrap();
    assert_eq!(within(a.recv()).await.unwrap(), Message::from("first"));
    let second = Pair::new();
    second.connect(&ep).await.unwrap();
    let reason = first_event(&mut events, |e| match e {
        MonitorEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert!(reason.contains("PAIR has one"), "{reason}");
    assert_eq!(a.stats().peers, 1);
    // Everything still goes to the first.
    within(a.send("to the first")).await.unwrap();
    assert_eq!(
        within(first.recv()).await.unwrap(),
        Message::from("to the first")
    );
    assert!(second.try_recv().is_none());
    drop(first);
    within(second.send("second")).await.unwrap();
    assert_eq!(within(a.recv()).await.unwrap(), Message::from("second"));
}

#[tokio::test]
async fn send_without_peers_times_out_and_try_send_hands_back() {
    let push = Push::with_options(Options::default().with_send_timeout(Duration::from_millis(50)))
        .unwrap();
    let err = push.send("nobody").await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    let Err(TrySendError::Full(m)) = push.try_send("nobody") else {
        panic!()
    };
    assert_eq!(m, Message::from("nobody"));
}

#[tokio::test]
async fn recv_times_out() {
    let pull = Pull::with_options(Options::default().with_recv_timeout(Duration::from_millis(30)))
        .unwrap();
    assert!(matches!(pull.recv().await, Err(Error::Timeout(_))));
}

#[tokio::test]
async fn empty_messages_are_refused() {
    let push = Push::new();
    assert!(matches!(
        push.send(Message::new()).await,
        Err(Error::EmptyMessage)
    ));
}

#[tokio::test]
async fn zero_hwm_is_refused_with_a_clear_message() {
    let err = Hwm::new(0, 100).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid option: HWM messages must be at least 1"
    );
}

/// The queue promise: PUSH floods a PULL that does not read. Every queue
/// stays within its HWM, the sender is held back (try_send says Full), and
/// once the consumer reads, every message accepted arrives: none is lost.
#[tokio::test]
async fn flood_into_a_stalled_pull_stays_bounded_and_loses_nothing() {
    let hwm = Hwm::new(100, 1 << 20).unwrap();
    let pull = Pull::with_options(Options::default().with_hwm(hwm)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::with_options(Options::default().with_hwm(hwm)).unwrap();
    push.connect(&ep).await.unwrap();
    wait_until(|| push.stats().peers > 0).await;

    let body = Bytes::from(vec![7u8; 1024]);
    // The pipes, the engines' buffers and both kernels' socket buffers fill.
    let accepted = offer_until_refused(|m| push.try_send(m), |_| body.clone()).await;
    let (sent, received) = (push.stats(), pull.stats());
    assert!(sent.queued_out_messages <= 100, "{sent:?}");
    assert!(received.queued_in_messages <= 100, "{received:?}");
    assert!(received.queued_in_bytes <= 100 * 1024, "{received:?}");
    assert_eq!(received.received, 0);

    for i in 0..accepted {
        let m = within(pull.recv())
            .await
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
        assert_eq!(m.frames()[0], body);
    }
    assert!(pull.try_recv().is_none());
    assert_eq!(pull.stats().received, accepted);
}

/// A connecting PUSH keeps what it had queued for a peer that went away and
/// delivers it to the peer that takes over the endpoint, in order.
#[tokio::test]
async fn queued_messages_survive_a_reconnect() {
    let hwm = Hwm::new(10, 1 << 20).unwrap();
    let first = Pull::with_options(Options::default().with_hwm(hwm)).unwrap();
    let ep = first.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::with_options(Options::default().with_hwm(hwm)).unwrap();
    push.connect(&ep).await.unwrap();
    wait_until(|| push.stats().peers > 0).await;
    // Fill everything between us and the stalled first PULL.
    let next = offer_until_refused(
        |m| push.try_send(m),
        |n| {
            let mut body = n.to_le_bytes().to_vec();
            body.resize(16 * 1024, 0);
            body
        },
    )
    .await;
    let queued = push.stats().queued_out_messages;
    assert!(queued > 0, "messages must be waiting at the sender");
    drop(first);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = Pull::new();
    second.bind(&ep).await.unwrap();
    let mut got = Vec::new();
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(500), second.recv()).await {
        got.push(u64::from_le_bytes(m.frames()[0][..8].try_into().unwrap()));
    }
    assert!(
        got.len() >= queued,
        "at least the {queued} queued messages arrive: {}",
        got.len()
    );
    assert_eq!(got.last(), Some(&(next - 1)), "the newest message arrives");
    assert!(
        got.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, no gaps or duplicates"
    );
    // The one message the first PULL got part of, if any, is lost and
    // counted (it may be one a peer refused: it is not sent again).
    assert!(push.stats().lost <= 1, "{:?}", push.stats());
}

/// libzmq CVE-2020-15166: idle, unauthenticated connections must not keep a
/// real client out. Past the cap, the oldest connection still in its
/// handshake is evicted, so a real peer (whose handshake takes milliseconds)
/// gets in however many idle connections an attacker holds open.
#[tokio::test]
async fn idle_connections_cannot_starve_a_real_client() {
    use tokio::io::AsyncReadExt;
    let pull = Pull::with_options(Options::default().with_max_handshaking(4)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let addr = ep.trim_start_matches("tcp://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    within(push.send("real")).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("real"));
    assert!(pull.stats().evicted >= 16, "{:?}", pull.stats());
    // The oldest idle connection was closed by us: after our greeting, EOF.
    let mut buf = [0u8; 128];
    let mut got = 0;
    loop {
        match within(idle[0].read(&mut buf)).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert_eq!(got, 64, "only our greeting was sent before the eviction");
}

#[tokio::test]
async fn monitor_reports_the_life_of_a_connection() {
    use weirmq::MonitorEvent;
    let pull = Pull::new();
    let mut pull_events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    let mut push_events = push.monitor();
    push.connect(&ep).await.unwrap();
    within(push.send("x")).await.unwrap();
    within(pull.recv()).await.unwrap();

    assert_eq!(
        within(pull_events.recv()).await,
        Some(MonitorEvent::Listening {
            endpoint: ep.clone()
        })
    );
    assert!(matches!(
        within(pull_events.recv()).await,
        Some(MonitorEvent::Accepted { .. })
    ));
    assert!(matches!(
        within(pull_events.recv()).await,
        Some(MonitorEvent::HandshakeSucceeded {
            socket_type: Some(weirmq::SocketType::Push),
            ..
        })
    ));
    assert_eq!(
        within(push_events.recv()).await,
        Some(MonitorEvent::Connected {
            endpoint: ep.clone()
        })
    );
    assert!(matches!(
        within(push_events.recv()).await,
        Some(MonitorEvent::HandshakeSucceeded { .. })
    ));

    drop(push);
    let Some(MonitorEvent::Disconnected { reason, .. }) = within(pull_events.recv()).await else {
        panic!("expected a disconnect");
    };
    assert_eq!(reason, "closed by the peer");
    assert_eq!(pull_events.missed(), 0);
}

#[tokio::test]
async fn monitor_reports_why_a_handshake_failed_and_retries() {
    use weirmq::MonitorEvent;
    // A PUSH cannot talk to a PUSH: both sides refuse the handshake.
    let a = Push::new();
    let mut events = a.monitor();
    let ep = a.bind("tcp://127.0.0.1:*").await.unwrap();
    let b = Push::new();
    b.connect(&ep).await.unwrap();
    let reason = within(async {
        loop {
            if let Some(MonitorEvent::HandshakeFailed { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await;
    assert!(reason.contains("incompatible socket types"), "{reason}");

    // Connecting where nobody listens: retries, with backoff, reported.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Push::new();
    let mut events = c.monitor();
    c.connect(&format!("tcp://127.0.0.1:{port}")).await.unwrap();
    let Some(MonitorEvent::ConnectRetried { delay, .. }) = within(events.recv()).await else {
        panic!()
    };
    assert_eq!(delay, Duration::from_millis(100));
    let Some(MonitorEvent::ConnectRetried { delay, .. }) = within(events.recv()).await else {
        panic!()
    };
    assert_eq!(delay, Duration::from_millis(200), "the delay doubles");
}

#[tokio::test]
async fn inproc_in_both_orders_and_names_are_exclusive() {
    let pull = Pull::new();
    let ep = pull.bind("inproc://sockets-test-a").await.unwrap();
    assert_eq!(ep, "inproc://sockets-test-a");
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    push_pull_round(&push, &pull).await;

    let taken = Pull::new();
    let err = taken.bind("inproc://sockets-test-a").await.unwrap_err();
    assert!(
        err.to_string().contains("bind inproc://sockets-test-a"),
        "{err}"
    );

    // Connect first: the connector retries until the name is bound.
    let push = Push::new();
    push.connect("inproc://sockets-test-b").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let pull = Pull::new();
    pull.bind("inproc://sockets-test-b").await.unwrap();
    push_pull_round(&push, &pull).await;

    // Once the binder is gone, the name is free again.
    drop(pull);
    let again = Pull::new();
    within(async {
        while again.bind("inproc://sockets-test-b").await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn disconnect_and_unbind_end_their_connections() {
    let pull = Pull::new();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::with_options(Options::default().with_send_timeout(Duration::from_millis(100)))
        .unwrap();
    push.connect(&ep).await.unwrap();
    within(push.send("one")).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("one"));

    push.disconnect(&ep).unwrap();
    wait_until(|| push.stats().peers == 0).await;
    assert!(matches!(push.send("nobody").await, Err(Error::Timeout(_))));
    assert!(push.disconnect(&ep).is_err(), "already disconnected");

    // Reconnect, then unbind on the other side: the connection ends and no
    // new one is accepted.
    push.connect(&ep).await.unwrap();
    within(push.send("two")).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("two"));
    pull.unbind(&ep).unwrap();
    wait_until(|| pull.stats().peers == 0 && push.stats().peers == 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(push.stats().peers, 0, "the unbound endpoint accepts no one");
    assert!(pull.unbind(&ep).is_err());
    assert_eq!(pull.last_endpoint(), None);
}

#[tokio::test]
async fn conflate_keeps_the_latest_value() {
    let pull = Pull::with_options(Options::default().with_conflate(true)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    for i in 0..100u8 {
        within(push.send(vec![i])).await.unwrap();
    }
    // Wait until every value has landed: each was replaced or is the one
    // left in the queue.
    within(async {
        loop {
            let st = pull.stats();
            if st.dropped + st.queued_in_messages as u64 == 100 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(
        within(pull.recv()).await.unwrap(),
        Message::from(vec![99u8])
    );
    assert!(pull.try_recv().is_none());
    assert_eq!(pull.stats().dropped, 99, "replaced values are counted");
}

#[tokio::test]
async fn router_handover_gives_the_id_to_the_newcomer() {
    use weirmq::{Dealer, Router};
    let router = Router::with_options(Options::default().with_router_handover(true)).unwrap();
    let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let old = Dealer::with_options(Options::default().with_routing_id("id")).unwrap();
    old.connect(&ep).await.unwrap();
    within(old.send("from old")).await.unwrap();
    within(router.recv()).await.unwrap();
    let new = Dealer::with_options(Options::default().with_routing_id("id")).unwrap();
    new.connect(&ep).await.unwrap();
    within(new.send("from new")).await.unwrap();
    assert_eq!(within(router.recv()).await.unwrap().frames()[1], "from new");
    within(router.send(["id", "to whoever has id"].into_iter().collect::<Message>()))
        .await
        .unwrap();
    assert_eq!(
        within(new.recv()).await.unwrap(),
        Message::from("to whoever has id")
    );
}

#[tokio::test]
async fn close_waits_for_queued_messages_to_be_written() {
    let pull = Pull::new();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::new();
    push.connect(&ep).await.unwrap();
    for i in 0..500u32 {
        within(push.send(i.to_be_bytes().to_vec())).await.unwrap();
    }
    within(push.close()).await;
    for i in 0..500u32 {
        assert_eq!(
            within(pull.recv()).await.unwrap(),
            Message::from(i.to_be_bytes().to_vec())
        );
    }
}

#[tokio::test]
async fn immediate_false_queues_for_an_endpoint_not_reached_yet() {
    let ep = unused_tcp_endpoint();
    let push = Push::with_options(
        Options::default()
            .with_immediate(false)
            .with_send_timeout(Duration::from_millis(100)),
    )
    .unwrap();
    push.connect(&ep).await.unwrap();
    // Nobody listens yet, and the message is queued anyway.
    within(push.send("early")).await.unwrap();
    assert_eq!(push.stats().queued_out_messages, 1);
    let pull = Pull::new();
    pull.bind(&ep).await.unwrap();
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("early"));

    // With immediate (the default) the same send waits for a connection.
    let push = Push::with_options(Options::default().with_send_timeout(Duration::from_millis(100)))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    push.connect(&format!("tcp://127.0.0.1:{port}"))
        .await
        .unwrap();
    assert!(matches!(push.send("early").await, Err(Error::Timeout(_))));
}

#[tokio::test]
async fn invalid_protocol_options_are_refused_at_construction() {
    use weirmq::Dealer;
    let err = Dealer::with_options(Options::default().with_routing_id(vec![1u8; 256])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid option: routing id of 256 octets is too long (at most 255)"
    );
    assert!(Dealer::with_options(Options::default().with_routing_id("\0reserved")).is_err());
    let mut hb = weirmq::Heartbeat::new(Duration::from_secs(1));
    hb.ttl = Some(Duration::from_secs(7000));
    assert!(Pull::with_options(Options::default().with_heartbeat(hb)).is_err());
}

/// A PUSH that is dropped right after its last send still delivers every
/// message it accepted, over tcp and ipc, to a PULL whose small queue keeps
/// filling up: the receiving engine must decode what it has read before it
/// heeds the end of the stream. (The pipeline demo's workers end this way;
/// their last results used to vanish, uncounted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_push_delivers_everything_it_accepted() {
    const N: u32 = 30_000;
    let dir = tempfile::tempdir().unwrap();
    for ep in [
        "tcp://127.0.0.1:*".to_string(),
        ipc_endpoint(&dir, "d.sock"),
    ] {
        let pull =
            Pull::with_options(Options::default().with_hwm(Hwm::new(8, 1 << 20).unwrap())).unwrap();
        let ep = pull.bind(&ep).await.unwrap();
        let senders: Vec<_> = (0..2u8)
            .map(|id| {
                let ep = ep.clone();
                tokio::spawn(async move {
                    let push = Push::new();
                    push.connect(&ep).await.unwrap();
                    for n in 0..N {
                        let mut body = vec![id];
                        body.extend_from_slice(&n.to_le_bytes());
                        within(push.send(body)).await.unwrap();
                    }
                    within(push.send(vec![id, b'E'])).await.unwrap();
                    // Dropped here, with messages still queued and in flight.
                })
            })
            .collect();
        let mut next = [0u32; 2];
        let mut ends = 0;
        let mut got = 0u32;
        while ends < 2 {
            let m = tokio::time::timeout(Duration::from_secs(5), pull.recv())
                .await
                .unwrap_or_else(|_| panic!("{ep}: stuck after {next:?} of {N} each"))
                .unwrap();
            got += 1;
            if got % 64 == 0 {
                // A receiver a little slower than its senders.
                tokio::task::yield_now().await;
            }
            let f = &m.frames()[0];
            let id = usize::from(f[0]);
            if f.len() == 2 {
                assert_eq!(next[id], N, "{ep}: sender {id} ended early");
                ends += 1;
                continue;
            }
            let n = u32::from_le_bytes(f[1..5].try_into().unwrap());
            assert_eq!(n, next[id], "{ep}: sender {id} lost or reordered");
            next[id] += 1;
        }
        for s in senders {
            s.await.unwrap();
        }
        assert_eq!(pull.stats().lost, 0);
    }
}

/// What a PUSH holds for a stalled peer, in octets: its queue's byte HWM,
/// plus the engine's write batches and one message in flight, not a second
/// HWM's worth taken out of the queue in one go. Over inproc (a Unix socket
/// pair, whose kernel buffers hold a few hundred KiB at the defaults), to a
/// PULL that holds one message.
#[tokio::test]
async fn a_stalled_peer_costs_the_sender_one_hwm_of_octets() {
    const BODY: usize = 256 * 1024;
    const HWM_BYTES: usize = 4 << 20;
    let pull = Pull::with_options(Options::default().with_hwm(Hwm::new(1, 1).unwrap())).unwrap();
    pull.bind("inproc://stalled-peer-octets").await.unwrap();
    let push = Push::with_options(Options::default().with_hwm(Hwm::new(1000, HWM_BYTES).unwrap()))
        .unwrap();
    push.connect("inproc://stalled-peer-octets").await.unwrap();
    wait_until(|| push.stats().peers > 0).await;
    let body = Bytes::from(vec![7u8; BODY]);
    let accepted = offer_until_refused(|m| push.try_send(m), |_| body.clone()).await;
    let queued = push.stats().queued_out_messages;
    // The sender's queue, its engine's write batches (2 x 128 KiB) and one
    // message beyond; the stream; the receiver's queue (one message), its
    // engine's batch (64 KiB, plus one message) and input buffer (one
    // frame). Generous: 2 MiB past the sender's HWM.
    let beyond = (accepted as usize * BODY).saturating_sub(HWM_BYTES);
    assert!(
        beyond <= 2 << 20,
        "accepted {accepted} messages of {BODY} octets, {queued} of them queued: \
         {beyond} octets beyond the {HWM_BYTES}-octet HWM"
    );
}

/// A linger of `Duration::MAX` (libzmq's default, -1, is "forever") makes
/// close wait for the peer like any other: every message accepted arrives
/// once the peer reads.
#[tokio::test]
async fn close_with_an_endless_linger_delivers_everything() {
    let hwm = Hwm::new(10, 1 << 20).unwrap();
    let pull = Pull::with_options(Options::default().with_hwm(hwm)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push =
        Push::with_options(Options::default().with_hwm(hwm).with_linger(Duration::MAX)).unwrap();
    push.connect(&ep).await.unwrap();
    wait_until(|| push.stats().peers > 0).await;
    // Everything between the sockets fills; the PULL reads after the close.
    let accepted = offer_until_refused(
        |m| push.try_send(m),
        |n| {
            let mut body = n.to_le_bytes().to_vec();
            body.resize(1024, 0);
            body
        },
    )
    .await;
    let closing = tokio::spawn(push.close());
    for n in 0..accepted {
        let m = within(pull.recv())
            .await
            .unwrap_or_else(|e| panic!("message {n} of {accepted}: {e}"));
        assert_eq!(m.frames()[0][..8], n.to_le_bytes());
    }
    within(closing).await.unwrap();
}
