//! PUB/SUB between weirmq sockets: filtering, subscriptions before and after
//! connecting, and the two full-queue policies.

use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{Error, Hwm, Message, Options, Pub, Sub, TrySendError, WhenFull};

mod common;

use common::*;

/// Publishes `probe` until the subscriber sees it: subscriptions travel
/// asynchronously, so the first messages may precede them (the slow joiner).
async fn until_subscribed(publisher: &Pub, sub: &Sub, probe: &str) {
    within(async {
        loop {
            publisher.send(probe.as_bytes().to_vec()).await.unwrap();
            if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(20), sub.recv()).await {
                if m == Message::from(probe.as_bytes().to_vec()) {
                    return;
                }
            }
        }
    })
    .await;
    while sub.try_recv().is_some() {}
}

#[tokio::test]
async fn prefix_filtering_and_unsubscribe() {
    let publisher = Pub::new();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = Sub::new();
    sub.subscribe("news").unwrap();
    sub.connect(&ep).await.unwrap();
    until_subscribed(&publisher, &sub, "news-probe").await;

    publisher.send("weather: rain").await.unwrap();
    publisher
        .send(["news", "multipart"].into_iter().collect::<Message>())
        .await
        .unwrap();
    publisher.send("news: more").await.unwrap();
    assert_eq!(
        within(sub.recv()).await.unwrap(),
        ["news", "multipart"].into_iter().collect::<Message>()
    );
    assert_eq!(
        within(sub.recv()).await.unwrap(),
        Message::from("news: more")
    );

    // Subscribing after connecting reaches the publisher too.
    sub.subscribe("weather").unwrap();
    until_subscribed(&publisher, &sub, "weather-probe").await;
    sub.unsubscribe("news").unwrap();
    // Cancelling travels in order after the subscription above: once a
    // later probe arrives, "news" is no longer delivered.
    sub.subscribe("z").unwrap();
    until_subscribed(&publisher, &sub, "z-probe").await;
    publisher.send("news: gone").await.unwrap();
    publisher.send("z-last").await.unwrap();
    assert_eq!(within(sub.recv()).await.unwrap(), Message::from("z-last"));
    assert!(sub.unsubscribe("never").is_err());
}

#[tokio::test]
async fn publisher_with_drop_policy_counts_what_a_stalled_subscriber_misses() {
    let hwm = Hwm::new(10, 1 << 20).unwrap();
    let publisher = Pub::with_options(
        Options::default()
            .with_hwm(hwm)
            .with_when_full(WhenFull::Drop),
    )
    .unwrap();
    let mut events = publisher.monitor();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = Sub::with_options(Options::default().with_hwm(hwm)).unwrap();
    sub.subscribe("").unwrap();
    sub.connect(&ep).await.unwrap();
    until_subscribed(&publisher, &sub, "probe").await;

    let body = Bytes::from(vec![1u8; 1024]);
    let offered = 20_000u64;
    for _ in 0..offered {
        publisher.try_send(body.clone()).unwrap();
        tokio::task::yield_now().await;
    }
    // Let everything in flight land, then count: every message offered was
    // either received or counted as dropped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dropped = publisher.stats().dropped;
    assert!(dropped > 0, "a stalled subscriber must miss messages");
    // Per peer, and as monitor events (the channel holds 1024; the rest of
    // the events are counted as missed, not queued).
    let per_peer = publisher.peer_stats();
    assert_eq!(per_peer.len(), 1);
    assert_eq!(per_peer[0].dropped, dropped);
    let mut drop_events = 0u64;
    while let Some(e) = events.try_recv() {
        if matches!(e, weirmq::MonitorEvent::MessageDropped { .. }) {
            drop_events += 1;
        }
    }
    assert_eq!(drop_events + events.missed(), dropped);
    let mut received = 0;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await {
        received += 1;
    }
    assert_eq!(
        received + dropped,
        offered,
        "received {received}, dropped {dropped}"
    );
}

#[tokio::test]
async fn publisher_with_wait_policy_holds_the_sender_and_loses_nothing() {
    let hwm = Hwm::new(10, 1 << 20).unwrap();
    let publisher = Pub::with_options(
        Options::default()
            .with_hwm(hwm)
            .with_send_timeout(Duration::from_millis(100)),
    )
    .unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = Sub::with_options(Options::default().with_hwm(hwm)).unwrap();
    sub.subscribe("").unwrap();
    sub.connect(&ep).await.unwrap();
    until_subscribed(&publisher, &sub, "probe").await;

    let body = Bytes::from(vec![2u8; 1024]);
    let mut accepted = 0u64;
    loop {
        match publisher.send(body.clone()).await {
            Ok(()) => accepted += 1,
            Err(Error::Timeout(_)) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(accepted < 1_000_000, "never held back");
    }
    assert!(matches!(
        publisher.try_send(body.clone()),
        Err(TrySendError::Full(_))
    ));
    assert_eq!(publisher.stats().dropped, 0);
    for _ in 0..accepted {
        within(sub.recv()).await.unwrap();
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(100), sub.recv())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn subscriber_reconnect_resubscribes() {
    let ep = unused_tcp_endpoint();
    let sub = Sub::new();
    sub.subscribe("a").unwrap();
    sub.subscribe("a").unwrap();
    sub.connect(&ep).await.unwrap();
    {
        let publisher = Pub::new();
        publisher.bind(&ep).await.unwrap();
        until_subscribed(&publisher, &sub, "a1").await;
    }
    // A new publisher on the same endpoint: the SUB reconnects and sends its
    // subscriptions again, both counts of "a".
    tokio::time::sleep(Duration::from_millis(100)).await;
    let publisher = Pub::new();
    publisher.bind(&ep).await.unwrap();
    until_subscribed(&publisher, &sub, "a2").await;
    sub.unsubscribe("a").unwrap();
    sub.subscribe("b").unwrap();
    until_subscribed(&publisher, &sub, "b-probe").await;
    publisher.send("a-still").await.unwrap();
    assert_eq!(
        within(sub.recv()).await.unwrap(),
        Message::from("a-still"),
        "one count of a remains"
    );
}

/// PUB -> XSUB [proxy] XPUB -> SUB: subscriptions travel up through the
/// proxy as messages, data travels down.
#[tokio::test]
async fn xpub_xsub_proxy_forwards_subscriptions_and_data() {
    use weirmq::{XPub, XSub};
    let publisher = Pub::new();
    let upstream = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let xsub = XSub::new();
    xsub.connect(&upstream).await.unwrap();
    let xpub = XPub::new();
    let downstream = xpub.bind("tcp://127.0.0.1:*").await.unwrap();

    let a = Sub::new();
    a.subscribe("news").unwrap();
    a.connect(&downstream).await.unwrap();
    let b = Sub::new();
    b.subscribe("news").unwrap();
    b.connect(&downstream).await.unwrap();

    // The first subscriber to "news" is news upstream; the second is not.
    let note = within(xpub.recv()).await.unwrap();
    assert_eq!(note, Message::from("\x01news"));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), xpub.recv())
            .await
            .is_err()
    );
    within(xsub.send(note)).await.unwrap();

    // Data flows down once the subscription has reached the publisher.
    within(async {
        loop {
            publisher.send("news: flood").await.unwrap();
            if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(20), xsub.recv()).await {
                xpub.send(m).await.unwrap();
                break;
            }
        }
    })
    .await;
    assert_eq!(
        within(a.recv()).await.unwrap(),
        Message::from("news: flood")
    );
    assert_eq!(
        within(b.recv()).await.unwrap(),
        Message::from("news: flood")
    );

    // When the last subscriber leaves, the cancel goes upstream.
    drop(a);
    b.unsubscribe("news").unwrap();
    assert_eq!(
        within(xpub.recv()).await.unwrap(),
        Message::from("\x00news")
    );
}

#[tokio::test]
async fn xpub_verbose_hands_up_every_subscription() {
    use weirmq::XPub;
    let xpub = XPub::with_options(Options::default().with_xpub_verbose(true)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let (a, b) = (Sub::new(), Sub::new());
    for s in [&a, &b] {
        s.subscribe("t").unwrap();
        s.connect(&ep).await.unwrap();
    }
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01t"));
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01t"));
}

/// Messages that are not subscriptions travel upstream, XSUB to XPUB, as in
/// libzmq.
#[tokio::test]
async fn xsub_sends_other_messages_upstream_to_xpub() {
    use weirmq::{XPub, XSub};
    let xpub = XPub::new();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let xsub = XSub::new();
    xsub.connect(&ep).await.unwrap();
    within(xsub.send("\x01t")).await.unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01t"));
    within(xsub.send(["hello", "upstream"].into_iter().collect::<Message>()))
        .await
        .unwrap();
    assert_eq!(
        within(xpub.recv()).await.unwrap(),
        ["hello", "upstream"].into_iter().collect::<Message>()
    );
}

/// When a subscriber leaves, the XPUB's cancels for the topics it leaves
/// without subscribers are messages within the receive HWM: they wait for
/// room instead of piling up past it, and none is lost.
#[tokio::test]
async fn xpub_cancels_of_a_departed_peer_wait_for_room_within_the_hwm() {
    use weirmq::XPub;
    let hwm = Hwm::new(4, 1 << 20).unwrap();
    let xpub = XPub::with_options(Options::default().with_hwm(hwm)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let topics: Vec<String> = (0..12).map(|i| format!("topic-{i:02}")).collect();
    let notes = |flag: u8| -> Vec<Message> {
        topics
            .iter()
            .map(|t| Message::from([&[flag], t.as_bytes()].concat()))
            .collect()
    };
    let take_all = || async {
        let mut got = Vec::new();
        for _ in &topics {
            got.push(within(xpub.recv()).await.unwrap());
        }
        got.sort_by(|a, b| a.frames().cmp(b.frames()));
        got
    };
    let sub = Sub::new();
    for t in &topics {
        sub.subscribe(t).unwrap();
    }
    sub.connect(&ep).await.unwrap();
    assert_eq!(take_all().await, notes(1));

    drop(sub);
    wait_until(|| xpub.stats().queued_in_messages >= 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        xpub.stats().queued_in_messages,
        4,
        "the cancels wait for room within the HWM"
    );
    assert_eq!(take_all().await, notes(0), "every cancel arrives once");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), xpub.recv())
            .await
            .is_err()
    );
}

/// A hand-played ZMTP SUB's side of the handshake (NULL greeting, READY as
/// a SUB), then a subscription to everything.
fn sub_handshake() -> Vec<u8> {
    let mut out = null_handshake("SUB");
    push_command(&mut out, "SUBSCRIBE", b"");
    out
}

/// Connects a hand-played SUB (subscribed to everything) to `publisher`
/// at `ep` that never reads, fills every queue between them, and starts a
/// send that has to wait for room. Returns the send (with the publisher)
/// and the SUB's stream.
async fn fill_then_send(
    publisher: Pub,
    ep: &str,
) -> (
    tokio::task::JoinHandle<(Result<(), weirmq::Error>, Pub)>,
    tokio::net::TcpStream,
) {
    use tokio::io::AsyncWriteExt;

    let mut peer = tokio::net::TcpStream::connect(ep.trim_start_matches("tcp://"))
        .await
        .unwrap();
    peer.write_all(&sub_handshake()).await.unwrap();
    // The peer never reads: the kernels' buffers, then the PUB's fill up.
    let body = Bytes::from(vec![7u8; 64 * 1024]);
    let mut refused = 0;
    within(async {
        while refused < 50 {
            match publisher.try_send(body.clone()) {
                // Before the subscription arrives nobody takes it; after,
                // the engine must run to write.
                Ok(()) => tokio::task::yield_now().await,
                Err(TrySendError::Full(_)) => {
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    let sender = tokio::spawn(async move {
        let sent = publisher.send(body).await;
        (sent, publisher)
    });
    (sender, peer)
}

/// A publisher that waits (under `WhenFull::Wait`) for a full subscriber
/// goes on once that subscriber's connection has failed (here: it stopped
/// reading and answering, and its heartbeat expired), not a linger later,
/// when the ended connection gives up flushing to it.
#[tokio::test]
async fn a_publisher_waiting_for_a_dead_subscriber_goes_on_when_it_is_dropped() {
    let options = Options::default()
        .with_hwm(Hwm::new(4, 1 << 20).unwrap())
        .with_when_full(WhenFull::Wait)
        .with_heartbeat(weirmq::Heartbeat::new(Duration::from_secs(1)))
        // Longer than any step of the test may take.
        .with_linger(Duration::from_secs(60));
    let publisher = Pub::with_options(options).unwrap();
    let mut events = publisher.monitor();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let (sender, peer) = fill_then_send(publisher, &ep).await;
    first_event(&mut events, |e| match e {
        weirmq::MonitorEvent::Disconnected { .. } => Some(()),
        _ => None,
    })
    .await;
    let (sent, _publisher) = within(sender).await.unwrap();
    sent.unwrap();
    drop(peer);
}

/// A publisher that waits (under `WhenFull::Wait`) for a full subscriber
/// goes on when that subscriber cancels its subscription: the message is
/// no longer for it.
#[tokio::test]
async fn a_publisher_waiting_for_a_subscriber_goes_on_when_it_cancels() {
    use tokio::io::AsyncWriteExt;

    let options = Options::default()
        .with_hwm(Hwm::new(4, 1 << 20).unwrap())
        .with_when_full(WhenFull::Wait);
    let publisher = Pub::with_options(options).unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let (sender, mut peer) = fill_then_send(publisher, &ep).await;
    // Let the sender start waiting, then cancel the (empty) topic.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!sender.is_finished(), "the send should wait for room first");
    let mut frame = Vec::new();
    push_command(&mut frame, "CANCEL", b"");
    peer.write_all(&frame).await.unwrap();
    let (sent, _publisher) = within(sender).await.unwrap();
    sent.unwrap();
    drop(peer);
}

/// A SUB filters on receipt too, as libzmq's does: a publisher that sends
/// everything (here a hand-played one, which ignores our subscription) gets
/// through only the topics subscribed to, small messages (taken straight
/// out of the input buffer) and large ones alike, and the rest are counted.
#[tokio::test]
async fn a_sub_drops_and_counts_what_it_did_not_subscribe_to() {
    use tokio::io::AsyncWriteExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ep = format!("tcp://{}", listener.local_addr().unwrap());
    let sub = Sub::new();
    sub.subscribe("yes").unwrap();
    sub.connect(&ep).await.unwrap();
    let (mut publisher, _) = within(listener.accept()).await.unwrap();
    let mut out = null_handshake("PUB");
    let bodies: Vec<Vec<u8>> = ["yes-1", "no-1", "yes-2", "no-2"]
        .iter()
        .flat_map(|t| [t.as_bytes().to_vec(), [t.as_bytes(), &[b'.'; 300]].concat()])
        .collect();
    for body in &bodies {
        match u8::try_from(body.len()) {
            Ok(len) => out.extend_from_slice(&[0x00, len]),
            Err(_) => {
                out.push(0x02);
                out.extend_from_slice(&(body.len() as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(body);
    }
    publisher.write_all(&out).await.unwrap();
    let want: Vec<&Vec<u8>> = bodies.iter().filter(|b| b.starts_with(b"yes")).collect();
    for body in want {
        let got = within(sub.recv()).await.unwrap();
        assert_eq!(got.frames(), [Bytes::from(body.clone())]);
    }
    wait_until(|| sub.stats().filtered == 4).await;
    assert!(sub.try_recv().is_none(), "nothing else came through");
}

/// Sends `probe` on `xpub` until `sub` receives it (subscriptions granted
/// travel nowhere: only the XPUB's filter changes, at once, but the SUB
/// may still be connecting); what else arrived on the way is returned.
async fn xpub_until_received(xpub: &weirmq::XPub, sub: &Sub, probe: &str) -> Vec<Message> {
    let mut others = Vec::new();
    within(async {
        loop {
            xpub.send(probe.as_bytes().to_vec()).await.unwrap();
            if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(20), sub.recv()).await {
                if m == Message::from(probe.as_bytes().to_vec()) {
                    return;
                }
                others.push(m);
            }
        }
    })
    .await;
    others
}

/// Asserts that `sub` receives nothing for a while.
async fn receives_nothing(sub: &Sub) {
    let got = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await;
    assert!(got.is_err(), "received {got:?}");
}

/// XPUB_MANUAL: a SUB's subscription is only a note; the SUB gets nothing
/// until the application grants it a topic, which need not be the one it
/// asked for, and unsubscribing takes it away again.
#[tokio::test]
async fn xpub_manual_grants_what_the_application_decides() {
    use weirmq::XPub;
    let xpub = XPub::with_options(Options::default().with_xpub_manual(true)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = Sub::new();
    sub.subscribe("").unwrap();
    sub.connect(&ep).await.unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01"));
    // Asked for everything, granted nothing yet.
    for _ in 0..20 {
        xpub.send("a-message").await.unwrap();
        xpub.send("x-message").await.unwrap();
    }
    receives_nothing(&sub).await;
    // Granted "x" only, not what it asked for.
    assert!(xpub.subscribe("x").unwrap());
    let before = xpub_until_received(&xpub, &sub, "x-probe").await;
    assert!(
        before.iter().all(|m| m.frames()[0].starts_with(b"x")),
        "{before:?}"
    );
    xpub.send("a-after").await.unwrap();
    xpub.send("x-after").await.unwrap();
    assert_eq!(within(sub.recv()).await.unwrap(), Message::from("x-after"));
    // Taken away.
    assert!(xpub.unsubscribe("x").unwrap());
    xpub.send("x-gone").await.unwrap();
    receives_nothing(&sub).await;
}

/// XPUB_MANUAL: every SUBSCRIBE and CANCEL is a note, repeated or not, and
/// `subscribe` applies to the peer of the last note received: with two
/// SUBs, the one whose note came last.
#[tokio::test]
async fn xpub_manual_applies_to_the_peer_of_the_last_note() {
    use weirmq::XPub;
    let xpub = XPub::with_options(Options::default().with_xpub_manual(true)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    assert!(!xpub.subscribe("t").unwrap(), "no note yet: no peer");
    let (a, b) = (Sub::new(), Sub::new());
    a.subscribe("a").unwrap();
    a.connect(&ep).await.unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01a"));
    b.subscribe("b").unwrap();
    b.connect(&ep).await.unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01b"));
    // The last note was b's: b gets "b", a nothing.
    assert!(xpub.subscribe("b").unwrap());
    xpub_until_received(&xpub, &b, "b-probe").await;
    for _ in 0..10 {
        xpub.send("a-msg").await.unwrap();
    }
    receives_nothing(&a).await;
    // a asks for more: the last note is a's now.
    a.subscribe("a2").unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01a2"));
    assert!(xpub.subscribe("a").unwrap(), "now a's");
    xpub_until_received(&xpub, &a, "a-probe").await;
    // A cancel is a note too, and the filter it never had stays as it was;
    // unsubscribing takes away what was granted.
    a.unsubscribe("a2").unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x00a2"));
    xpub.send("a-still").await.unwrap();
    assert_eq!(within(a.recv()).await.unwrap(), Message::from("a-still"));
    assert!(xpub.unsubscribe("a").unwrap());
    xpub.send("a-gone").await.unwrap();
    receives_nothing(&a).await;
    // A peer that leaves cancels what it asked for, with no peer to answer.
    within(b.close()).await;
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x00b"));
    assert!(!xpub.subscribe("b").unwrap(), "a departed peer's cancel");
}

/// Without XPUB_MANUAL a subscription reaches the filter by itself, and
/// `subscribe` is refused, as libzmq refuses ZMQ_SUBSCRIBE then.
#[tokio::test]
async fn xpub_without_manual_filters_by_itself_and_refuses_subscribe() {
    use weirmq::XPub;
    let xpub = XPub::new();
    let ep = xpub.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = Sub::new();
    sub.subscribe("a").unwrap();
    sub.connect(&ep).await.unwrap();
    assert_eq!(within(xpub.recv()).await.unwrap(), Message::from("\x01a"));
    xpub_until_received(&xpub, &sub, "a-probe").await;
    assert!(matches!(xpub.subscribe("x"), Err(Error::InvalidState(_))));
    assert!(matches!(xpub.unsubscribe("a"), Err(Error::InvalidState(_))));
}

/// XPUB_MANUAL is for XPUB, and not with conflate.
#[test]
fn xpub_manual_is_refused_elsewhere() {
    use weirmq::XPub;
    let manual = || Options::default().with_xpub_manual(true);
    let err = Pub::with_options(manual()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOption(m) if m.contains("ZMQ_XPUB_MANUAL")),
        "{err}"
    );
    assert!(matches!(
        Sub::with_options(manual()),
        Err(Error::InvalidOption(_))
    ));
    assert!(matches!(
        XPub::with_options(manual().with_conflate(true)),
        Err(Error::InvalidOption(_))
    ));
    assert!(XPub::with_options(manual()).is_ok());
}
