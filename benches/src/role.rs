//! The child side: one socket of one implementation playing one role of a
//! scenario, in a process of its own.
//!
//! The protocol with the runner, on the child's standard streams:
//! - stdout `READY` once the socket is bound or connected;
//! - stdout `SUBSCRIBED` (fan-out SUB, spread PULL) when the first warm-up
//!   message came;
//! - stdout `RESULT key=value ...` with the measurement;
//! - stdin `GO` lets a fan-out PUB or spread PUSH start, a gather PUSH
//!   start sending, or a slow SUB start draining;
//! - end of stdin ends the process at once, whatever it is doing, so a
//!   child never outlives its runner and never waits for a linger.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use crate::plan::{Impl, Runtime};
use crate::sockets::{self, Attach, Kind, Security, Socket};

/// The roles a child can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Role {
    /// PULL, binds; times `count` messages from the first to the last.
    ThrRecv,
    /// PUSH, connects; sends `count` messages.
    ThrSend,
    /// REP, binds; echoes `count` requests.
    LatRep,
    /// REQ, connects; times each of `count` round trips.
    LatReq,
    /// PUB, binds; warm-up messages until `GO`, then `count` messages.
    FanPub,
    /// SUB, connects; times the messages after the warm-up.
    FanSub,
    /// PUSH, binds; as [`Role::FanPub`], its round robin spreading the
    /// messages over the PULLs.
    SpreadPush,
    /// PULL, connects; as [`Role::FanSub`], with its window's ends as wall
    /// clock times, so the runner can time all the PULLs together.
    SpreadPull,
    /// PUSH, connects; sends `count` messages after `GO`.
    GatherPush,
    /// PUB, binds; after `GO`, warm-up messages for half a second, then
    /// offers `count` messages to a SUB that never reads.
    SlowPub,
    /// SUB, connects, never reads until `GO`; then counts the messages
    /// that reached it.
    SlowSub,
    /// PULL, binds; holds the connections that come, reading nothing,
    /// until its input ends.
    IdleServer,
    /// REP, binds; answers every request until its input ends.
    ConnServer,
    /// `count` times: a new REQ connects, sends a request, takes the
    /// reply and closes; times them all.
    ConnClient,
}

impl Role {
    /// Its name on the command line.
    pub(crate) fn arg(self) -> String {
        crate::plan::arg(self)
    }
}

/// `weirmq-benches role ROLE --impl IMPL --endpoint E --size N --count N`
#[derive(Debug, Args)]
pub(crate) struct RoleArgs {
    #[arg(value_enum)]
    role: Role,
    #[arg(long = "impl", value_enum)]
    imp: Impl,
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    size: usize,
    #[arg(long)]
    count: u64,
    /// The tokio runtime of a tokio library (libzmq has its own thread).
    #[arg(long, value_enum, default_value_t)]
    runtime: Runtime,
    /// CURVE: the server's public key (Z85); makes this side a client.
    #[arg(long)]
    server_key: Option<String>,
    /// CURVE: this side's secret key (Z85). Throwaway keys made by the
    /// runner for one loopback run.
    #[arg(long)]
    secret_key: Option<String>,
}

/// The first octet of a fan-out message: warm-up, measured, or the end
/// marker the PUB repeats after the measured ones.
const WARMUP: u8 = 0;
const DATA: u8 = 1;
const END: u8 = 2;
/// How long a blocked send is waited for before it counts as blocked.
const BLOCKED_AFTER: Duration = Duration::from_secs(2);
/// A SUB that got nothing for this long has had everything that will come.
const IDLE: Duration = Duration::from_secs(1);

static GO: AtomicBool = AtomicBool::new(false);

/// Messages received so far, for the stall watchdog.
static RECEIVED: AtomicU64 = AtomicU64::new(0);
/// A receiver that got nothing for this long after its first message has
/// stalled: it says how far it got and ends, so the runner's note tells
/// more than "timeout".
const STALL: Duration = Duration::from_secs(5);

/// Watches [`RECEIVED`] on a thread of its own (no timer in the receive
/// loop, which would slow down the loop measured).
fn watch_for_stall(expected: u64) {
    std::thread::spawn(move || {
        let mut seen = 0;
        loop {
            std::thread::sleep(STALL);
            let now = RECEIVED.load(Ordering::Relaxed);
            if now > 0 && now == seen {
                eprintln!(
                    "stalled: received {now} of {expected} messages, then nothing for {STALL:?}"
                );
                std::process::exit(2);
            }
            seen = now;
        }
    });
}

/// Reads stdin on a thread of its own: `GO` sets the flag; end of input
/// ends the process.
fn watch_stdin() {
    std::thread::spawn(|| {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) if l.trim() == "GO" => GO.store(true, Ordering::SeqCst),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        std::process::exit(0);
    });
}

async fn wait_for_go() {
    while !GO.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn security(args: &RoleArgs) -> Result<Security, String> {
    let secret = match &args.secret_key {
        None => return Ok(Security::Null),
        Some(z85) => weirmq::SecretKey::from_z85(z85).map_err(|e| format!("--secret-key: {e}"))?,
    };
    Ok(match &args.server_key {
        None => Security::CurveServer { secret },
        Some(z85) => Security::CurveClient {
            server: weirmq::PublicKey::from_z85(z85).map_err(|e| format!("--server-key: {e}"))?,
            secret,
        },
    })
}

/// Runs a role; the process ends when the runner closes stdin.
pub(crate) fn main(args: RoleArgs) -> ExitCode {
    watch_stdin();
    // libzmq's calls block and it has its own I/O thread: a current-thread
    // runtime (only for the timers) is enough. The tokio libraries get
    // what `#[tokio::main]` gives, a worker per core, unless the row asks
    // for a current-thread runtime.
    let runtime = match (args.imp, args.runtime) {
        (Impl::Libzmq, _) | (_, Runtime::CurrentThread) => {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        (_, Runtime::MultiThread) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("role: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(play(&args)) {
        Ok(socket) => {
            // Stay up with the socket open (it keeps flushing: omq.rs's
            // default linger is zero) until the runner closes stdin.
            runtime.block_on(std::future::pending::<()>());
            drop(socket);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{:?} {}: {e}", args.role, args.imp.name());
            ExitCode::FAILURE
        }
    }
}

/// Prints a protocol line.
fn say(line: &str) {
    println!("{line}");
}

fn result(fields: &[(&str, f64)]) {
    let text: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    say(&format!("RESULT {}", text.join(" ")));
}

/// A message body: `size` octets, the first one `tag`.
fn body(size: usize, tag: u8) -> Vec<u8> {
    let mut b = vec![0x5a; size.max(1)];
    b[0] = tag;
    b.truncate(size);
    b
}

async fn play(args: &RoleArgs) -> Result<Socket, String> {
    let (kind, attach) = match args.role {
        Role::ThrRecv => (Kind::Pull, Attach::Bind),
        Role::ThrSend => (Kind::Push, Attach::Connect),
        Role::LatRep => (Kind::Rep, Attach::Bind),
        Role::LatReq => (Kind::Req, Attach::Connect),
        Role::FanPub => (Kind::Pub, Attach::Bind),
        Role::FanSub => (Kind::Sub, Attach::Connect),
        Role::SpreadPush => (Kind::Push, Attach::Bind),
        Role::SpreadPull => (Kind::Pull, Attach::Connect),
        Role::GatherPush => (Kind::Push, Attach::Connect),
        Role::SlowPub => (Kind::Pub, Attach::Bind),
        Role::SlowSub => (Kind::Sub, Attach::Connect),
        Role::IdleServer => (Kind::Pull, Attach::Bind),
        Role::ConnServer => (Kind::Rep, Attach::Bind),
        Role::ConnClient => return connections(args).await,
    };
    let security = security(args)?;
    let mut s = sockets::open(args.imp, kind, attach, &args.endpoint, &security, args.size).await?;
    say("READY");
    let (size, count) = (args.size, args.count);
    match args.role {
        Role::ThrRecv => throughput_receiver(&mut s, size, count).await?,
        Role::ThrSend => {
            let b = body(size, DATA);
            for _ in 0..count {
                s.send(&b).await?;
            }
            say("DONE");
        }
        Role::LatRep => {
            let b = body(size, DATA);
            for _ in 0..warmup(count) + count {
                s.recv().await?;
                s.send(&b).await?;
            }
        }
        Role::LatReq => round_trips(&mut s, size, count).await?,
        Role::FanPub | Role::SpreadPush => after_warm_up(&mut s, size, count).await?,
        Role::FanSub => fan_out_subscriber(&mut s, count).await?,
        Role::SpreadPull => spread_receiver(&mut s, count).await?,
        Role::GatherPush => {
            wait_for_go().await;
            let b = body(size, DATA);
            for _ in 0..count {
                s.send(&b).await?;
            }
            say("DONE");
        }
        Role::SlowPub => slow_publisher(&mut s, size, count).await?,
        Role::SlowSub => {
            wait_for_go().await;
            let mut received = 0u64;
            while let Some(m) = s.recv_within(IDLE).await? {
                received += u64::from(m.tag == DATA);
            }
            result(&[("received", received as f64)]);
        }
        // The runner counts its memory; the end of its input ends it.
        Role::IdleServer => std::future::pending::<()>().await,
        Role::ConnServer => {
            let b = body(size, DATA);
            loop {
                s.recv().await?;
                s.send(&b).await?;
            }
        }
        Role::ConnClient => unreachable!("handled before the socket is opened"),
    }
    Ok(s)
}

/// The connecting client: `count` REQ sockets one after the other, each
/// connected, one round trip, then closed (dropped: nothing is left to
/// linger for); connections per second over them all.
async fn connections(args: &RoleArgs) -> Result<Socket, String> {
    let security = security(args)?;
    let b = body(args.size, DATA);
    say("READY");
    let start = Instant::now();
    let mut last = None;
    for _ in 0..args.count {
        let mut s = sockets::open(
            args.imp,
            Kind::Req,
            Attach::Connect,
            &args.endpoint,
            &security,
            args.size,
        )
        .await?;
        s.send(&b).await?;
        s.recv().await?;
        // The one before closes here.
        last = Some(s);
    }
    let secs = start.elapsed().as_secs_f64();
    result(&[("connections", args.count as f64), ("secs", secs)]);
    last.ok_or_else(|| "no connection made (--count 0)".to_owned())
}

/// Round trips before the timed ones.
fn warmup(count: u64) -> u64 {
    (count / 10).min(100)
}

/// As libzmq's local_thr: the clock starts at the first message and stops
/// at the last; the rate is over the `count - 1` gaps between them.
async fn throughput_receiver(s: &mut Socket, size: usize, count: u64) -> Result<(), String> {
    let first = s.recv().await?;
    if first.len != size {
        return Err(format!("got {} octets, expected {size}", first.len));
    }
    let start = Instant::now();
    watch_for_stall(count);
    for i in 1..count {
        s.recv().await?;
        RECEIVED.store(i, Ordering::Relaxed);
    }
    let secs = start.elapsed().as_secs_f64();
    result(&[("received", count as f64), ("secs", secs)]);
    Ok(())
}

/// Each round trip timed on its own, after a warm-up of 100 (or a tenth of
/// `count`) not counted; mean and 99th percentile in microseconds.
async fn round_trips(s: &mut Socket, size: usize, count: u64) -> Result<(), String> {
    let b = body(size, DATA);
    for _ in 0..warmup(count) {
        s.send(&b).await?;
        s.recv().await?;
    }
    let mut rtts = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let t = Instant::now();
        s.send(&b).await?;
        let reply = s.recv().await?;
        rtts.push(t.elapsed().as_secs_f64() * 1e6);
        if reply.len != size {
            return Err(format!("reply of {} octets, expected {size}", reply.len));
        }
    }
    if rtts.is_empty() {
        return Err("no round trips".into());
    }
    let mean = rtts.iter().sum::<f64>() / rtts.len() as f64;
    rtts.sort_by(f64::total_cmp);
    let p99 = rtts[(rtts.len() * 99).div_ceil(100) - 1];
    result(&[
        ("mean_us", mean),
        ("p99_us", p99),
        ("round_trips", count as f64),
    ]);
    Ok(())
}

/// Warm-up messages every 2 ms until `GO` (so that the runner sees every
/// receiver served), then `count` messages, then end markers every 5 ms
/// until the process ends: spaced so that one gets through a dropping PUB,
/// and one reaches each PULL of a round robin in turn.
async fn after_warm_up(s: &mut Socket, size: usize, count: u64) -> Result<(), String> {
    let warmup = body(size, WARMUP);
    while !GO.load(Ordering::SeqCst) {
        // Best effort: zmq.rs's PUSH hands a message back while it has no
        // peer yet (the others wait), and the runner's deadline bounds this.
        let _ = s.send(&warmup).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let b = body(size, DATA);
    for _ in 0..count {
        s.send(&b).await?;
    }
    say("DONE");
    let end = body(size, END);
    loop {
        s.send(&end).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What a receiver of warm-up, data and end markers saw of the data.
struct Window {
    received: u64,
    /// The first data message.
    first: Option<Instant>,
    /// The last data message.
    last: Instant,
    /// The first end marker, if one came.
    end: Option<Instant>,
}

/// Skips the warm-up (saying `SUBSCRIBED` at the first message), then
/// counts the data messages until the first end marker, or until nothing
/// came for [`IDLE`].
async fn data_window(s: &mut Socket, count: u64) -> Result<Window, String> {
    let mut subscribed = false;
    let mut w = Window {
        received: 0,
        first: None,
        last: Instant::now(),
        end: None,
    };
    loop {
        let Some(m) = s.recv_within(IDLE).await? else {
            if w.received > 0 {
                return Ok(w);
            }
            continue;
        };
        if !subscribed {
            subscribed = true;
            say("SUBSCRIBED");
        }
        match m.tag {
            DATA => {
                w.last = Instant::now();
                if w.first.is_none() {
                    w.first = Some(w.last);
                    watch_for_stall(count);
                }
                w.received += 1;
                RECEIVED.store(w.received, Ordering::Relaxed);
            }
            END if w.first.is_some() => {
                w.end = Some(Instant::now());
                return Ok(w);
            }
            _ => {}
        }
    }
}

/// Times the data messages from the first to the first end marker: a PUB
/// that drops (libzmq's does, for a full SUB) delivers fewer, and the rate
/// is what this SUB got per second while the PUB published.
async fn fan_out_subscriber(s: &mut Socket, count: u64) -> Result<(), String> {
    let w = data_window(s, count).await?;
    let secs = w
        .first
        .map_or(0.0, |f| (w.end.unwrap_or(w.last) - f).as_secs_f64());
    result(&[("received", w.received as f64), ("secs", secs)]);
    Ok(())
}

/// The first and last data message as wall clock times (seconds since the
/// epoch; one clock for every process on the machine), so that the runner
/// times the PULLs of a round robin together. The end marker is not the
/// window's end here: the round robin hands it to each PULL in turn.
async fn spread_receiver(s: &mut Socket, count: u64) -> Result<(), String> {
    let (wall, now) = (std::time::SystemTime::now(), Instant::now());
    let w = data_window(s, count).await?;
    let at = |t: Instant| -> Result<f64, String> {
        let since = (wall + (t - now))
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| format!("clock: {e}"))?;
        Ok(since.as_secs_f64())
    };
    let first = w.first.ok_or("no data message")?;
    result(&[
        ("received", w.received as f64),
        ("first_at", at(first)?),
        ("last_at", at(w.last)?),
    ]);
    Ok(())
}

/// After `GO`, publishes warm-up messages for half a second, so that the
/// subscription has arrived (and a libzmq PUB, whose application thread
/// takes in new subscriptions only when it is called, has taken it in);
/// then offers `count` messages. A send still blocked after
/// [`BLOCKED_AFTER`] ends the run as "blocked".
async fn slow_publisher(s: &mut Socket, size: usize, count: u64) -> Result<(), String> {
    wait_for_go().await;
    let warmup = body(size, WARMUP);
    for _ in 0..50 {
        s.send(&warmup).await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let b = body(size, DATA);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut blocked = false;
    while sent < count {
        if s.send_within(&b, BLOCKED_AFTER).await? {
            sent += 1;
        } else {
            blocked = true;
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mut fields = vec![
        ("sent", sent as f64),
        ("blocked", f64::from(u8::from(blocked))),
        ("secs", secs),
    ];
    if let Some(dropped) = s.dropped() {
        fields.push(("dropped", dropped as f64));
    }
    result(&fields);
    Ok(())
}
