//! `weirmq send --wait-peers` and `--delay`: a bound sender that waits for
//! its peers before it sends.

use super::*;

#[test]
fn a_bound_router_waits_for_its_peer_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let router = Running::start(
        weirmq()
            .args(["send", "-t", "router", "--bind", &ep, "w1|for w1"])
            .args(["--separator", "|", "--wait-peers", "1", "--timeout", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // Without the wait, the router has sent (and failed: no such peer) by
    // the time a dealer could connect.
    bound(&dir, "cli.sock");
    std::thread::sleep(Duration::from_millis(200));
    let dealer = Running::start(
        weirmq()
            .args(["recv", "-t", "dealer", &ep, "--routing-id", "w1"])
            .args(["--count", "1", "--timeout", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let (dealer, router) = (dealer.finish(soon()), router.finish(soon()));
    printed(router.expect("the router ended"));
    assert_eq!(printed(dealer.expect("the dealer ended")), "for w1\n");
}

#[test]
fn a_bound_pub_waits_for_its_subscriber_and_its_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    // One message, sent once: it arrives only if the PUB waited for the
    // subscriber to connect and for its subscription to arrive.
    let publisher = Running::start(
        weirmq()
            .args(["send", "-t", "pub", "--bind", &ep, "news: first"])
            .args(["--wait-peers", "1", "--timeout", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    bound(&dir, "cli.sock");
    std::thread::sleep(Duration::from_millis(200));
    let subscriber = Running::start(
        weirmq()
            .args(["recv", "-t", "sub", &ep, "--subscribe", "news"])
            .args(["--count", "1", "--timeout", "10"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let (subscriber, publisher) = (subscriber.finish(soon()), publisher.finish(soon()));
    printed(publisher.expect("the publisher ended"));
    assert_eq!(
        printed(subscriber.expect("the subscriber ended")),
        "news: first\n"
    );
}

#[test]
fn send_delays_its_first_message_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let started = std::time::Instant::now();
    let pusher = Running::start(
        weirmq()
            .args(["send", "--bind", &ep, "late", "--delay", "0.6"])
            .args(["--timeout", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let puller = Running::start(
        weirmq()
            .args(["recv", &ep, "--count", "1", "--timeout", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let (puller, pusher) = (puller.finish(soon()), pusher.finish(soon()));
    printed(pusher.expect("the sender ended"));
    assert_eq!(printed(puller.expect("the receiver ended")), "late\n");
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[test]
fn waiting_for_peers_gives_up_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let started = std::time::Instant::now();
    let out = Running::start(
        weirmq()
            .args(["send", "--bind", &ep, "x", "--wait-peers", "2"])
            .args(["--timeout", "0.3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .finish(soon())
    .expect("the sender gave up");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("waiting for 2 peers (0 connected): timed out after 300ms"),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}
