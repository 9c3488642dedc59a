//! The parent: every row for every implementation, each side in its own
//! process, in rounds whose order of implementations rotates, so that a
//! drift of the machine hits all of them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::child::{Child, fields};
use crate::plan::{COMPARED, Impl, Row, Scenario, Support, Transport, extra_impls, support};
use crate::report::label;
use crate::role::Role;

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
    imp: Impl,
    endpoint: String,
    size: usize,
    count: u64,
    deadline: Instant,
}

impl Run {
    /// Starts a child in `role` (with `extra` arguments) and waits until it
    /// has bound or connected.
    fn start(&self, role: Role, extra: &[String]) -> Result<Child, String> {
        let mut args = vec![
            role.arg(),
            "--impl".into(),
            self.imp.arg().into(),
            "--endpoint".into(),
            self.endpoint.clone(),
            "--size".into(),
            self.size.to_string(),
            "--count".into(),
            self.count.to_string(),
        ];
        args.extend_from_slice(extra);
        let mut child = Child::spawn(format!("{} {}", self.imp.name(), role.arg()), &args)?;
        child.expect("READY", self.deadline)?;
        Ok(child)
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
        | Scenario::SlowSubscriber { size, count } => (Transport::Tcp, size, count),
    };
    let run = Run {
        imp,
        endpoint: endpoint(transport)?,
        size,
        count,
        deadline: Instant::now() + timeout,
    };
    match *scenario {
        Scenario::Throughput { curve, runtime, .. } => {
            let on = vec![format!("--runtime={}", crate::plan::arg(runtime))];
            let (mut server_keys, mut client_keys) = (on.clone(), on);
            if curve {
                // Throwaway keys for one loopback run.
                let server = weirmq::Keypair::generate();
                let client = weirmq::Keypair::generate();
                // `--flag=VALUE`: a Z85 key may start with '-', which would
                // otherwise read as a flag.
                server_keys.push(format!("--secret-key={}", server.secret.to_z85().as_str()));
                client_keys.extend([
                    format!("--server-key={}", server.public.to_z85()),
                    format!("--secret-key={}", client.secret.to_z85().as_str()),
                ]);
            }
            let mut receiver = run.start(Role::ThrRecv, &server_keys)?;
            let _sender = run.start(Role::ThrSend, &client_keys)?;
            let r = run.result(&mut receiver)?;
            let rate = per_second(get(&r, "received")?, get(&r, "secs")?);
            Ok(HashMap::from([("msgs_per_sec".into(), rate)]))
        }
        Scenario::Latency { .. } => {
            let _rep = run.start(Role::LatRep, &[])?;
            let mut req = run.start(Role::LatReq, &[])?;
            run.result(&mut req)
        }
        Scenario::FanOut { subs, .. } => {
            let mut publisher = run.start(Role::FanPub, &[])?;
            let mut subscribers = Vec::new();
            for _ in 0..subs {
                subscribers.push(run.start(Role::FanSub, &[])?);
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
                ("delivered".into(), received / (n * count as f64)),
            ]))
        }
        Scenario::SlowSubscriber { .. } => {
            let mut publisher = run.start(Role::SlowPub, &[])?;
            let mut sub = run.start(Role::SlowSub, &[])?;
            publisher.tell("GO");
            let mut r = run.result(&mut publisher)?;
            let rss = |c: &Child| c.peak_rss_kib().ok_or("no VmHWM in /proc/PID/status");
            r.insert("peak_rss_kib".into(), rss(&publisher)? as f64);
            r.insert("sub_peak_rss_kib".into(), rss(&sub)? as f64);
            // Now let the SUB read what reached it: the rest was lost.
            sub.tell("GO");
            let drained = Run {
                deadline: Instant::now() + timeout,
                ..run
            }
            .result(&mut sub)?;
            r.insert("received".into(), get(&drained, "received")?);
            Ok(r)
        }
    }
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
