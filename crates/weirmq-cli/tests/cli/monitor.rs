//! Monitor events: `weirmq monitor`, and `--monitor` on `send` and `recv`.

use super::*;

#[test]
fn monitor_prints_a_sockets_events() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let monitor = Running::start(
        weirmq()
            .args(["monitor", "-t", "pull", "--bind", &ep, "--count", "3"])
            .args(["--timeout", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    bound(&dir, "cli.sock");
    // Only a peer to watch: the monitor may be gone (after its third event)
    // before the message is sent, so how the sender ends is not judged.
    let _peer = Running::start(
        weirmq()
            .args(["send", &ep, "discarded", "--timeout", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = printed(monitor.finish(soon()).expect("the monitor ended"));
    assert_eq!(
        out,
        format!("listening {ep}\naccepted {ep}\nhandshake-succeeded {ep} (PUSH)\n")
    );

    // As JSON, up to the sender's leaving.
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let monitor = Running::start(
        weirmq()
            .args(["monitor", "-t", "pull", "--bind", &ep, "--count", "4"])
            .args(["--timeout", "20", "--format", "json", "--hwm", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    bound(&dir, "cli.sock");
    // 3 MB, far more than the socket buffers and queues hold: the send
    // ends only if the monitor takes and discards what arrives.
    let big = "x".repeat(10_000);
    let sent = weirmq()
        .args(["send", &ep, &big, "--count", "300", "--hwm", "1"])
        .args(["--timeout", "5"])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = printed(monitor.finish(soon()).expect("the monitor ended"));
    let events = json_lines(&out);
    assert_eq!(events.len(), 4, "{out}");
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "listening",
            "accepted",
            "handshake-succeeded",
            "disconnected"
        ]
    );
    assert_eq!(events[0]["endpoint"], ep.as_str());
    assert_eq!(events[2]["socket_type"], "PUSH");
    assert!(events[3]["reason"].is_string(), "{out}");
}

#[test]
fn monitor_ends_at_its_timeout_and_fails_short_of_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| format!("ipc://{}", dir.path().join(name).display());
    let watching = |ep: &str, extra: &[&str]| {
        Running::start(
            weirmq()
                .args(["monitor", "-t", "sub", "--bind", ep, "--timeout", "0.3"])
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .finish(soon())
        .expect("the monitor ended")
    };
    let (a, b) = (at("a"), at("b"));
    assert_eq!(printed(watching(&a, &[])), format!("listening {a}\n"));
    let short = watching(&b, &["--count", "2"]);
    assert!(!short.status.success());
    let err = stderr(&short);
    assert!(
        err.contains("waiting for 2 monitor events (1 seen): timed out"),
        "{err}"
    );
}

#[test]
fn send_and_recv_print_their_events_on_stderr_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let recv = Running::start(
        weirmq()
            .args(["recv", "--bind", &ep, "--count", "1", "--timeout", "20"])
            .arg("--monitor")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    bound(&dir, "cli.sock");
    let send = Running::start(
        weirmq()
            .args(["send", &ep, "watched", "--timeout", "20", "--monitor=json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let (send, recv) = (
        send.finish(soon()).expect("send ended"),
        recv.finish(soon()).expect("recv ended"),
    );
    let recv_err = stderr(&recv);
    assert_eq!(printed(recv), "watched\n");
    for line in [
        format!("listening {ep}"),
        format!("accepted {ep}"),
        format!("handshake-succeeded {ep} (PUSH)"),
    ] {
        assert!(recv_err.lines().any(|l| l == line), "{line}: {recv_err}");
    }
    let events = json_lines(&stderr(&send));
    assert!(events.contains(&serde_json::json!({"event": "connected", "endpoint": ep})));
    assert!(events.contains(&serde_json::json!(
        {"event": "handshake-succeeded", "peer": ep, "socket_type": "PULL"}
    )));
    assert_eq!(printed(send), "");
}

/// `--queue-alert` with `--monitor`: a sender whose peer reads nothing
/// hears its queue reach the high mark.
#[test]
fn a_sender_with_queue_alerts_reports_its_queue_high() {
    use weirmq::{Hwm, Options, Pull, Socket};
    let dir = tempfile::tempdir().unwrap();
    let ep = ipc(&dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A PULL that holds ten messages and never reads.
    let small = Options::default().with_hwm(Hwm::new(10, usize::MAX).unwrap());
    let pull = Pull::with_options(small).unwrap();
    rt.block_on(pull.bind(&ep)).unwrap();
    let big = "x".repeat(10_000);
    let out = weirmq()
        .args(["send", &ep, &big, "--count", "2000", "--hwm", "100"])
        .args(["--queue-alert", "80,50", "--monitor=json", "--timeout", "1"])
        .output()
        .unwrap();
    // It gives up waiting for room: everything between it and the PULL
    // is full.
    assert!(!out.status.success(), "{}", stderr(&out));
    let events = json_lines(&stderr(&out));
    let high: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "queue-high")
        .collect();
    assert_eq!(high.len(), 1, "{events:?}");
    assert!(high[0]["messages"].as_u64().unwrap() >= 80, "{high:?}");
    drop(pull);
}
