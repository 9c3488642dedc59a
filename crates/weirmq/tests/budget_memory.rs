//! The memory budget, measured in memory: 10, 100 and 500 connections each
//! send max-size messages to a PULL whose application has stalled. The
//! receiving process's peak resident memory must stay within the budget,
//! plus the documented fixed cost per connection, plus a small baseline;
//! and once the application reads, every message arrives: nothing lost,
//! nothing dropped.
//!
//! The receiver runs in a child process (this test binary, re-run with an
//! environment variable) so that only its memory is counted; the peers are
//! raw TCP connections in this process, playing ZMTP by hand, so they cost
//! the receiver nothing but their connections.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weirmq::prelude::*;

use tokio::io::AsyncWriteExt;
use weirmq::{MonitorEvent, Options, Pull};

const CHILD: &str = "WEIRMQ_BUDGET_MEMORY_CHILD";
/// The largest message the receiver takes, and the size of every message
/// sent.
const MESSAGE: usize = 256 * 1024;
/// Messages each connection sends.
const EACH: usize = 2;
/// The receiver's budget.
const BUDGET: usize = 8 << 20;
/// What one connection costs the receiver beyond the budget while it
/// floods, as the options' documentation promises it: its read allowance
/// (16 KiB, full), the state of its connection, its lane and its task
/// (measured: about 28 KiB).
const PER_CONNECTION_KIB: u64 = 40;
/// What an idle connection costs (measured: about 15 KiB; its read buffer
/// is given back when nothing is buffered in it).
const IDLE_PER_CONNECTION_KIB: u64 = 24;
/// The receiving process's own growth that no connection explains
/// (allocator arenas, the runtime's threads waking up).
const BASELINE_KIB: u64 = 4 * 1024;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} line"));
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a value in KiB")
}

/// Waits until `value` has not changed for 300 ms, at most `limit`.
async fn steady(value: impl Fn() -> usize, limit: Duration) {
    let start = Instant::now();
    let mut last = (value(), Instant::now());
    while start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = value();
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= Duration::from_millis(300) {
            return;
        }
    }
}

/// The receiver: binds, tells the parent where, waits for `n` peers, lets
/// the flood fill it without reading, reports its memory, then reads
/// everything.
async fn receive(n: usize) {
    let options = Options::default()
        .with_max_message_size(MESSAGE as u64)
        .with_recv_budget(BUDGET)
        .with_max_handshaking(n + 1);
    let pull = Pull::with_options(options).unwrap();
    let mut events = pull.monitor();
    let endpoint = pull.bind("tcp://127.0.0.1:*").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let baseline = status_kib("VmHWM:");
    println!("ENDPOINT {endpoint}");
    std::io::stdout().flush().unwrap();
    let mut ready = 0;
    while ready < n {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Some(MonitorEvent::HandshakeSucceeded { .. })) => ready += 1,
            Ok(Some(_)) => {}
            _ => panic!("{ready} of {n} peers in"),
        }
    }
    // Idle: connected, nothing sent yet, and long enough (half a second)
    // for the connections to give back their read buffers.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let idle = status_kib("VmRSS:");
    println!("IDLE {idle}");
    std::io::stdout().flush().unwrap();
    // The flood: nothing is read until the budget holds steady.
    steady(|| pull.stats().recv_budget_used, Duration::from_secs(60)).await;
    steady(|| pull.stats().queued_in_messages, Duration::from_secs(10)).await;
    let peak = status_kib("VmHWM:");
    let st = pull.stats();
    println!(
        "PEAK baseline={baseline} idle={idle} peak={peak} used={} queued={}",
        st.recv_budget_used, st.queued_in_messages
    );
    std::io::stdout().flush().unwrap();
    // Everything arrives, whole, in order per connection.
    let mut next = vec![0u32; n];
    for i in 0..n * EACH {
        let msg = match tokio::time::timeout(Duration::from_secs(20), pull.recv()).await {
            Ok(msg) => msg.unwrap(),
            Err(_) => panic!(
                "message {i} of {} did not come: {:?}",
                n * EACH,
                pull.stats()
            ),
        };
        let body = &msg.frames()[0];
        assert_eq!(body.len(), MESSAGE);
        let from = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
        let seq = u32::from_be_bytes(body[4..8].try_into().unwrap());
        assert_eq!(seq, next[from], "connection {from}");
        next[from] += 1;
    }
    let st = pull.stats();
    println!(
        "DONE received={} lost={} dropped={}",
        st.received, st.lost, st.dropped
    );
}

/// One raw PUSH peer: the handshake, then, once `go` says so, `EACH`
/// messages of `MESSAGE` octets as long frames, written as fast as TCP
/// takes them.
async fn flood(endpoint: String, from: u32, mut go: tokio::sync::watch::Receiver<bool>) {
    let addr = endpoint.trim_start_matches("tcp://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&common::null_handshake("PUSH"))
        .await
        .unwrap();
    if go.wait_for(|go| *go).await.is_err() {
        return;
    }
    for seq in 0..EACH as u32 {
        let mut frame = Vec::with_capacity(9 + MESSAGE);
        frame.push(0x02);
        frame.extend_from_slice(&(MESSAGE as u64).to_be_bytes());
        frame.extend_from_slice(&from.to_be_bytes());
        frame.extend_from_slice(&seq.to_be_bytes());
        frame.resize(9 + MESSAGE, 0xEE);
        if stream.write_all(&frame).await.is_err() {
            return;
        }
    }
    // Held open until the receiver is done.
    let mut sink = [0u8; 256];
    while tokio::io::AsyncReadExt::read(&mut stream, &mut sink)
        .await
        .is_ok_and(|n| n > 0)
    {}
}

/// Runs the receiver in a child process against `n` connections; returns
/// its report: baseline, idle and peak RSS in KiB, messages received.
fn measure(n: usize) -> (u64, u64, u64, u64) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_stalled_application_costs_the_budget_and_a_little_per_connection",
            "--nocapture",
        ])
        .env(CHILD, n.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = |prefix: &str| -> String {
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("the child ended before {prefix}"))
                .unwrap();
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    };
    let endpoint = next_line("ENDPOINT");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (go, gate) = tokio::sync::watch::channel(false);
    let peers: Vec<_> = (0..n as u32)
        .map(|from| rt.spawn(flood(endpoint.clone(), from, gate.clone())))
        .collect();
    let idle = next_line("IDLE");
    go.send_replace(true);
    let peak = next_line("PEAK");
    let done = next_line("DONE");
    let status = child.wait().unwrap();
    for peer in peers {
        peer.abort();
    }
    assert!(status.success(), "the receiver failed: {peak} {done}");
    let field = |line: &str, name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    assert_eq!(field(&done, "lost"), 0, "{done}");
    assert_eq!(field(&done, "dropped"), 0, "{done}");
    println!("N={n}: idle {idle}; {peak}; {done}");
    (
        field(&peak, "baseline"),
        field(&peak, "idle"),
        field(&peak, "peak"),
        field(&done, "received"),
    )
}

#[test]
fn a_stalled_application_costs_the_budget_and_a_little_per_connection() {
    if let Some(n) = std::env::var_os(CHILD) {
        let n: usize = n.to_str().unwrap().parse().unwrap();
        tokio::runtime::Runtime::new().unwrap().block_on(receive(n));
        return;
    }
    let only: Option<usize> = std::env::var("WEIRMQ_BUDGET_MEMORY_N")
        .ok()
        .map(|n| n.parse().unwrap());
    for n in [10, 100, 500]
        .into_iter()
        .filter(|n| only.is_none_or(|o| o == *n))
    {
        let (baseline, idle, peak, received) = measure(n);
        assert_eq!(received, (n * EACH) as u64, "every message arrives");
        let bound = (BUDGET as u64) / 1024 + n as u64 * PER_CONNECTION_KIB + BASELINE_KIB;
        let grew = peak - baseline;
        let idle_bound = n as u64 * IDLE_PER_CONNECTION_KIB + BASELINE_KIB;
        assert!(
            idle.saturating_sub(baseline) <= idle_bound,
            "N={n}: {} KiB for idle connections, past {n} x {IDLE_PER_CONNECTION_KIB} KiB \
             + {BASELINE_KIB} KiB",
            idle.saturating_sub(baseline)
        );
        println!(
            "N={n}: peak RSS grew {grew} KiB (bound {bound} KiB; idle connections {} KiB, \
             {} KiB each); offered {} MiB",
            idle.saturating_sub(baseline),
            idle.saturating_sub(baseline) / n as u64,
            (n * EACH * MESSAGE) >> 20,
        );
        assert!(
            grew <= bound,
            "N={n}: the receiver's peak RSS grew {grew} KiB, past the budget \
             ({} KiB) + {n} x {PER_CONNECTION_KIB} KiB + {BASELINE_KIB} KiB = {bound} KiB",
            BUDGET / 1024
        );
    }
}
