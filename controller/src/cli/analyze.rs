//! `rollgate analyze` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `rollgate analyze`.
#[derive(clap::Args)]
pub struct AnalyzeArgs {}

/// Runs the subcommand.
pub fn execute(_args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`rollgate analyze` is not implemented yet")
}
