//! The proxy (libzmq's `zmq_proxy_steerable`) between weirmq sockets:
//! both directions, one way, capture, and steering (PAUSE, RESUME,
//! TERMINATE, STATISTICS) from a control socket. The same against libzmq
//! peers is in the interop suite (`tests/tests/proxy.rs`).

mod common;

use std::time::Duration;

use bytes::Bytes;
use weirmq::prelude::*;
use weirmq::{Dealer, Message, Pair, Proxy, ProxyStats, Pull, Push, Rep, Req, Router, Socket};

use common::{wait_until, within};

/// The eight frames of a STATISTICS answer, read back into numbers.
fn counters(answer: &Message) -> [u64; 8] {
    assert_eq!(answer.len(), 8, "STATISTICS is eight frames: {answer:?}");
    let mut out = [0; 8];
    for (n, frame) in out.iter_mut().zip(answer.frames()) {
        *n = u64::from_ne_bytes(frame[..].try_into().expect("eight octets"));
    }
    out
}

async fn bound<S: Socket>(s: &S) -> String {
    s.bind("tcp://127.0.0.1:*").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_replies_cross_a_router_dealer_proxy() {
    let (front, back, control) = (Router::new(), Dealer::new(), Rep::new());
    let (front_at, back_at, control_at) = (
        bound(&front).await,
        bound(&back).await,
        bound(&control).await,
    );
    let running = tokio::spawn(async move {
        let proxy = Proxy::new(&front, &back).control(&control);
        proxy.run().await
    });
    let worker = Rep::new();
    worker.connect(&back_at).await.unwrap();
    let serving = tokio::spawn(async move {
        for _ in 0..40 {
            let mut request = worker.recv().await.unwrap();
            request.push(Bytes::from_static(b"done"));
            worker.send(request).await.unwrap();
        }
    });
    let clients: Vec<Req> = (0..4).map(|_| Req::new()).collect();
    for c in &clients {
        c.connect(&front_at).await.unwrap();
    }
    let mut octets = 0;
    for round in 0..10 {
        for (i, c) in clients.iter().enumerate() {
            let body = format!("client {i} round {round}");
            octets += body.len() as u64;
            within(c.send(body.clone().into_bytes())).await.unwrap();
            let reply = within(c.recv()).await.unwrap();
            let expected: Message = [body.into_bytes(), b"done".to_vec()].into_iter().collect();
            assert_eq!(reply, expected);
        }
    }
    within(serving).await.unwrap();

    let steer = Req::new();
    steer.connect(&control_at).await.unwrap();
    within(steer.send("STATISTICS")).await.unwrap();
    let stats = counters(&within(steer.recv()).await.unwrap());
    // A request on the frontend is the routing id, the delimiter and the
    // body; on its way back the reply has "done" as well: 5 octets for
    // the id, 4 for "done".
    let requests = 40 * 5 + octets;
    let replies = requests + 40 * 4;
    assert_eq!(
        stats,
        [40, requests, 40, replies, 40, replies, 40, requests]
    );
    // A REP control socket answers every command, so that its peer can
    // go on.
    within(steer.send("TERMINATE")).await.unwrap();
    assert_eq!(
        within(steer.recv()).await.unwrap(),
        Message::from("TERMINATE")
    );
    within(running).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_messages_back_and_resume_lets_them_through() {
    let (front, back, control) = (Pull::new(), Push::new(), Pair::new());
    let (front_at, back_at, control_at) = (
        bound(&front).await,
        bound(&back).await,
        bound(&control).await,
    );
    let steer = Pair::new();
    steer.connect(&control_at).await.unwrap();
    let proxy = Proxy::new(&front, &back).control(&control);
    let seen = proxy.counters();
    let (sender, receiver) = (Push::new(), Pull::new());
    sender.connect(&front_at).await.unwrap();
    receiver.connect(&back_at).await.unwrap();
    let test = async {
        within(sender.send("before")).await.unwrap();
        assert_eq!(
            within(receiver.recv()).await.unwrap(),
            Message::from("before")
        );
        steer.send("PAUSE").await.unwrap();
        // The proxy takes the PAUSE before the next message: ask for the
        // counters, and their answer comes after it.
        steer.send("STATISTICS").await.unwrap();
        within(steer.recv()).await.unwrap();
        for i in 0..5 {
            sender.send(format!("held {i}").into_bytes()).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(receiver.try_recv().is_none(), "a paused proxy forwarded");
        assert_eq!(seen.get().frontend.messages_in, 1);
        steer.send("RESUME").await.unwrap();
        for i in 0..5 {
            let got = within(receiver.recv()).await.unwrap();
            assert_eq!(got, Message::from(format!("held {i}").into_bytes()));
        }
        wait_until(|| seen.get().frontend.messages_in == 6).await;
        steer.send("NONSENSE").await.unwrap();
        wait_until(|| seen.get().bad_commands == 1).await;
        steer.send("TERMINATE").await.unwrap();
    };
    let (ran, ()) = within(async { tokio::join!(proxy.run_one_way(), test) }).await;
    ran.unwrap();
    let stats: ProxyStats = seen.get();
    assert_eq!(stats.backend.messages_out, 6);
    assert_eq!(stats.dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_gets_a_copy_of_every_message_both_ways() {
    let (front, back, capture) = (Router::new(), Dealer::new(), Push::new());
    let (front_at, back_at, capture_at) = (
        bound(&front).await,
        bound(&back).await,
        bound(&capture).await,
    );
    let tap = Pull::new();
    tap.connect(&capture_at).await.unwrap();
    let (client, worker) = (Dealer::new(), Dealer::new());
    client.connect(&front_at).await.unwrap();
    worker.connect(&back_at).await.unwrap();
    let proxy = Proxy::new(&front, &back).capture(&capture);
    let test = async {
        within(client.send("ping")).await.unwrap();
        let at_worker = within(worker.recv()).await.unwrap();
        // The ROUTER put the client's routing id in front.
        assert_eq!(at_worker.frames()[1], "ping");
        let mut reply = Message::from_iter([at_worker.frames()[0].clone()]);
        reply.push(Bytes::from_static(b"pong"));
        within(worker.send(reply.clone())).await.unwrap();
        assert_eq!(within(client.recv()).await.unwrap(), Message::from("pong"));
        assert_eq!(within(tap.recv()).await.unwrap(), at_worker);
        assert_eq!(within(tap.recv()).await.unwrap(), reply);
    };
    tokio::select! {
        ran = proxy.run() => panic!("the proxy ended: {ran:?}"),
        () = test => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_for_a_client_that_left_is_counted_not_fatal() {
    let (front, back) = (Router::new(), Dealer::new());
    let (front_at, back_at) = (bound(&front).await, bound(&back).await);
    let worker = Dealer::new();
    worker.connect(&back_at).await.unwrap();
    let proxy = Proxy::new(&front, &back);
    let seen = proxy.counters();
    let test = async {
        let gone = Dealer::new();
        gone.connect(&front_at).await.unwrap();
        within(gone.send("ask")).await.unwrap();
        let request = within(worker.recv()).await.unwrap();
        drop(gone);
        wait_until(|| front.stats().peers == 0).await;
        within(worker.send(request)).await.unwrap();
        wait_until(|| seen.get().unroutable == 1).await;
        // The proxy goes on.
        let client = Dealer::new();
        client.connect(&front_at).await.unwrap();
        within(client.send("again")).await.unwrap();
        let request = within(worker.recv()).await.unwrap();
        within(worker.send(request)).await.unwrap();
        assert_eq!(within(client.recv()).await.unwrap(), Message::from("again"));
    };
    tokio::select! {
        ran = proxy.run() => panic!("the proxy ended: {ran:?}"),
        () = test => {}
    }
}
