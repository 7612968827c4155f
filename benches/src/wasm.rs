//! The real filter `.wasm` in the harness: locate it (building it when missing) and start a VM.

use rollgate_harness::{HarnessError, LogLevel, Plugin, Vm, VmOptions, WasmModule};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Path of the filter as `make wasm` writes it.
pub fn filter_wasm_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip1/release/rollgate_filter.wasm")
}

/// Builds the filter for wasm32-wasip1 in release when the `.wasm` is missing.
pub fn ensure_filter_wasm() -> Result<PathBuf, String> {
    let path = filter_wasm_path();
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip1",
                "-p",
                "rollgate-filter",
            ])
            .status()
            .map_err(|err| format!("cannot run cargo to build the filter: {err}"))?;
        if !status.success() {
            return Err("building the filter for wasm32-wasip1 failed (try `make wasm`)".into());
        }
    }
    Ok(path)
}

/// Options for long runs: only warnings logged, a short log journal, a fixed random seed.
pub fn quiet_options() -> VmOptions {
    VmOptions {
        log_level: LogLevel::Warn,
        max_retained_logs: 256,
        ..VmOptions::default()
    }
}

/// Loads the filter and starts one VM configured with `config`.
pub fn start_filter_vm(config: &[u8]) -> Result<Vm, String> {
    let path = ensure_filter_wasm()?;
    let module = WasmModule::from_file(&path)
        .map_err(|err| format!("cannot load {}: {err}", path.display()))?;
    Plugin::new(module, quiet_options())
        .start_vm(config)
        .map_err(|err: HarnessError| format!("filter refused the config: {err}"))
}
