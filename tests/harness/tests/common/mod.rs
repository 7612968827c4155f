//! Shared test helpers: build the wasm a test needs (once per test binary) and small builders.
#![allow(dead_code)]

use rollgate_harness::{HeaderMap, Plugin, VmOptions, WasmModule};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// Builds `package` for wasm32-wasip1 in release (once per test binary) and returns the path
/// of `artifact` (e.g. `rollgate_filter.wasm`).
pub fn build_wasm(package: &str, artifact: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(package) {
        return path.clone();
    }
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-p",
            package,
        ])
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building {package} for wasm32-wasip1 failed"
    );
    let path = root.join("target/wasm32-wasip1/release").join(artifact);
    assert!(path.exists(), "{} missing after build", path.display());
    built.insert(package.to_string(), path.clone());
    path
}

/// The compiled probe test filter (compiled once per test binary).
pub fn probe_module() -> WasmModule {
    static MODULE: OnceLock<WasmModule> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let path = build_wasm("harness-probe-filter", "harness_probe_filter.wasm");
            WasmModule::from_file(path).expect("probe filter loads")
        })
        .clone()
}

/// A plugin of the probe filter with default options.
pub fn probe_plugin() -> Plugin {
    Plugin::new(probe_module(), VmOptions::default())
}

/// A GET request's headers plus extra ones.
pub fn request(path: &str, extra: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::from_pairs([
        (":method", "GET"),
        (":path", path),
        (":authority", "svc"),
        (":scheme", "http"),
    ]);
    for (k, v) in extra {
        headers.append(k, v);
    }
    headers
}

/// Response headers with a status.
pub fn response(status: u16) -> HeaderMap {
    HeaderMap::from_pairs([(":status", status.to_string())])
}

/// The compiled real filter, `rollgate_filter.wasm` (compiled once per test binary).
pub fn rollgate_module() -> WasmModule {
    static MODULE: OnceLock<WasmModule> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let path = build_wasm("rollgate-filter", "rollgate_filter.wasm");
            WasmModule::from_file(path).expect("rollgate_filter.wasm loads in the harness")
        })
        .clone()
}

/// A plugin of the real filter with default options.
pub fn rollgate_plugin() -> Plugin {
    Plugin::new(rollgate_module(), VmOptions::default())
}

/// Cluster name of a variant in the test configs.
pub fn cluster(variant: &str) -> String {
    format!("outbound|80|{variant}|model.ml.svc.cluster.local")
}

/// An experiment JSON with the given variants `(name, weight)` (clusters from [`cluster`]).
pub fn experiment(id: &str, kind: &str, salt: &str, variants: &[(&str, u32)]) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "kind": kind,
        "salt": salt,
        "variants": variants
            .iter()
            .map(|(name, weight)| serde_json::json!({"name": name, "cluster": cluster(name), "weight": weight}))
            .collect::<Vec<_>>(),
    })
}

/// A full filter config around `experiments` (unit from `x-user-id`, then cookie `uid`).
pub fn filter_config(experiments: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "version": 1,
        "unit": {"header": "x-user-id", "cookie": "uid", "missing_unit": "stable"},
        "route_header": "x-rollgate-cluster",
        "variant_header": "x-rollgate-variant",
        "experiments": experiments,
    }))
    .expect("config serializes")
}

/// Runs request headers only (one stream) and returns the headers the router would see.
pub fn route(vm: &mut rollgate_harness::Vm, headers: HeaderMap) -> HeaderMap {
    let stream = vm.create_stream().expect("stream");
    vm.request_headers(stream, headers, true)
        .expect("request headers");
    vm.finish_stream(stream).expect("finish").request_headers
}

/// The variant the filter chose for `user` on `path` (`None` when it set no variant header).
pub fn variant_of(vm: &mut rollgate_harness::Vm, path: &str, user: &str) -> Option<String> {
    let headers = route(vm, request(path, &[("x-user-id", user)]));
    headers.get_str("x-rollgate-variant").map(str::to_string)
}

/// Pearson chi-squared goodness-of-fit p-value of `observed` against `expected` counts: the
/// controller's SRM check (scipy `chisquare(observed, f_exp=expected)`).
pub fn chi_squared_gof_p(observed: &[u64], expected: &[f64]) -> f64 {
    rollgate_stats::srm::srm_check(observed, expected, rollgate_stats::srm::SRM_P_THRESHOLD)
        .expect("observed and expected counts")
        .p_value
}
