//! Medians of the runs, and the one markdown table: a column per
//! implementation and the ratio weirmq / best libzmq (the `zmq` crate's
//! libzmq or libzmq's own perf tools, whichever did better).

use std::collections::HashMap;

use crate::plan::{
    COMPARED, CROSS, Impl, LIBZMQS, Row, Runtime, Scenario, Support, Transport, extra_impls,
    support,
};
use crate::runner::Samples;

/// A row's name in the table and in the progress lines.
pub(crate) fn label(scenario: &Scenario) -> String {
    match *scenario {
        Scenario::Throughput {
            transport,
            size,
            curve,
            runtime,
            ..
        } => format!(
            "PUSH→PULL {} {}{}{}",
            match transport {
                Transport::Tcp => "tcp",
                Transport::Ipc => "ipc",
            },
            bytes(size),
            if curve { " CURVE" } else { "" },
            match runtime {
                Runtime::MultiThread => "",
                Runtime::CurrentThread => ", tokio current-thread runtime",
            }
        ),
        Scenario::Latency { size, .. } => format!("REQ↔REP tcp {}", bytes(size)),
        Scenario::FanOut { size, subs, .. } => {
            let processes = if subs == 1 { "process" } else { "processes" };
            format!(
                "PUB→{subs} SUB tcp {} ({subs} SUB {processes})",
                bytes(size)
            )
        }
        Scenario::Spread { size, pulls, .. } => format!(
            "PUSH→{pulls} PULL tcp {} ({})",
            bytes(size),
            processes(pulls, "PULL")
        ),
        Scenario::Gather { size, pushes, .. } => format!(
            "{pushes} PUSH→PULL tcp {} ({})",
            bytes(size),
            processes(pushes, "PUSH")
        ),
        Scenario::Connections { curve, .. } => format!(
            "REQ connects, one round trip, closes: tcp {}",
            if curve { "CURVE" } else { "NULL" }
        ),
        Scenario::IdleConnections { connections } => format!(
            "PULL holding {} idle tcp connections",
            thousands(connections as f64)
        ),
        Scenario::SlowSubscriber { size, count } => format!(
            "slow SUB: PUB offers {} × {}, SUB never reads",
            thousands(count as f64),
            bytes(size)
        ),
    }
}

/// `1 PULL process`, `10 PULL processes`.
fn processes(n: usize, kind: &str) -> String {
    let noun = if n == 1 { "process" } else { "processes" };
    format!("{n} {kind} {noun}")
}

/// A message size: `16 B`, `64 KiB`.
pub(crate) fn bytes(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn megabytes(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} MB/s")
    } else {
        format!("{v:.1} MB/s")
    }
}

/// The middle value (the mean of the two middle ones for an even count).
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// One implementation's runs of one row.
enum Runs<'a> {
    /// Not run: this text is the cell ("n/a", "timeout", "failed").
    Text(&'static str),
    /// The successful runs, and how many runs there were.
    Done {
        ok: Vec<&'a HashMap<String, f64>>,
        total: usize,
    },
}

impl Runs<'_> {
    fn median(&self, key: &str) -> Option<f64> {
        match self {
            Runs::Done { ok, .. } => {
                let mut v: Vec<f64> = ok.iter().filter_map(|m| m.get(key).copied()).collect();
                median(&mut v)
            }
            Runs::Text(_) => None,
        }
    }

    /// Whether some successful run measured `key` (libzmq's `remote_lat`
    /// has no p99, say).
    fn has(&self, key: &str) -> bool {
        match self {
            Runs::Done { ok, .. } => ok.iter().any(|m| m.contains_key(key)),
            Runs::Text(_) => true,
        }
    }

    /// The cell: `show` of the runs, marked when some runs failed.
    fn cell(&self, show: impl Fn(&Self) -> Option<String>) -> String {
        match self {
            Runs::Text(t) => (*t).to_owned(),
            Runs::Done { ok, total } => {
                let text = show(self).unwrap_or_else(|| "failed".into());
                if ok.len() < *total {
                    format!("{text} ({} of {total} runs failed)", total - ok.len())
                } else {
                    text
                }
            }
        }
    }
}

/// Builds the table line by line.
struct Table<'a> {
    samples: &'a Samples,
    lines: Vec<String>,
    notes: Vec<String>,
}

/// Whether a bigger number is better (throughput) or worse (latency, memory).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

impl<'a> Table<'a> {
    fn runs(&mut self, index: usize, row: &Row, imp: Impl) -> Runs<'a> {
        match support(imp, &row.scenario) {
            Support::NotAvailable => return Runs::Text("n/a"),
            Support::Yes => {}
        }
        let outcomes = self.samples.of(index, imp);
        let mut ok = Vec::new();
        for o in outcomes {
            match o {
                Ok(values) => ok.push(values),
                Err(e) => {
                    let note = format!("{} | {}: {e}", label(&row.scenario), imp.name());
                    if !self.notes.contains(&note) {
                        self.notes.push(note);
                    }
                }
            }
        }
        if !ok.is_empty() {
            return Runs::Done {
                ok,
                total: outcomes.len(),
            };
        }
        match outcomes.first() {
            None => Runs::Text("not run"),
            Some(Err(e)) if e.starts_with("timeout") => Runs::Text("timeout"),
            Some(_) => Runs::Text("failed"),
        }
    }

    fn line(&mut self, scenario: &str, metric: &str, cells: &[String], ratio: &str) {
        self.lines.push(format!(
            "| {scenario} | {metric} | {} | {ratio} |",
            cells.join(" | ")
        ));
    }

    /// A line of one metric with its ratio weirmq / best libzmq.
    fn metric_line(
        &mut self,
        (scenario, metric): (&str, &str),
        runs: &[Runs<'_>],
        key: &str,
        better: Better,
        show: impl Fn(f64) -> String,
    ) {
        let cells: Vec<String> = runs
            .iter()
            .map(|r| {
                if r.has(key) {
                    r.cell(|r| r.median(key).map(&show))
                } else {
                    "n/a".into()
                }
            })
            .collect();
        let ratio = ratio(runs[0].median(key), runs, key, better);
        self.line(scenario, metric, &cells, &ratio);
    }

    /// The lines of the cross pairs under a throughput row: each pair's
    /// rate in the metric column, its ratio to the best libzmq.
    fn cross_lines(&mut self, index: usize, row: &Row, runs: &[Runs<'_>], size: usize) {
        for imp in CROSS {
            if !extra_impls(&row.scenario).contains(&imp) {
                continue;
            }
            let cross = self.runs(index, row, imp);
            let value = cross.median("msgs_per_sec");
            let text = cross.cell(|r| {
                let v = r.median("msgs_per_sec")?;
                Some(format!(
                    "{} msg/s ({})",
                    rate(v),
                    megabytes(v * size as f64 / 1e6)
                ))
            });
            let dashes = vec!["–".to_owned(); COMPARED.len()];
            let ratio = ratio(value, runs, "msgs_per_sec", Better::Higher);
            self.line(&format!("cross: {}", imp.name()), &text, &dashes, &ratio);
        }
    }
}

/// `ours` over the best of the libzmq columns' medians of `key` in `runs`
/// (in [`COMPARED`] order), naming which one: "0.92× (perf tools)".
fn ratio(ours: Option<f64>, runs: &[Runs<'_>], key: &str, better: Better) -> String {
    let best = COMPARED
        .iter()
        .zip(runs)
        .filter(|(imp, _)| LIBZMQS.contains(imp))
        .filter_map(|(imp, r)| r.median(key).map(|v| (v, imp.short_name())))
        .reduce(|a, b| match better {
            Better::Higher if b.0 > a.0 => b,
            Better::Lower if b.0 < a.0 => b,
            _ => a,
        });
    match (ours, best) {
        (Some(o), Some((b, name))) if b > 0.0 => format!("{:.2}× ({name})", o / b),
        _ => "–".into(),
    }
}

/// The markdown table of medians, then notes on every failed run.
pub(crate) fn table(rows: &[(usize, Row)], samples: &Samples) -> String {
    let mut t = Table {
        samples,
        lines: Vec::new(),
        notes: Vec::new(),
    };
    let names: Vec<&str> = COMPARED.iter().map(|i| i.name()).collect();
    t.lines.push(format!(
        "| scenario | metric | {} | weirmq / best libzmq |",
        names.join(" | ")
    ));
    t.lines
        .push(format!("|---|---|{}---|", "---:|".repeat(COMPARED.len())));
    for (index, row) in rows {
        let name = label(&row.scenario);
        let runs: Vec<Runs<'_>> = COMPARED
            .iter()
            .map(|&imp| t.runs(*index, row, imp))
            .collect();
        match row.scenario {
            Scenario::Throughput { size, .. } => {
                let show = |v: f64| format!("{} ({})", rate(v), megabytes(v * size as f64 / 1e6));
                t.metric_line(
                    (&name, "msg/s (MB/s)"),
                    &runs,
                    "msgs_per_sec",
                    Better::Higher,
                    show,
                );
                t.cross_lines(*index, row, &runs, size);
            }
            Scenario::Latency { size, .. } => {
                let us = |v: f64| format!("{v:.1} µs");
                t.metric_line(
                    (&name, "mean round trip"),
                    &runs,
                    "mean_us",
                    Better::Lower,
                    us,
                );
                t.metric_line(("", "p99 round trip"), &runs, "p99_us", Better::Lower, us);
                let floor = t.runs(*index, row, Impl::TokioTcp);
                let text = match (floor.median("mean_us"), floor.median("p99_us")) {
                    (Some(m), Some(p)) => format!("mean {m:.1} µs, p99 {p:.1} µs"),
                    _ => floor.cell(|_| None),
                };
                let dashes = vec!["–".to_owned(); COMPARED.len()];
                t.line(
                    &format!("floor: plain tokio TCP ping-pong {}", bytes(size)),
                    &text,
                    &dashes,
                    "–",
                );
            }
            Scenario::FanOut { .. } => {
                let show = |v: f64| format!("{} msg/s", rate(v));
                t.metric_line(
                    (&name, "msg/s per SUB"),
                    &runs,
                    "msgs_per_sec",
                    Better::Higher,
                    show,
                );
                let cells: Vec<String> = runs
                    .iter()
                    .map(|r| {
                        r.cell(|r| r.median("delivered").map(|v| format!("{:.1} %", v * 100.0)))
                    })
                    .collect();
                t.line("", "delivered", &cells, "–");
            }
            Scenario::Spread { .. } => {
                let show = |v: f64| format!("{} msg/s", rate(v));
                t.metric_line(
                    (&name, "msg/s, all PULLs"),
                    &runs,
                    "msgs_per_sec",
                    Better::Higher,
                    show,
                );
                let cells: Vec<String> = runs
                    .iter()
                    .map(|r| {
                        r.cell(|r| {
                            let (least, most) = (r.median("least_share")?, r.median("most_share")?);
                            Some(format!("{:.0} % / {:.0} %", least * 100.0, most * 100.0))
                        })
                    })
                    .collect();
                t.line(
                    "",
                    "least / most to one PULL, of an even share",
                    &cells,
                    "–",
                );
            }
            Scenario::Gather { .. } => {
                let show = |v: f64| format!("{} msg/s", rate(v));
                t.metric_line(
                    (&name, "msg/s at the PULL"),
                    &runs,
                    "msgs_per_sec",
                    Better::Higher,
                    show,
                );
            }
            Scenario::SlowSubscriber { .. } => {
                let mib = |v: f64| format!("{:.1} MiB", v / 1024.0);
                t.metric_line(
                    (&name, "publisher peak RSS"),
                    &runs,
                    "peak_rss_kib",
                    Better::Lower,
                    mib,
                );
                t.metric_line(
                    ("", "SUB peak RSS"),
                    &runs,
                    "sub_peak_rss_kib",
                    Better::Lower,
                    mib,
                );
                let cells: Vec<String> = runs.iter().map(|r| r.cell(outcome)).collect();
                t.line("", "sent; lost", &cells, "–");
            }
            Scenario::Connections { .. } => {
                let show = |v: f64| format!("{} /s", thousands(v));
                t.metric_line(
                    (&name, "connections"),
                    &runs,
                    "connections_per_sec",
                    Better::Higher,
                    show,
                );
            }
            Scenario::IdleConnections { .. } => {
                let kib = |v: f64| format!("{v:.1} KiB");
                t.metric_line(
                    (&name, "memory per connection"),
                    &runs,
                    "kib_per_connection",
                    Better::Lower,
                    kib,
                );
            }
        }
    }
    let mut out = t.lines.join("\n");
    out.push('\n');
    if !t.notes.is_empty() {
        out.push_str("\nFailed runs:\n");
        for n in &t.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}

/// The slow-subscriber outcome: how far the publisher got, and how many of
/// the messages it took never reached the SUB (it reads them all at the
/// end: whatever it does not get was dropped on the way).
fn outcome(runs: &Runs<'_>) -> Option<String> {
    let sent = runs.median("sent")?;
    let lost = (sent - runs.median("received")?).max(0.0);
    let blocked = runs.median("blocked")? >= 0.5;
    let head = if blocked {
        format!("blocked after {}", thousands(sent))
    } else {
        format!("{} sent", thousands(sent))
    };
    let counted = match runs.median("dropped") {
        Some(d) => format!("counted drops {}", thousands(d)),
        None => "drops not counted".into(),
    };
    Some(format!("{head}; lost {} ({counted})", thousands(lost)))
}

/// Medians of PUSH→PULL tcp throughput (msg/s) by message size, per
/// implementation, for the plot.
pub(crate) fn throughput_series(rows: &[(usize, Row)], samples: &Samples) -> Vec<PlotSeries> {
    series(rows, samples, |scenario| match *scenario {
        Scenario::Throughput {
            transport: Transport::Tcp,
            size,
            curve: false,
            runtime: Runtime::MultiThread,
            ..
        } => Some(size),
        _ => None,
    })
}

/// The scaling plot's panels: msg/s against N for PUSH→N PULL, N PUSH→PULL
/// and PUB→N SUB (per SUB).
pub(crate) fn scaling_series(
    rows: &[(usize, Row)],
    samples: &Samples,
) -> Vec<(&'static str, Vec<PlotSeries>)> {
    vec![
        (
            "PUSH→N PULL, all PULLs",
            series(rows, samples, |s| match *s {
                Scenario::Spread { pulls, .. } => Some(pulls),
                _ => None,
            }),
        ),
        (
            "N PUSH→PULL",
            series(rows, samples, |s| match *s {
                Scenario::Gather { pushes, .. } => Some(pushes),
                _ => None,
            }),
        ),
        (
            "PUB→N SUB, per SUB",
            series(rows, samples, |s| match *s {
                Scenario::FanOut { subs, .. } => Some(subs),
                _ => None,
            }),
        ),
    ]
}

/// One implementation's points: (x, median msg/s).
pub(crate) type PlotSeries = (Impl, Vec<(usize, f64)>);

/// The median msg/s of each compared implementation on the rows `x_of`
/// places on the x axis, in row order.
fn series(
    rows: &[(usize, Row)],
    samples: &Samples,
    x_of: impl Fn(&Scenario) -> Option<usize>,
) -> Vec<PlotSeries> {
    COMPARED
        .iter()
        .map(|&imp| {
            let points = rows
                .iter()
                .filter_map(|(index, row)| {
                    let x = x_of(&row.scenario)?;
                    let mut v: Vec<f64> = samples
                        .of(*index, imp)
                        .iter()
                        .filter_map(|o| o.as_ref().ok()?.get("msgs_per_sec").copied())
                        .collect();
                    median(&mut v).map(|m| (x, m))
                })
                .collect();
            (imp, points)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Mode, rows};

    fn run(pairs: &[(&str, f64)]) -> crate::runner::Outcome {
        Ok(pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
    }

    #[test]
    fn medians_and_numbers() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(thousands(2_000_000.0), "2,000,000");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(rate(1_234_567.0), "1.23 M");
        assert_eq!(rate(45_600.0), "46 k");
        assert_eq!(bytes(65536), "64 KiB");
        assert_eq!(bytes(16), "16 B");
    }

    #[test]
    fn the_plot_takes_the_default_runtime_and_the_label_names_the_other() {
        let all: Vec<(usize, Row)> = rows(Mode::Full).into_iter().enumerate().collect();
        let mut samples = Samples::default();
        for (i, row) in &all {
            if let Scenario::Throughput {
                size: 16,
                curve: false,
                transport: Transport::Tcp,
                runtime,
                ..
            } = row.scenario
            {
                let v = match runtime {
                    Runtime::MultiThread => 100.0,
                    Runtime::CurrentThread => 900.0,
                };
                samples.push(*i, Impl::Weirmq, run(&[("msgs_per_sec", v)]));
                if runtime == Runtime::CurrentThread {
                    assert_eq!(
                        label(&row.scenario),
                        "PUSH→PULL tcp 16 B, tokio current-thread runtime"
                    );
                }
            }
        }
        let series = throughput_series(&all, &samples);
        let (imp, points) = &series[0];
        assert_eq!(*imp, Impl::Weirmq);
        assert_eq!(points, &vec![(16, 100.0)]);
    }

    /// The quick mode's row whose scenario `pred` picks, with its index.
    fn pick(pred: impl Fn(&Scenario) -> bool) -> (usize, Row) {
        rows(Mode::Quick)
            .into_iter()
            .enumerate()
            .find(|(_, r)| pred(&r.scenario))
            .unwrap()
    }

    #[test]
    fn the_table_shows_medians_ratios_and_what_could_not_run() {
        let thr = pick(|s| {
            matches!(
                s,
                Scenario::Throughput {
                    curve: false,
                    size: 16,
                    runtime: Runtime::MultiThread,
                    ..
                }
            )
        });
        let curve = pick(|s| matches!(s, Scenario::Throughput { curve: true, .. }));
        let mut samples = Samples::default();
        for v in [100.0, 300.0, 200.0] {
            samples.push(thr.0, Impl::Weirmq, run(&[("msgs_per_sec", v)]));
        }
        samples.push(thr.0, Impl::Libzmq, run(&[("msgs_per_sec", 400.0)]));
        samples.push(thr.0, Impl::PerfTools, run(&[("msgs_per_sec", 500.0)]));
        samples.push(
            thr.0,
            Impl::Zmqrs,
            Err("timeout: zmq.rs gave no RESULT".into()),
        );
        // Better than every libzmq: the ratio is still over libzmq's.
        samples.push(thr.0, Impl::Omq, run(&[("msgs_per_sec", 900.0)]));
        samples.push(thr.0, Impl::Omq, Err("exited".into()));
        samples.push(thr.0, Impl::WeirmqToPerf, run(&[("msgs_per_sec", 250.0)]));
        samples.push(curve.0, Impl::Libzmq, run(&[("msgs_per_sec", 50.0)]));
        let table = table(&[thr, curve], &samples);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "| scenario | metric | weirmq | libzmq | libzmq 4.3.5 perf tools | zmq.rs | omq.rs \
             | weirmq / best libzmq |"
        );
        // Median 200 vs the best libzmq's 500.
        assert_eq!(
            lines[2],
            "| PUSH→PULL tcp 16 B | msg/s (MB/s) | 200 (0.0 MB/s) | 400 (0.0 MB/s) \
             | 500 (0.0 MB/s) | timeout | 900 (0.0 MB/s) (1 of 2 runs failed) \
             | 0.40× (perf tools) |"
        );
        assert_eq!(
            lines[3],
            "| cross: weirmq PUSH → libzmq local_thr | 250 msg/s (0.0 MB/s) \
             | – | – | – | – | – | 0.50× (perf tools) |"
        );
        assert_eq!(
            lines[4],
            "| cross: libzmq remote_thr → weirmq PULL | not run | – | – | – | – | – | – |"
        );
        // The CURVE row's cross lines follow it.
        assert!(
            lines[5].contains("| not run | 50 (0.1 MB/s) | not run | n/a | not run | – |"),
            "{}",
            lines[5]
        );
        assert!(lines[6].starts_with("| cross: weirmq PUSH"), "{}", lines[6]);
        assert!(table.contains("zmq.rs: timeout: zmq.rs gave no RESULT"));
    }

    #[test]
    fn the_latency_ratio_takes_the_lower_libzmq_and_the_tools_have_no_p99() {
        let lat = pick(|s| matches!(s, Scenario::Latency { .. }));
        let mut samples = Samples::default();
        let both = |mean, p99| run(&[("mean_us", mean), ("p99_us", p99)]);
        samples.push(lat.0, Impl::Weirmq, both(40.0, 80.0));
        samples.push(lat.0, Impl::Libzmq, both(50.0, 100.0));
        samples.push(lat.0, Impl::PerfTools, run(&[("mean_us", 30.0)]));
        let table = table(&[lat], &samples);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[2],
            "| REQ↔REP tcp 16 B | mean round trip | 40.0 µs | 50.0 µs | 30.0 µs | not run \
             | not run | 1.33× (perf tools) |"
        );
        assert_eq!(
            lines[3],
            "|  | p99 round trip | 80.0 µs | 100.0 µs | n/a | not run | not run | 0.80× (libzmq) |"
        );
    }
}
