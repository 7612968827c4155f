//! The harness error type.

use crate::record::LogEntry;
use std::path::PathBuf;

/// Everything that can go wrong loading or driving a proxy-wasm module.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The wasm file could not be read.
    #[error("cannot read wasm file {path}: {source}; build it first (e.g. `make wasm`)")]
    ReadWasm {
        /// The path given.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The bytes are not a valid wasm module (or WAT text).
    #[error("cannot compile wasm module: {0}")]
    Compile(String),
    /// The module needs an import the host (like Envoy) does not provide, or lacks a required
    /// export such as the proxy-wasm ABI version marker or `memory`.
    #[error("module cannot be loaded as Envoy would refuse it: {0}")]
    Link(String),
    /// Instantiation or `_initialize`/`_start` failed.
    #[error("cannot instantiate module: {0}")]
    Instantiate(String),
    /// `proxy_on_vm_start` returned false.
    #[error("the plugin refused to start (proxy_on_vm_start returned false){}", render_logs(.logs))]
    VmStartRefused {
        /// Logs the plugin wrote while starting.
        logs: Vec<LogEntry>,
    },
    /// `proxy_on_configure` returned false: the plugin refused its configuration.
    #[error("the plugin refused its configuration (proxy_on_configure returned false){}", render_logs(.logs))]
    ConfigRejected {
        /// Logs the plugin wrote while configuring (its error message is here).
        logs: Vec<LogEntry>,
    },
    /// The guest trapped (panic, unreachable, out-of-bounds, ...). The VM is failed from now on.
    #[error("wasm trap in {callback} (context {context_id}): {message}{}", render_logs(.logs))]
    Trap {
        /// The export being called.
        callback: String,
        /// The context id it was called with.
        context_id: u32,
        /// The trap message and wasm backtrace.
        message: String,
        /// Logs written during the failed call (a Rust panic message is here).
        logs: Vec<LogEntry>,
    },
    /// A previous trap failed this VM; like Envoy, it serves no more calls.
    #[error("the VM failed earlier ({0}); create a new VM")]
    VmFailed(String),
    /// The stream id is not open on this VM.
    #[error("unknown stream {0} on this VM (already finished, or from another VM)")]
    UnknownStream(u32),
    /// No pending http call has this token.
    #[error("no pending http call with token {0} (already answered, or from another VM)")]
    UnknownHttpCall(u32),
    /// A `replay` input line is not valid.
    #[error("replay input line {line}: {message}")]
    ReplayInput {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Reading replay input or writing its output failed.
    #[error("replay IO: {0}")]
    Io(#[from] std::io::Error),
    /// A virtual-clock operation on a VM that uses the system clock.
    #[error(
        "the VM uses the system clock; set VmOptions::clock to ClockMode::Virtual to drive time"
    )]
    NotVirtualClock,
}

fn render_logs(logs: &[LogEntry]) -> String {
    let mut out = String::new();
    for entry in logs {
        out.push_str(&format!("\n  [{}] {}", entry.level.as_str(), entry.message));
    }
    out
}
