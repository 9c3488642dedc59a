//! NULL with a ZAP domain (libzmq 4.3 null_mechanism.cpp): a socket with a
//! non-empty ZAP domain has each peer judged before it sends READY: by its
//! authenticator, else by the ZAP handler bound in the process, else (no one
//! to ask) the peer goes on. Without a domain nobody is asked.
//!
//! The weirmq ZAP endpoint is one per process, so the cases against our
//! handler run in order in one test. The other direction (a libzmq NULL
//! server judging us) uses a handler on a libzmq context, which weirmq
//! sockets never ask.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{AuthDecision, AuthRequest, Dealer, Message, Options, Rep, ZAP_ENDPOINT};
use weirmq_interop::*;

/// Answers ZAP requests on a weirmq REP until dropped: a domain of "deny"
/// gets "400", anything else "200" as user "anon". Each request (after the
/// envelope) is passed back through `seen`.
fn handler(rep: Rep, seen: tokio::sync::mpsc::Sender<Vec<Bytes>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(request) = rep.recv().await {
            let frames = request.frames().to_vec();
            let status: &'static [u8] = if frames.get(2).is_some_and(|d| &d[..] == b"deny") {
                b"400"
            } else {
                b"200"
            };
            let _ = seen.try_send(frames.clone());
            let reply = Message::from(vec![
                Bytes::from_static(b"1.0"),
                frames[1].clone(),
                Bytes::from_static(status),
                Bytes::new(),
                Bytes::from_static(b"anon"),
                Bytes::new(),
            ]);
            if rep.send(reply).await.is_err() {
                return;
            }
        }
    })
}

/// A libzmq DEALER connected to `ep`, with its monitor.
fn libzmq_dealer(ctx: &zmq::Context, ep: &str, name: &str) -> (zmq::Socket, zmq::Socket) {
    let d = zmq_socket(ctx, zmq::DEALER);
    d.set_reconnect_ivl(1000).unwrap();
    let mon = zmq_monitor(ctx, &d, name);
    d.connect(ep).unwrap();
    (d, mon)
}

/// A libzmq DEALER connected to `ep` that has queued a message at once (its
/// pipe exists from `connect` on; after a refused handshake libzmq drops
/// it, and a later send would block), with its monitor.
fn libzmq_sender(ctx: &zmq::Context, ep: &str, name: &str) -> (zmq::Socket, zmq::Socket) {
    let (d, mon) = libzmq_dealer(ctx, ep, name);
    d.send("must not arrive", zmq::DONTWAIT).unwrap();
    (d, mon)
}

/// libzmq's side of a refused NULL handshake (`theirs` from
/// [`libzmq_sender`]): an auth failure in its monitor, never a success, and
/// nothing it sent delivered to `ours`.
async fn refused(ours: &Dealer, theirs: zmq::Socket, mon: zmq::Socket) {
    let theirs = within(tokio::task::spawn_blocking(move || {
        let events = zmq_events(&mon, Duration::from_millis(700));
        assert!(
            events.contains(&event::HANDSHAKE_FAILED_AUTH),
            "libzmq saw no auth failure: {events:x?}"
        );
        assert!(
            !events.contains(&event::HANDSHAKE_SUCCEEDED),
            "libzmq saw a handshake succeed: {events:x?}"
        );
        theirs
    }))
    .await
    .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), ours.recv())
            .await
            .is_err(),
        "a message got through"
    );
    drop(theirs);
}

/// A libzmq DEALER to `ep` and back: a message each way.
async fn flows(ours: &Dealer, ctx: &zmq::Context, ep: &str, name: &str) {
    let (theirs, _mon) = libzmq_dealer(ctx, ep, name);
    let theirs = within(tokio::task::spawn_blocking(move || {
        zmq_send(&theirs, &Message::from("in"));
        theirs
    }))
    .await
    .unwrap();
    assert_eq!(within(ours.recv()).await.unwrap(), Message::from("in"));
    within(ours.send("out")).await.unwrap();
    let got = within(tokio::task::spawn_blocking(move || zmq_recv(&theirs)))
        .await
        .unwrap();
    assert_eq!(got, Message::from("out"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_socket_with_a_zap_domain_has_libzmq_peers_judged() {
    let ctx = zmq::Context::new();

    // No handler bound and no authenticator: NULL goes on, as libzmq's does.
    assert!(!weirmq::zap_handler_bound());
    let lone = Dealer::with_options(Options::default().with_zap_domain("global")).unwrap();
    let ep = lone.bind("tcp://127.0.0.1:*").await.unwrap();
    flows(&lone, &ctx, &ep, "lone").await;

    // The socket's authenticator is asked about NULL peers, and can refuse.
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a = asked.clone();
    let judged = Dealer::with_options(
        Options::default()
            .with_zap_domain("global")
            .with_authenticator(move |request, peer| {
                a.lock().unwrap().push((request.clone(), peer.to_owned()));
                AuthDecision::Deny {
                    status: Bytes::from_static(b"400"),
                }
            }),
    )
    .unwrap();
    let mut events = judged.monitor();
    let ep = judged.bind("tcp://127.0.0.1:*").await.unwrap();
    let (theirs, mon) = libzmq_sender(&ctx, &ep, "judged");
    assert_eq!(
        handshake_failure(&mut events).await,
        "authentication denied: \"400\""
    );
    refused(&judged, theirs, mon).await;
    assert!(judged.stats().auth_failures >= 1);
    let (request, peer) = asked.lock().unwrap()[0].clone();
    assert_eq!(request, AuthRequest::Null);
    assert!(peer.starts_with("tcp://127.0.0.1:"), "{peer}");

    // Our ZAP handler, from now on.
    let rep = Rep::new();
    rep.bind(ZAP_ENDPOINT).await.unwrap();
    let (seen_tx, mut seen) = tokio::sync::mpsc::channel(64);
    let zap = handler(rep, seen_tx);

    // Denied by the handler: no message gets through, counted, and libzmq
    // sees the refusal.
    let denied = Dealer::with_options(
        Options::default()
            .with_zap_domain("deny")
            .with_routing_id("us"),
    )
    .unwrap();
    let mut events = denied.monitor();
    let ep = denied.bind("tcp://127.0.0.1:*").await.unwrap();
    let (theirs, mon) = libzmq_sender(&ctx, &ep, "denied");
    assert_eq!(
        handshake_failure(&mut events).await,
        "authentication denied: \"400\""
    );
    refused(&denied, theirs, mon).await;
    assert!(denied.stats().auth_failures >= 1);
    let request = within(seen.recv()).await.unwrap();
    let frames: Vec<&[u8]> = request.iter().map(|f| &f[..]).collect();
    assert_eq!(
        frames,
        [&b"1.0"[..], b"1", b"deny", b"127.0.0.1", b"us", b"NULL"],
        "version, id, domain, address, identity, mechanism; no credentials"
    );
    while seen.try_recv().is_ok() {} // libzmq's reconnects, asked again

    // Allowed by the handler: messages flow, and it saw NULL and our domain.
    let allowed = Dealer::with_options(Options::default().with_zap_domain("global")).unwrap();
    let ep = allowed.bind("tcp://127.0.0.1:*").await.unwrap();
    flows(&allowed, &ctx, &ep, "allowed").await;
    let request = within(seen.recv()).await.unwrap();
    assert_eq!(&request[2][..], b"global");
    assert_eq!(&request[5][..], b"NULL");
    assert_eq!(request.len(), 6);
    assert_eq!(allowed.stats().auth_failures, 0);

    // inproc: libzmq runs no mechanism there, so nobody is asked, even
    // with a domain that the handler would deny.
    let bound = Dealer::with_options(Options::default().with_zap_domain("deny")).unwrap();
    bound.bind("inproc://null-zap").await.unwrap();
    let dialer = Dealer::with_options(Options::default().with_zap_domain("deny")).unwrap();
    dialer.connect("inproc://null-zap").await.unwrap();
    within(dialer.send("inproc")).await.unwrap();
    assert_eq!(within(bound.recv()).await.unwrap(), Message::from("inproc"));
    assert!(seen.try_recv().is_err(), "an inproc connection asked ZAP");

    // No domain: the handler is never asked.
    let open = Dealer::new();
    let ep = open.bind("tcp://127.0.0.1:*").await.unwrap();
    flows(&open, &ctx, &ep, "open").await;
    assert!(
        seen.try_recv().is_err(),
        "a NULL socket without a domain asked ZAP"
    );

    zap.abort();
    let _ = zap.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_libzmq_null_server_with_a_zap_domain_judges_us() {
    let ctx = zmq::Context::new();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let handler = zap_handler(&ctx, stop.clone(), move |request| {
        s.lock().unwrap().push(request.to_vec());
        // request: version, id, domain, address, identity, mechanism.
        (request[2] == b"welcome").then_some(&b"friend"[..])
    });

    // Denied: our side reports the handshake failed with the status.
    let server = zmq_socket(&ctx, zmq::DEALER);
    server.set_zap_domain("strict").unwrap();
    server.bind("tcp://127.0.0.1:*").unwrap();
    let ours = Dealer::new();
    let mut events = ours.monitor();
    ours.connect(&zmq_last_endpoint(&server)).await.unwrap();
    assert_eq!(
        handshake_failure(&mut events).await,
        "peer sent ERROR: \"400\""
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0][5], b"NULL");
        assert_eq!(seen[0][2], b"strict");
    }
    drop(ours);

    // Allowed: messages flow.
    let server = zmq_socket(&ctx, zmq::DEALER);
    server.set_zap_domain("welcome").unwrap();
    server.bind("tcp://127.0.0.1:*").unwrap();
    let ours = Dealer::new();
    ours.connect(&zmq_last_endpoint(&server)).await.unwrap();
    within(ours.send("judged")).await.unwrap();
    let got = within(tokio::task::spawn_blocking(move || zmq_recv(&server)))
        .await
        .unwrap();
    assert_eq!(got, Message::from("judged"));

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    within(tokio::task::spawn_blocking(move || handler.join()))
        .await
        .unwrap()
        .unwrap();
}
