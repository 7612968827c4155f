//! The proxy machinery driven by a scripted in-process filter (no wasm): routing, local
//! responses, background calls delivered after the primary, body filtering, reload, metrics.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::metrics::{MetricSnapshot, MetricValue};
use super::vm::*;
use super::{start_with_factory, ServeArgs};

/// A filter written in Rust that behaves like a proxy-wasm plugin:
/// - config `"refuse"` is refused; any other config text is its "version";
/// - request header `x-want: NAME` → route header `x-rollgate-cluster: NAME`;
/// - `x-deny` → local 403; `x-call: CLUSTER` → a call to CLUSTER at end of request (path
///   `x-call-path`, default `/shadow`, timeout 1 s);
/// - response headers get `x-filtered: <config>`; response bodies are upper-cased.
struct ScriptedVm {
    config: String,
    clusters: Vec<String>,
    next_stream: StreamId,
    wants_call: HashMap<StreamId, (String, String)>,
    response_buffers: HashMap<StreamId, Vec<u8>>,
    calls: Vec<DispatchedCall>,
    counters: Counters,
    next_token: u32,
}

/// Counters shared by every VM of the factory, like the harness plugin's metric store.
type Counters = Arc<Mutex<HashMap<String, u64>>>;

fn count(counters: &Counters, name: &str) {
    *counters
        .lock()
        .expect("counters")
        .entry(name.to_string())
        .or_default() += 1;
}

impl ScriptedVm {
    fn on_request_headers(
        &mut self,
        stream: StreamId,
        headers: &mut HeaderList,
        eos: bool,
    ) -> Result<FilterVerdict, VmFailure> {
        self.count("requests");
        headers.retain(|(name, _)| name != "x-rollgate-cluster");
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        if get("x-deny").is_some() {
            return Ok(FilterVerdict::LocalResponse(LocalResponse {
                status: 403,
                headers: vec![("x-denied-by".into(), b"scripted".to_vec())],
                body: b"denied".to_vec(),
            }));
        }
        if let Some(call) = get("x-call") {
            let path = get("x-call-path").unwrap_or_else(|| "/shadow".into());
            self.wants_call.insert(stream, (call, path));
        }
        if let Some(want) = get("x-want") {
            headers.push(("x-rollgate-cluster".into(), want.into_bytes()));
        }
        if eos {
            self.end_request(stream);
        }
        Ok(FilterVerdict::Continue)
    }

    fn on_request_body(
        &mut self,
        stream: StreamId,
        chunk: &[u8],
        eos: bool,
    ) -> Result<Vec<u8>, VmFailure> {
        if eos {
            self.end_request(stream);
        }
        Ok(chunk.to_vec())
    }

    fn on_response_headers(
        &mut self,
        headers: &mut HeaderList,
    ) -> Result<FilterVerdict, VmFailure> {
        headers.push(("x-filtered".into(), self.config.clone().into_bytes()));
        headers.retain(|(name, _)| name != "content-length");
        Ok(FilterVerdict::Continue)
    }

    fn on_response_body(
        &mut self,
        stream: StreamId,
        chunk: &[u8],
        eos: bool,
    ) -> Result<Vec<u8>, VmFailure> {
        // Buffer the whole body, like a filter that needs it all to compare it.
        let buffer = self.response_buffers.entry(stream).or_default();
        buffer.extend(chunk.iter().map(u8::to_ascii_uppercase));
        Ok(if eos {
            self.response_buffers.remove(&stream).unwrap_or_default()
        } else {
            Vec::new()
        })
    }

    fn count(&mut self, name: &str) {
        count(
            &self.counters,
            &format!("config=.={};.;scripted_{name}", self.config),
        );
    }

    fn end_request(&mut self, stream: StreamId) {
        if let Some((cluster, path)) = self.wants_call.remove(&stream) {
            if self.clusters.contains(&cluster) {
                self.next_token += 1;
                self.calls.push(DispatchedCall {
                    token: self.next_token,
                    cluster,
                    headers: vec![
                        (":method".into(), b"GET".to_vec()),
                        (":path".into(), path.into_bytes()),
                        (":authority".into(), b"shadow".to_vec()),
                    ],
                    body: Vec::new(),
                    timeout: Duration::from_millis(1000),
                });
                self.count("calls_sent");
            } else {
                self.count("calls_bad_argument");
            }
        }
    }
}

impl FilterVm for ScriptedVm {
    fn create_stream(&mut self) -> Result<StreamId, VmFailure> {
        self.next_stream += 1;
        Ok(self.next_stream)
    }

    fn headers(
        &mut self,
        stream: StreamId,
        direction: Direction,
        headers: &mut HeaderList,
        eos: bool,
    ) -> Result<FilterVerdict, VmFailure> {
        match direction {
            Direction::Request => self.on_request_headers(stream, headers, eos),
            Direction::Response => self.on_response_headers(headers),
        }
    }

    fn body(
        &mut self,
        stream: StreamId,
        direction: Direction,
        chunk: &[u8],
        eos: bool,
    ) -> Result<Vec<u8>, VmFailure> {
        match direction {
            Direction::Request => self.on_request_body(stream, chunk, eos),
            Direction::Response => self.on_response_body(stream, chunk, eos),
        }
    }

    fn finish_stream(&mut self, _: StreamId) {
        self.count("finished");
    }

    fn take_dispatched_calls(&mut self) -> Vec<DispatchedCall> {
        std::mem::take(&mut self.calls)
    }

    fn deliver_call_response(
        &mut self,
        _token: u32,
        response: Option<CallResponse>,
    ) -> Result<(), VmFailure> {
        match response {
            Some(_) => self.count("calls_answered"),
            None => self.count("calls_failed"),
        }
        Ok(())
    }

    fn take_logs(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn run_host_events(&mut self) -> Result<(), VmFailure> {
        Ok(())
    }
}

#[derive(Default)]
struct ScriptedFactory {
    clusters: Vec<String>,
    counters: Counters,
}

impl VmFactory for ScriptedFactory {
    fn instantiate(&self, config: &[u8]) -> Result<Box<dyn FilterVm>, VmFailure> {
        let config = String::from_utf8_lossy(config).into_owned();
        if config.contains("refuse") {
            count(&self.counters, "scripted_config_rejected_total");
            return Err(VmFailure::ConfigRefused {
                logs: "scripted refusal".into(),
            });
        }
        Ok(Box::new(ScriptedVm {
            config: serde_json::from_str::<serde_json::Value>(&config)
                .ok()
                .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
                .unwrap_or_default(),
            clusters: self.clusters.clone(),
            next_stream: 0,
            wants_call: HashMap::new(),
            response_buffers: HashMap::new(),
            calls: Vec::new(),
            counters: Arc::clone(&self.counters),
            next_token: 0,
        }))
    }

    fn metrics(&self) -> MetricSnapshot {
        let counters = self.counters.lock().expect("counters");
        let values = counters
            .iter()
            .map(|(name, value)| (name.clone(), MetricValue::Counter(*value)))
            .collect();
        MetricSnapshot { values }
    }
}

/// An upstream answering `NAME <path>`; `/hang` never answers within a test.
async fn upstream(name: &'static str, seen: Arc<AtomicU32>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        seen.fetch_add(1, Ordering::SeqCst);
                        if request.uri().path() == "/hang" {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let text = format!("{name} {}", String::from_utf8_lossy(&body));
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(text))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

struct Setup {
    dir: tempfile::TempDir,
    proxy: super::RunningProxy,
    client: reqwest::Client,
    seen_a: Arc<AtomicU32>,
    seen_b: Arc<AtomicU32>,
}

async fn setup(config: &str) -> Setup {
    let seen_a = Arc::new(AtomicU32::new(0));
    let seen_b = Arc::new(AtomicU32::new(0));
    let a = upstream("a", Arc::clone(&seen_a)).await;
    let b = upstream("b", Arc::clone(&seen_b)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let clusters = dir.path().join("clusters.yaml");
    std::fs::write(
        &clusters,
        format!("default_cluster: a\nclusters:\n  - {{name: a, endpoints: [\"{a}\"]}}\n  - {{name: b, endpoints: [\"{b}\"]}}\n"),
    )
    .expect("write clusters");
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config).expect("write config");
    let mut args = ServeArgs::new(None, Some(config_path), clusters);
    args.no_filter = false;
    args.workers = Some(2);
    args.reload_interval_ms = 20;
    let factory = ScriptedFactory {
        clusters: vec!["a".into(), "b".into()],
        ..ScriptedFactory::default()
    };
    let proxy = start_with_factory(&args, Some(Arc::new(factory)))
        .await
        .expect("proxy starts");
    Setup {
        dir,
        proxy,
        client: reqwest::Client::new(),
        seen_a,
        seen_b,
    }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy.listen_addr())
    }

    async fn admin(&self, path: &str) -> String {
        let url = format!("http://{}{path}", self.proxy.admin_addr());
        self.client
            .get(url)
            .send()
            .await
            .expect("admin answers")
            .text()
            .await
            .expect("text")
    }

    /// Polls `/stats/prometheus` until `line` shows (the condition, not a delay, orders the test).
    /// Polls the admin stats until `line` appears; the 30 s deadline only bounds a failing
    /// test (a loaded 2-core CI machine can be slow), it orders nothing.
    async fn wait_for_stat(&self, line: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            let text = self.admin("/stats/prometheus").await;
            if text.contains(line) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{line} never appeared:\n{}",
            self.admin("/stats/prometheus").await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_the_filters_header_and_filters_the_response() {
    let s = setup(r#"{"name":"v1"}"#).await;
    let to_b = s
        .client
        .post(s.url("/x"))
        .header("x-want", "b")
        .body("hello")
        .send()
        .await
        .expect("to b");
    assert_eq!(to_b.status(), 200);
    assert_eq!(to_b.headers()["x-filtered"], "v1");
    assert_eq!(to_b.text().await.expect("body"), "B HELLO");
    let default = s.client.get(s.url("/x")).send().await.expect("default");
    assert_eq!(default.text().await.expect("body"), "A ");
    // A client cannot pick the cluster itself: the filter strips the route header.
    let spoof = s
        .client
        .get(s.url("/"))
        .header("x-rollgate-cluster", "b")
        .send()
        .await
        .expect("spoof");
    assert_eq!(spoof.text().await.expect("body"), "A ");
    assert_eq!(
        (
            s.seen_a.load(Ordering::SeqCst),
            s.seen_b.load(Ordering::SeqCst)
        ),
        (2, 1)
    );
    let stats = s.wait_for_stat("scripted_finished{config=\"v1\"} 3").await;
    assert!(
        stats.contains("scripted_requests{config=\"v1\"} 3"),
        "{stats}"
    );
    assert!(
        stats.contains("envoy_cluster_upstream_rq_total{envoy_cluster_name=\"a\"} 2"),
        "{stats}"
    );
    assert!(
        stats.contains("envoy_cluster_upstream_rq_total{envoy_cluster_name=\"b\"} 1"),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_cluster_is_a_503_naming_it_and_local_responses_pass_as_is() {
    let s = setup(r#"{"name":"v1"}"#).await;
    let unknown = s
        .client
        .get(s.url("/"))
        .header("x-want", "nope")
        .send()
        .await
        .expect("answer");
    assert_eq!(unknown.status(), 503);
    assert_eq!(
        unknown.headers()["x-filtered"],
        "v1",
        "generated replies pass the response callbacks"
    );
    let body = unknown.text().await.expect("body");
    assert!(body.contains("NO CLUSTER NAMED \"NOPE\""), "{body}");
    let denied = s
        .client
        .get(s.url("/"))
        .header("x-deny", "1")
        .send()
        .await
        .expect("answer");
    assert_eq!(denied.status(), 403);
    assert!(denied.headers().get("x-filtered").is_none());
    assert_eq!(denied.headers()["x-denied-by"], "scripted");
    assert_eq!(denied.text().await.expect("body"), "denied");
    assert_eq!(
        s.seen_a.load(Ordering::SeqCst) + s.seen_b.load(Ordering::SeqCst),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_run_in_the_background_and_answer_after_the_primary() {
    let s = setup(r#"{"name":"v1"}"#).await;
    // The call to b hangs until its 1 s timeout; the primary answers while it is pending.
    let primary = s
        .client
        .get(s.url("/fast"))
        .header("x-call", "b")
        .header("x-call-path", "/hang")
        .send()
        .await;
    assert_eq!(
        primary
            .expect("primary answers")
            .text()
            .await
            .expect("body"),
        "A "
    );
    let pending = s.admin("/stats/prometheus").await;
    assert!(
        pending.contains("scripted_calls_sent{config=\"v1\"} 1"),
        "{pending}"
    );
    assert!(
        !pending.contains("scripted_calls_failed"),
        "the primary did not wait for the call: {pending}"
    );
    s.wait_for_stat("scripted_calls_failed{config=\"v1\"} 1")
        .await;
    s.wait_for_stat("envoy_cluster_upstream_rq_timeout{envoy_cluster_name=\"b\"} 1")
        .await;

    let quick = s
        .client
        .get(s.url("/fast"))
        .header("x-call", "b")
        .send()
        .await
        .expect("primary");
    assert_eq!(quick.text().await.expect("body"), "A ");
    s.wait_for_stat("scripted_calls_answered{config=\"v1\"} 1")
        .await;
    let unknown = s
        .client
        .get(s.url("/fast"))
        .header("x-call", "nope")
        .send()
        .await
        .expect("primary");
    assert_eq!(unknown.status(), 200);
    s.wait_for_stat("scripted_calls_bad_argument{config=\"v1\"} 1")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_config_keeps_the_old_one_and_a_good_one_replaces_it() {
    let s = setup(r#"{"name":"v1"}"#).await;
    let config_path = s.dir.path().join("config.json");
    std::fs::write(&config_path, r#"{"name":"refuse"}"#).expect("write");
    for _ in 0..500 {
        if s.admin("/config_dump").await.contains("scripted refusal") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dump: serde_json::Value =
        serde_json::from_str(&s.admin("/config_dump").await).expect("json");
    assert_eq!(dump["config"]["name"], "v1");
    assert_eq!(dump["rejections"], 1);
    let still = s.client.get(s.url("/")).send().await.expect("answer");
    assert_eq!(still.headers()["x-filtered"], "v1");
    s.wait_for_stat("scripted_config_rejected_total 1").await;

    std::fs::write(&config_path, r#"{"name":"v2"}"#).expect("write");
    for _ in 0..500 {
        if s.admin("/config_dump").await.contains("\"v2\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let now = s.client.get(s.url("/")).send().await.expect("answer");
    assert_eq!(now.headers()["x-filtered"], "v2");
    // The first generation's counters survive its retirement.
    let stats = s.wait_for_stat("scripted_requests{config=\"v2\"} 1").await;
    assert!(
        stats.contains("scripted_requests{config=\"v1\"} 1"),
        "{stats}"
    );
    let ready = s
        .client
        .get(format!("http://{}/ready", s.proxy.admin_addr()))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
}
