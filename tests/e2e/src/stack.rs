//! The parts of a canary scenario besides Envoy, each started on OS-chosen loopback ports: the
//! model servers and load generator of `rollgate-tools`, the controller's binary, the filter
//! config; and a watcher of the canary weight the filter serves in Envoy.

use crate::net::{http_get, http_post};
use crate::paths::{debug_binary, filter_wasm};
use crate::process::{wait_until, Spawned};
use crate::E2eError;
use rollgate_tools::envoy_admin::{served_weight, ECDS_DUMP_PATH};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server gets to print its address.
const STARTUP: Duration = Duration::from_secs(30);

/// Paths of every program a scenario runs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `model-server` (`rollgate-tools`).
    pub model_server: PathBuf,
    /// `loadgen` (`rollgate-tools`).
    pub loadgen: PathBuf,
    /// `rollgate` (the controller).
    pub rollgate: PathBuf,
    /// The release filter module.
    pub wasm: PathBuf,
}

impl Binaries {
    /// Finds the workspace's debug binaries and the release `.wasm`.
    pub fn locate() -> Result<Self, E2eError> {
        Ok(Self {
            model_server: debug_binary("model-server")?,
            loadgen: debug_binary("loadgen")?,
            rollgate: debug_binary("rollgate")?,
            wasm: filter_wasm()?,
        })
    }
}

/// Writes `contents` to `path`, naming the file on error.
pub fn write_file(path: &Path, contents: &str) -> Result<(), E2eError> {
    std::fs::write(path, contents).map_err(|source| E2eError::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}

/// A running `model-server`.
pub struct ModelServer {
    /// The process.
    pub process: Spawned,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Behaviour of a model server at start.
#[derive(Debug, Clone)]
pub struct ModelBehaviour {
    /// Model name (`v1`, `v2`, ...).
    pub name: String,
    /// Fraction of 503 answers.
    pub error_rate: f64,
    /// Added latency.
    pub latency_ms: u64,
    /// Agreement with the reference model.
    pub agree_rate: f64,
}

impl ModelBehaviour {
    /// A healthy model agreeing fully with the reference.
    pub fn healthy(name: &str) -> Self {
        Self {
            name: name.to_string(),
            error_rate: 0.0,
            latency_ms: 0,
            agree_rate: 1.0,
        }
    }
}

impl ModelServer {
    /// Starts `model-server` with `behaviour`.
    pub fn start(binary: &Path, behaviour: &ModelBehaviour) -> Result<Self, E2eError> {
        let mut command = Command::new(binary);
        command
            .args(["--listen", "127.0.0.1:0", "--name", &behaviour.name])
            .arg(format!("--error-rate={}", behaviour.error_rate))
            .arg(format!("--latency-ms={}", behaviour.latency_ms))
            .arg(format!("--agree-rate={}", behaviour.agree_rate));
        let mut process = Spawned::spawn(&format!("model-server {}", behaviour.name), command)?;
        let addr = process.wait_listening(STARTUP)?;
        Ok(Self { process, addr })
    }

    /// Changes its error rate at run time.
    pub fn set_error_rate(&self, rate: f64) -> Result<(), E2eError> {
        let reply = http_post(self.addr, "/admin/error-rate", &rate.to_string())?;
        if reply.status == 200 {
            Ok(())
        } else {
            Err(E2eError::Protocol {
                what: "POST /admin/error-rate".into(),
                why: format!("status {}: {}", reply.status, reply.body),
            })
        }
    }
}

/// Name of the filter's ECDS extension config in the fixture's Envoy.
pub const FILTER: &str = crate::envoy::bootstrap::FILTER_NAME;

/// The canary weight the ECDS filter serves in Envoy (admin `admin`), read once.
pub fn served_canary_weight(admin: SocketAddr, experiment: &str) -> Result<Option<u64>, E2eError> {
    let reply = http_get(admin, ECDS_DUMP_PATH)?;
    let dump: Value = serde_json::from_str(&reply.body).map_err(|err| E2eError::Protocol {
        what: format!("GET {ECDS_DUMP_PATH}"),
        why: format!("status {}, not JSON: {err}", reply.status),
    })?;
    Ok(served_weight(&dump, FILTER, experiment, "canary"))
}

/// Cluster names used by the scenarios (Istio subset style).
pub mod cluster {
    /// Stable subset.
    pub const STABLE: &str = "outbound|80|stable|fraud-detector.ml.svc.cluster.local";
    /// Canary subset.
    pub const CANARY: &str = "outbound|80|canary|fraud-detector.ml.svc.cluster.local";
    /// Shadow subset.
    pub const SHADOW: &str = "outbound|80|shadow|fraud-detector.ml.svc.cluster.local";
}

/// A canary filter config with the canary at `canary_bp` basis points, and optionally a shadow
/// sampling `shadow_sample` basis points of users compared on `/prediction`.
pub fn canary_filter_config(experiment: &str, canary_bp: u32, shadow_sample: Option<u32>) -> Value {
    let mut experiment_json = json!({
        "id": experiment,
        "kind": "canary",
        "salt": experiment,
        "match": { "path_prefix": "/predict" },
        "variants": [
            { "name": "stable", "cluster": cluster::STABLE, "weight": 10_000 - canary_bp.min(10_000) },
            { "name": "canary", "cluster": cluster::CANARY, "weight": canary_bp.min(10_000) }
        ]
    });
    if let Some(sample) = shadow_sample {
        experiment_json["shadow"] = json!({
            "cluster": cluster::SHADOW,
            "authority": "fraud-detector-shadow",
            "sample": sample,
            "timeout_ms": 1000,
            "max_body_bytes": 65536,
            "compare": { "json_pointer": "/prediction", "tolerance": 0.0 }
        });
    }
    json!({
        "version": 1,
        "unit": { "header": "x-user-id", "missing_unit": "stable" },
        "route_header": "x-rollgate-cluster",
        "variant_header": "x-rollgate-variant",
        "experiments": [experiment_json]
    })
}

/// One change of the canary weight the filter serves, as seen by polling Envoy's ECDS
/// `/config_dump` (Envoy lists a config there once the filter accepted it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightChange {
    /// When the poll saw it.
    pub at: Instant,
    /// The new weight (basis points).
    pub canary_bp: u64,
}

/// Polls Envoy's `/config_dump?resource=ecds_filters` every 20 ms in a thread and records every
/// change of the canary weight the `rollgate` ECDS filter serves, so a test can tell when a push
/// reached the filter.
pub struct WeightWatcher {
    changes: Arc<Mutex<Vec<WeightChange>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WeightWatcher {
    /// Starts watching Envoy's admin `admin` for `experiment`/`canary`.
    pub fn start(admin: SocketAddr, experiment: &str, canary: &str) -> Self {
        let changes = Arc::new(Mutex::new(Vec::<WeightChange>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (experiment, canary) = (experiment.to_string(), canary.to_string());
        let thread = {
            let (changes, stop) = (changes.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let seen = http_get(admin, ECDS_DUMP_PATH)
                        .ok()
                        .and_then(|r| serde_json::from_str::<Value>(&r.body).ok())
                        .and_then(|dump| served_weight(&dump, FILTER, &experiment, &canary));
                    if let Some(bp) = seen {
                        let mut list = changes.lock().unwrap_or_else(|e| e.into_inner());
                        if list.last().is_none_or(|last| last.canary_bp != bp) {
                            list.push(WeightChange {
                                at: Instant::now(),
                                canary_bp: bp,
                            });
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            changes,
            stop,
            thread: Some(thread),
        }
    }

    /// Every change so far.
    pub fn changes(&self) -> Vec<WeightChange> {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The first change after which `accept` holds, waiting up to `timeout`.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        accept: impl Fn(&WeightChange) -> bool,
    ) -> Result<WeightChange, E2eError> {
        wait_until(what, timeout, || self.changes().into_iter().find(&accept))
    }

    /// The canary weights the filter served, in order (basis points).
    pub fn served_bp(&self) -> Vec<u64> {
        self.changes().iter().map(|c| c.canary_bp).collect()
    }

    /// The highest canary weight the filter ever served.
    pub fn max_weight(&self) -> Option<u64> {
        self.changes().iter().map(|c| c.canary_bp).max()
    }
}

impl Drop for WeightWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
