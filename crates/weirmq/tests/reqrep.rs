//! REQ, REP, ROUTER and DEALER between weirmq sockets.

use std::time::Duration;

use bytes::Bytes;
use weirmq::{Dealer, Error, Message, Options, Rep, Req, Router, TrySendError};

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
    within(dealer.send(["", "question"].into_iter().collect::<Message>()))
        .await
        .unwrap();
    assert_eq!(within(rep.recv()).await.unwrap(), Message::from("question"));
    within(rep.send("answer")).await.unwrap();
    assert_eq!(
        within(dealer.recv()).await.unwrap(),
        ["", "answer"].into_iter().collect::<Message>()
    );
}
