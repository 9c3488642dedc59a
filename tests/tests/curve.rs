//! CURVE (RFC 26) against libzmq 4.3: weirmq as server and as client, binding
//! and connecting, over tcp and ipc, with every test message (multipart,
//! empty, the 255/256 boundary, 1 MiB) both ways; libzmq's ZAP handler
//! allowing and denying; and keys each side does not accept.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{AuthDecision, AuthRequest, Dealer, Keypair, Message, Options, Pull, Push};
use weirmq_interop::*;

/// Our keys as libzmq takes them (32 raw octets).
fn raw(k: &weirmq::PublicKey) -> [u8; 32] {
    *k.as_bytes()
}

/// A weirmq authenticator that allows exactly one client key.
fn only(client: weirmq::PublicKey) -> impl Fn(&AuthRequest, &str) -> AuthDecision {
    move |request, _peer| match request {
        AuthRequest::Curve { public_key } if *public_key == client => AuthDecision::Allow {
            user_id: Bytes::from_static(b"the client"),
        },
        _ => AuthDecision::Deny {
            status: Bytes::from_static(b"400"),
        },
    }
}

/// Every test message from weirmq to libzmq and back, over CURVE.
async fn echo_through_libzmq(weirmq_is_server: bool, weirmq_binds: bool, transport: Transport) {
    let (server, client) = (Keypair::generate(), Keypair::generate());
    let options = if weirmq_is_server {
        Options::default()
            .with_curve_server(server.clone())
            .with_authenticator(only(client.public))
    } else {
        Options::default().with_curve_client(server.public, client.clone())
    };
    let ctx = zmq::Context::new();
    let theirs = zmq_socket(&ctx, zmq::DEALER);
    if weirmq_is_server {
        theirs.set_curve_serverkey(&raw(&server.public)).unwrap();
        theirs.set_curve_publickey(&raw(&client.public)).unwrap();
        theirs
            .set_curve_secretkey(client.secret.as_bytes())
            .unwrap();
    } else {
        theirs.set_curve_server(true).unwrap();
        theirs
            .set_curve_secretkey(server.secret.as_bytes())
            .unwrap();
    }
    let ours = Dealer::with_options(options).unwrap();
    let received = echo_test_messages(&ours, theirs, weirmq_binds, transport).await;
    let from = received[0]
        .peer()
        .expect("a CURVE peer travels with its messages");
    if weirmq_is_server {
        assert_eq!(from.public_key, Some(client.public));
        assert_eq!(from.user_id.as_deref(), Some(&b"the client"[..]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_server_with_libzmq_client_every_direction() {
    for transport in Transport::ALL {
        for weirmq_binds in [true, false] {
            echo_through_libzmq(true, weirmq_binds, transport).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_client_with_libzmq_server_every_direction() {
    for transport in Transport::ALL {
        for weirmq_binds in [true, false] {
            echo_through_libzmq(false, weirmq_binds, transport).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_server_refuses_an_unknown_libzmq_client() {
    let (server, allowed) = (Keypair::generate(), Keypair::generate());
    let pull = Pull::with_options(
        Options::default()
            .with_curve_server(server.clone())
            .with_authenticator(only(allowed.public)),
    )
    .unwrap();
    let mut events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let stranger = zmq::CurveKeyPair::new().unwrap();
    let push = zmq_socket(&ctx, zmq::PUSH);
    push.set_curve_serverkey(&raw(&server.public)).unwrap();
    push.set_curve_publickey(&stranger.public_key).unwrap();
    push.set_curve_secretkey(&stranger.secret_key).unwrap();
    push.connect(&ep).unwrap();
    assert_eq!(
        handshake_failure(&mut events).await,
        "authentication denied: \"400\""
    );

    // A libzmq client that has the wrong server key fails at HELLO.
    let wrong = zmq::CurveKeyPair::new().unwrap();
    let push2 = zmq_socket(&ctx, zmq::PUSH);
    push2.set_curve_serverkey(&wrong.public_key).unwrap();
    push2.set_curve_publickey(&stranger.public_key).unwrap();
    push2.set_curve_secretkey(&stranger.secret_key).unwrap();
    push2.connect(&ep).unwrap();
    let reason = handshake_failure(&mut events).await;
    assert!(reason.contains("HELLO box does not open"), "{reason}");
    assert_eq!(pull.stats().peers, 0);
    drop((push, push2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_zap_handler_allows_and_denies_weirmq_clients() {
    let ctx = zmq::Context::new();
    let stop = Arc::new(AtomicBool::new(false));
    let allowed = Keypair::generate();
    let allowed_key = raw(&allowed.public);
    // CURVE requests carry the client's long-term key as the last frame.
    let zap = zap_handler(&ctx, stop.clone(), move |request| {
        (request.len() == 7 && request[5] == b"CURVE" && request[6] == allowed_key)
            .then_some(&b"allowed"[..])
    });
    let server = zmq::CurveKeyPair::new().unwrap();
    let server_key = weirmq::PublicKey::from_bytes(server.public_key);
    let pull = zmq_socket(&ctx, zmq::PULL);
    pull.set_curve_server(true).unwrap();
    pull.set_curve_secretkey(&server.secret_key).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&pull);

    let good =
        Push::with_options(Options::default().with_curve_client(server_key, allowed)).unwrap();
    good.connect(&ep).await.unwrap();
    within(good.send("over CURVE")).await.unwrap();

    let bad =
        Push::with_options(Options::default().with_curve_client(server_key, Keypair::generate()))
            .unwrap();
    let mut events = bad.monitor();
    bad.connect(&ep).await.unwrap();
    let reason = handshake_failure(&mut events).await;
    assert!(reason.starts_with("peer sent ERROR"), "{reason}");
    assert!(reason.contains("400"), "{reason}");
    assert_eq!(bad.stats().peers, 0);

    let got = within(tokio::task::spawn_blocking(move || zmq_recv(&pull)))
        .await
        .unwrap();
    assert_eq!(got, Message::from("over CURVE"));
    stop.store(true, Ordering::Relaxed);
    zap.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_client_with_the_wrong_server_key_never_connects() {
    let ctx = zmq::Context::new();
    let server = zmq::CurveKeyPair::new().unwrap();
    let pull = zmq_socket(&ctx, zmq::PULL);
    pull.set_curve_server(true).unwrap();
    pull.set_curve_secretkey(&server.secret_key).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&pull);
    let push = Push::with_options(
        Options::default().with_curve_client(Keypair::generate().public, Keypair::generate()),
    )
    .unwrap();
    let mut events = push.monitor();
    push.connect(&ep).await.unwrap();
    // libzmq cannot open our HELLO and hangs up without a word.
    let reason = handshake_failure(&mut events).await;
    assert!(!reason.is_empty());
    assert_eq!(push.stats().peers, 0);
    drop(pull);
}
