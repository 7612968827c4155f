//! `rollgate render` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `rollgate render`.
#[derive(clap::Args)]
pub struct RenderArgs {}

/// Runs the subcommand.
pub fn execute(_args: RenderArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`rollgate render` is not implemented yet")
}
