//! Every compatible socket pair against libzmq 4.3: each side in each role,
//! weirmq binding and libzmq binding, over tcp and ipc.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{Dealer, Message, Options, Pair, Pub, Pull, Push, Rep, Req, Router, Sub, XPub, XSub};
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

/// One of our sockets, whatever its type.
enum Ours {
    Push(Push),
    Pull(Pull),
    Pair(Pair),
    Dealer(Dealer),
    Router(Router),
    Req(Req),
    Rep(Rep),
    Pub(Pub),
    Sub(Sub),
    XPub(XPub),
    XSub(XSub),
}

macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Ours::Push($s) => $body,
            Ours::Pull($s) => $body,
            Ours::Pair($s) => $body,
            Ours::Dealer($s) => $body,
            Ours::Router($s) => $body,
            Ours::Req($s) => $body,
            Ours::Rep($s) => $body,
            Ours::Pub($s) => $body,
            Ours::Sub($s) => $body,
            Ours::XPub($s) => $body,
            Ours::XSub($s) => $body,
        }
    };
}

impl Ours {
    fn new(kind: zmq::SocketType) -> Ours {
        let o = Options::default().with_routing_id("weirmq");
        match kind {
            zmq::PUSH => Ours::Push(Push::new()),
            zmq::PULL => Ours::Pull(Pull::new()),
            zmq::PAIR => Ours::Pair(Pair::new()),
            zmq::DEALER => Ours::Dealer(Dealer::with_options(o).unwrap()),
            zmq::ROUTER => Ours::Router(Router::with_options(o).unwrap()),
            zmq::REQ => Ours::Req(Req::with_options(o).unwrap()),
            zmq::REP => Ours::Rep(Rep::new()),
            zmq::PUB => Ours::Pub(Pub::new()),
            zmq::SUB => Ours::Sub(Sub::new()),
            zmq::XPUB => Ours::XPub(XPub::new()),
            zmq::XSUB => Ours::XSub(XSub::new()),
            other => panic!("no such socket type {other:?}"),
        }
    }

    async fn bind(&self, endpoint: &str) -> String {
        each!(self, s => s.bind(endpoint).await.unwrap())
    }

    async fn connect(&self, endpoint: &str) {
        each!(self, s => s.connect(endpoint).await.unwrap())
    }

    async fn send(&self, msg: Message) {
        let r = match self {
            Ours::Push(s) => s.send(msg).await,
            Ours::Pair(s) => s.send(msg).await,
            Ours::Dealer(s) => s.send(msg).await,
            Ours::Router(s) => s.send(msg).await,
            Ours::Req(s) => s.send(msg).await,
            Ours::Rep(s) => s.send(msg).await,
            Ours::Pub(s) => s.send(msg).await,
            Ours::XPub(s) => s.send(msg).await,
            Ours::XSub(s) => s.send(msg).await,
            Ours::Pull(_) | Ours::Sub(_) => panic!("cannot send"),
        };
        within(async { r }).await.unwrap();
    }

    async fn recv(&self) -> Message {
        let r = match self {
            Ours::Pull(s) => within(s.recv()).await,
            Ours::Pair(s) => within(s.recv()).await,
            Ours::Dealer(s) => within(s.recv()).await,
            Ours::Router(s) => within(s.recv()).await,
            Ours::Req(s) => within(s.recv()).await,
            Ours::Rep(s) => within(s.recv()).await,
            Ours::Sub(s) => within(s.recv()).await,
            Ours::XPub(s) => within(s.recv()).await,
            Ours::XSub(s) => within(s.recv()).await,
            Ours::Push(_) | Ours::Pub(_) => panic!("cannot recv"),
        };
        r.unwrap()
    }
}

fn msg(parts: &[&str]) -> Message {
    parts
        .iter()
        .map(|p| Bytes::copy_from_slice(p.as_bytes()))
        .collect()
}

/// Connects our socket of type `ours` and a libzmq socket of type `theirs`,
/// one binding and the other connecting.
async fn pair(
    ours: zmq::SocketType,
    theirs: zmq::SocketType,
    we_bind: bool,
    transport: Transport,
    dir: &tempfile::TempDir,
    ctx: &zmq::Context,
    n: usize,
) -> (Ours, Theirs) {
    let o = Ours::new(ours);
    let t = zmq_socket(ctx, theirs);
    t.set_identity(b"libzmq").unwrap();
    let ep = transport.bind_endpoint(dir, &format!("m{n}.sock"));
    if we_bind {
        let at = o.bind(&ep).await;
        t.connect(&at).unwrap();
    } else {
        t.bind(&ep).unwrap();
        o.connect(&zmq_last_endpoint(&t)).await;
    }
    (o, Theirs(Arc::new(Mutex::new(t))))
}

/// Runs `scenario` for both bind sides and both transports.
async fn all_ways<F, Fut>(ours: zmq::SocketType, theirs: zmq::SocketType, scenario: F)
where
    F: Fn(Ours, Theirs) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let ctx = zmq::Context::new();
    let mut n = 0;
    for transport in Transport::ALL {
        for we_bind in [true, false] {
            n += 1;
            let (o, t) = pair(ours, theirs, we_bind, transport, &dir, &ctx, n).await;
            scenario(o, t).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_both_directions() {
    all_ways(zmq::PUSH, zmq::PULL, |o, t| async move {
        o.send(msg(&["to libzmq", ""])).await;
        assert_eq!(t.recv().await, msg(&["to libzmq", ""]));
    })
    .await;
    all_ways(zmq::PULL, zmq::PUSH, |o, t| async move {
        t.send(msg(&["to weirmq"])).await;
        assert_eq!(o.recv().await, msg(&["to weirmq"]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_and_dealer_pairs() {
    for (ours, theirs) in [(zmq::PAIR, zmq::PAIR), (zmq::DEALER, zmq::DEALER)] {
        all_ways(ours, theirs, |o, t| async move {
            o.send(msg(&["a", "b"])).await;
            assert_eq!(t.recv().await, msg(&["a", "b"]));
            t.send(msg(&["c"])).await;
            assert_eq!(o.recv().await, msg(&["c"]));
        })
        .await;
    }
}

/// Request-reply: every client type against every server type, with weirmq
/// on either side. DEALER clients add the empty delimiter themselves;
/// ROUTER servers echo the envelope back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_family() {
    for client in [zmq::REQ, zmq::DEALER] {
        for server in [zmq::REP, zmq::ROUTER] {
            let request = |kind| {
                if kind == zmq::DEALER {
                    msg(&["", "question"])
                } else {
                    msg(&["question"])
                }
            };
            let reply = |kind| {
                if kind == zmq::DEALER {
                    msg(&["", "answer"])
                } else {
                    msg(&["answer"])
                }
            };
            // weirmq client, libzmq server.
            all_ways(client, server, |o, t| async move {
                o.send(request(client)).await;
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
                assert_eq!(o.recv().await, reply(client));
            })
            .await;
            // libzmq client, weirmq server.
            all_ways(server, client, |o, t| async move {
                t.send(request(client)).await;
                let q = o.recv().await;
                let answer = if server == zmq::ROUTER {
                    assert_eq!(q.frames()[0], "libzmq", "libzmq's routing id");
                    let mut env: Vec<Bytes> = q.frames().to_vec();
                    *env.last_mut().unwrap() = Bytes::from("answer");
                    env.into_iter().collect()
                } else {
                    assert_eq!(q, msg(&["question"]));
                    msg(&["answer"])
                };
                o.send(answer).await;
                assert_eq!(t.recv().await, reply(client));
            })
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_to_router() {
    all_ways(zmq::ROUTER, zmq::ROUTER, |o, t| async move {
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
        assert_eq!(o.recv().await, msg(&["libzmq", "hi"]));
        o.send(msg(&["libzmq", "back"])).await;
        assert_eq!(t.recv().await, msg(&["weirmq", "back"]));
    })
    .await;
}

/// Publish-subscribe: PUB or XPUB against SUB or XSUB, either side weirmq.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_subscribe_family() {
    for publisher in [zmq::PUB, zmq::XPUB] {
        for subscriber in [zmq::SUB, zmq::XSUB] {
            // weirmq publishes, libzmq subscribes.
            all_ways(publisher, subscriber, |o, t| async move {
                if subscriber == zmq::SUB {
                    t.0.lock().unwrap().set_subscribe(b"").unwrap();
                } else {
                    t.send(msg(&["\x01"])).await;
                }
                if let Ours::XPub(x) = &o {
                    // libzmq attaches an accepted connection only when its
                    // application thread next calls into the socket, so keep
                    // calling while waiting for the subscription.
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
                let got = within(async {
                    loop {
                        o.send(msg(&["tick"])).await;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        if let Some(m) = t.try_recv().await {
                            return m;
                        }
                    }
                })
                .await;
                assert_eq!(got, msg(&["tick"]));
            })
            .await;
            // libzmq publishes, weirmq subscribes.
            all_ways(subscriber, publisher, |o, t| async move {
                match &o {
                    Ours::Sub(s) => s.subscribe("").unwrap(),
                    Ours::XSub(s) => within(s.send("\x01")).await.unwrap(),
                    _ => unreachable!(),
                }
                if publisher == zmq::XPUB {
                    assert_eq!(t.recv().await, msg(&["\x01"]));
                }
                let got = within(async {
                    loop {
                        t.send(msg(&["tock"])).await;
                        if let Ok(m) =
                            tokio::time::timeout(Duration::from_millis(10), o.recv()).await
                        {
                            return m;
                        }
                    }
                })
                .await;
                assert_eq!(got, msg(&["tock"]));
            })
            .await;
        }
    }
}
