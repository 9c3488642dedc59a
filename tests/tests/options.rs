//! The libzmq options users rely on most, against real libzmq 4.3:
//! REQ_RELAXED and REQ_CORRELATE, PROBE_ROUTER, CONNECT_ROUTING_ID,
//! INVERT_MATCHING, XPUB_WELCOME_MSG, XPUB_MANUAL (on our XPUB).

use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{Dealer, Error, Message, Options, Pub, Rep, Req, Router, Sub, XPub};
use weirmq_interop::*;

/// Runs the libzmq side on a blocking thread.
async fn libzmq<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    within(tokio::task::spawn_blocking(f))
        .await
        .expect("libzmq side panicked")
}

fn msg(frames: &[&[u8]]) -> Message {
    frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaxed_correlated_req_with_libzmq_router() {
    let ctx = zmq::Context::new();
    let router = zmq_socket(&ctx, zmq::ROUTER);
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&router);
    let options = Options::default()
        .with_req_relaxed(true)
        .with_req_correlate(true);
    let req = Req::with_options(options).unwrap();
    req.connect(&ep).await.unwrap();
    within(req.send("one")).await.unwrap();
    // Relaxed: the second request goes without waiting for the first reply.
    within(req.send("two")).await.unwrap();
    let router = libzmq(move || {
        let one = zmq_recv(&router);
        let two = zmq_recv(&router);
        // [routing id, request id (4 octets), delimiter, body]
        assert_eq!(one.len(), 4, "{one:?}");
        assert_eq!(one.frames()[1].len(), 4, "the request id frame");
        assert!(one.frames()[2].is_empty(), "the delimiter after the id");
        assert_eq!(one.frames()[3], "one");
        let first = u32::from_le_bytes(one.frames()[1][..].try_into().unwrap());
        let second = u32::from_le_bytes(two.frames()[1][..].try_into().unwrap());
        assert_eq!(second, first.wrapping_add(1), "ids count up");
        // The stale reply first: it must be discarded.
        let id = one.frames()[0].clone();
        zmq_send(&router, &msg(&[&id, &one.frames()[1], b"", b"reply-one"]));
        zmq_send(&router, &msg(&[&id, &two.frames()[1], b"", b"reply-two"]));
        router
    })
    .await;
    assert_eq!(
        within(req.recv()).await.unwrap(),
        Message::from("reply-two")
    );
    drop(router);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_req_refuses_a_second_request() {
    let ctx = zmq::Context::new();
    let rep = zmq_socket(&ctx, zmq::REP);
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = Req::new();
    req.connect(&zmq_last_endpoint(&rep)).await.unwrap();
    within(req.send("a")).await.unwrap();
    assert!(matches!(
        within(req.send("b")).await,
        Err(Error::InvalidState(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_correlated_req_with_weirmq_rep() {
    let rep = Rep::new();
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let req = zmq_socket(&ctx, zmq::REQ);
    req.set_req_correlate(true).unwrap();
    req.set_req_relaxed(true).unwrap();
    req.connect(&ep).unwrap();
    let client = libzmq(move || {
        req.send("q", 0).unwrap();
        req
    })
    .await;
    assert_eq!(within(rep.recv()).await.unwrap(), Message::from("q"));
    within(rep.send("a")).await.unwrap();
    // libzmq's REQ takes it only if the request id came back before the
    // delimiter.
    let got = libzmq(move || zmq_recv(&client)).await;
    assert_eq!(got, Message::from("a"));
}

#[test]
fn req_options_on_other_types_are_refused() {
    let correlate = Options::default().with_req_correlate(true);
    assert!(matches!(
        Dealer::with_options(correlate.clone()),
        Err(Error::InvalidOption(_))
    ));
    assert!(Req::with_options(correlate).is_ok());
    let probe = Options::default().with_probe_router(true);
    assert!(matches!(
        Pub::with_options(probe),
        Err(Error::InvalidOption(_))
    ));
    let invert = Options::default().with_invert_matching(true);
    assert!(matches!(
        Router::with_options(invert),
        Err(Error::InvalidOption(_))
    ));
    let welcome = Options::default().with_xpub_welcome("hi");
    assert!(matches!(
        Pub::with_options(welcome),
        Err(Error::InvalidOption(_))
    ));
}

/// A libzmq ROUTER receives `[id, ""]` from each probing peer type,
/// without it sending anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_router_greets_a_libzmq_router() {
    let ctx = zmq::Context::new();
    let router = zmq_socket(&ctx, zmq::ROUTER);
    router.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&router);
    let probe = |id: &str| {
        Options::default()
            .with_probe_router(true)
            .with_routing_id(id.to_owned())
    };
    let dealer = Dealer::with_options(probe("dealer")).unwrap();
    dealer.connect(&ep).await.unwrap();
    let req = Req::with_options(probe("req")).unwrap();
    req.connect(&ep).await.unwrap();
    let ours = Router::with_options(probe("router")).unwrap();
    ours.connect(&ep).await.unwrap();
    let mut got = libzmq(move || (0..3).map(|_| zmq_recv(&router)).collect::<Vec<_>>()).await;
    got.sort_by(|a, b| a.frames()[0].cmp(&b.frames()[0]));
    let want: Vec<Message> = ["dealer", "req", "router"]
        .iter()
        .map(|id| msg(&[id.as_bytes(), b""]))
        .collect();
    assert_eq!(got, want);
}

/// Our ROUTER connects with a routing id of its choosing for the libzmq
/// ROUTER, which announces another; it can send to it at once by that id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_routing_id_names_a_libzmq_router() {
    let ctx = zmq::Context::new();
    let theirs = zmq_socket(&ctx, zmq::ROUTER);
    theirs.set_identity(b"announced").unwrap();
    theirs.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&theirs);
    let ours = Router::with_options(Options::default().with_routing_id("ours")).unwrap();
    ours.connect_with_routing_id(&ep, "chosen").await.unwrap();
    // Routable once the handshake is done.
    within(async {
        loop {
            match ours.send(msg(&[b"chosen", b"hi"])).await {
                Ok(()) => break,
                Err(Error::Unroutable) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    let theirs = libzmq(move || {
        assert_eq!(zmq_recv(&theirs), msg(&[b"ours", b"hi"]));
        zmq_send(&theirs, &msg(&[b"ours", b"back"]));
        theirs
    })
    .await;
    assert_eq!(
        within(ours.recv()).await.unwrap(),
        msg(&[b"chosen", b"back"])
    );
    drop(theirs);
    // The id is taken: a second endpoint cannot have it.
    assert!(matches!(
        ours.connect_with_routing_id("tcp://127.0.0.1:1", "chosen")
            .await,
        Err(Error::InvalidOption(_))
    ));
}

/// An inverted XPUB sends a libzmq XSUB (which does not filter) only what
/// it is not subscribed to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inverted_xpub_skips_the_subscribed_libzmq_xsub() {
    let xpub = XPub::with_options(Options::default().with_invert_matching(true)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let xsub = zmq_socket(&ctx, zmq::XSUB);
    xsub.connect(&ep).unwrap();
    let xsub = libzmq(move || {
        xsub.send(b"\x01A".as_slice(), 0).unwrap();
        xsub
    })
    .await;
    assert_eq!(within(xpub.recv()).await.unwrap(), msg(&[b"\x01A"]));
    within(xpub.send("A1")).await.unwrap();
    within(xpub.send("B1")).await.unwrap();
    let got = libzmq(move || zmq_recv(&xsub)).await;
    assert_eq!(got, Message::from("B1"), "A1 matches, and is not sent");
}

/// An inverted PUB: once the libzmq XSUB's subscription to "A" is in, a
/// round of "A" and "B" messages brings it only the "B" one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inverted_pub_skips_the_subscribed_libzmq_xsub() {
    let publisher = Pub::with_options(Options::default().with_invert_matching(true)).unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let xsub = zmq_socket(&ctx, zmq::XSUB);
    xsub.set_rcvtimeo(100).unwrap();
    xsub.connect(&ep).unwrap();
    let mut xsub = libzmq(move || {
        xsub.send(b"\x01A".as_slice(), 0).unwrap();
        xsub
    })
    .await;
    for round in 0..100 {
        within(publisher.send(format!("A{round}").into_bytes()))
            .await
            .unwrap();
        within(publisher.send(format!("B{round}").into_bytes()))
            .await
            .unwrap();
        let (back, got) = libzmq(move || {
            let mut got = Vec::new();
            while let Ok(m) = xsub.recv_bytes(0) {
                got.push(String::from_utf8(m).unwrap());
            }
            (xsub, got)
        })
        .await;
        xsub = back;
        if got == [format!("B{round}")] {
            return;
        }
    }
    panic!("the inverted PUB never sent only the unsubscribed topic");
}

/// Our inverted SUB keeps what matches none of its subscriptions, from a
/// libzmq PUB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inverted_sub_keeps_what_does_not_match() {
    let sub = Sub::with_options(Options::default().with_invert_matching(true)).unwrap();
    sub.subscribe("A").unwrap();
    // The `zmq` crate cannot set ZMQ_INVERT_MATCHING, and a libzmq PUB
    // that is not inverted sends only what matches: all of it must be
    // dropped here.
    let ctx = zmq::Context::new();
    let publisher = zmq_socket(&ctx, zmq::PUB);
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&publisher);
    sub.connect(&ep).await.unwrap();
    // libzmq's PUB sends "A…" only; our inverted SUB must drop it all.
    let publisher = libzmq(move || {
        for i in 0..20 {
            publisher.send(format!("A{i}").as_bytes(), 0).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        publisher
    })
    .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.recv())
            .await
            .is_err(),
        "an inverted SUB drops what matches"
    );
    drop(publisher);
}

/// A libzmq SUB subscribed to the welcome message gets it on connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xpub_welcome_reaches_a_libzmq_sub() {
    let xpub = XPub::with_options(Options::default().with_xpub_welcome("W")).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let sub = zmq_socket(&ctx, zmq::SUB);
    sub.set_subscribe(b"W").unwrap();
    sub.connect(&ep).unwrap();
    let got = libzmq(move || zmq_recv(&sub)).await;
    assert_eq!(got, Message::from("W"));
    assert_eq!(within(xpub.recv()).await.unwrap(), msg(&[b"\x01W"]));
}

/// Both ends inverted (weirmq only: the `zmq` crate cannot invert a
/// libzmq PUB): the SUB gets the unsubscribed topics, never the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inverted_pub_and_sub_deliver_only_the_unsubscribed() {
    let invert = Options::default().with_invert_matching(true);
    let publisher = Pub::with_options(invert.clone()).unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = Sub::with_options(invert).unwrap();
    sub.subscribe("A").unwrap();
    sub.connect(&ep).await.unwrap();
    let mut got = Vec::new();
    within(async {
        while got.len() < 5 {
            publisher.send("A-skip").await.unwrap();
            publisher.send("B-keep").await.unwrap();
            if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(20), sub.recv()).await {
                got.push(m);
            }
        }
    })
    .await;
    assert!(got.iter().all(|m| *m == Message::from("B-keep")), "{got:?}");
}

/// XPUB_MANUAL: a libzmq SUB subscribed to everything gets nothing from our
/// manual XPUB until the application grants it a topic, "x", and then only
/// "x" messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_xpub_grants_a_libzmq_sub_only_what_the_app_chose() {
    let xpub = XPub::with_options(Options::default().with_xpub_manual(true)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let sub = zmq_socket(&ctx, zmq::SUB);
    sub.set_subscribe(b"").unwrap();
    sub.connect(&ep).unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), msg(&[b"\x01"]));
    // Not granted yet: sent to nobody (the one connection keeps its order,
    // so had it gone, it would be the first the SUB receives).
    within(xpub.send("x-early")).await.unwrap();
    assert!(xpub.subscribe("x").unwrap());
    for m in ["a-late", "x-late", "b-late", "x-last"] {
        within(xpub.send(m)).await.unwrap();
    }
    let got = libzmq(move || [zmq_recv(&sub), zmq_recv(&sub)]).await;
    assert_eq!(got, [Message::from("x-late"), Message::from("x-last")]);
}

/// XPUB_MANUAL: a libzmq XSUB (which does not filter what it receives)
/// asks for "a"; the application subscribes it to "b" instead, and it gets
/// the "b" messages, not the "a" ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_xpub_subscribes_a_libzmq_xsub_to_another_topic() {
    let xpub = XPub::with_options(Options::default().with_xpub_manual(true)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let xsub = zmq_socket(&ctx, zmq::XSUB);
    xsub.connect(&ep).unwrap();
    let xsub = libzmq(move || {
        xsub.send(b"\x01a".as_slice(), 0).unwrap();
        xsub
    })
    .await;
    assert_eq!(within(xpub.recv()).await.unwrap(), msg(&[b"\x01a"]));
    within(xpub.send("a-early")).await.unwrap();
    assert!(xpub.subscribe("b").unwrap());
    for m in ["a1", "b1", "a2", "b2"] {
        within(xpub.send(m)).await.unwrap();
    }
    let got = libzmq(move || [zmq_recv(&xsub), zmq_recv(&xsub)]).await;
    assert_eq!(got, [Message::from("b1"), Message::from("b2")]);
}
