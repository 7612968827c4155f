//! Helpers of the dev proxy tests: the real filter `.wasm` (built once), scriptable loopback
//! upstreams, an in-process `serve` on OS-chosen ports, admin scraping and condition polling.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rollgate_harness::serve::{start, RunningProxy, ServeArgs};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

#[path = "../common/mod.rs"]
mod common;

/// The real filter, built for wasm32-wasip1 once per test binary.
pub fn filter_wasm() -> PathBuf {
    common::build_wasm("rollgate-filter", "rollgate_filter.wasm")
}

/// A request as an upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request path.
    pub path: String,
    /// Headers (lower-case names, lossy values).
    pub headers: HashMap<String, String>,
    /// Body.
    pub body: Vec<u8>,
}

/// A loopback upstream that answers `200 {"upstream": NAME, "prediction": VALUE}` and records
/// every request. With a gate, each request waits for a permit before answering.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every request, in arrival order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Permits released one per answer (only when built with [`Upstream::gated`]).
    pub gate: Option<Arc<Semaphore>>,
}

impl Upstream {
    /// An upstream answering at once.
    pub async fn start(name: &str, prediction: f64) -> Self {
        Self::spawn(name, prediction, None).await
    }

    /// An upstream that holds every request until [`Upstream::release`] gives it a permit.
    pub async fn gated(name: &str, prediction: f64) -> Self {
        Self::spawn(name, prediction, Some(Arc::new(Semaphore::new(0)))).await
    }

    /// Lets `n` held requests answer.
    pub fn release(&self, n: usize) {
        if let Some(gate) = &self.gate {
            gate.add_permits(n);
        }
    }

    /// Number of requests received so far.
    pub fn count(&self) -> usize {
        self.seen.lock().expect("seen").len()
    }

    /// Waits (polling, 10 s deadline) until the upstream has seen at least `n` requests:
    /// shadow copies are sent in the background, so they may land after the primary answered.
    pub async fn wait_for_count(&self, n: usize) -> usize {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.count();
            if seen >= n || tokio::time::Instant::now() >= deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn spawn(name: &str, prediction: f64, gate: Option<Arc<Semaphore>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("upstream addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Bytes::from(
            serde_json::json!({"upstream": name, "prediction": prediction}).to_string(),
        );
        let (seen_in, gate_in) = (Arc::clone(&seen), gate.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (seen, gate, answer) = (Arc::clone(&seen_in), gate_in.clone(), answer.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<Incoming>| {
                        let (seen, gate, answer) =
                            (Arc::clone(&seen), gate.clone(), answer.clone());
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let headers = parts
                                .headers
                                .iter()
                                .map(|(k, v)| {
                                    (
                                        k.as_str().to_string(),
                                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                    )
                                })
                                .collect();
                            seen.lock().expect("seen").push(Seen {
                                path: parts.uri.path().to_string(),
                                headers,
                                body,
                            });
                            if let Some(gate) = gate {
                                if let Ok(permit) = gate.acquire().await {
                                    permit.forget();
                                }
                            }
                            let mut response = hyper::Response::new(Full::new(answer));
                            response.headers_mut().insert(
                                "content-type",
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Self { addr, seen, gate }
    }
}

/// Cluster name of a variant in the test configs.
pub fn cluster(variant: &str) -> String {
    format!("outbound|80|{variant}|model.ml.svc.cluster.local")
}

/// A canary config over `stable`/`canary` with the given canary weight (basis points) and an
/// optional shadow section.
pub fn canary_config(canary_bp: u32, shadow: Option<serde_json::Value>) -> String {
    let mut experiment = serde_json::json!({
        "id": "fraud-v2",
        "kind": "canary",
        "salt": "fraud-v2",
        "force_header": "x-rollgate-force",
        "variants": [
            {"name": "stable", "cluster": cluster("stable"), "weight": 10_000 - canary_bp},
            {"name": "canary", "cluster": cluster("canary"), "weight": canary_bp},
        ],
    });
    if let Some(shadow) = shadow {
        experiment["shadow"] = shadow;
    }
    serde_json::json!({"version": 1, "experiments": [experiment]}).to_string()
}

/// A dev proxy on loopback with its files in a temp dir.
pub struct Harness {
    /// Holds the config and clusters files.
    pub dir: tempfile::TempDir,
    /// The running proxy.
    pub proxy: RunningProxy,
    /// A client for proxy and admin.
    pub client: reqwest::Client,
}

impl Harness {
    /// Starts `serve` with the real filter, `config` and clusters `(name, upstream)`; the first
    /// cluster is the default.
    pub async fn start(config: &str, clusters: &[(&str, SocketAddr)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut yaml = format!("default_cluster: {:?}\nclusters:\n", clusters[0].0);
        for (name, addr) in clusters {
            yaml.push_str(&format!(
                "  - name: {name:?}\n    endpoints: [\"{addr}\"]\n"
            ));
        }
        let clusters_path = dir.path().join("clusters.yaml");
        std::fs::write(&clusters_path, yaml).expect("write clusters");
        let config_path = dir.path().join("filter.json");
        std::fs::write(&config_path, config).expect("write config");
        let mut args = ServeArgs::new(Some(filter_wasm()), Some(config_path), clusters_path);
        args.workers = Some(2);
        args.reload_interval_ms = 25;
        let proxy = start(&args).await.expect("dev proxy starts");
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        Self { dir, proxy, client }
    }

    /// Starts `serve` over the `stable` and `canary` clusters of [`canary_config`].
    pub async fn stable_canary(config: &str, stable: &Upstream, canary: &Upstream) -> Self {
        Self::start(
            config,
            &[
                (&cluster("stable"), stable.addr),
                (&cluster("canary"), canary.addr),
            ],
        )
        .await
    }

    /// URL of `path` on the proxy.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy.listen_addr())
    }

    /// Replaces the config file atomically (write + rename, as the controller does).
    pub fn write_config(&self, text: &str) {
        let tmp = self.dir.path().join("filter.json.tmp");
        std::fs::write(&tmp, text).expect("write tmp");
        std::fs::rename(&tmp, self.dir.path().join("filter.json")).expect("rename");
    }

    /// `GET` an admin path, as text.
    pub async fn admin(&self, path: &str) -> String {
        let url = format!("http://{}{path}", self.proxy.admin_addr());
        self.client
            .get(url)
            .send()
            .await
            .expect("admin answers")
            .text()
            .await
            .expect("admin text")
    }

    /// `/config_dump` as JSON.
    pub async fn config_dump(&self) -> serde_json::Value {
        serde_json::from_str(&self.admin("/config_dump").await).expect("config_dump is JSON")
    }

    /// `/stats/prometheus`, parsed by a real Prometheus text parser.
    pub async fn scrape(&self) -> prometheus_parse::Scrape {
        let text = self.admin("/stats/prometheus").await;
        let lines = text.lines().map(|line| Ok(line.to_string()));
        prometheus_parse::Scrape::parse(lines).expect("valid Prometheus exposition")
    }

    /// The value of sample `name` whose labels include `labels` (0 when absent).
    pub async fn sample(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        sample(&self.scrape().await, name, labels)
    }

    /// Polls until `sample(name, labels) >= at_least` (10 s limit); returns the value.
    pub async fn wait_for_sample(&self, name: &str, labels: &[(&str, &str)], at_least: f64) -> f64 {
        for _ in 0..1000 {
            let value = self.sample(name, labels).await;
            if value >= at_least {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{name}{labels:?} never reached {at_least}:\n{}",
            self.admin("/stats/prometheus").await
        );
    }

    /// Polls `/config_dump` until `check` holds (10 s limit).
    pub async fn wait_for_dump(
        &self,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        for _ in 0..1000 {
            let dump = self.config_dump().await;
            if check(&dump) {
                return dump;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "config_dump never showed {what}: {}",
            self.config_dump().await
        );
    }
}

/// The value of the sample `name` with labels including `labels` in a scrape (0 when absent).
pub fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}
