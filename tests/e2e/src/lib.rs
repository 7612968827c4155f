//! Rollgate end-to-end helpers: what a scenario needs to run real processes on loopback —
//! spawn and kill them (reading the OS-chosen ports they print), talk HTTP to them, and run a
//! real Prometheus that scrapes Envoy every second.
//!
//! The scenarios themselves are in `tests/`. The model-server and load-generator stand-ins
//! they run are the `rollgate-tools` crate's binaries (`tools/`, shared with `scripts/demo.sh`),
//! found in `target/debug/` by [`paths::debug_binary`].

pub mod controller;
pub mod envoy;
pub mod paths;
pub mod process;
pub mod prometheus;
pub mod scenario;
pub mod stack;

pub use rollgate_tools::net;

use std::time::Duration;

/// What can go wrong while running a scenario.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    /// A program could not be started.
    #[error("starting {name} ({program}): {source}; is it built and on PATH?")]
    Spawn {
        /// Label of the process.
        name: String,
        /// Program path.
        program: String,
        /// OS error.
        source: std::io::Error,
    },
    /// An IO operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// OS error.
        source: std::io::Error,
    },
    /// A process did not do what was awaited.
    #[error("{name}: waiting for {what}: {why}\n--- last stderr lines of {name} ---\n{stderr}")]
    Process {
        /// Label of the process.
        name: String,
        /// What was awaited.
        what: String,
        /// Why it failed.
        why: String,
        /// Its last stderr lines.
        stderr: String,
    },
    /// A condition did not hold in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// The condition.
        what: String,
        /// The deadline.
        after: Duration,
    },
    /// A server answered something unexpected.
    #[error("{what}: {why}")]
    Protocol {
        /// The request.
        what: String,
        /// What was wrong.
        why: String,
    },
    /// A loopback HTTP exchange failed.
    #[error(transparent)]
    Net(#[from] rollgate_tools::net::NetError),
    /// An artifact is missing.
    #[error("missing {what}: {fix}")]
    Missing {
        /// The artifact.
        what: String,
        /// How to get it.
        fix: String,
    },
}
