//! `rollgate serve` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `rollgate serve`.
#[derive(clap::Args)]
pub struct ServeArgs {}

/// Runs the subcommand.
pub fn execute(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`rollgate serve` is not implemented yet")
}
