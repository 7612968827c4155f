//! `rollgate render ROLLOUT.yaml`: prints exactly what the rollout's sink holds at its current
//! state, and nothing else on stdout: the ECDS file's content (`ecds_file`), the WasmPlugin
//! fields the controller applies as YAML (`kubernetes`, without the state annotation), or the
//! filter config JSON (`stdout`). Before the first push that is the base config as it is.

use super::rollout_common::load_or_exit;
use anyhow::Context as _;
use rollgate_rollout::sinks::{render, Sink};
use rollgate_rollout::spec::SinkTarget;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `rollgate render`.
#[derive(clap::Args)]
pub struct RenderArgs {
    /// The Rollout spec (YAML, `rollgate.dev/v1`).
    pub rollout: PathBuf,
}

/// Runs the subcommand.
pub fn execute(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let rollout = match load_or_exit(&args.rollout) {
        Ok(rollout) => rollout,
        Err(code) => return Ok(code),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("async runtime")?;
    let state = runtime.block_on(async {
        match (&rollout.sink, Sink::open(&rollout).await) {
            (_, Ok(sink)) => sink.load_state().await.map_err(anyhow::Error::from),
            // No cluster reachable: render what a fresh rollout would apply.
            (SinkTarget::Kubernetes { .. }, Err(err)) => {
                eprintln!("rollgate: no rollout state read ({err}); rendering the initial config");
                Ok(None)
            }
            (_, Err(err)) => Err(err.into()),
        }
    })?;
    let text = render(&rollout, state.as_ref())?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}
