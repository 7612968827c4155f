//! Where the workspace's artifacts are: the binaries of other crates and the filter `.wasm`.

use crate::E2eError;
use std::path::PathBuf;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The package whose binary `name` is, so a missing binary's message says what to build.
fn package_of(name: &str) -> &'static str {
    match name {
        "model-server" | "loadgen" | "demo-tools" => "rollgate-tools",
        "rollgate-harness" => "rollgate-harness",
        _ => "rollgate",
    }
}

/// A debug binary of the workspace (`rollgate`, `rollgate-harness`, and `rollgate-tools`'
/// `model-server` and `loadgen`), built by `make build`, by `cargo test` of the workspace, or by
/// `cargo build -p <package> --bins`.
pub fn debug_binary(name: &str) -> Result<PathBuf, E2eError> {
    let path = workspace_root().join("target/debug").join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(E2eError::Missing {
            what: format!("binary {}", path.display()),
            fix: format!(
                "run `make build` (or `cargo build -p {} --bins`)",
                package_of(name)
            ),
        })
    }
}

/// The release filter module Envoy would load.
pub fn filter_wasm() -> Result<PathBuf, E2eError> {
    let path = workspace_root().join("target/wasm32-wasip1/release/rollgate_filter.wasm");
    if path.is_file() {
        Ok(path)
    } else {
        Err(E2eError::Missing {
            what: format!("filter module {}", path.display()),
            fix: "run `make wasm`".to_string(),
        })
    }
}
