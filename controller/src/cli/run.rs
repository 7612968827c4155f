//! `rollgate run` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `rollgate run`.
#[derive(clap::Args)]
pub struct RunArgs {}

/// Runs the subcommand.
pub fn execute(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`rollgate run` is not implemented yet")
}
