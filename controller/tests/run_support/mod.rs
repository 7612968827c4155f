//! Shared by the `rollgate run` / `render` / `serve` process tests: a scripted fake Prometheus on
//! loopback, a rollout fixture in a temp dir, and helpers to run the real binary.
#![allow(dead_code)]

pub mod kube_api;
pub mod serve;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the fake Prometheus answers for one query: `Some(value)` or `None` for HTTP 503.
pub type Script = dyn Fn(&str, usize) -> Option<f64> + Send + Sync;

/// A loopback HTTP server answering `/api/v1/query` from a script.
pub struct FakePrometheus {
    /// Base URL.
    pub url: String,
    /// Queries answered so far.
    pub queries: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

#[derive(serde::Deserialize)]
struct QueryParams {
    query: String,
}

impl FakePrometheus {
    /// Starts a server answering each query with `script(query, index)`.
    pub fn start(script: impl Fn(&str, usize) -> Option<f64> + Send + Sync + 'static) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let queries = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let counter = Arc::clone(&queries);
        let app = axum::Router::new().route(
            "/api/v1/query",
            axum::routing::get(move |axum::extract::Query(params): axum::extract::Query<QueryParams>| {
                let index = counter.fetch_add(1, Ordering::SeqCst);
                let answer = script(&params.query, index);
                async move {
                    match answer {
                        Some(value) => (
                            axum::http::StatusCode::OK,
                            format!(
                                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1700000000.0,"{value}"]}}]}}}}"#
                            ),
                        ),
                        None => (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            r#"{"status":"error","errorType":"unavailable","error":"scripted outage"}"#.to_string(),
                        ),
                    }
                }
            }),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            queries,
            _runtime: runtime,
        }
    }

    /// Canary and stable error rates fixed for the whole run (and [`SAMPLES`] responses of
    /// each variant for the gates' sample counts).
    pub fn rates(canary: f64, stable: f64) -> Self {
        Self::start(move |query, _| {
            Some(if is_sample_count(query) {
                SAMPLES
            } else if query.contains(r#"variant="canary""#) {
                canary
            } else {
                stable
            })
        })
    }
}

/// Responses per variant the fake reports to the gates' sample-count queries (above the
/// default `min_samples`).
pub const SAMPLES: f64 = 1_000.0;

/// True for a gate's sample-count query (`min_samples`).
pub fn is_sample_count(query: &str) -> bool {
    query.starts_with("sum(increase(rollgate_responses_total")
}

/// A rollout spec with an ECDS sink, its base config and state file, in a temp dir.
pub struct Fixture {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// The Rollout spec.
    pub spec: PathBuf,
    /// The ECDS file the sink writes.
    pub ecds: PathBuf,
    /// The state file.
    pub state: PathBuf,
}

pub const BASE_CONFIG: &str = r#"{"version":1,"experiments":[{"id":"fraud-v2","kind":"canary","salt":"fraud-v2",
  "variants":[{"name":"stable","cluster":"stable","weight":10000},{"name":"canary","cluster":"canary","weight":0}]}]}"#;

/// Writes a spec with `steps` and `gates` (YAML lines, already indented by 4 spaces).
pub fn fixture(prometheus_url: &str, steps: &str, gates: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("filter-config.json"), BASE_CONFIG).expect("base config");
    let spec = dir.path().join("rollout.yaml");
    let text = format!(
        "apiVersion: rollgate.dev/v1\nkind: Rollout\nmetadata: {{ name: fraud-detector, namespace: ml }}\nspec:\n  experiment: fraud-v2\n  stable: stable\n  canary: canary\n  base_config: filter-config.json\n  sink:\n    ecds_file: {{ path: out/ecds.yaml, name: rollgate }}\n  prometheus: {{ url: {prometheus_url}, timeout: 500ms }}\n  state_file: .rollgate/state.json\n  steps:\n{steps}\n  gates:\n{gates}\n"
    );
    std::fs::write(&spec, text).expect("spec");
    let ecds = dir.path().join("out/ecds.yaml");
    let state = dir.path().join(".rollgate/state.json");
    Fixture {
        dir,
        spec,
        ecds,
        state,
    }
}

impl Fixture {
    /// The spec's path as text, for command lines.
    pub fn spec_arg(&self) -> &str {
        self.spec.to_str().expect("utf-8 temp path")
    }
}

/// The usual scenario: `prometheus`, steps 10 % / 50 % / 100 % with `pause` each, and one
/// error-rate gate with `failure_limit` and `no_data: inconclusive`.
pub fn scenario(
    prometheus: FakePrometheus,
    pause: &str,
    failure_limit: u32,
) -> (FakePrometheus, Fixture) {
    let fx = fixture(
        &prometheus.url,
        &steps(pause),
        &error_rate_gate(failure_limit, "inconclusive"),
    );
    (prometheus, fx)
}

/// Starts `rollgate run SPEC --tick 50ms` in the background, output captured.
pub fn spawn_run(fx: &Fixture) -> Child {
    rollgate(&["run", fx.spec_arg(), "--tick", "50ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rollgate run")
}

/// Waits until the persisted state says the sink holds `canary_bp`.
pub fn wait_for_applied(fx: &Fixture, canary_bp: u64) {
    wait_for(&format!("canary {canary_bp} bp to be live"), || {
        state_json(&fx.state).is_some_and(|s| s["applied_canary_bp"] == canary_bp)
    });
}

/// Short steps: 10 % for `pause`, 50 % for `pause`, then 100 %.
pub fn steps(pause: &str) -> String {
    format!("    - {{ weight: 10, pause: {pause} }}\n    - {{ weight: 50, pause: {pause} }}\n    - {{ weight: 100 }}")
}

/// One error-rate gate checked every 100 ms.
pub fn error_rate_gate(failure_limit: u32, no_data: &str) -> String {
    format!(
        "    - name: error-rate\n      template: error_rate\n      condition: \"< 0.05\"\n      interval: 100ms\n      failure_limit: {failure_limit}\n      no_data: {no_data}"
    )
}

/// The `rollgate` binary with `args`.
pub fn rollgate(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollgate"));
    command.args(args).stdin(Stdio::null());
    command
}

/// Runs `rollgate` to completion (30 s at most).
pub fn run_to_end(args: &[&str]) -> Output {
    let child = rollgate(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rollgate");
    wait_with_deadline(child, Duration::from_secs(30))
}

/// Waits for `child`, killing it and failing after `limit`.
pub fn wait_with_deadline(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "rollgate did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `condition` every 10 ms until it holds (fails after 20 s).
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The canary weight and version in the ECDS file, if it exists.
pub fn ecds_canary(path: &Path) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let file = rollgate_core::ecds::parse_plugin_config_file(&text).ok()?;
    let config =
        rollgate_core::config::FilterConfig::from_json(file.config_json.as_bytes()).ok()?;
    let weight = config.experiments[0]
        .variants
        .iter()
        .find(|v| v.name == "canary")?
        .weight;
    Some((weight, file.version_info?))
}

/// The persisted state as JSON.
pub fn state_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Exit code, stdout and stderr as text, for assertions.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The history's events of one kind, as JSON.
pub fn events(state: &serde_json::Value, kind: &str) -> Vec<serde_json::Value> {
    state["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| e["event"]["event"] == kind)
                .map(|e| e["event"].clone())
                .collect()
        })
        .unwrap_or_default()
}
