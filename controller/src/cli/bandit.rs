//! `rollgate bandit` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `rollgate bandit`.
#[derive(clap::Args)]
pub struct BanditArgs {}

/// Runs the subcommand.
pub fn execute(_args: BanditArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`rollgate bandit` is not implemented yet")
}
