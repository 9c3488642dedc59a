//! PLAIN (RFC 24) against libzmq 4.3: each side as client and as server,
//! allowed and denied, with libzmq's ZAP handler protocol on its side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{AuthDecision, AuthRequest, Dealer, Mechanism, Message, Options, Pull, Push};
use weirmq_interop::*;

fn judge(request: &AuthRequest, _peer: &str) -> AuthDecision {
    match request {
        AuthRequest::Plain { username, password }
            if &username[..] == b"admin" && &password[..] == b"password" =>
        {
            AuthDecision::Allow {
                user_id: username.clone(),
            }
        }
        _ => AuthDecision::Deny {
            status: Bytes::from_static(b"400"),
        },
    }
}

fn plain_client(username: &str, password: &str) -> Options {
    Options::default().with_mechanism(Mechanism::PlainClient {
        username: Bytes::copy_from_slice(username.as_bytes()),
        password: Bytes::copy_from_slice(password.as_bytes()),
    })
}

/// Allows admin/password: frames are version, request id, domain, address,
/// identity, mechanism, then the PLAIN credentials.
fn admin_only(request: &[Vec<u8>]) -> Option<&'static [u8]> {
    let ok = request.len() == 8 && request[6] == b"admin" && request[7] == b"password";
    ok.then_some(&b"admin"[..])
}

/// Every test message both ways over PLAIN, each side as server, each side
/// binding, over tcp and ipc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_every_direction_with_every_test_message() {
    for transport in Transport::ALL {
        for weirmq_binds in [true, false] {
            // weirmq the server, judging with its authenticator.
            let ours = Dealer::with_options(
                Options::default()
                    .with_plain_server()
                    .with_authenticator(judge),
            )
            .unwrap();
            let ctx = zmq::Context::new();
            let theirs = zmq_socket(&ctx, zmq::DEALER);
            theirs.set_plain_username(Some("admin")).unwrap();
            theirs.set_plain_password(Some("password")).unwrap();
            echo_test_messages(&ours, theirs, weirmq_binds, transport).await;

            // weirmq the client, libzmq's ZAP handler judging.
            let ctx = zmq::Context::new();
            let stop = Arc::new(AtomicBool::new(false));
            let zap = zap_handler(&ctx, stop.clone(), admin_only);
            let theirs = zmq_socket(&ctx, zmq::DEALER);
            theirs.set_plain_server(true).unwrap();
            let ours = Dealer::with_options(plain_client("admin", "password")).unwrap();
            echo_test_messages(&ours, theirs, weirmq_binds, transport).await;
            stop.store(true, Ordering::Relaxed);
            zap.join().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libzmq_plain_client_to_weirmq_plain_server() {
    let pull = Pull::with_options(
        Options::default()
            .with_mechanism(Mechanism::PlainServer)
            .with_authenticator(judge),
    )
    .unwrap();
    let mut events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let push = zmq_socket(&ctx, zmq::PUSH);
    push.set_plain_username(Some("admin")).unwrap();
    push.set_plain_password(Some("password")).unwrap();
    push.connect(&ep).unwrap();
    let push = std::sync::Arc::new(std::sync::Mutex::new(push));
    let p = push.clone();
    within(tokio::task::spawn_blocking(move || {
        zmq_send(&p.lock().unwrap(), &Message::from("authenticated"))
    }))
    .await
    .unwrap();
    assert_eq!(
        within(pull.recv()).await.unwrap(),
        Message::from("authenticated")
    );

    // A wrong password is denied, and the monitor says so.
    let bad = zmq_socket(&ctx, zmq::PUSH);
    bad.set_plain_username(Some("admin")).unwrap();
    bad.set_plain_password(Some("guess")).unwrap();
    bad.connect(&ep).unwrap();
    let reason = handshake_failure(&mut events).await;
    assert_eq!(reason, "authentication denied: \"400\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirmq_plain_client_to_libzmq_plain_server() {
    let ctx = zmq::Context::new();
    let stop = Arc::new(AtomicBool::new(false));
    let zap = zap_handler(&ctx, stop.clone(), admin_only);
    let pull = zmq_socket(&ctx, zmq::PULL);
    pull.set_plain_server(true).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = zmq_last_endpoint(&pull);

    let good = Push::with_options(plain_client("admin", "password")).unwrap();
    good.connect(&ep).await.unwrap();
    within(good.send("over PLAIN")).await.unwrap();

    let bad = Push::with_options(plain_client("admin", "guess")).unwrap();
    let mut events = bad.monitor();
    bad.connect(&ep).await.unwrap();
    let reason = handshake_failure(&mut events).await;
    // libzmq 4.3.4 sends this ERROR mangled (0x5E "RROR"); we read it.
    assert_eq!(
        reason, "peer sent ERROR: \"400\"",
        "libzmq reports the ZAP status"
    );
    assert_eq!(bad.stats().peers, 0, "a denied client never gets a peer");

    let got = within(tokio::task::spawn_blocking(move || zmq_recv(&pull)))
        .await
        .unwrap();
    assert_eq!(got, Message::from("over PLAIN"));
    stop.store(true, Ordering::Relaxed);
    zap.join().unwrap();
}

#[tokio::test]
async fn a_plain_server_without_an_authenticator_refuses_everyone() {
    let pull =
        Pull::with_options(Options::default().with_mechanism(Mechanism::PlainServer)).unwrap();
    let mut events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::with_options(plain_client("admin", "password")).unwrap();
    push.connect(&ep).await.unwrap();
    let reason = handshake_failure(&mut events).await;
    assert_eq!(reason, "authentication denied: \"400\"");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(push.stats().peers, 0);
}
