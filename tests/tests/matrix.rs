//! Every compatible socket pair against libzmq 4.3: each side in each role,
//! weirmq binding and libzmq binding, over tcp and ipc.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use weirmq::{
    Dealer, Message, Options, Pair, Pub, Pull, Push, RecvSocket, Rep, Req, Router, SendSocket,
    Socket, SocketType, Sub, XPub, XSub,
};
use weirmq_interop::*;

/// A libzmq socket used from async code: each call runs on a blocking thread.
#[derive(Clone)]
struct Theirs(Arc<Mutex<zmq::Socket>>);

impl Theirs {
    async fn send(&self, msg: Message) {
        let s = self.0.clone();
        within(tokio::task::spawn_blocking(move || {
            zmq_send(&s.lock().unwrap(), &msg)
        }))
        .await
        .unwrap();
    }

    async fn recv(&self) -> Message {
        let s = self.0.clone();
        within(tokio::task::spawn_blocking(move || {
            zmq_recv(&s.lock().unwrap())
        }))
        .await
        .unwrap()
    }

    async fn try_recv(&self) -> Option<Message> {
        let s = self.0.clone();
        within(tokio::task::spawn_blocking(move || {
            let s = s.lock().unwrap();
            s.recv_multipart(zmq::DONTWAIT)
                .ok()
                .map(|parts| parts.into_iter().map(Bytes::from).collect::<Message>())
        }))
        .await
        .unwrap()
    }
}

/// Our socket of type `S`; the types that announce a routing id (DEALER,
/// ROUTER, REQ) announce "weirmq", which the libzmq side checks.
fn ours<S: Socket>() -> S {
    let o = Options::default();
    match S::TYPE {
        SocketType::Dealer | SocketType::Router | SocketType::Req => {
            S::with_options(o.with_routing_id("weirmq")).unwrap()
        }
        _ => S::with_options(o).unwrap(),
    }
}

/// Sends on our socket, within a step.
async fn send<S: SendSocket>(s: &S, msg: Message) {
    within(s.send(msg)).await.unwrap();
}

/// Receives on our socket, within a step.
async fn recv<S: RecvSocket>(s: &S) -> Message {
    within(s.recv()).await.unwrap()
}

fn msg(parts: &[&str]) -> Message {
    parts
        .iter()
        .map(|p| Bytes::copy_from_slice(p.as_bytes()))
        .collect()
}

/// Connects our socket of type `S` and a libzmq socket of type `theirs`,
/// one binding and the other connecting.
async fn pair<S: Socket>(
    theirs: zmq::SocketType,
    we_bind: bool,
    transport: Transport,
    dir: &tempfile::TempDir,
    ctx: &zmq::Context,
    n: usize,
) -> (S, Theirs) {
    let o = ours::<S>();
    let t = zmq_socket(ctx, theirs);
    t.set_identity(b"libzmq").unwrap();
    let ep = transport.bind_endpoint(dir, &format!("m{n}.sock"));
    if we_bind {
        let at = o.bind(&ep).await.unwrap();
        t.connect(&at).unwrap();
    } else {
        t.bind(&ep).unwrap();
        o.connect(&zmq_last_endpoint(&t)).await.unwrap();
    }
    (o, Theirs(Arc::new(Mutex::new(t))))
}

/// Runs `scenario` with our socket of type `S` against libzmq's of type
/// `theirs`, for both bind sides and both transports.
async fn all_ways<S, F, Fut>(theirs: zmq::SocketType, scenario: F)
where
    S: Socket,
    F: Fn(S, Theirs) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let ctx = zmq::Context::new();
    let mut n = 0;
    for transport in Transport::ALL {
        for we_bind in [true, false] {
            n += 1;
            let (o, t) = pair::<S>(theirs, we_bind, transport, &dir, &ctx, n).await;
            scenario(o, t).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_both_directions() {
    all_ways(zmq::PULL, |o: Push, t| async move {
        send(&o, msg(&["to libzmq", ""])).await;
        assert_eq!(t.recv().await, msg(&["to libzmq", ""]));
    })
    .await;
    all_ways(zmq::PUSH, |o: Pull, t| async move {
        t.send(msg(&["to weirmq"])).await;
        assert_eq!(recv(&o).await, msg(&["to weirmq"]));
    })
    .await;
}

/// A message each way between peers of one type (PAIR, DEALER).
async fn both_ways<S: SendSocket + RecvSocket>(o: S, t: Theirs) {
    send(&o, msg(&["a", "b"])).await;
    assert_eq!(t.recv().await, msg(&["a", "b"]));
    t.send(msg(&["c"])).await;
    assert_eq!(recv(&o).await, msg(&["c"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_and_dealer_pairs() {
    all_ways(zmq::PAIR, both_ways::<Pair>).await;
    all_ways(zmq::DEALER, both_ways::<Dealer>).await;
}

/// A client's request: DEALER clients add the empty delimiter themselves.
fn request(dealer: bool) -> Message {
    if dealer {
        msg(&["", "question"])
    } else {
        msg(&["question"])
    }
}

/// The reply a client gets.
fn reply(dealer: bool) -> Message {
    if dealer {
        msg(&["", "answer"])
    } else {
        msg(&["answer"])
    }
}

/// Our client (REQ, DEALER) asks libzmq's server of type `server`; a ROUTER
/// server echoes the envelope back.
async fn we_ask<S: SendSocket + RecvSocket>(o: S, t: Theirs, server: zmq::SocketType) {
    let dealer = S::TYPE == SocketType::Dealer;
    send(&o, request(dealer)).await;
    let q = t.recv().await;
    let answer = if server == zmq::ROUTER {
        let mut env: Vec<Bytes> = q.frames().to_vec();
        *env.last_mut().unwrap() = Bytes::from("answer");
        assert_eq!(q.frames()[0], "weirmq", "our routing id");
        env.into_iter().collect()
    } else {
        assert_eq!(q, msg(&["question"]));
        msg(&["answer"])
    };
    t.send(answer).await;
    assert_eq!(recv(&o).await, reply(dealer));
}

/// libzmq's client of type `client` asks our server (REP, ROUTER); a ROUTER
/// server echoes the envelope back.
async fn they_ask<S: SendSocket + RecvSocket>(o: S, t: Theirs, client: zmq::SocketType) {
    let dealer = client == zmq::DEALER;
    t.send(request(dealer)).await;
    let q = recv(&o).await;
    let answer = if S::TYPE == SocketType::Router {
        assert_eq!(q.frames()[0], "libzmq", "libzmq's routing id");
        let mut env: Vec<Bytes> = q.frames().to_vec();
        *env.last_mut().unwrap() = Bytes::from("answer");
        env.into_iter().collect()
    } else {
        assert_eq!(q, msg(&["question"]));
        msg(&["answer"])
    };
    send(&o, answer).await;
    assert_eq!(t.recv().await, reply(dealer));
}

/// Request-reply: every client type against every server type, with weirmq
/// on either side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_family() {
    for server in [zmq::REP, zmq::ROUTER] {
        all_ways(server, |o: Req, t| we_ask(o, t, server)).await;
        all_ways(server, |o: Dealer, t| we_ask(o, t, server)).await;
    }
    for client in [zmq::REQ, zmq::DEALER] {
        all_ways(client, |o: Rep, t| they_ask(o, t, client)).await;
        all_ways(client, |o: Router, t| they_ask(o, t, client)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_to_router() {
    all_ways(zmq::ROUTER, |o: Router, t| async move {
        // Each side knows the other's announced id; the libzmq side's
        // connection may take a moment to be routable, so it retries.
        within(async {
            loop {
                let s = t.0.clone();
                let sent = tokio::task::spawn_blocking(move || {
                    let s = s.lock().unwrap();
                    s.set_router_mandatory(true).unwrap();
                    s.send_multipart(["weirmq", "hi"], 0).is_ok()
                })
                .await
                .unwrap();
                if sent {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert_eq!(recv(&o).await, msg(&["libzmq", "hi"]));
        send(&o, msg(&["libzmq", "back"])).await;
        assert_eq!(t.recv().await, msg(&["weirmq", "back"]));
    })
    .await;
}

/// libzmq's subscriber of type `subscriber` subscribes to everything.
async fn they_subscribe(t: &Theirs, subscriber: zmq::SocketType) {
    if subscriber == zmq::SUB {
        t.0.lock().unwrap().set_subscribe(b"").unwrap();
    } else {
        t.send(msg(&["\x01"])).await;
    }
}

/// Our XPUB is told of libzmq's subscription to everything.
async fn subscription_arrives(x: &XPub, t: &Theirs) {
    // libzmq attaches an accepted connection only when its application
    // thread next calls into the socket, so keep calling while waiting for
    // the subscription.
    let note = within(async {
        loop {
            t.try_recv().await;
            let wait = Duration::from_millis(10);
            if let Ok(m) = tokio::time::timeout(wait, x.recv()).await {
                return m.unwrap();
            }
        }
    })
    .await;
    assert_eq!(note, msg(&["\x01"]));
}

/// Our publisher (PUB, XPUB) publishes until libzmq's subscriber has a
/// message.
async fn we_publish<S: SendSocket>(o: &S, t: &Theirs) {
    let got = within(async {
        loop {
            send(o, msg(&["tick"])).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
            if let Some(m) = t.try_recv().await {
                return m;
            }
        }
    })
    .await;
    assert_eq!(got, msg(&["tick"]));
}

/// libzmq's publisher of type `publisher` publishes until our subscriber
/// (SUB, XSUB), already subscribed to everything, has a message.
async fn they_publish<S: RecvSocket>(o: &S, t: &Theirs, publisher: zmq::SocketType) {
    if publisher == zmq::XPUB {
        assert_eq!(t.recv().await, msg(&["\x01"]));
    }
    let got = within(async {
        loop {
            t.send(msg(&["tock"])).await;
            if let Ok(m) = tokio::time::timeout(Duration::from_millis(10), recv(o)).await {
                return m;
            }
        }
    })
    .await;
    assert_eq!(got, msg(&["tock"]));
}

/// Publish-subscribe: PUB or XPUB against SUB or XSUB, either side weirmq.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_subscribe_family() {
    for subscriber in [zmq::SUB, zmq::XSUB] {
        // weirmq publishes, libzmq subscribes.
        all_ways(subscriber, |o: Pub, t| async move {
            they_subscribe(&t, subscriber).await;
            we_publish(&o, &t).await;
        })
        .await;
        all_ways(subscriber, |o: XPub, t| async move {
            they_subscribe(&t, subscriber).await;
            subscription_arrives(&o, &t).await;
            we_publish(&o, &t).await;
        })
        .await;
    }
    for publisher in [zmq::PUB, zmq::XPUB] {
        // libzmq publishes, weirmq subscribes.
        all_ways(publisher, |o: Sub, t| async move {
            o.subscribe("").unwrap();
            they_publish(&o, &t, publisher).await;
        })
        .await;
        all_ways(publisher, |o: XSub, t| async move {
            within(o.send("\x01")).await.unwrap();
            they_publish(&o, &t, publisher).await;
        })
        .await;
    }
}
