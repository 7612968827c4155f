//! `rollgate`: the Rollgate controller command line.
//!
//! Every subcommand lives in its own module under `cli/`, parses its own arguments with clap
//! and returns the process exit code; the logic it drives lives in the `rollgate` library.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Safe rollouts of ML model services at the edge of an Envoy/Istio mesh.
#[derive(Parser)]
#[command(name = "rollgate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a progressive rollout: push weights, wait, check gates, promote or roll back.
    Run(cli::run::RunArgs),
    /// Print what the rollout's sink would hold at its current state.
    Render(cli::render::RenderArgs),
    /// Show the state of a rollout.
    Status(cli::control::StatusArgs),
    /// Abort a running rollout: canary to 0 % at once.
    Abort(cli::control::ControlArgs),
    /// Promote a running rollout: canary to 100 % at once.
    Promote(cli::control::ControlArgs),
    /// Pause a running rollout at its current weight.
    Pause(cli::control::ControlArgs),
    /// Resume a paused rollout.
    Resume(cli::control::ControlArgs),
    /// Statistics on JSON input (`--json`: one object on stdin, one on stdout).
    Analyze(cli::analyze::AnalyzeArgs),
    /// Per-group sample size for a two-proportion test.
    SampleSize(cli::sample_size::SampleSizeArgs),
    /// Multi-armed bandit allocation pushed as filter weights.
    Bandit(cli::bandit::BanditArgs),
    /// The REST API (A/B tests, canaries, shadows, model registry).
    Serve(cli::serve::ServeArgs),
    /// Write an HTML report with SVG plots of a rollout's history.
    Report(cli::report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cli::run::execute(args),
        Command::Render(args) => cli::render::execute(args),
        Command::Status(args) => cli::control::status(args),
        Command::Abort(args) => cli::control::execute(cli::control::Action::Abort, args),
        Command::Promote(args) => cli::control::execute(cli::control::Action::Promote, args),
        Command::Pause(args) => cli::control::execute(cli::control::Action::Pause, args),
        Command::Resume(args) => cli::control::execute(cli::control::Action::Resume, args),
        Command::Analyze(args) => cli::analyze::execute(args),
        Command::SampleSize(args) => cli::sample_size::execute(args),
        Command::Bandit(args) => cli::bandit::execute(args),
        Command::Serve(args) => cli::serve::execute(args),
        Command::Report(args) => cli::report::execute(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rollgate: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
