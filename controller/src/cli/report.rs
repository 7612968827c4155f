//! `rollgate report` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `rollgate report`.
#[derive(clap::Args)]
pub struct ReportArgs {}

/// Runs the subcommand.
pub fn execute(_args: ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`rollgate report` is not implemented yet")
}
