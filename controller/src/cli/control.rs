//! `rollgate status|abort|promote|pause|resume ROLLOUT.yaml`.
//!
//! Control commands never edit the rollout state: they hand a request with a fresh id to the
//! controller through the sink's control channel (the file `<state_file>.control` for the
//! `ecds_file` and `stdout` sinks, the annotation `rollgate.dev/control` on the WasmPlugin for
//! `kubernetes`). A running `rollgate run` applies it on its next tick, once; when no run is
//! active (e.g. after it stopped paused with exit code 4) the next `rollgate run` applies it.

use super::rollout_common::{load_or_exit, now_ms, percent, OutputFormat};
use anyhow::Context as _;
use rollgate_rollout::duration::format_duration_ms;
use rollgate_rollout::engine::{ControlRequest, ManualAction};
use rollgate_rollout::sinks::Sink;
use std::path::PathBuf;
use std::process::ExitCode;

/// What a control command asks of a running rollout.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// Canary to 0 % at once.
    Abort,
    /// Canary to 100 % at once.
    Promote,
    /// Hold the current weight.
    Pause,
    /// Continue a paused rollout.
    Resume,
}

/// Arguments of `rollgate status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// The Rollout spec (YAML, `rollgate.dev/v1`).
    pub rollout: PathBuf,
    /// `text` summary or the full `json` state.
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// Arguments of the control commands.
#[derive(clap::Args)]
pub struct ControlArgs {
    /// The Rollout spec (YAML, `rollgate.dev/v1`).
    pub rollout: PathBuf,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("async runtime")
}

/// Prints a rollout's state.
pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let rollout = match load_or_exit(&args.rollout) {
        Ok(rollout) => rollout,
        Err(code) => return Ok(code),
    };
    let state = runtime()?.block_on(async { Sink::open(&rollout).await?.load_state().await })?;
    let Some(state) = state else {
        match args.output {
            OutputFormat::Json => println!(
                "{}",
                serde_json::json!({ "rollout": rollout.name, "phase": "not_started" })
            ),
            OutputFormat::Text => println!("rollout {}: not started", rollout.name),
        }
        return Ok(ExitCode::SUCCESS);
    };
    match args.output {
        OutputFormat::Json => println!("{}", state.to_json()?),
        OutputFormat::Text => {
            let weight = state
                .applied_canary_bp
                .map_or_else(|| "-".to_string(), percent);
            println!("rollout {}: {}", rollout.name, state.phase.name());
            println!(
                "  step {}/{}, canary {weight}",
                state.step + 1,
                rollout.plan.steps.len()
            );
            if let Some(left) = state.pause_left_ms(now_ms()) {
                println!("  pause left {}", format_duration_ms(left));
            }
            for (name, status) in &state.gates {
                if let Some(v) = &status.last {
                    let value = v
                        .value
                        .map_or_else(|| "no data".to_string(), |x| x.to_string());
                    println!(
                        "  gate {name}: {value} {} ({:?}), {} failed in a row, {} in total",
                        v.condition, v.outcome, status.consecutive_failures, status.failures_total
                    );
                }
            }
            match &state.phase {
                rollgate_rollout::engine::Phase::RolledBack { reason } => {
                    println!("  reason: {reason}")
                }
                rollgate_rollout::engine::Phase::Paused { reason } => {
                    println!("  reason: {reason}")
                }
                _ => {}
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies a control action.
pub fn execute(action: Action, args: ControlArgs) -> anyhow::Result<ExitCode> {
    let rollout = match load_or_exit(&args.rollout) {
        Ok(rollout) => rollout,
        Err(code) => return Ok(code),
    };
    let manual = match action {
        Action::Abort => ManualAction::Abort,
        Action::Promote => ManualAction::Promote,
        Action::Pause => ManualAction::Pause,
        Action::Resume => ManualAction::Resume,
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let request = ControlRequest {
        id: format!("{nanos}-{}", std::process::id()),
        action: manual,
    };
    runtime()?.block_on(async {
        let sink = Sink::open(&rollout).await?;
        if sink.load_state().await?.is_none() {
            anyhow::bail!(
                "rollout {} has not started; run `rollgate run` first",
                rollout.name
            );
        }
        sink.write_control(&request).await?;
        Ok(())
    })?;
    println!(
        "rollout {}: {manual:?} requested (id {}); a running `rollgate run` applies it on its next tick",
        rollout.name, request.id
    );
    Ok(ExitCode::SUCCESS)
}
