//! The queue promise, measured in memory: a publisher floods a subscriber
//! that never reads, and a pusher floods a puller that never reads. The
//! process's peak resident memory must stay within the high-water marks
//! times the message size plus a fixed allowance, and every message offered
//! must be accounted for (received or counted as dropped).
//!
//! The flood runs in a child process (this test binary, re-run with an
//! environment variable) so that no other test's memory is counted.

use std::process::Command;
use std::time::Duration;
use weirmq::prelude::*;

use bytes::Bytes;
use weirmq::{Hwm, Options, Pub, Pull, Push, Sub, TrySendError, WhenFull};

const CHILD: &str = "WEIRMQ_FLOOD_CHILD";
const MESSAGE: usize = 1024;
const OFFERED: u64 = 300_000;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value")
}

async fn flood() -> (u64, u64, u64) {
    let hwm = Hwm::default(); // 1000 messages, 16 MiB
    let publisher = Pub::with_options(Options::default().with_when_full(WhenFull::Drop)).unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
    let sub = Sub::with_options(Options::default().with_hwm(hwm)).unwrap();
    sub.subscribe("").unwrap();
    sub.connect(&ep).await.unwrap();
    while publisher.try_send("probe").is_ok() && sub.try_recv().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    while sub.try_recv().is_some() {}

    let push = Push::new();
    let pull = Pull::new();
    let ep2 = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    push.connect(&ep2).await.unwrap();

    let body = Bytes::from(vec![0xEEu8; MESSAGE]);
    let mut pushed = 0u64;
    for i in 0..OFFERED {
        publisher.try_send(body.clone()).unwrap();
        match push.try_send(body.clone()) {
            Ok(()) => pushed += 1,
            Err(TrySendError::Full(_)) => {}
            Err(e) => panic!("{e}"),
        }
        if i % 256 == 0 {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = peak_rss_kib();
    let dropped = publisher.stats().dropped;
    let mut received = 0u64;
    while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {
        // Late probes from the subscription check are not part of the flood.
        if m.byte_len() == MESSAGE {
            received += 1;
        }
    }
    assert_eq!(
        received + dropped,
        OFFERED,
        "published: received {received} + dropped {dropped}"
    );
    let mut pulled = 0u64;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(300), pull.recv()).await {
        pulled += 1;
    }
    assert_eq!(pulled, pushed, "every message PUSH accepted arrives");
    (peak, dropped, pushed)
}

#[test]
fn flood_memory_stays_within_the_high_water_marks() {
    if std::env::var_os(CHILD).is_some() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let baseline = peak_rss_kib();
        let (peak, dropped, pushed) = rt.block_on(flood());
        println!("FLOOD baseline={baseline} peak={peak} dropped={dropped} pushed={pushed}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "flood_memory_stays_within_the_high_water_marks",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("FLOOD "))
        .expect("child report");
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    let (baseline, peak, dropped) = (field("baseline"), field("peak"), field("dropped"));
    println!("{line}");
    // Queues: PUB's pipe and SUB's inbound (1000 messages each), PUSH's pipe
    // and PULL's inbound (1000 each): 4000 x 1 KiB, plus the engines' read
    // and write buffers. 64 MiB covers that many times over; an unbounded
    // queue would hold the 300,000 x 1 KiB offered (about 600 MiB for the
    // two floods).
    let bound_kib = (4 * 1000 * MESSAGE as u64) / 1024 + 64 * 1024;
    assert!(
        peak - baseline < bound_kib,
        "peak RSS grew {} KiB (bound {bound_kib} KiB): {line}",
        peak - baseline
    );
    assert!(
        dropped > 0,
        "the stalled subscriber must have missed messages: {line}"
    );
}
