//! Queue-pressure alerts: a peer's outgoing queue, and a peer's incoming
//! lane, report reaching the high mark and falling back under the low one
//! (monitor events, alternating), a send blocked too long is reported once,
//! and the stats keep the peak depth since the last look and the time spent
//! full, socket-wide and per peer (which peer floods a PULL, and what
//! `recv` handed out of each).

mod common;

use std::time::Duration;

use weirmq::prelude::*;
use weirmq::{
    Dealer, Error, Hwm, Monitor, MonitorEvent, Options, PeerStats, Pull, Push, QueueAlert, Router,
};

use common::{offer_until_refused, wait_until, within};

/// The PUSH's queue: larger than what its connection takes from it at a
/// time (so that the depth moves in steps, as with the default HWM).
const HWM: usize = 1000;

/// A PUSH with a queue of [`HWM`] messages to a PULL whose application
/// does not read (its own queue holds 10).
async fn stalled_pair(push: Options) -> (Push, Pull, Monitor) {
    let small = Hwm::new(10, usize::MAX).unwrap();
    let pull = Pull::with_options(Options::default().with_hwm(small)).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::with_options(push.with_hwm(Hwm::new(HWM, usize::MAX).unwrap())).unwrap();
    let events = push.monitor();
    push.connect(&endpoint).await.unwrap();
    wait_until(|| push.stats().peers == 1).await;
    (push, pull, events)
}

/// The queue alerts seen so far.
fn alerts(events: &mut Monitor) -> Vec<MonitorEvent> {
    std::iter::from_fn(|| events.try_recv())
        .filter(|e| {
            matches!(
                e,
                MonitorEvent::QueueHigh { .. } | MonitorEvent::QueueLow { .. }
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_queue_reports_its_high_and_low_marks_in_turn() {
    let alert = QueueAlert::new(80, 50).unwrap();
    let (push, pull, mut events) = stalled_pair(Options::default().with_queue_alert(alert)).await;
    let body = vec![7u8; 1024];
    let sent = offer_until_refused(|m| push.try_send(m), |_| body.clone()).await;
    let filling = alerts(&mut events);
    // The queue is full now: the last word is that it is high, and the
    // words alternate, high first (the queue may have gone up and down
    // while the socket buffers filled, but not in a storm).
    assert!(!filling.is_empty(), "no alert while the queue filled");
    assert!(filling.len() < 10, "{} alerts: {filling:?}", filling.len());
    for (i, e) in filling.iter().enumerate() {
        match e {
            MonitorEvent::QueueHigh { messages, .. } if i % 2 == 0 => {
                assert!(*messages >= HWM * 8 / 10, "{e:?}")
            }
            MonitorEvent::QueueLow { messages, .. } if i % 2 == 1 => {
                assert!(*messages <= HWM / 2, "{e:?}")
            }
            _ => panic!("out of turn: {filling:?}"),
        }
    }
    assert!(
        filling.len() % 2 == 1,
        "the full queue's last alert: {filling:?}"
    );
    let peer = &push.peer_stats()[0];
    assert_eq!(peer.peak_queued_messages, HWM);
    assert_eq!(push.stats().peak_queued_out_messages, HWM);

    // The consumer wakes up: the queue drains, and says so once.
    for _ in 0..sent {
        within(pull.recv()).await.unwrap();
    }
    wait_until(|| push.stats().queued_out_messages == 0).await;
    let draining = alerts(&mut events);
    assert!(
        matches!(draining[..], [MonitorEvent::QueueLow { messages, .. }] if messages <= HWM / 2),
        "{draining:?}"
    );
    // Peaks start again from the depth then at each look: `stats()` was
    // last asked once the queue was empty, `peer_stats()` while it was
    // full. The time full was counted.
    assert_eq!(push.stats().peak_queued_out_messages, 0);
    let peer = &push.peer_stats()[0];
    assert_eq!(peer.peak_queued_messages, HWM);
    assert!(peer.time_full > Duration::ZERO, "{peer:?}");
    assert_eq!(push.peer_stats()[0].peak_queued_messages, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_blocked_too_long_is_reported_once_and_counted() {
    let options = Options::default()
        .with_send_blocked_alert(Duration::from_millis(50))
        .with_send_timeout(Duration::from_millis(400));
    let (push, _pull, mut events) = stalled_pair(options).await;
    let body = vec![7u8; 1024];
    offer_until_refused(|m| push.try_send(m), |_| body.clone()).await;
    let before = push.stats().send_blocked;
    let sent = push.send(body.clone()).await;
    assert!(matches!(sent, Err(Error::Timeout(_))), "{sent:?}");
    let blocked = push.stats().send_blocked - before;
    assert!(blocked >= Duration::from_millis(350), "{blocked:?}");
    let seen: Vec<_> = std::iter::from_fn(|| events.try_recv()).collect();
    let reported: Vec<_> = seen
        .iter()
        .filter(|e| matches!(e, MonitorEvent::SendBlocked { .. }))
        .collect();
    assert_eq!(
        reported,
        [&MonitorEvent::SendBlocked {
            waited: Duration::from_millis(50)
        }],
        "{seen:?}"
    );
    // No queue alerts without `queue_alert`.
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, MonitorEvent::QueueHigh { .. })),
        "{seen:?}"
    );
}

/// The incoming-lane alerts among `seen`.
fn incoming(seen: &[MonitorEvent]) -> Vec<&MonitorEvent> {
    seen.iter()
        .filter(|e| {
            matches!(
                e,
                MonitorEvent::IncomingQueueHigh { .. } | MonitorEvent::IncomingQueueLow { .. }
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_lane_reports_its_high_and_low_marks_in_turn() {
    const LANE: usize = 100;
    let alert = QueueAlert::new(80, 50).unwrap();
    let lane = Hwm::new(LANE, usize::MAX).unwrap();
    let options = Options::default().with_hwm(lane).with_queue_alert(alert);
    let pull = Pull::with_options(options).unwrap();
    let mut events = pull.monitor();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let push = Push::with_options(Options::default().with_hwm(Hwm::new(HWM, usize::MAX).unwrap()))
        .unwrap();
    push.connect(&endpoint).await.unwrap();
    wait_until(|| push.stats().peers == 1).await;

    // The application does not read: the lane fills, and says so.
    let body = vec![7u8; 1024];
    let sent = offer_until_refused(|m| push.try_send(m), |_| body.clone()).await;
    wait_until(|| pull.stats().queued_in_messages == LANE).await;
    assert_eq!(pull.stats().peak_queued_in_messages, LANE);
    let filling: Vec<_> = std::iter::from_fn(|| events.try_recv()).collect();
    assert!(
        matches!(
            incoming(&filling)[..],
            [MonitorEvent::IncomingQueueHigh { messages, .. }] if *messages >= LANE * 8 / 10
        ),
        "{filling:?}"
    );
    // It drains as the application reads and refills, a socket read at a
    // time, from the PUSH's queue while the reads go on, and ends under the
    // low mark, saying so last. The words alternate, so each pair stands
    // for at least the 30% of the lane between the marks taken: no storm.
    for _ in 0..sent {
        within(pull.recv()).await.unwrap();
    }
    let draining: Vec<_> = std::iter::from_fn(|| events.try_recv()).collect();
    let words = incoming(&draining);
    let most = 2 * (sent as usize / (LANE * 3 / 10)) + 1;
    assert!(
        !words.is_empty() && words.len() <= most,
        "{} words for {sent} messages: {words:?}",
        words.len()
    );
    for (i, e) in words.iter().enumerate() {
        match e {
            MonitorEvent::IncomingQueueLow { messages, .. } if i % 2 == 0 => {
                assert!(*messages <= LANE / 2, "{e:?}")
            }
            MonitorEvent::IncomingQueueHigh { messages, .. } if i % 2 == 1 => {
                assert!(*messages >= LANE * 8 / 10, "{e:?}")
            }
            _ => panic!("out of turn: {words:?}"),
        }
    }
    assert!(words.len() % 2 == 1, "the last word: {words:?}");
    // The time full was counted; the peak starts again at each look.
    let after = pull.stats();
    assert!(after.queued_in_time_full > Duration::ZERO, "{after:?}");
    assert_eq!(pull.stats().peak_queued_in_messages, 0);
}

/// The entry of `stats` whose lane holds `queued` messages.
fn holding(stats: &[PeerStats], queued: usize) -> &PeerStats {
    stats
        .iter()
        .find(|p| p.queued_in_messages == queued)
        .unwrap_or_else(|| panic!("no peer with {queued} queued: {stats:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_tells_per_peer_which_one_floods_and_what_it_handed_out() {
    const LANE: usize = 50;
    let options = Options::default().with_hwm(Hwm::new(LANE, usize::MAX).unwrap());
    let pull = Pull::with_options(options).unwrap();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let (flood, quiet) = (Push::new(), Push::new());
    flood.connect(&endpoint).await.unwrap();
    quiet.connect(&endpoint).await.unwrap();
    wait_until(|| pull.peer_stats().len() == 2).await;

    let flooded = offer_until_refused(|m| flood.try_send(m), |_| vec![b'f'; 1024]).await as usize;
    for _ in 0..3 {
        within(quiet.send("q")).await.unwrap();
    }
    wait_until(|| pull.stats().queued_in_messages == LANE + 3).await;
    let peers = pull.peer_stats();
    assert_eq!(peers.len(), 2, "{peers:?}");
    let (f, q) = (holding(&peers, LANE), holding(&peers, 3));
    assert_eq!(f.peak_queued_in_messages, LANE, "{f:?}");
    assert!(f.queued_in_time_full > Duration::ZERO, "{f:?}");
    assert_eq!(f.queued_in_bytes, LANE * 1024);
    assert_eq!(
        (q.queued_in_bytes, q.queued_in_time_full),
        (3, Duration::ZERO)
    );
    // A PULL keeps no routing ids and queues nothing out.
    for p in [f, q] {
        assert!(p.routing_id.is_empty() && p.queued_messages == 0, "{p:?}");
        assert_eq!(p.received, 0, "{p:?}");
    }
    assert_ne!(f.number, q.number);
    let (f_name, q_name) = (f.peer.clone(), q.peer.clone());
    let of =
        |peers: &[PeerStats], name: &str| peers.iter().find(|p| p.peer == name).unwrap().clone();

    // One message taken leaves the flood's lane far above half its HWM:
    // the flood is still held back, and its lane's time full goes on.
    let mut got = (0, 0);
    let mut count = |m: weirmq::Message| match m.frames()[0][0] {
        b'f' => got.0 += 1,
        _ => got.1 += 1,
    };
    count(within(pull.recv()).await.unwrap());
    let before = of(&pull.peer_stats(), &f_name).queued_in_time_full;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = of(&pull.peer_stats(), &f_name).queued_in_time_full;
    assert!(
        after >= before + Duration::from_millis(100),
        "{before:?} then {after:?}"
    );

    // Everything is taken: what was handed out of each lane is its own.
    for _ in 1..flooded + 3 {
        count(within(pull.recv()).await.unwrap());
    }
    let peers = pull.peer_stats();
    let (f, q) = (of(&peers, &f_name), of(&peers, &q_name));
    assert_eq!((f.received, q.received), (got.0, got.1), "{peers:?}");
    assert_eq!((got.0, got.1), (flooded as u64, 3));
    assert_eq!(f.queued_in_messages + q.queued_in_messages, 0);
    assert_eq!(pull.stats().received, got.0 + got.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_lists_each_peer_once_with_both_directions() {
    let router = Router::new();
    let endpoint = router.bind("tcp://127.0.0.1:*").await.unwrap();
    let dealer = Dealer::new();
    dealer.connect(&endpoint).await.unwrap();
    for _ in 0..4 {
        within(dealer.send("up")).await.unwrap();
    }
    wait_until(|| router.stats().queued_in_messages == 4).await;
    let first = within(router.recv()).await.unwrap();
    let peers = router.peer_stats();
    assert_eq!(peers.len(), 1, "{peers:?}");
    let p = &peers[0];
    assert_eq!(p.routing_id, first.frames()[0], "{p:?}");
    assert_eq!((p.received, p.queued_in_messages), (1, 3), "{p:?}");
}

/// inproc peers accepted on one endpoint all bear its name: each still has
/// a line of its own, with its own lane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_of_one_name_keep_lines_of_their_own() {
    let endpoint = format!("inproc://pressure-{}", std::process::id());
    let router = Router::new();
    router.bind(&endpoint).await.unwrap();
    let (one, two) = (Dealer::new(), Dealer::new());
    one.connect(&endpoint).await.unwrap();
    two.connect(&endpoint).await.unwrap();
    within(one.send("1")).await.unwrap();
    for _ in 0..2 {
        within(two.send("2")).await.unwrap();
    }
    wait_until(|| router.stats().queued_in_messages == 3).await;
    let mut peers = router.peer_stats();
    peers.sort_by_key(|p| p.queued_in_messages);
    assert_eq!(peers.len(), 2, "{peers:?}");
    assert_eq!(peers[0].peer, peers[1].peer, "{peers:?}");
    assert_ne!(peers[0].routing_id, peers[1].routing_id, "{peers:?}");
    let queued: Vec<_> = peers.iter().map(|p| p.queued_in_messages).collect();
    assert_eq!(queued, [1, 2], "{peers:?}");
}

#[test]
fn alert_marks_are_checked() {
    assert!(QueueAlert::new(80, 50).is_ok());
    for (high, low) in [(0, 0), (101, 50), (50, 50), (50, 60)] {
        let refused = QueueAlert::new(high, low);
        assert!(
            matches!(refused, Err(Error::InvalidOption(_))),
            "{high}/{low}: {refused:?}"
        );
    }
}

/// Peers come and go while the stats are read and messages are received:
/// no look panics or counts what is not there, and once all is taken and
/// every peer gone, nothing is left in any line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_hold_while_peers_come_and_go() {
    let pull = std::sync::Arc::new(Pull::new());
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    let looking = {
        let pull = pull.clone();
        tokio::spawn(async move {
            for _ in 0..400 {
                let total = pull.stats();
                let peers = pull.peer_stats();
                let handed: u64 = peers.iter().map(|p| p.received).sum();
                // What the lines count was received by the socket, which
                // counts the lanes of peers gone too.
                assert!(handed <= pull.stats().received, "{peers:?} {total:?}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut sent = 0;
    for round in 0..20u8 {
        let push = Push::new();
        push.connect(&endpoint).await.unwrap();
        for _ in 0..50 {
            within(push.send(vec![round; 100])).await.unwrap();
            sent += 1;
        }
        within(push.close()).await;
    }
    for _ in 0..sent {
        within(pull.recv()).await.unwrap();
    }
    within(looking).await.unwrap();
    wait_until(|| pull.peer_stats().is_empty()).await;
    let total = pull.stats();
    assert_eq!((total.received, total.queued_in_messages), (sent, 0));
}
