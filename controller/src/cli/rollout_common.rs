//! What `run`, `render` and the control commands share: loading a spec with exit code 2 on an
//! invalid one, the clock, output format, and formatting.

use rollgate_rollout::spec::{load_rollout, Rollout};
use std::path::Path;
use std::process::ExitCode;

/// Exit code of an invalid spec.
pub const EXIT_INVALID_SPEC: u8 = 2;
/// Exit code of a rolled-back rollout.
pub const EXIT_ROLLED_BACK: u8 = 3;
/// Exit code of a rollout that stopped paused.
pub const EXIT_PAUSED: u8 = 4;

/// Output format of `run` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For machines.
    Json,
}

/// Loads the spec; an invalid spec is reported on stderr and becomes exit code 2.
pub fn load_or_exit(path: &Path) -> Result<Rollout, ExitCode> {
    match load_rollout(path) {
        Ok(rollout) => Ok(rollout),
        Err(err) => {
            eprintln!("rollgate: {err}");
            Err(ExitCode::from(if err.is_spec_error() {
                EXIT_INVALID_SPEC
            } else {
                1
            }))
        }
    }
}

/// Wall clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Basis points as a percent (`550` → `5.5 %`).
pub fn percent(bp: u32) -> String {
    let whole = bp / 100;
    match bp % 100 {
        0 => format!("{whole} %"),
        frac if frac % 10 == 0 => format!("{whole}.{} %", frac / 10),
        frac => format!("{whole}.{frac:02} %"),
    }
}
