//! What is measured: the implementations, the scenarios (rows), their
//! message counts per mode, and which implementation can do which row.

use clap::ValueEnum;

/// An implementation measured (`--impl` of a role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub(crate) enum Impl {
    Weirmq,
    Libzmq,
    Zmqrs,
    Omq,
    /// The latency floor: plain tokio TCP, no ZMTP.
    TokioTcp,
}

/// The implementations of the table's columns, weirmq first.
pub(crate) const COMPARED: [Impl; 4] = [Impl::Weirmq, Impl::Libzmq, Impl::Zmqrs, Impl::Omq];

impl Impl {
    /// Its name in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Impl::Weirmq => "weirmq",
            Impl::Libzmq => "libzmq",
            Impl::Zmqrs => "zmq.rs",
            Impl::Omq => "omq.rs",
            Impl::TokioTcp => "tokio TCP",
        }
    }

    /// Its name on a role's command line.
    pub(crate) fn arg(self) -> &'static str {
        match self {
            Impl::Weirmq => "weirmq",
            Impl::Libzmq => "libzmq",
            Impl::Zmqrs => "zmqrs",
            Impl::Omq => "omq",
            Impl::TokioTcp => "tokio-tcp",
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
    /// A PUB offered `count` messages for a SUB that never reads.
    SlowSubscriber { size: usize, count: u64 },
}

/// A scenario and the `--only` group it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) group: &'static str,
    pub(crate) scenario: Scenario,
}

/// The `--only` groups.
pub(crate) const GROUPS: [&str; 7] = [
    "thr-tcp",
    "thr-current-thread",
    "thr-ipc",
    "latency",
    "fanout",
    "curve",
    "slow-sub",
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
    rows.push(Row {
        group: "fanout",
        scenario: Scenario::FanOut {
            size: 1024,
            count: if full { 200_000 } else { 20_000 },
            subs: 4,
        },
    });
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
    rows
}

/// Whether an implementation can do a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    Yes,
    /// It cannot: the table says "n/a".
    NotAvailable,
}

/// Which implementations a row runs, beyond the four compared: the
/// latency row also runs the plain TCP floor.
pub(crate) fn extra_impls(scenario: &Scenario) -> &'static [Impl] {
    match scenario {
        Scenario::Latency { .. } => &[Impl::TokioTcp],
        _ => &[],
    }
}

pub(crate) fn support(imp: Impl, scenario: &Scenario) -> Support {
    let curve = matches!(scenario, Scenario::Throughput { curve: true, .. });
    match imp {
        // zmq.rs has NULL only.
        Impl::Zmqrs if curve => Support::NotAvailable,
        Impl::TokioTcp => match scenario {
            Scenario::Latency { .. } => Support::Yes,
            _ => Support::NotAvailable,
        },
        _ => Support::Yes,
    }
}
