//! `weirmq perf`: libzmq's perf tools (local_thr, remote_thr, local_lat,
//! remote_lat) as subcommands, so weirmq can be measured against any peer,
//! libzmq's own tools included; with CURVE or PLAIN if asked (the flags of
//! `send` and `recv`), on either kind of tokio runtime.

use std::time::{Duration, Instant};
use weirmq::prelude::*;

use bytes::Bytes;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use weirmq::{Error, Options, Pull, Push, Rep, Req};

use crate::security::Security;

/// The four roles, as in libzmq's perf directory: the `local` side binds,
/// the `remote` side connects.
#[derive(Subcommand)]
pub(crate) enum Perf {
    /// PULL: bind, receive COUNT messages of SIZE octets, print the
    /// throughput (timed from the first message to the last).
    LocalThr(PerfArgs),
    /// PUSH: connect, send COUNT messages of SIZE octets.
    RemoteThr(PerfArgs),
    /// REP: bind, echo COUNT messages.
    LocalLat(PerfArgs),
    /// REQ: connect, time COUNT round trips; print mean, p99 and libzmq's
    /// "average latency" (half the mean round trip).
    RemoteLat(PerfArgs),
}

#[derive(Args)]
pub(crate) struct PerfArgs {
    /// tcp://HOST:PORT or ipc://PATH.
    endpoint: String,
    /// Message size in octets.
    size: usize,
    /// Messages (or round trips).
    count: u64,
    /// No progress bar (there is none anyway when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
    /// Run on a tokio current-thread runtime (the measuring loop and the
    /// connection take turns on one thread) instead of a worker per core.
    #[arg(long)]
    current_thread: bool,
    #[command(flatten)]
    security: Security,
}

impl Perf {
    fn args(&self) -> &PerfArgs {
        match self {
            Perf::LocalThr(a) | Perf::RemoteThr(a) | Perf::LocalLat(a) | Perf::RemoteLat(a) => a,
        }
    }

    /// Whether the run asked for a current-thread runtime.
    pub(crate) fn current_thread(&self) -> bool {
        self.args().current_thread
    }
}

impl PerfArgs {
    /// Default options, with the security asked for.
    fn options(&self) -> Result<Options, Error> {
        self.security.apply(Options::default())
    }
}

/// Runs with fewer messages than this get no progress bar.
const PROGRESS_FROM: u64 = 10_000;
/// The progress bar moves every this many messages (it is not free).
const PROGRESS_STEP: u64 = 1024;
/// How long the sending sides keep flushing after the last message.
const LINGER: Duration = Duration::from_secs(60);

struct Progress(Option<ProgressBar>);

impl Progress {
    fn new(args: &PerfArgs, what: &str) -> Progress {
        if args.quiet || args.count < PROGRESS_FROM {
            return Progress(None);
        }
        let style = ProgressStyle::with_template(&format!(
            "{{bar:40}} {{human_pos}}/{{human_len}} {what} ({{elapsed}}, {{eta}} left)"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        Progress(Some(ProgressBar::new(args.count).with_style(style)))
    }

    fn at(&self, n: u64) {
        if let Some(bar) = &self.0 {
            if n % PROGRESS_STEP == 0 {
                bar.set_position(n);
            }
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

fn check_size(got: usize, want: usize) -> Result<(), Error> {
    if got == want {
        Ok(())
    } else {
        Err(Error::InvalidMessage("message of incorrect size received"))
    }
}

/// All frames' octets.
fn payload_len(msg: &weirmq::Message) -> usize {
    msg.frames().iter().map(Bytes::len).sum()
}

pub(crate) async fn perf(command: Perf) -> Result<(), Error> {
    match command {
        Perf::LocalThr(a) => local_thr(&a).await,
        Perf::RemoteThr(a) => remote_thr(&a).await,
        Perf::LocalLat(a) => local_lat(&a).await,
        Perf::RemoteLat(a) => remote_lat(&a).await,
    }
}

async fn local_thr(a: &PerfArgs) -> Result<(), Error> {
    let pull = Pull::with_options(a.options()?)?;
    pull.bind(&a.endpoint).await?;
    if a.count == 0 {
        return Ok(());
    }
    let first = pull.recv().await?;
    check_size(payload_len(&first), a.size)?;
    let progress = Progress::new(a, "messages");
    let start = Instant::now();
    for n in 1..a.count {
        let m = pull.recv().await?;
        check_size(payload_len(&m), a.size)?;
        progress.at(n);
    }
    let secs = start.elapsed().as_secs_f64();
    progress.done();
    // Over the count - 1 gaps between the first message and the last.
    let rate = if secs > 0.0 {
        (a.count - 1) as f64 / secs
    } else {
        0.0
    };
    println!("message size: {} [B]", a.size);
    println!("message count: {}", a.count);
    println!("mean throughput: {rate:.0} [msg/s]");
    println!(
        "mean throughput: {:.3} [Mb/s]",
        rate * a.size as f64 * 8.0 / 1e6
    );
    pull.close().await;
    Ok(())
}

async fn remote_thr(a: &PerfArgs) -> Result<(), Error> {
    let push = Push::with_options(a.options()?.with_linger(LINGER))?;
    push.connect(&a.endpoint).await?;
    let body = vec![0u8; a.size];
    let progress = Progress::new(a, "messages");
    for n in 0..a.count {
        // A fresh message each time, as libzmq's remote_thr does.
        push.send(Bytes::copy_from_slice(&body)).await?;
        progress.at(n);
    }
    progress.done();
    push.close().await;
    Ok(())
}

async fn local_lat(a: &PerfArgs) -> Result<(), Error> {
    let rep = Rep::with_options(a.options()?.with_linger(LINGER))?;
    rep.bind(&a.endpoint).await?;
    for _ in 0..a.count {
        let m = rep.recv().await?;
        check_size(payload_len(&m), a.size)?;
        rep.send(m).await?;
    }
    rep.close().await;
    Ok(())
}

async fn remote_lat(a: &PerfArgs) -> Result<(), Error> {
    let req = Req::with_options(a.options()?)?;
    req.connect(&a.endpoint).await?;
    let body = Bytes::from(vec![0u8; a.size]);
    let progress = Progress::new(a, "round trips");
    let mut rtts = Vec::with_capacity(usize::try_from(a.count).unwrap_or(0));
    let start = Instant::now();
    for n in 0..a.count {
        let t = Instant::now();
        req.send(body.clone()).await?;
        let reply = req.recv().await?;
        rtts.push(t.elapsed().as_secs_f64() * 1e6);
        check_size(payload_len(&reply), a.size)?;
        progress.at(n);
    }
    let total = start.elapsed().as_secs_f64() * 1e6;
    progress.done();
    println!("message size: {} [B]", a.size);
    println!("roundtrip count: {}", a.count);
    if a.count > 0 {
        rtts.sort_by(f64::total_cmp);
        let p99 = rtts[(rtts.len() * 99).div_ceil(100) - 1];
        // libzmq's remote_lat reports half the mean round trip.
        println!(
            "average latency: {:.3} [us]",
            total / (a.count as f64 * 2.0)
        );
        println!("mean round trip: {:.3} [us]", total / a.count as f64);
        println!("p99 round trip: {p99:.3} [us]");
    }
    req.close().await;
    Ok(())
}
