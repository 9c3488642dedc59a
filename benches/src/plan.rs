//! What is measured: the implementations, the scenarios (rows), their
//! message counts per mode, and which implementation can do which row.

use clap::ValueEnum;

/// An implementation measured (`--impl` of a role), or a pair of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub(crate) enum Impl {
    Weirmq,
    Libzmq,
    /// libzmq 4.3.5's own perf tools (`local_thr`/`remote_thr`,
    /// `local_lat`/`remote_lat`), run as programs: the anchor.
    #[value(skip)]
    PerfTools,
    Zmqrs,
    Omq,
    /// The latency floor: plain tokio TCP, no ZMTP.
    TokioTcp,
    /// A cross pair: weirmq's PUSH (the `thr-send` role) into libzmq's
    /// `local_thr`.
    #[value(skip)]
    WeirmqToPerf,
    /// A cross pair: libzmq's `remote_thr` into weirmq's PULL (the
    /// `thr-recv` role).
    #[value(skip)]
    PerfToWeirmq,
}

/// The implementations of the table's columns, weirmq first.
pub(crate) const COMPARED: [Impl; 5] = [
    Impl::Weirmq,
    Impl::Libzmq,
    Impl::PerfTools,
    Impl::Zmqrs,
    Impl::Omq,
];

/// The libzmq columns: every ratio is weirmq over the best of them.
pub(crate) const LIBZMQS: [Impl; 2] = [Impl::Libzmq, Impl::PerfTools];

/// The cross pairs, which show whether weirmq's sender or its receiver is
/// what keeps weirmq behind libzmq.
pub(crate) const CROSS: [Impl; 2] = [Impl::WeirmqToPerf, Impl::PerfToWeirmq];

impl Impl {
    /// Its name in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Impl::Weirmq => "weirmq",
            Impl::Libzmq => "libzmq",
            Impl::PerfTools => "libzmq 4.3.5 perf tools",
            Impl::Zmqrs => "zmq.rs",
            Impl::Omq => "omq.rs",
            Impl::TokioTcp => "tokio TCP",
            Impl::WeirmqToPerf => "weirmq PUSH → libzmq local_thr",
            Impl::PerfToWeirmq => "libzmq remote_thr → weirmq PULL",
        }
    }

    /// Its short name in a ratio: "0.92× (perf tools)".
    pub(crate) fn short_name(self) -> &'static str {
        match self {
            Impl::PerfTools => "perf tools",
            other => other.name(),
        }
    }

    /// Its name on a role's command line (the perf tools and the cross
    /// pairs are no role's `--impl`: their names here are for messages).
    pub(crate) fn arg(self) -> &'static str {
        match self {
            Impl::Weirmq => "weirmq",
            Impl::Libzmq => "libzmq",
            Impl::PerfTools => "perf-tools",
            Impl::Zmqrs => "zmqrs",
            Impl::Omq => "omq",
            Impl::TokioTcp => "tokio-tcp",
            Impl::WeirmqToPerf => "weirmq-to-perf",
            Impl::PerfToWeirmq => "perf-to-weirmq",
        }
    }
}

/// The tokio runtime a tokio library's role runs on (`--runtime` of a
/// role). libzmq's calls block while its own I/O thread does the work, so
/// for libzmq this changes nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Runtime {
    /// What `#[tokio::main]` gives: a worker thread per core, the role's
    /// own loop on the main thread, the library's tasks on the workers.
    #[default]
    MultiThread,
    /// `#[tokio::main(flavor = "current_thread")]`: the role's loop and
    /// the library's tasks take turns on one thread.
    CurrentThread,
}

/// A value's name on a role's command line.
pub(crate) fn arg(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .expect("no skipped variants")
        .get_name()
        .to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Tcp,
    Ipc,
}

/// One row of the table (or a few, for the scenarios with several metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// PUSH -> PULL throughput, timed at the receiver.
    Throughput {
        transport: Transport,
        size: usize,
        count: u64,
        curve: bool,
        runtime: Runtime,
    },
    /// REQ <-> REP round trips, timed one by one at the REQ.
    Latency { size: usize, count: u64 },
    /// One PUB, `subs` SUB processes, each timed at its SUB.
    FanOut {
        size: usize,
        count: u64,
        subs: usize,
    },
    /// One PUSH, binding, spreading `count` messages over `pulls` PULL
    /// processes (its round robin), timed across them all: the first
    /// message any PULL got to the last one.
    Spread {
        size: usize,
        count: u64,
        pulls: usize,
    },
    /// `pushes` PUSH processes, `count / pushes` messages each, into one
    /// binding PULL (its fair queue), timed at the PULL.
    Gather {
        size: usize,
        count: u64,
        pushes: usize,
    },
    /// A PUB offered `count` messages for a SUB that never reads.
    SlowSubscriber { size: usize, count: u64 },
    /// A bound PULL holding `connections` idle NULL connections: its
    /// memory per connection.
    IdleConnections { connections: usize },
    /// `count` REQ connections to one REP, one after the other, each with
    /// one round trip (NULL, or CURVE: a handshake each).
    Connections { count: u64, curve: bool },
}

/// A scenario and the `--only` group it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) group: &'static str,
    pub(crate) scenario: Scenario,
}

/// The `--only` groups.
pub(crate) const GROUPS: [&str; 11] = [
    "thr-tcp",
    "thr-current-thread",
    "thr-ipc",
    "latency",
    "fanout",
    "spread",
    "gather",
    "curve",
    "slow-sub",
    "idle-conns",
    "connects",
];

/// Quick (CI: small counts, one repetition) or full (the README's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Quick,
    Full,
}

/// The message sizes of the throughput plot.
pub(crate) const PLOT_SIZES: [usize; 5] = [16, 256, 1024, 4096, 65536];

/// The rows of a mode, in table order.
pub(crate) fn rows(mode: Mode) -> Vec<Row> {
    let full = mode == Mode::Full;
    // Counts sized so the fastest implementation needs a second or more in
    // full mode, and a fraction of one in quick mode.
    let thr_count = |size: usize| -> u64 {
        let full_count = match size {
            0..=64 => 2_000_000,
            65..=512 => 1_000_000,
            513..=2048 => 500_000,
            2049..=8192 => 200_000,
            _ => 20_000,
        };
        if full { full_count } else { full_count / 20 }
    };
    let tcp_sizes: &[usize] = if full {
        &PLOT_SIZES
    } else {
        &[16, 1024, 65536]
    };
    let mut rows: Vec<Row> = tcp_sizes
        .iter()
        .map(|&size| Row {
            group: "thr-tcp",
            scenario: Scenario::Throughput {
                transport: Transport::Tcp,
                size,
                count: thr_count(size),
                curve: false,
                runtime: Runtime::MultiThread,
            },
        })
        .collect();
    // The same, with each tokio library on a current-thread runtime: the
    // sizes where the hand-off between threads is most of the cost.
    let current_thread_sizes: &[usize] = if full { &[16, 1024] } else { &[16] };
    rows.extend(current_thread_sizes.iter().map(|&size| Row {
        group: "thr-current-thread",
        scenario: Scenario::Throughput {
            transport: Transport::Tcp,
            size,
            count: thr_count(size),
            curve: false,
            runtime: Runtime::CurrentThread,
        },
    }));
    rows.push(Row {
        group: "thr-ipc",
        scenario: Scenario::Throughput {
            transport: Transport::Ipc,
            size: 1024,
            count: thr_count(1024),
            curve: false,
            runtime: Runtime::MultiThread,
        },
    });
    rows.push(Row {
        group: "latency",
        scenario: Scenario::Latency {
            size: 16,
            count: if full { 20_000 } else { 2_000 },
        },
    });
    // How fan-out cost grows with the subscribers (issue 17's scaling
    // rows): 1, 4 and 16 SUB processes in full mode, 4 in quick mode.
    let fan_outs: &[usize] = if full { &[1, 4, 16] } else { &[4] };
    rows.extend(fan_outs.iter().map(|&subs| Row {
        group: "fanout",
        scenario: Scenario::FanOut {
            size: 1024,
            count: if full { 200_000 } else { 20_000 },
            subs,
        },
    }));
    // How PUSH's round robin and PULL's fair queue grow with their peers
    // (issue 17's scaling rows): 1, 10 and 100 processes on the other side
    // in full mode, 10 in quick mode; the same messages in all.
    let peers: &[usize] = if full { &[1, 10, 100] } else { &[10] };
    let (size, count) = (1024, thr_count(1024));
    rows.extend(peers.iter().map(|&pulls| Row {
        group: "spread",
        scenario: Scenario::Spread { size, count, pulls },
    }));
    rows.extend(peers.iter().map(|&pushes| Row {
        group: "gather",
        scenario: Scenario::Gather {
            size,
            count,
            pushes,
        },
    }));
    rows.push(Row {
        group: "curve",
        scenario: Scenario::Throughput {
            transport: Transport::Tcp,
            size: 1024,
            count: if full { 200_000 } else { 20_000 },
            curve: true,
            runtime: Runtime::MultiThread,
        },
    });
    rows.push(Row {
        group: "slow-sub",
        scenario: Scenario::SlowSubscriber {
            size: 1024,
            count: if full { 2_000_000 } else { 100_000 },
        },
    });
    rows.push(Row {
        group: "idle-conns",
        scenario: Scenario::IdleConnections {
            connections: if full { 10_000 } else { 500 },
        },
    });
    rows.extend([false, true].map(|curve| Row {
        group: "connects",
        scenario: Scenario::Connections {
            count: if full { 2_000 } else { 200 },
            curve,
        },
    }));
    rows
}

/// Whether an implementation can do a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    Yes,
    /// It cannot: the table says "n/a".
    NotAvailable,
}

/// Which implementations a row runs, beyond the ones compared: the
/// latency row also runs the plain TCP floor, and the cross rows' scenarios
/// (tcp, NULL 16 B and 1 KiB, CURVE 1 KiB, default runtime) the cross pairs.
pub(crate) fn extra_impls(scenario: &Scenario) -> &'static [Impl] {
    if has_cross_pairs(scenario) {
        return &CROSS;
    }
    match scenario {
        Scenario::Latency { .. } => &[Impl::TokioTcp],
        _ => &[],
    }
}

/// Whether a scenario runs the cross pairs.
fn has_cross_pairs(scenario: &Scenario) -> bool {
    match *scenario {
        Scenario::Throughput {
            transport: Transport::Tcp,
            size,
            curve,
            runtime: Runtime::MultiThread,
            ..
        } => size == 1024 || (size == 16 && !curve),
        _ => false,
    }
}

/// Whether `imp` can do `scenario`.
pub(crate) fn support(imp: Impl, scenario: &Scenario) -> Support {
    let curve = matches!(
        scenario,
        Scenario::Throughput { curve: true, .. } | Scenario::Connections { curve: true, .. }
    );
    let yes_if = |can: bool| {
        if can {
            Support::Yes
        } else {
            Support::NotAvailable
        }
    };
    match imp {
        // zmq.rs has NULL only.
        Impl::Zmqrs if curve => Support::NotAvailable,
        Impl::TokioTcp => yes_if(matches!(scenario, Scenario::Latency { .. })),
        // libzmq's perf tools are PUSH/PULL throughput and REQ/REP latency.
        // libzmq has no tokio runtime: in the current-thread rows they run
        // as they do everywhere, as the `zmq` crate's libzmq does, for the
        // ratio.
        Impl::PerfTools => yes_if(matches!(
            scenario,
            Scenario::Throughput { .. } | Scenario::Latency { .. }
        )),
        Impl::WeirmqToPerf | Impl::PerfToWeirmq => yes_if(has_cross_pairs(scenario)),
        _ => Support::Yes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(mode: Mode, pred: impl Fn(&Scenario) -> bool) -> Vec<Scenario> {
        rows(mode)
            .into_iter()
            .map(|r| r.scenario)
            .filter(|s| pred(s))
            .collect()
    }

    #[test]
    fn fan_out_grows_to_16_subscribers_in_full_mode() {
        let subs = |mode| -> Vec<usize> {
            find(mode, |s| matches!(s, Scenario::FanOut { .. }))
                .iter()
                .map(|s| match *s {
                    Scenario::FanOut { subs, .. } => subs,
                    _ => unreachable!(),
                })
                .collect()
        };
        assert_eq!(subs(Mode::Full), [1, 4, 16]);
        assert_eq!(subs(Mode::Quick), [4]);
    }

    #[test]
    fn spread_and_gather_grow_to_100_peers_in_full_mode() {
        let peers = |mode| -> Vec<(usize, usize)> {
            find(mode, |s| {
                matches!(s, Scenario::Spread { .. } | Scenario::Gather { .. })
            })
            .iter()
            .map(|s| match *s {
                Scenario::Spread { pulls, .. } => (pulls, 0),
                Scenario::Gather { pushes, .. } => (0, pushes),
                _ => unreachable!(),
            })
            .collect()
        };
        assert_eq!(
            peers(Mode::Full),
            [(1, 0), (10, 0), (100, 0), (0, 1), (0, 10), (0, 100)]
        );
        assert_eq!(peers(Mode::Quick), [(10, 0), (0, 10)]);
        // Every library has PUSH and PULL; the perf tools are one pair.
        for s in find(Mode::Full, |s| matches!(s, Scenario::Gather { .. })) {
            assert_eq!(support(Impl::PerfTools, &s), Support::NotAvailable);
            assert_eq!(support(Impl::Zmqrs, &s), Support::Yes);
        }
    }

    #[test]
    fn connections_are_counted_with_null_and_curve() {
        for (mode, count) in [(Mode::Full, 2_000), (Mode::Quick, 200)] {
            let rows = find(mode, |s| matches!(s, Scenario::Connections { .. }));
            assert_eq!(
                rows,
                [false, true].map(|curve| Scenario::Connections { count, curve })
            );
            // zmq.rs has no CURVE.
            assert_eq!(support(Impl::Zmqrs, &rows[0]), Support::Yes);
            assert_eq!(support(Impl::Zmqrs, &rows[1]), Support::NotAvailable);
        }
    }

    #[test]
    fn idle_connections_are_ten_thousand_in_full_mode() {
        let idle = |mode| find(mode, |s| matches!(s, Scenario::IdleConnections { .. }));
        assert_eq!(
            idle(Mode::Full),
            [Scenario::IdleConnections {
                connections: 10_000
            }]
        );
        assert_eq!(
            idle(Mode::Quick),
            [Scenario::IdleConnections { connections: 500 }]
        );
        // Every library holds connections; the perf tools do not.
        let s = &idle(Mode::Full)[0];
        assert_eq!(support(Impl::PerfTools, s), Support::NotAvailable);
        assert_eq!(support(Impl::Zmqrs, s), Support::Yes);
    }

    #[test]
    fn the_perf_tools_run_throughput_and_latency_only() {
        for mode in [Mode::Quick, Mode::Full] {
            for s in find(mode, |_| true) {
                let expected = matches!(s, Scenario::Throughput { .. } | Scenario::Latency { .. });
                assert_eq!(
                    support(Impl::PerfTools, &s) == Support::Yes,
                    expected,
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn the_cross_pairs_run_tcp_16_b_and_1_kib_null_and_1_kib_curve() {
        for mode in [Mode::Quick, Mode::Full] {
            let crossed = find(mode, |s| extra_impls(s) == CROSS);
            let keys: Vec<(usize, bool)> = crossed
                .iter()
                .map(|s| match *s {
                    Scenario::Throughput { size, curve, .. } => (size, curve),
                    _ => panic!("cross pairs on {s:?}"),
                })
                .collect();
            assert_eq!(keys, [(16, false), (1024, false), (1024, true)], "{mode:?}");
            for s in &crossed {
                for imp in CROSS {
                    assert_eq!(support(imp, s), Support::Yes);
                }
            }
        }
        let ipc = find(Mode::Quick, |s| {
            matches!(
                s,
                Scenario::Throughput {
                    transport: Transport::Ipc,
                    ..
                }
            )
        });
        assert_eq!(support(Impl::WeirmqToPerf, &ipc[0]), Support::NotAvailable);
        assert_eq!(support(Impl::PerfTools, &ipc[0]), Support::Yes);
    }
}
