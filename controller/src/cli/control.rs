//! `rollgate status|abort|promote|pause|resume` (not implemented yet).

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
pub struct StatusArgs {}

/// Arguments of the control commands.
#[derive(clap::Args)]
pub struct ControlArgs {}

/// Prints a rollout's state.
pub fn status(_args: StatusArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`rollgate status` is not implemented yet")
}

/// Applies a control action.
pub fn execute(_action: Action, _args: ControlArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("control commands are not implemented yet")
}
