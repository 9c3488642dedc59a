//! `weirmq`: send and receive ZeroMQ messages from the shell, with any
//! socket type weirmq has, binding or connecting, over tcp or ipc.

#![forbid(unsafe_code)]

mod format;
mod monitor;
mod perf;
mod proxy;
mod wait;

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand, ValueEnum};
use format::Format;
use monitor::{MonitorFlag, Watch};
use tokio::io::{AsyncBufReadExt, BufReader};
use weirmq::{
    Dealer, Error, Hwm, Message, Options, Pair, Pub, Pull, Push, QueueAlert, RecvSocket, Rep, Req,
    Router, SendSocket, Socket, Sub,
};

mod security;

#[derive(Parser)]
#[command(
    name = "weirmq",
    version,
    about = "ZeroMQ messages from the shell (pure Rust, ZMTP 3.1)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send messages: one per argument, or one per line of standard input.
    Send(SendArgs),
    /// Receive messages and print one per line.
    Recv(RecvArgs),
    /// Forward between a frontend and a backend socket (libzmq's
    /// zmq_proxy), steerable from a control socket.
    Proxy(proxy::ProxyArgs),
    /// Open a socket, bind or connect it, and print its monitor events, one
    /// a line, until --count events (an error if --timeout passes first) or
    /// until --timeout (libzmq's zmq_socket_monitor, from the shell).
    Monitor(monitor::MonitorArgs),
    /// Make a CURVE keypair: print it, or write certificate files.
    Keygen(KeygenArgs),
    /// Measure throughput and latency, as libzmq's perf tools do (and
    /// against them: `weirmq perf local-thr` with libzmq's `remote_thr`).
    #[command(subcommand)]
    Perf(perf::Perf),
}

#[derive(Args)]
struct KeygenArgs {
    /// Write PATH (public key) and PATH_secret (both keys, mode 0600)
    /// instead of printing the keys.
    path: Option<std::path::PathBuf>,
}

/// Socket types that can send.
#[derive(Clone, Copy, ValueEnum, Debug)]
enum SendType {
    Push,
    Pub,
    Pair,
    Dealer,
    /// The first frame of each message is the peer's routing id.
    Router,
    /// Each request waits for its reply, which is printed.
    Req,
}

/// Socket types that can receive.
#[derive(Clone, Copy, ValueEnum, Debug)]
enum RecvType {
    Pull,
    Sub,
    Pair,
    Dealer,
    /// Prints the sender's routing id as the first frame.
    Router,
    /// Each request is answered with the same message (an echo server).
    Rep,
}

#[derive(Args)]
struct Common {
    /// Bind to ENDPOINT instead of connecting to it.
    #[arg(long)]
    bind: bool,
    /// tcp://HOST:PORT (a port of * binds any free port) or ipc://PATH.
    endpoint: String,
    /// High-water mark: most messages queued per peer.
    #[arg(long, default_value_t = 1000)]
    hwm: usize,
    /// Give up when an operation waits longer than this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// The routing id announced to peers (a ROUTER addresses us by it):
    /// 1 to 255 octets, the first not zero.
    #[arg(long, value_name = "ID")]
    routing_id: Option<String>,
    /// Report a peer's outgoing queue or incoming lane reaching HIGH% of
    /// the HWM, and falling back under LOW%, as monitor events
    /// (queue-high, queue-low, incoming-queue-high, incoming-queue-low;
    /// see --monitor): e.g. 80,50.
    #[arg(long, value_name = "HIGH,LOW")]
    queue_alert: Option<String>,
    #[command(flatten)]
    security: security::Security,
}

#[derive(Args)]
struct SendArgs {
    /// Socket type.
    #[arg(long = "type", short = 't', value_enum, default_value = "push")]
    socket_type: SendType,
    #[command(flatten)]
    common: Common,
    /// Messages to send; standard input lines when none are given.
    messages: Vec<String>,
    /// Split each message into frames at this string (e.g. '|').
    #[arg(long)]
    separator: Option<String>,
    /// Send the messages this many times.
    #[arg(long, default_value_t = 1)]
    count: u64,
    #[command(flatten)]
    start: wait::Start,
    #[command(flatten)]
    monitor: MonitorFlag,
}

#[derive(Args)]
struct RecvArgs {
    /// Socket type.
    #[arg(long = "type", short = 't', value_enum, default_value = "pull")]
    socket_type: RecvType,
    #[command(flatten)]
    common: Common,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// SUB: a topic prefix to subscribe to (repeatable; none means all).
    #[arg(long)]
    subscribe: Vec<String>,
    /// How each message is printed, one a line.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    monitor: MonitorFlag,
}

/// The seconds a flag gave, as a duration; an error naming the flag if they
/// are not one (negative, say).
fn seconds(flag: &str, secs: Option<f64>) -> Result<Option<Duration>, Error> {
    secs.map(|secs| {
        Duration::try_from_secs_f64(secs)
            .map_err(|_| Error::InvalidOption(format!("{flag} {secs}: not a duration")))
    })
    .transpose()
}

/// The error of a wait the CLI itself bounds (`what` says for what) that
/// lasted `after` without an end.
fn gave_up(what: String, after: Duration) -> Error {
    Error::Io {
        context: what,
        source: std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("timed out after {after:?}"),
        ),
    }
}

fn options(c: &Common) -> Result<Options, Error> {
    let mut o = Options::default().with_hwm(Hwm::new(c.hwm, Hwm::default().bytes())?);
    if let Some(t) = seconds("--timeout", c.timeout)? {
        o = o.with_send_timeout(t).with_recv_timeout(t);
    }
    if let Some(id) = &c.routing_id {
        if id.is_empty() || id.len() > 255 || id.starts_with('\0') {
            return Err(Error::InvalidOption(format!(
                "--routing-id {id:?}: 1 to 255 octets, the first not zero"
            )));
        }
        o = o.with_routing_id(Bytes::copy_from_slice(id.as_bytes()));
    }
    if let Some(marks) = &c.queue_alert {
        o = o.with_queue_alert(queue_alert(marks)?);
    }
    c.security.apply(o)
}

/// `--queue-alert HIGH,LOW`, in percent of the HWM.
fn queue_alert(marks: &str) -> Result<QueueAlert, Error> {
    let bad = || {
        Error::InvalidOption(format!(
            "--queue-alert {marks:?}: two percentages, HIGH,LOW (e.g. 80,50)"
        ))
    };
    let (high, low) = marks.split_once(',').ok_or_else(bad)?;
    let percent = |p: &str| p.trim().parse::<u8>().map_err(|_| bad());
    QueueAlert::new(percent(high)?, percent(low)?)
}

fn parse(text: &str, separator: Option<&str>) -> Message {
    match separator {
        Some(sep) if !sep.is_empty() => text
            .split(sep)
            .map(|f| Bytes::copy_from_slice(f.as_bytes()))
            .collect(),
        _ => Message::from(Bytes::copy_from_slice(text.as_bytes())),
    }
}

/// Binds or connects `s` as asked, telling where a bind landed.
async fn attach<S: Socket>(s: &S, c: &Common) -> Result<(), Error> {
    if c.bind {
        let at = s.bind(&c.endpoint).await?;
        eprintln!("bound {at}");
    } else {
        s.connect(&c.endpoint).await?;
    }
    Ok(())
}

/// After each message sent: nothing to wait for (all but REQ).
async fn no_reply<S>(_: &S) -> Result<(), Error> {
    Ok(())
}

/// After each request sent (REQ): wait for its reply and print it.
async fn print_reply<S: RecvSocket>(s: &S) -> Result<(), Error> {
    println!("{}", format::line(Format::Text, &s.recv().await?));
    Ok(())
}

/// After each message received: nothing to answer (all but REP).
async fn no_answer<S>(_: &S, _: Message) -> Result<(), Error> {
    Ok(())
}

/// After each request received (REP): send it back as the reply.
async fn echo<S: SendSocket>(s: &S, m: Message) -> Result<(), Error> {
    s.send(m).await
}

async fn send(args: SendArgs) -> Result<(), Error> {
    let o = options(&args.common)?;
    args.start.check()?;
    // The one line per type.
    match args.socket_type {
        SendType::Push => send_all(Push::with_options(o)?, &args, no_reply).await,
        SendType::Pub => send_all(Pub::with_options(o)?, &args, no_reply).await,
        SendType::Pair => send_all(Pair::with_options(o)?, &args, no_reply).await,
        SendType::Dealer => send_all(Dealer::with_options(o)?, &args, no_reply).await,
        SendType::Router => send_all(Router::with_options(o)?, &args, no_reply).await,
        SendType::Req => send_all(Req::with_options(o)?, &args, print_reply).await,
    }
}

/// Attaches `s`, then sends the messages (the arguments, or else standard
/// input's lines) `count` times, calling `after` after each.
async fn send_all<S: SendSocket>(
    s: S,
    args: &SendArgs,
    after: impl AsyncFn(&S) -> Result<(), Error>,
) -> Result<(), Error> {
    let watch = Watch::start(&s, &args.monitor);
    attach(&s, &args.common).await?;
    let sep = args.separator.as_deref();
    let mut messages: Vec<Message> = args.messages.iter().map(|m| parse(m, sep)).collect();
    if messages.is_empty() {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => messages.push(parse(&line, sep)),
                Ok(None) => break,
                Err(e) => {
                    return Err(Error::Io {
                        context: "reading standard input".into(),
                        source: e,
                    });
                }
            }
        }
    }
    let timeout = seconds("--timeout", args.common.timeout)?;
    args.start.wait(&s, timeout).await?;
    for _ in 0..args.count {
        for m in &messages {
            s.send(m.clone()).await?;
            after(&s).await?;
        }
    }
    s.close().await;
    watch.finish().await;
    Ok(())
}

async fn recv(args: RecvArgs) -> Result<(), Error> {
    let o = options(&args.common)?;
    // The one line per type.
    match args.socket_type {
        RecvType::Pull => print_loop(Pull::with_options(o)?, &args, no_answer).await,
        RecvType::Pair => print_loop(Pair::with_options(o)?, &args, no_answer).await,
        RecvType::Dealer => print_loop(Dealer::with_options(o)?, &args, no_answer).await,
        RecvType::Router => print_loop(Router::with_options(o)?, &args, no_answer).await,
        RecvType::Sub => {
            print_loop(subscribed(Sub::with_options(o)?, &args)?, &args, no_answer).await
        }
        RecvType::Rep => print_loop(Rep::with_options(o)?, &args, echo).await,
    }
}

/// A SUB subscribed to the topics asked for, or to everything.
fn subscribed(s: Sub, args: &RecvArgs) -> Result<Sub, Error> {
    if args.subscribe.is_empty() {
        s.subscribe("")?;
    }
    for topic in &args.subscribe {
        s.subscribe(topic)?;
    }
    Ok(s)
}

/// Attaches `s`, then prints each message received, up to the count, and
/// hands it to `after`.
async fn print_loop<S: RecvSocket>(
    s: S,
    args: &RecvArgs,
    after: impl AsyncFn(&S, Message) -> Result<(), Error>,
) -> Result<(), Error> {
    let watch = Watch::start(&s, &args.monitor);
    attach(&s, &args.common).await?;
    let limit = args.count.unwrap_or(u64::MAX);
    let mut n = 0;
    while n < limit {
        let m = s.recv().await?;
        println!("{}", format::line(args.format, &m));
        after(&s, m).await?;
        n += 1;
    }
    s.close().await;
    watch.finish().await;
    Ok(())
}

fn keygen(args: KeygenArgs) -> Result<(), Error> {
    let pair = weirmq::Keypair::generate();
    match args.path {
        Some(path) => {
            weirmq::cert::write_certificate(&path, &pair)?;
            let secret = weirmq::cert::secret_path(&path);
            eprintln!(
                "wrote {} and {} (mode 0600)",
                path.display(),
                secret.display()
            );
            println!("{}", pair.public);
        }
        None => {
            println!("public-key = \"{}\"", pair.public);
            println!("secret-key = \"{}\"", pair.secret.to_z85().as_str());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // What `#[tokio::main]` gives (a worker per core), unless a perf run
    // asked for one thread.
    let runtime = match &cli.command {
        Command::Perf(p) if p.current_thread() => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => Err(Error::Io {
            context: "tokio runtime".into(),
            source: e,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weirmq: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Send(a) => send(a).await,
        Command::Recv(a) => recv(a).await,
        Command::Proxy(a) => {
            let hwm = Hwm::new(a.hwm(), Hwm::default().bytes())?;
            proxy::proxy(a, Options::default().with_hwm(hwm)).await
        }
        Command::Monitor(a) => monitor::monitor(a).await,
        Command::Keygen(a) => keygen(a),
        Command::Perf(p) => perf::perf(p).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own checks of the flags (unique names, say), which it makes
    /// only when a command is parsed in a debug build.
    #[test]
    fn the_flags_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
