//! `rollgate sample-size` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `rollgate sample-size`.
#[derive(clap::Args)]
pub struct SampleSizeArgs {}

/// Runs the subcommand.
pub fn execute(_args: SampleSizeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`rollgate sample-size` is not implemented yet")
}
