//! weirmq against real libzmq 4.3, both directions, weirmq binding and
//! libzmq connecting and the reverse, over tcp and ipc.

use std::time::Duration;
use weirmq::prelude::*;

use weirmq::{Dealer, Heartbeat, Message, Options, Pair, Pull, Push};
use weirmq_interop::*;

/// Runs the libzmq side on a blocking thread.
async fn libzmq<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    within(tokio::task::spawn_blocking(f))
        .await
        .expect("libzmq side panicked")
}

#[test]
fn libzmq_is_4_3_with_curve() {
    let (major, minor, _) = zmq::version();
    assert_eq!(
        (major, minor),
        (4, 3),
        "the interop suite targets libzmq 4.3"
    );
    assert!(
        zmq::has("curve").unwrap_or(false),
        "libzmq must be built with CURVE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_push_to_libzmq_pull() {
    let dir = tempfile::tempdir().unwrap();
    for transport in Transport::ALL {
        for weirmq_binds in [true, false] {
            let ctx = zmq::Context::new();
            let pull = zmq_socket(&ctx, zmq::PULL);
            let push = Push::new();
            let name = format!("pp-{weirmq_binds}.sock");
            if weirmq_binds {
                let ep = push
                    .bind(&transport.bind_endpoint(&dir, &name))
                    .await
                    .unwrap();
                pull.connect(&ep).unwrap();
            } else {
                pull.bind(&transport.bind_endpoint(&dir, &name)).unwrap();
                push.connect(&zmq_last_endpoint(&pull)).await.unwrap();
            }
            for m in test_messages() {
                within(push.send(m)).await.unwrap();
            }
            let got = libzmq(move || {
                test_messages()
                    .iter()
                    .map(|_| zmq_recv(&pull))
                    .collect::<Vec<_>>()
            })
            .await;
            assert_eq!(
                got,
                test_messages(),
                "{transport:?}, weirmq binds: {weirmq_binds}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_push_to_weirmq_pull() {
    let dir = tempfile::tempdir().unwrap();
    for transport in Transport::ALL {
        for weirmq_binds in [true, false] {
            let ctx = zmq::Context::new();
            let push = zmq_socket(&ctx, zmq::PUSH);
            let pull = Pull::new();
            let name = format!("lp-{weirmq_binds}.sock");
            if weirmq_binds {
                let ep = pull
                    .bind(&transport.bind_endpoint(&dir, &name))
                    .await
                    .unwrap();
                push.connect(&ep).unwrap();
            } else {
                push.bind(&transport.bind_endpoint(&dir, &name)).unwrap();
                pull.connect(&zmq_last_endpoint(&push)).await.unwrap();
            }
            let sender = libzmq(move || {
                for m in test_messages() {
                    zmq_send(&push, &m);
                }
                push
            });
            let _push = sender.await;
            for m in test_messages() {
                assert_eq!(
                    within(pull.recv()).await.unwrap(),
                    m,
                    "{transport:?}, weirmq binds: {weirmq_binds}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_dealer_with_libzmq_router_sees_our_routing_id() {
    let ctx = zmq::Context::new();
    let router = zmq_socket(&ctx, zmq::ROUTER);
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&router);
    let dealer = Dealer::with_options(Options::default().with_routing_id("weirmq-1")).unwrap();
    dealer.connect(&ep).await.unwrap();
    within(dealer.send(["", "request"].into_iter().collect::<Message>()))
        .await
        .unwrap();
    let router = libzmq(move || {
        let got = zmq_recv(&router);
        assert_eq!(got.frames()[0], "weirmq-1", "ROUTER must see our Identity");
        assert_eq!(got.frames()[2], "request");
        let reply: Message = [got.frames()[0].clone(), "".into(), "reply".into()]
            .into_iter()
            .collect();
        zmq_send(&router, &reply);
        router
    })
    .await;
    assert_eq!(
        within(dealer.recv()).await.unwrap(),
        ["", "reply"].into_iter().collect::<Message>()
    );
    drop(router);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_dealer_and_weirmq_dealer() {
    let dealer = Dealer::new();
    let ep = dealer.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let theirs = zmq_socket(&ctx, zmq::DEALER);
    theirs.connect(&ep).unwrap();
    let theirs = libzmq(move || {
        for m in test_messages() {
            zmq_send(&theirs, &m);
        }
        theirs
    })
    .await;
    for m in test_messages() {
        assert_eq!(within(dealer.recv()).await.unwrap(), m);
    }
    for m in test_messages() {
        within(dealer.send(m)).await.unwrap();
    }
    let got = libzmq(move || {
        test_messages()
            .iter()
            .map(|_| zmq_recv(&theirs))
            .collect::<Vec<_>>()
    })
    .await;
    assert_eq!(got, test_messages());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_with_libzmq_pair_over_ipc() {
    let dir = tempfile::tempdir().unwrap();
    let ours = Pair::new();
    let ep = ours
        .bind(&Transport::Ipc.bind_endpoint(&dir, "pair.sock"))
        .await
        .unwrap();
    let ctx = zmq::Context::new();
    let theirs = zmq_socket(&ctx, zmq::PAIR);
    theirs.connect(&ep).unwrap();
    within(ours.send("ping")).await.unwrap();
    let theirs = libzmq(move || {
        assert_eq!(zmq_recv(&theirs), Message::from("ping"));
        zmq_send(&theirs, &Message::from("pong"));
        theirs
    })
    .await;
    assert_eq!(within(ours.recv()).await.unwrap(), Message::from("pong"));
    drop(theirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_with_libzmq_keep_an_idle_connection_up() {
    // Both sides PING every 100 ms and give up 300 ms after an unanswered
    // PING. The connection then sits idle for 1.5 s: if either side failed to
    // answer the other's PINGs, libzmq's monitor would report a disconnect
    // (and a second handshake after its reconnect).
    let mut hb = Heartbeat::new(Duration::from_millis(100));
    hb.timeout = Duration::from_millis(300);
    hb.ttl = Some(Duration::from_millis(500));
    let pull = Pull::with_options(Options::default().with_heartbeat(hb)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let push = zmq_socket(&ctx, zmq::PUSH);
    push.set_heartbeat_ivl(100).unwrap();
    push.set_heartbeat_timeout(300).unwrap();
    push.set_heartbeat_ttl(500).unwrap();
    let mon = zmq_monitor(&ctx, &push, "heartbeat");
    push.connect(&ep).unwrap();
    let (push, events) = libzmq(move || {
        zmq_send(&push, &Message::from("before"));
        let events = zmq_events(&mon, Duration::from_millis(1500));
        zmq_send(&push, &Message::from("after"));
        (push, events)
    })
    .await;
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("before"));
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("after"));
    let handshakes = events
        .iter()
        .filter(|&&e| e == event::HANDSHAKE_SUCCEEDED)
        .count();
    assert_eq!(handshakes, 1, "events: {events:x?}");
    assert!(
        !events.contains(&event::DISCONNECTED),
        "events: {events:x?}"
    );
    drop(push);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_pings_are_answered_with_pongs() {
    // A weirmq PULL without heartbeats of its own sends nothing but PONGs, so
    // only its PONGs keep libzmq's 300 ms heartbeat timeout from firing.
    // Then weirmq goes away, and the monitor must report the disconnect:
    // proof that the monitor reading can see one at all.
    let pull = Pull::new();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let push = zmq_socket(&ctx, zmq::PUSH);
    push.set_heartbeat_ivl(100).unwrap();
    push.set_heartbeat_timeout(300).unwrap();
    let mon = zmq_monitor(&ctx, &push, "control");
    push.connect(&ep).unwrap();
    let (push, mon, events) = libzmq(move || {
        zmq_send(&push, &Message::from("x"));
        let events = zmq_events(&mon, Duration::from_millis(1500));
        (push, mon, events)
    })
    .await;
    assert_eq!(within(pull.recv()).await.unwrap(), Message::from("x"));
    assert!(
        !events.contains(&event::DISCONNECTED),
        "PONGs keep it up: {events:x?}"
    );
    drop(pull);
    let events = libzmq(move || {
        let events = zmq_events(&mon, Duration::from_millis(800));
        drop(push);
        events
    })
    .await;
    assert!(events.contains(&event::DISCONNECTED), "events: {events:x?}");
}

/// Publishes `probe` until the libzmq-side closure reports it arrived.
async fn publish_until(publisher: &weirmq::Pub, probe: &'static str, arrived: impl Fn() -> bool) {
    within(async {
        loop {
            publisher.send(probe).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            if arrived() {
                return;
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_pub_to_libzmq_sub_filters_by_subscription() {
    let dir = tempfile::tempdir().unwrap();
    for transport in Transport::ALL {
        let publisher = weirmq::Pub::new();
        let ep = publisher
            .bind(&transport.bind_endpoint(&dir, "pub.sock"))
            .await
            .unwrap();
        let ctx = zmq::Context::new();
        let sub = zmq_socket(&ctx, zmq::SUB);
        sub.set_subscribe(b"news").unwrap();
        sub.connect(&ep).unwrap();
        let sub = std::sync::Arc::new(std::sync::Mutex::new(sub));
        // libzmq sends SUBSCRIBE as a ZMTP 3.1 command; once a probe gets
        // through, the subscription has reached our PUB.
        let s2 = sub.clone();
        publish_until(&publisher, "news-probe", move || {
            let s = s2.lock().unwrap();
            s.recv_bytes(zmq::DONTWAIT).is_ok()
        })
        .await;
        let s3 = sub.clone();
        libzmq(move || while s3.lock().unwrap().recv_bytes(zmq::DONTWAIT).is_ok() {}).await;
        publisher.send("weather").await.unwrap();
        publisher
            .send(["news", "body"].into_iter().collect::<Message>())
            .await
            .unwrap();
        let got = libzmq(move || zmq_recv(&sub.lock().unwrap())).await;
        assert_eq!(
            got,
            ["news", "body"].into_iter().collect::<Message>(),
            "{transport:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_xpub_sees_weirmq_sub_subscriptions_and_publishes() {
    let ctx = zmq::Context::new();
    let xpub = zmq_socket(&ctx, zmq::XPUB);
    xpub.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&xpub);
    let sub = weirmq::Sub::new();
    sub.subscribe("alpha").unwrap();
    sub.connect(&ep).await.unwrap();
    // libzmq's XPUB hands each subscription up as %x01 + topic.
    let xpub = libzmq(move || {
        assert_eq!(xpub.recv_bytes(0).expect("subscription"), b"\x01alpha");
        zmq_send(&xpub, &Message::from("beta: no"));
        zmq_send(&xpub, &Message::from("alpha: yes"));
        xpub
    })
    .await;
    assert_eq!(
        within(sub.recv()).await.unwrap(),
        Message::from("alpha: yes")
    );
    sub.unsubscribe("alpha").unwrap();
    let xpub = libzmq(move || {
        assert_eq!(xpub.recv_bytes(0).expect("cancel"), b"\x00alpha");
        xpub
    })
    .await;
    drop(xpub);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_req_to_libzmq_rep_and_libzmq_req_to_weirmq_rep() {
    let dir = tempfile::tempdir().unwrap();
    for transport in Transport::ALL {
        // Our REQ binds, libzmq's REP connects.
        let req = weirmq::Req::new();
        let ep = req
            .bind(&transport.bind_endpoint(&dir, "req.sock"))
            .await
            .unwrap();
        let ctx = zmq::Context::new();
        let rep = zmq_socket(&ctx, zmq::REP);
        rep.connect(&ep).unwrap();
        let server = tokio::task::spawn_blocking(move || {
            for _ in 0..3 {
                let q = zmq_recv(&rep);
                let mut a = q.clone();
                a.push("answer");
                zmq_send(&rep, &a);
            }
            rep
        });
        for m in test_messages().into_iter().take(3) {
            within(req.send(m.clone())).await.unwrap();
            let mut want = m;
            want.push("answer");
            assert_eq!(within(req.recv()).await.unwrap(), want, "{transport:?}");
        }
        drop(within(server).await.unwrap());

        // libzmq's REQ connects to our REP.
        let rep = weirmq::Rep::new();
        let ep = rep
            .bind(&transport.bind_endpoint(&dir, "rep.sock"))
            .await
            .unwrap();
        let theirs = zmq_socket(&ctx, zmq::REQ);
        theirs.connect(&ep).unwrap();
        let client = tokio::task::spawn_blocking(move || {
            let mut replies = Vec::new();
            for m in test_messages() {
                zmq_send(&theirs, &m);
                replies.push(zmq_recv(&theirs));
            }
            replies
        });
        for m in test_messages() {
            let q = within(rep.recv()).await.unwrap();
            assert_eq!(q, m);
            within(rep.send(q)).await.unwrap();
        }
        assert_eq!(
            within(client).await.unwrap(),
            test_messages(),
            "{transport:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_router_with_libzmq_dealers_and_req() {
    let router = weirmq::Router::new();
    let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let named = zmq_socket(&ctx, zmq::DEALER);
    named.set_identity(b"libzmq-dealer").unwrap();
    named.connect(&ep).unwrap();
    let req = zmq_socket(&ctx, zmq::REQ);
    req.connect(&ep).unwrap();
    let (named, req) = libzmq(move || {
        zmq_send(&named, &Message::from("hello from dealer"));
        zmq_send(&req, &Message::from("hello from req"));
        (named, req)
    })
    .await;
    let mut from_req = None;
    for _ in 0..2 {
        let m = within(router.recv()).await.unwrap();
        if m.frames()[0] == "libzmq-dealer" {
            assert_eq!(m.frames()[1], "hello from dealer");
        } else {
            // libzmq's REQ announces no identity: a generated one, and the
            // REQ envelope's empty delimiter.
            assert_eq!(m.frames()[0][0], 0);
            assert_eq!(
                &m.frames()[1..],
                &[bytes::Bytes::new(), "hello from req".into()]
            );
            from_req = Some(m.frames()[0].clone());
        }
    }
    let req_id = from_req.expect("the REQ's message");
    within(
        router.send(
            ["libzmq-dealer", "reply to dealer"]
                .into_iter()
                .collect::<Message>(),
        ),
    )
    .await
    .unwrap();
    let reply: Message = [req_id, bytes::Bytes::new(), "reply to req".into()]
        .into_iter()
        .collect();
    within(router.send(reply)).await.unwrap();
    let (a, b) = libzmq(move || (zmq_recv(&named), zmq_recv(&req))).await;
    assert_eq!(a, Message::from("reply to dealer"));
    assert_eq!(b, Message::from("reply to req"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_xpub_and_xsub_with_libzmq() {
    // libzmq SUB -> our XPUB: the subscription arrives as a message.
    let xpub = weirmq::XPub::new();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let sub = zmq_socket(&ctx, zmq::SUB);
    sub.set_subscribe(b"t").unwrap();
    sub.connect(&ep).unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01t"));
    within(xpub.send("t: down")).await.unwrap();
    let sub = libzmq(move || {
        assert_eq!(zmq_recv(&sub), Message::from("t: down"));
        sub
    })
    .await;
    drop(sub);

    // Our XSUB -> libzmq PUB: a subscription message makes data flow.
    let ctx2 = zmq::Context::new();
    let publisher = zmq_socket(&ctx2, zmq::PUB);
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let xsub = weirmq::XSub::new();
    xsub.connect(&zmq_last_endpoint(&publisher)).await.unwrap();
    within(xsub.send("\x01u")).await.unwrap();
    let publisher = std::sync::Arc::new(std::sync::Mutex::new(publisher));
    let got = within(async {
        loop {
            let p = publisher.clone();
            libzmq(move || {
                let p = p.lock().unwrap();
                zmq_send(&p, &Message::from("v: filtered"));
                zmq_send(&p, &Message::from("u: up"));
            })
            .await;
            if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(50), xsub.recv()).await {
                return m;
            }
        }
    })
    .await;
    assert_eq!(got, Message::from("u: up"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counted_subscriptions_survive_one_unsubscribe_against_libzmq_pub() {
    // libzmq's PUB keeps a set per peer: one CANCEL removes a topic however
    // often it was subscribed. Our SUB counts locally and sends CANCEL only
    // when the count returns to zero.
    let ctx = zmq::Context::new();
    let publisher = zmq_socket(&ctx, zmq::PUB);
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let sub = weirmq::Sub::new();
    sub.subscribe("A").unwrap();
    sub.subscribe("A").unwrap();
    sub.connect(&zmq_last_endpoint(&publisher)).await.unwrap();
    sub.unsubscribe("A").unwrap();
    let publisher = std::sync::Arc::new(std::sync::Mutex::new(publisher));
    let got = within(async {
        loop {
            let p = publisher.clone();
            libzmq(move || zmq_send(&p.lock().unwrap(), &Message::from("A: still here"))).await;
            if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(50), sub.recv()).await {
                return m;
            }
        }
    })
    .await;
    assert_eq!(got, Message::from("A: still here"));
}
