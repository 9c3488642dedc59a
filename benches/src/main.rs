//! `weirmq-benches`: weirmq beside libzmq 4.3 (the `zmq` crate, and
//! libzmq 4.3.5's own perf tools), zmq.rs (the `zeromq` crate) and omq.rs
//! (`omq-tokio`), in one run.
//!
//! Every scenario runs for every implementation with its sender and its
//! receiver in separate processes: the runner starts this same binary
//! again with the hidden `role` subcommand, and reads the result line the
//! child prints (libzmq's perf tools run as programs of their own). Rounds
//! alternate the implementations' order; the table shows medians and the
//! ratio weirmq / best libzmq.
//!
//! ```sh
//! cargo run --release -p weirmq-benches -- [--quick|--full] [--only GROUP] [--write]
//! ```

#![forbid(unsafe_code)]

mod child;
mod idle;
mod plan;
mod report;
mod role;
mod runner;
mod sockets;
mod svg;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::plan::{GROUPS, Mode};

#[derive(Parser)]
#[command(
    name = "weirmq-benches",
    about = "weirmq vs libzmq (and its perf tools) vs zmq.rs vs omq.rs, sender and receiver in \
             separate processes"
)]
struct Cli {
    /// Small counts, one round: well under a minute (the default).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Full counts, five rounds: the README's table (several minutes).
    #[arg(long)]
    full: bool,
    /// Run one group of rows only.
    #[arg(long, value_name = "GROUP", value_parser = clap::builder::PossibleValuesParser::new(GROUPS))]
    only: Option<String>,
    /// Rounds (repetitions of every run); default 1 quick, 5 full.
    #[arg(long)]
    rounds: Option<usize>,
    /// With --full: write the table, the throughput plot and the scaling
    /// plot to benches/results/.
    #[arg(long, requires = "full")]
    write: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// One side of one run (started by the runner).
    #[command(hide = true)]
    Role(role::RoleArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Role(args)) = cli.command {
        return role::main(args);
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weirmq-benches: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let mode = if cli.full { Mode::Full } else { Mode::Quick };
    let rows: Vec<(usize, plan::Row)> = plan::rows(mode)
        .into_iter()
        .filter(|r| cli.only.as_deref().is_none_or(|o| o == r.group))
        .enumerate()
        .collect();
    let settings = runner::Settings {
        rounds: cli.rounds.unwrap_or(match mode {
            Mode::Quick => 1,
            Mode::Full => 5,
        }),
        timeout: match mode {
            Mode::Quick => Duration::from_secs(15),
            Mode::Full => Duration::from_secs(120),
        },
    };
    let started = Instant::now();
    let just_rows: Vec<plan::Row> = rows.iter().map(|(_, r)| r.clone()).collect();
    let samples = runner::run(&just_rows, &settings)?;
    let table = report::table(&rows, &samples);
    let took = started.elapsed().as_secs_f64();
    println!(
        "\n{} mode, {} round(s), medians; ratio = weirmq / best libzmq: > 1 means \
         weirmq's number is bigger (better for msg/s, worse for time and memory). Took {took:.0} s.\n",
        match mode {
            Mode::Quick => "quick",
            Mode::Full => "full",
        },
        settings.rounds
    );
    print!("{table}");
    if cli.write {
        write_results(&rows, &samples, &table)?;
    }
    // The peers' failures are reported; weirmq's fail the run (CI), its
    // runs against libzmq's perf tools included.
    let weirmq_failed = rows
        .iter()
        .flat_map(|(i, _)| {
            std::iter::once(plan::Impl::Weirmq)
                .chain(plan::CROSS)
                .flat_map(|imp| samples.of(*i, imp))
        })
        .filter(|o| o.is_err())
        .count();
    if weirmq_failed > 0 {
        return Err(format!("{weirmq_failed} weirmq run(s) failed (see above)"));
    }
    Ok(())
}

fn write_results(
    rows: &[(usize, plan::Row)],
    samples: &runner::Samples,
    table: &str,
) -> Result<(), String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let md = dir.join("full.md");
    let text = format!(
        "# weirmq-benches --full\n\n`cargo run --release -p weirmq-benches -- --full --write`\n\n{table}"
    );
    std::fs::write(&md, text).map_err(|e| format!("{}: {e}", md.display()))?;
    let series = report::throughput_series(rows, samples);
    let plot = svg::throughput_plot(&series, "PUSH→PULL tcp loopback, medians");
    let svg = dir.join("throughput.svg");
    std::fs::write(&svg, plot).map_err(|e| format!("{}: {e}", svg.display()))?;
    let panels = report::scaling_series(rows, samples);
    let plot = svg::scaling_plot(&panels, "1 KiB, tcp loopback, a process per peer, medians");
    let scaling = dir.join("scaling.svg");
    std::fs::write(&scaling, plot).map_err(|e| format!("{}: {e}", scaling.display()))?;
    eprintln!(
        "wrote {}, {} and {}",
        md.display(),
        svg.display(),
        scaling.display()
    );
    Ok(())
}
