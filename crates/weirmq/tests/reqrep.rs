//! REQ, REP, ROUTER and DEALER between weirmq sockets.

use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{Dealer, Error, Hwm, Message, Options, Rep, Req, Router, TrySendError};

mod common;

use common::*;

#[tokio::test]
async fn req_rep_round_trips_and_enforces_the_state_machine() {
    let rep = Rep::new();
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let req = Req::new();
    req.connect(&ep).await.unwrap();
    assert!(matches!(req.recv().await, Err(Error::InvalidState(_))));
    assert!(matches!(
        rep.send("early").await,
        Err(Error::InvalidState(_))
    ));
    for i in 0..20u8 {
        let request: Message = [Bytes::from("q"), Bytes::from(vec![b'a' + i])]
            .into_iter()
            .collect();
        within(req.send(request)).await.unwrap();
        assert!(matches!(
            req.send("again").await,
            Err(Error::InvalidState(_))
        ));
        let q = within(rep.recv()).await.unwrap();
        assert_eq!(q.frames()[0], "q", "the envelope is removed");
        assert_eq!(q.len(), 2);
        assert!(matches!(rep.recv().await, Err(Error::InvalidState(_))));
        within(rep.send(vec![i])).await.unwrap();
        assert_eq!(within(req.recv()).await.unwrap(), Message::from(vec![i]));
    }
}

#[tokio::test]
async fn router_addresses_peers_by_announced_or_generated_id() {
    let router = Router::new();
    let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let named = Dealer::with_options(Options::default().with_routing_id("named")).unwrap();
    named.connect(&ep).await.unwrap();
    let anonymous = Dealer::new();
    anonymous.connect(&ep).await.unwrap();

    within(named.send("from named")).await.unwrap();
    within(anonymous.send("from anonymous")).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let m = within(router.recv()).await.unwrap();
        ids.push((m.frames()[0].clone(), m.frames()[1].clone()));
    }
    ids.sort();
    let (gen_id, body) = &ids[0];
    assert_eq!(body, "from anonymous");
    assert_eq!(gen_id.len(), 5, "generated ids are %x00 + 4 octets");
    assert_eq!(gen_id[0], 0);
    assert_eq!(ids[1], (Bytes::from("named"), Bytes::from("from named")));

    within(router.send(["named", "to named"].into_iter().collect::<Message>()))
        .await
        .unwrap();
    within(
        router.send(
            [gen_id.clone(), Bytes::from("to anonymous")]
                .into_iter()
                .collect::<Message>(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        within(named.recv()).await.unwrap(),
        Message::from("to named")
    );
    assert_eq!(
        within(anonymous.recv()).await.unwrap(),
        Message::from("to anonymous")
    );

    assert!(matches!(
        router
            .send(["nobody", "x"].into_iter().collect::<Message>())
            .await,
        Err(Error::Unroutable)
    ));
    let Err(TrySendError::Unroutable(back)) =
        router.try_send(["nobody", "x"].into_iter().collect::<Message>())
    else {
        panic!()
    };
    assert_eq!(back.frames()[0], "nobody", "the whole message comes back");
    assert!(matches!(
        router.send("only an id").await,
        Err(Error::InvalidMessage(_))
    ));
}

#[tokio::test]
async fn router_refuses_a_second_peer_with_the_same_id() {
    let router = Router::new();
    let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let first = Dealer::with_options(Options::default().with_routing_id("same")).unwrap();
    first.connect(&ep).await.unwrap();
    within(first.send("1")).await.unwrap();
    within(router.recv()).await.unwrap();
    let second = Dealer::with_options(Options::default().with_routing_id("same")).unwrap();
    second.connect(&ep).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(router.stats().peers, 1);
    // Messages to "same" still reach the first peer.
    within(router.send(["same", "hi"].into_iter().collect::<Message>()))
        .await
        .unwrap();
    assert_eq!(within(first.recv()).await.unwrap(), Message::from("hi"));
}

#[tokio::test]
async fn dealer_to_rep_through_the_envelope() {
    let rep = Rep::new();
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let dealer = Dealer::new();
    dealer.connect(&ep).await.unwrap();
    dealer_round_trip(&dealer, &rep, "question", "answer").await;
}

/// A DEALER asks `question` with an empty delimiter; the REP sees only the
/// question, and its `answer` comes back with the delimiter.
async fn dealer_round_trip(
    dealer: &Dealer,
    rep: &Rep,
    question: &'static str,
    answer: &'static str,
) {
    within(dealer.send(["", question].into_iter().collect::<Message>()))
        .await
        .unwrap();
    assert_eq!(within(rep.recv()).await.unwrap(), Message::from(question));
    within(rep.send(answer)).await.unwrap();
    assert_eq!(
        within(dealer.recv()).await.unwrap(),
        ["", answer].into_iter().collect::<Message>()
    );
}

/// REQ and REP write a request or reply through the connection on the
/// sender's task; one larger than the socket buffers cannot go at once, and
/// the engine must carry on where the sender stopped. Over tcp, ipc and
/// inproc, in both directions, several times (each round a fresh partial
/// write).
#[tokio::test]
async fn requests_and_replies_larger_than_the_socket_buffers_arrive_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ipc = format!("ipc://{}", dir.path().join("big").display());
    let inproc = "inproc://reqrep-big";
    for endpoint in ["tcp://127.0.0.1:*", ipc.as_str(), inproc] {
        let rep = Rep::new();
        let ep = rep.bind(endpoint).await.unwrap();
        let req = Req::new();
        req.connect(&ep).await.unwrap();
        let served = tokio::spawn(async move {
            for _ in 0..3 {
                let request = within(rep.recv()).await.unwrap();
                within(rep.send(request)).await.unwrap();
            }
        });
        for round in 0..3u8 {
            let body: Vec<u8> = (0..12 << 20)
                .map(|i: u32| (i % 251) as u8 ^ round)
                .collect();
            within(req.send(body.clone())).await.unwrap();
            let reply = within(req.recv()).await.unwrap();
            assert_eq!(reply.frames().len(), 1);
            assert!(
                reply.frames()[0] == body,
                "{endpoint}: round {round} came back whole"
            );
        }
        within(served).await.unwrap();
    }
}

/// Without `immediate`, a request sent before there is any connection (the
/// REQ's peer is routed as soon as it connects, as in libzmq) waits in the
/// pipe and leaves on the first connection; so does one sent after the REP
/// went away, on the next. Nothing is written through a connection that
/// is not there.
#[tokio::test]
async fn a_request_sent_without_a_connection_leaves_on_the_next_one() {
    let ep = unused_tcp_endpoint();
    let req = Req::with_options(Options::default().with_immediate(false)).unwrap();
    req.connect(&ep).await.unwrap();
    within(req.send("first")).await.unwrap();
    for (request, reply) in [("first", "one"), ("second", "two")] {
        let rep = Rep::new();
        rep.bind(&ep).await.unwrap();
        if request == "second" {
            within(req.send(request)).await.unwrap();
        }
        assert_eq!(within(rep.recv()).await.unwrap(), Message::from(request));
        within(rep.send(reply)).await.unwrap();
        assert_eq!(within(req.recv()).await.unwrap(), Message::from(reply));
        drop(rep);
        // Time for the REQ's engine to see the connection end.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A REP whose reply times out (or whose send is dropped) still owes that
/// reply, as libzmq's REP after EAGAIN: it refuses to receive, and the same
/// reply, sent again once there is room, reaches the requester. Then it
/// serves the next request.
#[tokio::test]
async fn rep_keeps_its_reply_state_after_a_send_times_out_or_is_dropped() {
    let hwm = Hwm::new(1, 1 << 20).unwrap();
    let rep = Rep::with_options(
        Options::default()
            .with_hwm(hwm)
            .with_send_timeout(Duration::from_millis(100)),
    )
    .unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    // A client that does not read its replies, so they back up to the REP.
    let dealer = Dealer::with_options(Options::default().with_hwm(hwm)).unwrap();
    dealer.connect(&ep).await.unwrap();
    let request =
        |body: String| -> Message { [Bytes::new(), Bytes::from(body)].into_iter().collect() };
    let reply = |n: u32| -> Message {
        let mut body = n.to_le_bytes().to_vec();
        body.resize(1 << 20, 0);
        Message::from(body)
    };

    let mut replied = 0;
    loop {
        within(dealer.send(request(format!("q{replied}"))))
            .await
            .unwrap();
        assert_eq!(
            within(rep.recv()).await.unwrap(),
            Message::from(format!("q{replied}").into_bytes())
        );
        match within(rep.send(reply(replied))).await {
            Ok(()) => replied += 1,
            Err(Error::Timeout(_)) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(replied < 1000, "the replies never backed up");
    }
    assert!(matches!(
        within(rep.recv()).await,
        Err(Error::InvalidState(_))
    ));
    assert!(
        tokio::time::timeout(Duration::from_millis(20), rep.send(reply(replied)))
            .await
            .is_err(),
        "still no room"
    );
    assert!(matches!(
        within(rep.recv()).await,
        Err(Error::InvalidState(_))
    ));

    // The client reads; the reply it is owed goes out when sent again.
    let retried = tokio::spawn(async move {
        within(rep.send(reply(replied))).await.unwrap();
        rep
    });
    for n in 0..=replied {
        let m = within(dealer.recv()).await.unwrap();
        assert_eq!(m.frames()[0], "", "the envelope came back");
        assert_eq!(m.frames()[1][..4], n.to_le_bytes(), "reply {n}");
    }
    let rep = within(retried).await.unwrap();

    dealer_round_trip(&dealer, &rep, "next", "done").await;
}

/// A REQ whose receive times out (or is dropped) still waits for the reply
/// to its request, as libzmq's REQ without REQ_RELAXED: it refuses to send
/// another, and the late reply is what the next receive returns. A REP whose
/// receive times out simply receives again.
#[tokio::test]
async fn req_and_rep_keep_their_state_after_a_receive_times_out() {
    let quick = Options::default().with_recv_timeout(Duration::from_millis(100));
    let rep = Rep::with_options(quick.clone()).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let req = Req::with_options(quick).unwrap();
    req.connect(&ep).await.unwrap();

    assert!(matches!(within(rep.recv()).await, Err(Error::Timeout(_))));
    within(req.send("question")).await.unwrap();
    assert!(matches!(within(req.recv()).await, Err(Error::Timeout(_))));
    assert!(
        tokio::time::timeout(Duration::from_millis(20), req.recv())
            .await
            .is_err()
    );
    assert!(matches!(
        within(req.send("another")).await,
        Err(Error::InvalidState(_))
    ));

    assert_eq!(within(rep.recv()).await.unwrap(), Message::from("question"));
    within(rep.send("answer")).await.unwrap();
    assert_eq!(within(req.recv()).await.unwrap(), Message::from("answer"));

    within(req.send("second")).await.unwrap();
    assert_eq!(within(rep.recv()).await.unwrap(), Message::from("second"));
    within(rep.send("again")).await.unwrap();
    assert_eq!(within(req.recv()).await.unwrap(), Message::from("again"));
}

// A REP or REQ with one peer reads the connection on its own task while
// it waits in `recv`, holding the stream's read wake-up. What it cannot
// finish there must reach the engine: the end of the stream (the engine
// ends the connection), a heartbeat's PONG (the engine writes it), and a
// message there is no room for (the engine delivers it, in order). The
// tests below hold it to that, over tcp, ipc and inproc.

/// One round trip, then a receive on the REP that waits (50 ms in, when
/// this returns) for the next request.
async fn round_trip_then_wait(
    req: &Req,
    rep: &std::sync::Arc<Rep>,
) -> tokio::task::JoinHandle<Result<Message, Error>> {
    within(req.send("q")).await.unwrap();
    within(rep.recv()).await.unwrap();
    within(rep.send("a")).await.unwrap();
    within(req.recv()).await.unwrap();
    waiting_recv(rep).await
}

/// The reason of the next disconnection `events` reports.
async fn disconnected(events: &mut weirmq::Monitor) -> String {
    first_event(events, |e| match e {
        weirmq::MonitorEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await
}

/// A receive on `rep`, in a task, waiting for 50 ms when this returns.
async fn waiting_recv(
    rep: &std::sync::Arc<Rep>,
) -> tokio::task::JoinHandle<Result<Message, Error>> {
    let waiting = tokio::spawn({
        let rep = rep.clone();
        async move { rep.recv().await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    waiting
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_waiting_in_recv_sees_its_peer_leave() {
    let dir = tempfile::tempdir().unwrap();
    let ipc = format!("ipc://{}", dir.path().join("leave").display());
    let inproc = "inproc://reqrep-leave";
    for endpoint in ["tcp://127.0.0.1:*", ipc.as_str(), inproc] {
        let rep = std::sync::Arc::new(Rep::new());
        let mut events = rep.monitor();
        let ep = rep.bind(endpoint).await.unwrap();
        let req = Req::new();
        req.connect(&ep).await.unwrap();
        // The REP waits for the next request, reading through, when the
        // REQ goes away.
        let waiting = round_trip_then_wait(&req, &rep).await;
        drop(req);
        disconnected(&mut events).await;
        assert!(!waiting.is_finished(), "no request came");
        waiting.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_are_answered_while_a_rep_waits_in_recv() {
    let rep = std::sync::Arc::new(Rep::new());
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    // The REQ pings every 20 ms and gives up on a peer silent for 100 ms:
    // only the REP's PONGs keep the connection up while nothing else moves.
    let mut hb = weirmq::Heartbeat::new(Duration::from_millis(20));
    hb.timeout = Duration::from_millis(100);
    let req = Req::with_options(Options::default().with_heartbeat(hb)).unwrap();
    let mut req_events = req.monitor();
    req.connect(&ep).await.unwrap();
    let waiting = round_trip_then_wait(&req, &rep).await;
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert!(!waiting.is_finished(), "no request came");
    while let Some(event) = req_events.try_recv() {
        assert!(
            !matches!(event, weirmq::MonitorEvent::Disconnected { .. }),
            "the REQ lost the REP: {event:?}"
        );
    }
    // The waiting receiver gets the next request.
    within(req.send("q2")).await.unwrap();
    assert_eq!(within(waiting).await.unwrap().unwrap(), Message::from("q2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_with_a_small_queue_answers_a_flood_of_requests_in_order() {
    const N: u32 = 2000;
    let rep =
        Rep::with_options(Options::default().with_hwm(Hwm::new(2, 1 << 20).unwrap())).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let dealer = Dealer::new();
    dealer.connect(&ep).await.unwrap();
    dealer_round_trip(&dealer, &rep, "question", "answer").await;
    // All the requests at once, to a REP already waiting in `recv`: a read
    // brings many, more than the REP's queue holds.
    let asking = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for n in 0..N {
            let request: Message = [Bytes::new(), Bytes::from(n.to_le_bytes().to_vec())]
                .into_iter()
                .collect();
            dealer.send(request).await.unwrap();
        }
    };
    let answering = async {
        for _ in 0..N {
            let q = rep.recv().await.unwrap();
            rep.send(q).await.unwrap();
        }
    };
    let checking = async {
        for n in 0..N {
            let reply = dealer.recv().await.unwrap();
            assert_eq!(reply.frames()[1], n.to_le_bytes()[..], "reply {n}");
        }
    };
    within(async { tokio::join!(asking, answering, checking) }).await;
    // Every request counted as received, however it came: read through
    // by the receiver, or queued.
    assert_eq!(rep.stats().received, u64::from(N) + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_waiting_in_recv_ends_a_connection_that_breaks_the_rules() {
    let rep = std::sync::Arc::new(
        Rep::with_options(Options::default().with_max_message_size(64)).unwrap(),
    );
    let mut events = rep.monitor();
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let dealer = Dealer::new();
    dealer.connect(&ep).await.unwrap();
    dealer_round_trip(&dealer, &rep, "question", "answer").await;
    let waiting = waiting_recv(&rep).await;
    let too_large: Message = [Bytes::new(), Bytes::from(vec![7u8; 1000])]
        .into_iter()
        .collect();
    within(dealer.send(too_large)).await.unwrap();
    let reason = disconnected(&mut events).await;
    assert!(reason.contains("exceeds the limit"), "{reason}");
    assert!(!waiting.is_finished(), "the message was refused");
    waiting.abort();
}

/// A REP reads through only while it has one peer. A second peer arriving
/// while it waits (holding the first one's read wake-up) must not keep
/// either peer's requests from it: the first one's connection goes back to
/// its engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_waiting_on_one_peer_hears_both_once_a_second_arrives() {
    let rep = std::sync::Arc::new(Rep::new());
    let ep = rep.bind("tcp://127.0.0.1:*").await.unwrap();
    let first = Dealer::new();
    first.connect(&ep).await.unwrap();
    dealer_round_trip(&first, &rep, "one", "1").await;
    let waiting = waiting_recv(&rep).await;
    let second = Dealer::new();
    second.connect(&ep).await.unwrap();
    wait_until(|| rep.stats().peers == 2).await;
    within(first.send(["", "two"].into_iter().collect::<Message>()))
        .await
        .unwrap();
    assert_eq!(
        within(waiting).await.unwrap().unwrap(),
        Message::from("two")
    );
    within(rep.send("2")).await.unwrap();
    assert_eq!(
        within(first.recv()).await.unwrap(),
        ["", "2"].into_iter().collect::<Message>()
    );
    dealer_round_trip(&second, &rep, "three", "3").await;
    // With one peer again, through the reading receiver.
    drop(second);
    wait_until(|| rep.stats().peers == 1).await;
    dealer_round_trip(&first, &rep, "four", "4").await;
}
