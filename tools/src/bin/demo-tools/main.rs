//! `demo-tools`: the parts of `scripts/demo.sh` that are easier in Rust than in bash.
//!
//! - `watch`: follows a running `rollgate run --output json` (its lines in a file), prints a live
//!   table every second (step, weight bar, error rate and p99 per variant, shadow agreement, last
//!   event) from Prometheus, optionally breaks the canary once its weight reaches a threshold,
//!   and measures the time from that breach to weight 0 in the filter Envoy serves.
//! - `timeline`: builds the report's `timeline.json` from the controllers' lines and Prometheus
//!   range queries.

mod timeline_cmd;
mod watch;

use clap::{Parser, Subcommand};

/// Demo helpers.
#[derive(Parser)]
#[command(about = "Helpers of scripts/demo.sh: live table and report timeline")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Follow a rollout: live table, optional fault injection, breach → rollback time.
    Watch(watch::WatchArgs),
    /// Build timeline.json for `rollgate report`.
    Timeline(timeline_cmd::TimelineArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Watch(args) => watch::run(args),
        Command::Timeline(args) => timeline_cmd::run(args),
    }
}
