//! ZAP (RFC 27) on our side: a handler bound at `inproc://zeromq.zap.01`
//! judges the clients of weirmq's PLAIN and CURVE servers that have no
//! authenticator of their own, libzmq clients included.
//!
//! One test on purpose: the ZAP endpoint is one per process, so the cases
//! run in order, each with the handler it needs.

use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{Keypair, Message, Options, Pull, Push, Rep, ZAP_ENDPOINT};
use weirmq_interop::*;

/// Runs a handler on a weirmq REP until it is dropped: `judge` maps the
/// request (after the envelope) to a status and user id. Every request is
/// also passed back through `seen`.
fn handler(
    rep: Rep,
    judge: impl Fn(&[Bytes]) -> (&'static str, &'static str) + Send + 'static,
    seen: tokio::sync::mpsc::Sender<Vec<Bytes>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(request) = rep.recv().await {
            let frames = request.frames().to_vec();
            let (status, user) = judge(&frames);
            let _ = seen.try_send(frames.clone());
            let reply = Message::from(vec![
                Bytes::from_static(b"1.0"),
                frames[1].clone(),
                Bytes::from_static(status.as_bytes()),
                Bytes::from_static(b"OK or not"),
                Bytes::from_static(user.as_bytes()),
                Bytes::new(),
            ]);
            if rep.send(reply).await.is_err() {
                return;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zap_handler_judges_plain_and_curve_clients() {
    let rep = Rep::new();
    rep.bind(ZAP_ENDPOINT).await.unwrap();
    let (seen_tx, mut seen) = tokio::sync::mpsc::channel(16);
    let allowed = Keypair::generate();
    let allowed_key = Bytes::copy_from_slice(allowed.public.as_bytes());
    let zap = handler(
        rep,
        move |f| match f {
            [_, _, _, _, _, mech, key] if &mech[..] == b"CURVE" && *key == allowed_key => {
                ("200", "alice")
            }
            [_, _, _, _, _, mech, user, pass]
                if &mech[..] == b"PLAIN" && &user[..] == b"bob" && &pass[..] == b"pw" =>
            {
                ("200", "bob")
            }
            [_, _, _, _, _, _, user, _] if &user[..] == b"later" => ("300", ""),
            _ => ("400", ""),
        },
        seen_tx,
    );

    // CURVE: a libzmq client with the allowed key gets through.
    let server = Keypair::generate();
    let pull = Pull::with_options(
        Options::default()
            .with_curve_server(server.clone())
            .with_zap_domain("global"),
    )
    .unwrap();
    let mut events = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let ctx = zmq::Context::new();
    let push = zmq_socket(&ctx, zmq::PUSH);
    push.set_curve_serverkey(server.public.as_bytes()).unwrap();
    push.set_curve_publickey(allowed.public.as_bytes()).unwrap();
    push.set_curve_secretkey(allowed.secret.as_bytes()).unwrap();
    push.connect(&ep).unwrap();
    let push = std::sync::Arc::new(std::sync::Mutex::new(push));
    let p = push.clone();
    within(tokio::task::spawn_blocking(move || {
        zmq_send(&p.lock().unwrap(), &Message::from("judged by ZAP"))
    }))
    .await
    .unwrap();
    let got = within(pull.recv()).await.unwrap();
    assert_eq!(got, Message::from("judged by ZAP"));
    let from = got
        .peer()
        .expect("the proved peer travels with the message");
    assert_eq!(
        from.user_id.as_deref(),
        Some(&b"alice"[..]),
        "ZAP's User-Id"
    );
    assert_eq!(from.public_key, Some(allowed.public));
    let request = within(seen.recv()).await.unwrap();
    assert_eq!(&request[0][..], b"1.0");
    assert_eq!(&request[2][..], b"global", "the domain");
    assert_eq!(
        &request[3][..],
        b"127.0.0.1",
        "the address, without the port"
    );
    assert_eq!(&request[5][..], b"CURVE");

    // A libzmq client with another key is refused with the handler's 400.
    let stranger = zmq::CurveKeyPair::new().unwrap();
    let bad = zmq_socket(&ctx, zmq::PUSH);
    bad.set_curve_serverkey(server.public.as_bytes()).unwrap();
    bad.set_curve_publickey(&stranger.public_key).unwrap();
    bad.set_curve_secretkey(&stranger.secret_key).unwrap();
    bad.connect(&ep).unwrap();
    assert_eq!(
        handshake_failure(&mut events).await,
        "authentication denied: \"400\""
    );
    let request = within(seen.recv()).await.unwrap();
    assert_eq!(&request[6][..], &stranger.public_key[..]);

    // PLAIN, weirmq on both sides: allowed, and a temporary failure (300),
    // after which the server closes without an ERROR (libzmq 4.3
    // zap_client.cpp, after the CurveZMQ RFC).
    let plain = Pull::with_options(Options::default().with_plain_server()).unwrap();
    let ep = plain.bind("tcp://127.0.0.1:*").await.unwrap();
    let bob = Push::with_options(Options::default().with_plain_client("bob", "pw")).unwrap();
    bob.connect(&ep).await.unwrap();
    within(bob.send("hi from bob")).await.unwrap();
    assert_eq!(
        within(plain.recv()).await.unwrap(),
        Message::from("hi from bob")
    );
    let later = Push::with_options(Options::default().with_plain_client("later", "x")).unwrap();
    let mut later_events = later.monitor();
    later.connect(&ep).await.unwrap();
    assert_eq!(
        handshake_failure(&mut later_events).await,
        "closed by the peer"
    );

    // With the handler gone, a CURVE server without an authenticator lets
    // any client in again, as libzmq does without one.
    zap.abort();
    let _ = zap.await;
    within(async {
        while weirmq::zap_handler_bound() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let anyone = Push::with_options(
        Options::default().with_curve_client(server.public, Keypair::generate()),
    )
    .unwrap();
    anyone
        .connect(&pull.last_endpoint().unwrap())
        .await
        .unwrap();
    within(anyone.send("no handler now")).await.unwrap();
    assert_eq!(
        within(pull.recv()).await.unwrap(),
        Message::from("no handler now")
    );
}
