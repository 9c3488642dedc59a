//! The parent: every row for every implementation, each side in its own
//! process, in rounds whose order of implementations rotates, so that a
//! drift of the machine hits all of them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::child::{Child, fields};
use crate::plan::{
    COMPARED, Impl, Row, Runtime, Scenario, Support, Transport, extra_impls, support,
};
use crate::report::label;
use crate::role::Role;
use crate::tools::{self, Tool};

/// Named values of one run, or why there are none.
pub(crate) type Outcome = Result<HashMap<String, f64>, String>;

/// Every run's outcome, by row index and implementation, in run order.
#[derive(Default)]
pub(crate) struct Samples {
    runs: HashMap<(usize, Impl), Vec<Outcome>>,
}

impl Samples {
    /// The outcomes of one implementation on one row.
    pub(crate) fn of(&self, row: usize, imp: Impl) -> &[Outcome] {
        self.runs.get(&(row, imp)).map_or(&[], Vec::as_slice)
    }

    /// Records one run.
    pub(crate) fn push(&mut self, row: usize, imp: Impl, outcome: Outcome) {
        self.runs.entry((row, imp)).or_default().push(outcome);
    }
}

/// How many rounds, and how long one run (all its processes) may take.
pub(crate) struct Settings {
    pub(crate) rounds: usize,
    pub(crate) timeout: Duration,
}

/// The implementations that run a row.
pub(crate) fn runnable(scenario: &Scenario) -> Vec<Impl> {
    COMPARED
        .iter()
        .chain(extra_impls(scenario))
        .copied()
        .filter(|&imp| support(imp, scenario) == Support::Yes)
        .collect()
}

/// Runs everything; progress goes to stderr.
pub(crate) fn run(rows: &[Row], settings: &Settings) -> Result<Samples, String> {
    let dir = tempfile::Builder::new()
        .prefix("weirmq-benches")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let mut samples = Samples::default();
    let mut ipc_n = 0u32;
    for round in 0..settings.rounds {
        for (i, row) in rows.iter().enumerate() {
            let mut impls = runnable(&row.scenario);
            let turn = round % impls.len().max(1);
            impls.rotate_left(turn);
            for imp in impls {
                ipc_n += 1;
                let ep = |t: Transport| -> Result<String, String> {
                    match t {
                        Transport::Tcp => free_tcp_endpoint(),
                        Transport::Ipc => Ok(format!(
                            "ipc://{}",
                            dir.path().join(format!("{ipc_n}.sock")).display()
                        )),
                    }
                };
                let started = Instant::now();
                let outcome = run_one(&row.scenario, imp, ep, settings.timeout);
                eprintln!(
                    "[{}/{}] {} | {}: {} ({:.1} s)",
                    round + 1,
                    settings.rounds,
                    label(&row.scenario),
                    imp.name(),
                    summary(&outcome),
                    started.elapsed().as_secs_f64()
                );
                samples.push(i, imp, outcome);
            }
        }
    }
    Ok(samples)
}

fn summary(outcome: &Outcome) -> String {
    match outcome {
        Ok(values) => {
            let mut v: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v:.1}")).collect();
            v.sort();
            v.join(" ")
        }
        Err(e) => e.clone(),
    }
}

/// A loopback port free now: bound to port 0 and released.
fn free_tcp_endpoint() -> Result<String, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("free port: {e}"))?
        .port();
    Ok(format!("tcp://127.0.0.1:{port}"))
}

/// One run of one implementation: what its children share.
struct Run {
    endpoint: String,
    size: usize,
    count: u64,
    deadline: Instant,
}

impl Run {
    /// Starts a child of `imp` in `role` (with `extra` arguments) and waits
    /// until it has bound or connected.
    fn start(&self, imp: Impl, role: Role, extra: &[String]) -> Result<Child, String> {
        let mut args = vec![
            role.arg(),
            "--impl".into(),
            imp.arg().into(),
            "--endpoint".into(),
            self.endpoint.clone(),
            "--size".into(),
            self.size.to_string(),
            "--count".into(),
            self.count.to_string(),
        ];
        args.extend_from_slice(extra);
        let mut child = Child::spawn(format!("{} {}", imp.name(), role.arg()), &args)?;
        child.expect("READY", self.deadline)?;
        Ok(child)
    }

    /// Starts one of libzmq's perf tools on this run's endpoint.
    fn start_tool(&self, tool: Tool, curve: bool) -> Result<Child, String> {
        tools::start(
            tool,
            &self.endpoint,
            self.size,
            self.count,
            curve,
            self.deadline,
        )
    }

    /// The values of the child's RESULT line.
    fn result(&self, child: &mut Child) -> Result<HashMap<String, f64>, String> {
        Ok(fields(&child.expect("RESULT", self.deadline)?)?
            .into_iter()
            .collect())
    }
}

fn run_one(
    scenario: &Scenario,
    imp: Impl,
    endpoint: impl Fn(Transport) -> Result<String, String>,
    timeout: Duration,
) -> Outcome {
    let (transport, size, count) = match *scenario {
        Scenario::Throughput {
            transport,
            size,
            count,
            ..
        } => (transport, size, count),
        Scenario::Latency { size, count }
        | Scenario::FanOut { size, count, .. }
        | Scenario::Spread { size, count, .. }
        | Scenario::Gather { size, count, .. }
        | Scenario::SlowSubscriber { size, count } => (Transport::Tcp, size, count),
        Scenario::IdleConnections { .. } => (Transport::Tcp, 0, 0),
        Scenario::Connections { count, .. } => (Transport::Tcp, 16, count),
    };
    let run = Run {
        endpoint: endpoint(transport)?,
        size,
        count,
        deadline: Instant::now() + timeout,
    };
    match *scenario {
        Scenario::Throughput { curve, runtime, .. } => throughput(&run, imp, curve, runtime),
        Scenario::Latency { .. } if imp == Impl::PerfTools => {
            let _rep = run.start_tool(Tool::LocalLat, false)?;
            let mut req = run.start_tool(Tool::RemoteLat, false)?;
            let mean = tools::round_trip(&req.expect("average latency:", run.deadline)?)?;
            Ok(HashMap::from([("mean_us".into(), mean)]))
        }
        Scenario::Latency { .. } => {
            let _rep = run.start(imp, Role::LatRep, &[])?;
            let mut req = run.start(imp, Role::LatReq, &[])?;
            run.result(&mut req)
        }
        Scenario::FanOut { subs, .. } => fan_out(&run, imp, subs),
        Scenario::Spread { pulls, .. } => spread(&run, imp, pulls),
        Scenario::Gather { pushes, .. } => gather(&run, imp, pushes),
        Scenario::SlowSubscriber { .. } => slow_subscriber(&run, imp, timeout),
        Scenario::Connections { curve, .. } => connections(&run, imp, curve),
        Scenario::IdleConnections { connections } => {
            let server = run.start(imp, Role::IdleServer, &[])?;
            crate::idle::measure(&server, &run.endpoint, connections, run.deadline)
        }
    }
}

/// Who plays one side of a throughput run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// This binary, in a role, as this implementation.
    Role(Impl),
    /// libzmq's `local_thr` (receiving) or `remote_thr` (sending).
    Tool,
}

/// The sender and the receiver of a throughput run of `imp`.
fn sides(imp: Impl) -> (Side, Side) {
    match imp {
        Impl::PerfTools => (Side::Tool, Side::Tool),
        Impl::WeirmqToPerf => (Side::Role(Impl::Weirmq), Side::Tool),
        Impl::PerfToWeirmq => (Side::Tool, Side::Role(Impl::Weirmq)),
        other => (Side::Role(other), Side::Role(other)),
    }
}

/// The CURVE arguments of a throughput run's receiving (server) and
/// sending (client) roles: throwaway keys for one loopback run, or the
/// perf tools' built-in ones when a tool is one of the sides.
fn curve_keys(facing_a_tool: bool) -> (Vec<String>, Vec<String>) {
    let (server_secret, server_public, client_secret) = if facing_a_tool {
        (
            tools::SERVER_SECRET.to_owned(),
            tools::SERVER_PUBLIC.to_owned(),
            tools::CLIENT_SECRET.to_owned(),
        )
    } else {
        let server = weirmq::Keypair::generate();
        let client = weirmq::Keypair::generate();
        (
            server.secret.to_z85().as_str().to_owned(),
            server.public.to_z85().to_string(),
            client.secret.to_z85().as_str().to_owned(),
        )
    };
    // `--flag=VALUE`: a Z85 key may start with '-', which would otherwise
    // read as a flag.
    (
        vec![format!("--secret-key={server_secret}")],
        vec![
            format!("--server-key={server_public}"),
            format!("--secret-key={client_secret}"),
        ],
    )
}

/// PUSH -> PULL: the receiver first (it binds), then the sender; the rate
/// as the receiver timed it, first message to last.
fn throughput(run: &Run, imp: Impl, curve: bool, runtime: Runtime) -> Outcome {
    let (sender, receiver) = sides(imp);
    let on = format!("--runtime={}", crate::plan::arg(runtime));
    let (mut server_args, mut client_args) = if curve {
        curve_keys(sender == Side::Tool || receiver == Side::Tool)
    } else {
        (Vec::new(), Vec::new())
    };
    server_args.push(on.clone());
    client_args.push(on);
    let mut receiving = match receiver {
        Side::Role(i) => run.start(i, Role::ThrRecv, &server_args)?,
        Side::Tool => run.start_tool(Tool::LocalThr, curve)?,
    };
    let _sending = match sender {
        Side::Role(i) => run.start(i, Role::ThrSend, &client_args)?,
        Side::Tool => run.start_tool(Tool::RemoteThr, curve)?,
    };
    let rate = match receiver {
        Side::Role(_) => {
            let r = run.result(&mut receiving)?;
            per_second(get(&r, "received")?, get(&r, "secs")?)
        }
        Side::Tool => tools::throughput(
            &receiving.expect("mean throughput:", run.deadline)?,
            run.count,
        )?,
    };
    Ok(HashMap::from([("msgs_per_sec".into(), rate)]))
}

/// Connections established per second: a REP server, and a client whose
/// REQs connect, make one round trip and close, one after the other.
fn connections(run: &Run, imp: Impl, curve: bool) -> Outcome {
    let (server_args, client_args) = if curve {
        curve_keys(false)
    } else {
        (Vec::new(), Vec::new())
    };
    let _server = run.start(imp, Role::ConnServer, &server_args)?;
    let mut client = run.start(imp, Role::ConnClient, &client_args)?;
    let r = run.result(&mut client)?;
    let secs = get(&r, "secs")?;
    let rate = if secs > 0.0 {
        get(&r, "connections")? / secs
    } else {
        0.0
    };
    Ok(HashMap::from([("connections_per_sec".into(), rate)]))
}

/// One PUB, `subs` SUBs: each SUB's rate over its window, and the share
/// of the messages that arrived.
fn fan_out(run: &Run, imp: Impl, subs: usize) -> Outcome {
    let mut publisher = run.start(imp, Role::FanPub, &[])?;
    let mut subscribers = Vec::new();
    for _ in 0..subs {
        subscribers.push(run.start(imp, Role::FanSub, &[])?);
    }
    for s in &mut subscribers {
        s.expect("SUBSCRIBED", run.deadline)?;
    }
    publisher.tell("GO");
    let (mut rate_sum, mut received) = (0.0, 0.0);
    for s in &mut subscribers {
        let r = run.result(s)?;
        // Delivered per second over the SUB's window (first message
        // to end marker): drops count against the rate.
        let secs = get(&r, "secs")?;
        if secs > 0.0 {
            rate_sum += get(&r, "received")? / secs;
        }
        received += get(&r, "received")?;
    }
    let n = subs as f64;
    Ok(HashMap::from([
        ("msgs_per_sec".into(), rate_sum / n),
        ("delivered".into(), received / (n * run.count as f64)),
    ]))
}

/// One PUSH, `pulls` PULLs: the rate over all of them, from the first
/// message any PULL got to the last one (wall clock times, one clock for
/// all the processes), and the least and most any one PULL got, over the
/// even share.
fn spread(run: &Run, imp: Impl, pulls: usize) -> Outcome {
    let mut push = run.start(imp, Role::SpreadPush, &[])?;
    let mut receivers = Vec::new();
    for _ in 0..pulls {
        receivers.push(run.start(imp, Role::SpreadPull, &[])?);
    }
    // Every PULL connected and served (a round robin skips no one it
    // knows) before the data starts.
    for r in &mut receivers {
        r.expect("SUBSCRIBED", run.deadline)?;
    }
    push.tell("GO");
    let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut total, mut least, mut most) = (0.0, f64::INFINITY, 0.0f64);
    for r in &mut receivers {
        let v = run.result(r)?;
        let received = get(&v, "received")?;
        first = first.min(get(&v, "first_at")?);
        last = last.max(get(&v, "last_at")?);
        total += received;
        least = least.min(received);
        most = most.max(received);
    }
    let share = run.count as f64 / pulls as f64;
    Ok(HashMap::from([
        ("msgs_per_sec".into(), per_second(total, last - first)),
        ("delivered".into(), total / run.count as f64),
        ("least_share".into(), least / share),
        ("most_share".into(), most / share),
    ]))
}

/// `pushes` PUSHes into one PULL, all let go at once: the rate at the PULL,
/// first message to last.
fn gather(run: &Run, imp: Impl, pushes: usize) -> Outcome {
    let each = run.count / pushes as u64;
    let total = each * pushes as u64;
    let with_count = |count| Run {
        endpoint: run.endpoint.clone(),
        count,
        ..*run
    };
    let mut receiving = with_count(total).start(imp, Role::ThrRecv, &[])?;
    let mut senders = Vec::new();
    for _ in 0..pushes {
        senders.push(with_count(each).start(imp, Role::GatherPush, &[])?);
    }
    for s in &mut senders {
        s.tell("GO");
    }
    let r = run.result(&mut receiving)?;
    Ok(HashMap::from([(
        "msgs_per_sec".into(),
        per_second(get(&r, "received")?, get(&r, "secs")?),
    )]))
}

/// A PUB offering messages to a SUB that does not read: how far the PUB
/// got, both peak RSS, and what reached the SUB once it read.
fn slow_subscriber(run: &Run, imp: Impl, timeout: Duration) -> Outcome {
    let mut publisher = run.start(imp, Role::SlowPub, &[])?;
    let mut sub = run.start(imp, Role::SlowSub, &[])?;
    publisher.tell("GO");
    let mut r = run.result(&mut publisher)?;
    let rss = |c: &Child| c.peak_rss_kib().ok_or("no VmHWM in /proc/PID/status");
    r.insert("peak_rss_kib".into(), rss(&publisher)? as f64);
    r.insert("sub_peak_rss_kib".into(), rss(&sub)? as f64);
    // Now let the SUB read what reached it: the rest was lost.
    sub.tell("GO");
    let drained = Run {
        deadline: Instant::now() + timeout,
        endpoint: run.endpoint.clone(),
        ..*run
    }
    .result(&mut sub)?;
    r.insert("received".into(), get(&drained, "received")?);
    Ok(r)
}

fn get(values: &HashMap<String, f64>, key: &str) -> Result<f64, String> {
    values
        .get(key)
        .copied()
        .ok_or_else(|| format!("no {key} in the result"))
}

/// As libzmq's local_thr, over the gaps between the first and last message.
fn per_second(received: f64, secs: f64) -> f64 {
    if received < 2.0 || secs <= 0.0 {
        0.0
    } else {
        (received - 1.0) / secs
    }
}
