//! A tiny loopback upstream for Envoy tests: answers every request with a JSON body naming the
//! upstream (and a `prediction` the shadow comparison can read), after a configurable delay and
//! with a configurable status, and records every request it got (headers and body) so a test
//! can check what Envoy forwarded, shadow copies included.
//!
//! It runs on its own Tokio runtime thread, so sync and async tests can use it alike; dropping
//! it stops the server.

use crate::E2eError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Response header naming the upstream that answered.
pub const UPSTREAM_HEADER: &str = "x-upstream";

/// What the upstream answers: `status` after `delay`, body `{"upstream": NAME, "prediction": P}`.
///
/// `prediction_header`, when set, makes `P` the value of that request header (a number when it
/// parses as one, else a string), so a test can make a shadow agree or disagree per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    /// Status code.
    pub status: u16,
    /// Delay before the answer.
    pub delay: Duration,
    /// The `prediction` value, unless `prediction_header` gives one.
    pub prediction: f64,
    /// Request header whose value becomes the prediction.
    pub prediction_header: Option<String>,
    /// Answer with a body that is not JSON (for an incomparable shadow).
    pub not_json: bool,
}

impl Default for Behavior {
    fn default() -> Self {
        Self {
            status: 200,
            delay: Duration::ZERO,
            prediction: 0.5,
            prediction_header: None,
            not_json: false,
        }
    }
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers in arrival order, names lower-case (`:authority` as `host`).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Shared {
    name: String,
    behavior: Mutex<Behavior>,
    recorded: Mutex<Vec<Recorded>>,
}

/// A running loopback upstream.
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    /// Starts upstream `name` on `127.0.0.1:0` with `behavior`.
    pub fn start(name: &str, behavior: Behavior) -> Result<Self, E2eError> {
        let io = |what: &str| {
            let what = format!("{what} for upstream {name}");
            move |source| E2eError::Io { what, source }
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("binding"))?;
        listener.set_nonblocking(true).map_err(io("configuring"))?;
        let addr = listener.local_addr().map_err(io("reading the address"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io("starting a runtime"))?;
        let shared = Arc::new(Shared {
            name: name.to_string(),
            behavior: Mutex::new(behavior),
            recorded: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("upstream-{name}"))
            .spawn(move || runtime.block_on(serve(listener, served, stopped)))
            .map_err(io("spawning a thread"))?;
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its name (the `upstream` field of its answers).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Replaces the behavior for the next requests.
    pub fn set_behavior(&self, behavior: Behavior) {
        *lock(&self.shared.behavior) = behavior;
    }

    /// The current behavior.
    pub fn behavior(&self) -> Behavior {
        lock(&self.shared.behavior).clone()
    }

    /// Every request received so far.
    pub fn recorded(&self) -> Vec<Recorded> {
        lock(&self.shared.recorded).clone()
    }

    /// How many requests were received so far.
    pub fn count(&self) -> usize {
        lock(&self.shared.recorded).len()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        lock(&self.shared.recorded).clear();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| answer(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    connections.abort_all();
}

async fn answer(
    shared: Arc<Shared>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let at = Instant::now();
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let behavior = lock(&shared.behavior).clone();
    let prediction = behavior
        .prediction_header
        .as_deref()
        .and_then(|name| headers.iter().find(|(n, _)| n == name))
        .map(|(_, v)| {
            v.parse::<f64>()
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| serde_json::Value::from(v.clone()))
        })
        .unwrap_or_else(|| serde_json::Value::from(behavior.prediction));
    lock(&shared.recorded).push(Recorded {
        method,
        path,
        headers,
        body,
        at,
    });
    if !behavior.delay.is_zero() {
        tokio::time::sleep(behavior.delay).await;
    }
    let text = if behavior.not_json {
        format!("upstream {} says hello", shared.name)
    } else {
        serde_json::json!({ "upstream": shared.name, "prediction": prediction }).to_string()
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() =
        hyper::StatusCode::from_u16(behavior.status).unwrap_or(hyper::StatusCode::OK);
    if let Ok(value) = hyper::header::HeaderValue::from_str(&shared.name) {
        response.headers_mut().insert(UPSTREAM_HEADER, value);
    }
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
