//! libzmq 4.3's draft options ZMQ_ROUTER_NOTIFY and ZMQ_ZAP_ENFORCE_DOMAIN,
//! against libzmq 4.3.5 built with the draft API (the `peers` crate's C
//! peer): each scenario runs once with libzmq's socket and once with
//! weirmq's in its place, with the same peers, and what each saw must be
//! the same. The peers are libzmq 4.3.4 (the system's, through the `zmq`
//! crate) for ROUTER_NOTIFY and weirmq clients for ZAP.

use std::time::Duration;

use bytes::Bytes;
use weirmq::prelude::*;
use weirmq::{
    Keypair, Message, MonitorEvent, Options, Pull, Push, Rep, Router, RouterNotify, ZAP_ENDPOINT,
};
use weirmq_interop::draft_peer::{DraftPeer, frames_line};
use weirmq_interop::*;

/// What a libzmq DEALER with routing id "D1" sends the ROUTER before it
/// closes.
const VISIT: [&str; 3] = ["m0", "m1", "m2"];

/// A ROUTER's transcript line for a message of `body` from "D1" ("-": a
/// notice).
fn line(body: &str) -> String {
    frames_line(&[Bytes::from_static(b"D1"), Bytes::from(body.to_owned())])
}

/// A libzmq DEALER "D1" that connects to `ep` (or binds there, handing the
/// endpoint back through `bound`), sends [`VISIT`] and closes, lingering
/// until all of it is written.
fn dealer_visit(ep: String, bind: bool, bound: std::sync::mpsc::SyncSender<String>) {
    let ctx = zmq::Context::new();
    let dealer = zmq_socket(&ctx, zmq::DEALER);
    dealer.set_identity(b"D1").unwrap();
    dealer.set_linger(2000).unwrap();
    if bind {
        dealer.bind(&ep).unwrap();
        bound.send(zmq_last_endpoint(&dealer)).unwrap();
    } else {
        dealer.connect(&ep).unwrap();
    }
    for body in VISIT {
        dealer.send(body, 0).unwrap();
    }
    drop(dealer);
    drop(ctx);
}

/// A loopback endpoint free now.
fn free_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp://{}", listener.local_addr().unwrap())
}

/// The messages `notify` makes a ROUTER receive from one visit.
fn expected(notify: RouterNotify) -> usize {
    VISIT.len() + usize::from(notify.connect) + usize::from(notify.disconnect)
}

/// libzmq 4.3.5's ROUTER (bound, or connecting to the DEALER) through a
/// visit: its transcript.
async fn libzmq_router(notify: RouterNotify, bind: bool) -> Vec<String> {
    let flags = i32::from(notify.connect) | (i32::from(notify.disconnect) << 1);
    let n = expected(notify).to_string();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let (ep, visit) = if bind {
        let ep = free_endpoint();
        let peer = DraftPeer::start(
            &["router-notify", &ep, "bind", &flags.to_string(), &n, "5000"],
            &[],
        );
        let visit = tokio::task::spawn_blocking(move || dealer_visit(ep, false, tx));
        (peer, visit)
    } else {
        let visit =
            tokio::task::spawn_blocking(move || dealer_visit("tcp://127.0.0.1:*".into(), true, tx));
        let ep = rx.recv_timeout(STEP).unwrap();
        let peer = DraftPeer::start(
            &[
                "router-notify",
                &ep,
                "connect",
                &flags.to_string(),
                &n,
                "5000",
            ],
            &[],
        );
        (peer, visit)
    };
    let (mut peer, visit) = (ep, visit);
    let lines = tokio::task::spawn_blocking(move || peer.rest())
        .await
        .unwrap();
    within(visit).await.unwrap();
    lines
}

/// weirmq's ROUTER in libzmq's place: its transcript.
async fn weirmq_router(notify: RouterNotify, bind: bool) -> Vec<String> {
    let router = Router::with_options(Options::default().with_router_notify(notify)).unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let visit = if bind {
        let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
        tokio::task::spawn_blocking(move || dealer_visit(ep, false, tx))
    } else {
        let visit =
            tokio::task::spawn_blocking(move || dealer_visit("tcp://127.0.0.1:*".into(), true, tx));
        let ep = tokio::task::spawn_blocking(move || rx.recv_timeout(STEP).unwrap())
            .await
            .unwrap();
        router.connect(&ep).await.unwrap();
        visit
    };
    let mut lines = Vec::new();
    for _ in 0..expected(notify) {
        let msg = within(router.recv()).await.unwrap();
        lines.push(frames_line(msg.frames()));
    }
    within(visit).await.unwrap();
    // Nothing more: one notice of each kind.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), router.recv())
            .await
            .is_err(),
        "weirmq's ROUTER received more than {lines:?}"
    );
    lines
}

#[tokio::test]
async fn router_notify_as_libzmq_435() {
    let cases = [
        (RouterNotify::BOTH, true),
        (RouterNotify::CONNECT, true),
        (RouterNotify::DISCONNECT, true),
        (RouterNotify::BOTH, false),
        (RouterNotify::NONE, true),
    ];
    for (notify, bind) in cases {
        let theirs = libzmq_router(notify, bind).await;
        let ours = weirmq_router(notify, bind).await;
        assert_eq!(ours, theirs, "{notify:?}, bound: {bind}");
    }
    // And what that is: the arrival first, the departure last.
    let both = weirmq_router(RouterNotify::BOTH, true).await;
    let mut want = vec![line("")];
    want.extend(VISIT.iter().map(|b| line(b)));
    want.push(line(""));
    assert_eq!(both, want);
}

#[tokio::test]
async fn router_notify_is_for_routers() {
    let err =
        weirmq::Dealer::with_options(Options::default().with_router_notify(RouterNotify::BOTH))
            .unwrap_err();
    assert!(err.to_string().contains("ZMQ_ROUTER_NOTIFY"), "{err}");
}

/// A server mechanism of the ZAP scenarios.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mech {
    Null,
    Plain,
    Curve,
}

/// One ZAP scenario: the server's mechanism, domain, ZAP_ENFORCE_DOMAIN,
/// and whether a ZAP handler (allowing everyone) is bound.
#[derive(Debug, Clone, Copy)]
struct Case {
    mech: Mech,
    domain: &'static str,
    enforce: bool,
    handler: bool,
}

/// What the server did: the ZAP request it made (domain, mechanism), if
/// any, and whether the client's message arrived.
#[derive(Debug, PartialEq)]
struct Outcome {
    asked: Option<(String, String)>,
    delivered: bool,
}

/// Every case but a PLAIN server enforcing an empty domain, on which
/// libzmq 4.3.5 aborts (plain_server.cpp's zmq_assert) and weirmq refuses
/// the options.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for mech in [Mech::Null, Mech::Plain, Mech::Curve] {
        for domain in ["", "global"] {
            for enforce in [false, true] {
                for handler in [true, false] {
                    if !(mech == Mech::Plain && domain.is_empty() && enforce) {
                        cases.push(Case {
                            mech,
                            domain,
                            enforce,
                            handler,
                        });
                    }
                }
            }
        }
    }
    cases
}

/// The weirmq client of a case, connected to `ep`, having sent "x".
async fn client(mech: Mech, server: &Keypair, ep: &str) -> Push {
    let options = match mech {
        Mech::Null => Options::default(),
        Mech::Plain => Options::default().with_plain_client("user", "secret"),
        Mech::Curve => Options::default().with_curve_client(server.public, Keypair::generate()),
    };
    let push = Push::with_options(options.with_immediate(false)).unwrap();
    push.connect(ep).await.unwrap();
    within(push.send("x")).await.unwrap();
    push
}

/// libzmq 4.3.5's server in a case.
async fn libzmq_server(case: Case, keys: &Keypair) -> Outcome {
    let mech = format!("{:?}", case.mech).to_lowercase();
    let ep = free_endpoint();
    let domain = if case.domain.is_empty() {
        "-"
    } else {
        case.domain
    };
    let secret = keys.secret.to_z85();
    let mut peer = DraftPeer::start(
        &[
            "zap-server",
            &mech,
            &ep,
            domain,
            if case.enforce { "1" } else { "0" },
            if case.handler { "1" } else { "0" },
            "5000",
        ],
        &[("WEIRMQ_PEER_CURVE_SECRET", secret.as_str())],
    );
    let _client = client(case.mech, keys, &ep).await;
    let lines = tokio::task::spawn_blocking(move || peer.rest())
        .await
        .unwrap();
    let asked = lines.iter().find_map(|l| {
        let mut words = l.strip_prefix("ZAP ")?.split(' ');
        let domain = words.next()?.replace('-', "");
        Some((domain, words.next()?.to_owned()))
    });
    let delivered = lines.iter().any(|l| l == "RECV x");
    assert!(
        delivered
            || lines
                .iter()
                .any(|l| l.starts_with("EVENT HANDSHAKE_FAILED")),
        "{case:?}: libzmq neither received nor failed: {lines:?}"
    );
    Outcome { asked, delivered }
}

/// weirmq's server in libzmq's place; `zap` holds what the process's ZAP
/// handler was asked (it is bound while `case.handler`).
async fn weirmq_server(
    case: Case,
    keys: &Keypair,
    zap: &mut tokio::sync::mpsc::Receiver<Vec<Bytes>>,
) -> Outcome {
    let options = match case.mech {
        Mech::Null => Options::default(),
        Mech::Plain => Options::default().with_plain_server(),
        Mech::Curve => Options::default().with_curve_server(keys.clone()),
    };
    let pull = Pull::with_options(
        options
            .with_zap_domain(case.domain)
            .with_zap_enforce_domain(case.enforce),
    )
    .unwrap();
    let mut events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let _client = client(case.mech, keys, &ep).await;
    let delivered = within(async {
        loop {
            tokio::select! {
                msg = pull.recv() => {
                    assert_eq!(msg.unwrap(), Message::from("x"));
                    return true;
                }
                event = events.recv() => {
                    if let Some(MonitorEvent::HandshakeFailed { .. }) = event {
                        return false;
                    }
                }
            }
        }
    })
    .await;
    let asked = zap.try_recv().ok().map(|frames| {
        let text = |f: &Bytes| String::from_utf8_lossy(f).into_owned();
        (text(&frames[2]), text(&frames[5]))
    });
    Outcome { asked, delivered }
}

/// Answers ZAP requests on `rep` with "200", passing each on to `seen`,
/// until `stop` fires; then closes `rep`.
fn zap_handler_allowing(
    rep: Rep,
    seen: tokio::sync::mpsc::Sender<Vec<Bytes>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                request = rep.recv() => request.unwrap(),
                _ = &mut stop => break,
            };
            let frames = request.frames().to_vec();
            let _ = seen.try_send(frames.clone());
            let reply = Message::from(vec![
                Bytes::from_static(b"1.0"),
                frames[1].clone(),
                Bytes::from_static(b"200"),
                Bytes::new(),
                Bytes::from_static(b"user"),
                Bytes::new(),
            ]);
            rep.send(reply).await.unwrap();
        }
        rep.close().await;
    })
}

/// The process has one ZAP endpoint: the cases with a handler run first,
/// with weirmq's handler bound, then the rest after it is closed.
#[tokio::test]
async fn zap_enforce_domain_as_libzmq_435() {
    let keys = Keypair::generate();
    let (tx, mut zap) = tokio::sync::mpsc::channel(16);
    let rep = Rep::new();
    rep.bind(ZAP_ENDPOINT).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let handler = zap_handler_allowing(rep, tx, stopped);
    let (with, without): (Vec<Case>, Vec<Case>) = cases().into_iter().partition(|c| c.handler);
    let mut outcomes = Vec::new();
    for case in with {
        let theirs = libzmq_server(case, &keys).await;
        let ours = weirmq_server(case, &keys, &mut zap).await;
        assert_eq!(ours, theirs, "{case:?}");
        outcomes.push((case, ours));
    }
    stop.send(()).unwrap();
    within(handler).await.unwrap();
    for case in without {
        let theirs = libzmq_server(case, &keys).await;
        let ours = weirmq_server(case, &keys, &mut zap).await;
        assert_eq!(ours, theirs, "{case:?}");
        outcomes.push((case, ours));
    }
    // What enforcement changes, spelled out: nobody to ask refuses NULL
    // and CURVE peers (who get in without it) ...
    for mech in [Mech::Null, Mech::Curve] {
        for enforce in [false, true] {
            let (_, o) = outcomes
                .iter()
                .find(|(c, _)| {
                    c.mech == mech && c.domain == "global" && c.enforce == enforce && !c.handler
                })
                .unwrap();
            assert_eq!(o.delivered, !enforce, "{mech:?}, enforce: {enforce}");
        }
    }
    // ... and a CURVE server without a domain asks nobody, where it asks
    // the handler with an empty domain without it.
    for enforce in [false, true] {
        let (_, o) = outcomes
            .iter()
            .find(|(c, _)| {
                c.mech == Mech::Curve && c.domain.is_empty() && c.enforce == enforce && c.handler
            })
            .unwrap();
        assert_eq!(
            o.asked.is_none(),
            enforce,
            "CURVE, no domain, enforce: {enforce}"
        );
        assert!(o.delivered);
    }
}

#[tokio::test]
async fn zap_enforce_domain_refuses_what_nobody_would_judge() {
    for options in [
        Options::default().with_plain_server(),
        Options::default().with_authenticator(|_, _| weirmq::AuthDecision::Allow {
            user_id: Bytes::new(),
        }),
    ] {
        let err = Pull::with_options(options.with_zap_enforce_domain(true)).unwrap_err();
        assert!(err.to_string().contains("ZMQ_ZAP_ENFORCE_DOMAIN"), "{err}");
    }
}

/// Where libzmq drops a departure notice that finds the peer's pipe full
/// (stream_engine_base.cpp ignores the failed push), weirmq's waits for
/// room, like the peer's messages: a ROUTER reading late gets all of them,
/// then the notice.
#[tokio::test]
async fn router_notify_departure_waits_for_room() {
    let router = Router::with_options(
        Options::default()
            .with_router_notify(RouterNotify::DISCONNECT)
            .with_hwm(weirmq::Hwm::new(2, 1 << 20).unwrap()),
    )
    .unwrap();
    let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let sent: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let bodies = sent.clone();
    within(tokio::task::spawn_blocking(move || {
        let ctx = zmq::Context::new();
        let dealer = zmq_socket(&ctx, zmq::DEALER);
        dealer.set_identity(b"D1").unwrap();
        dealer.set_linger(5000).unwrap();
        dealer.connect(&ep).unwrap();
        for body in &bodies {
            dealer.send(body.as_str(), 0).unwrap();
        }
    }))
    .await
    .unwrap();
    // The DEALER is gone; its connection ends while its lane is full.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut got = Vec::new();
    for _ in 0..=sent.len() {
        let msg = within(router.recv()).await.unwrap();
        got.push(frames_line(msg.frames()));
    }
    let mut want: Vec<String> = sent.iter().map(|b| line(b)).collect();
    want.push(line(""));
    assert_eq!(got, want);
}
