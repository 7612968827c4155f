//! `model-server`: a loopback stand-in for an ML model service.
//!
//! `POST /predict` (any path but `/admin/*`) answers `{"model", "prediction", "score"}` where the
//! prediction is a pure function of the body (see `rollgate_tools::model`), fails with 503 for an
//! evenly spread fraction of requests (`--error-rate`), and waits `--latency-ms` first.
//! It echoes the `x-rollgate-variant` request header back so a load generator can count
//! responses per variant. Control endpoints change behaviour at run time:
//! `POST /admin/error-rate` and `POST /admin/latency-ms` (body: a number or `{"value": n}`),
//! `GET /admin/stats`. The first line on stdout is `listening on ADDR`.

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rollgate_tools::model::{fraction_to_ppm, is_error, predict};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Command line of the model server.
#[derive(Parser, Debug)]
#[command(about = "Loopback model-server stand-in for Rollgate's end-to-end tests and demo")]
struct Args {
    /// Loopback address to listen on (port 0: the OS picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Model name, returned in the body and the `x-model-name` header.
    #[arg(long, default_value = "v1")]
    name: String,
    /// Fraction of requests answered with 503 (evenly spread over the request count).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Delay before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Seed of the prediction function (same seed = same model) and of the error schedule.
    #[arg(long, default_value_t = 42)]
    prediction_seed: u64,
    /// Fraction of inputs on which this model agrees with the seed's reference model.
    #[arg(long, default_value_t = 1.0)]
    agree_rate: f64,
}

/// Shared, run-time adjustable behaviour.
struct ModelState {
    name: String,
    seed: u64,
    agree_ppm: u64,
    error_ppm: AtomicU64,
    latency_ms: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
}

type Reply = Response<Full<Bytes>>;

fn json_reply(status: StatusCode, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Reads a number from `3`, `0.08` or `{"value": 0.08}`.
fn parse_number(body: &[u8]) -> Option<f64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Object(map) => map.get("value").and_then(|v| v.as_f64()),
        _ => None,
    }
}

async fn admin(state: &ModelState, method: &Method, path: &str, body: &[u8]) -> Reply {
    let bad = |what: &str| {
        json_reply(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": format!("{what}: send a number or {{\"value\": n}}") })
                .to_string(),
        )
    };
    match (method, path) {
        (&Method::POST, "/admin/error-rate") => match parse_number(body) {
            Some(rate) if (0.0..=1.0).contains(&rate) => {
                state
                    .error_ppm
                    .store(fraction_to_ppm(rate), Ordering::SeqCst);
                eprintln!("model-server {}: error rate now {rate}", state.name);
                json_reply(
                    StatusCode::OK,
                    serde_json::json!({ "error_rate": rate }).to_string(),
                )
            }
            _ => bad("error rate must be in 0..=1"),
        },
        (&Method::POST, "/admin/latency-ms") => match parse_number(body) {
            Some(ms) if (0.0..=60_000.0).contains(&ms) => {
                state.latency_ms.store(ms as u64, Ordering::SeqCst);
                json_reply(
                    StatusCode::OK,
                    serde_json::json!({ "latency_ms": ms }).to_string(),
                )
            }
            _ => bad("latency must be in 0..=60000 ms"),
        },
        (&Method::GET, "/admin/stats") => json_reply(
            StatusCode::OK,
            serde_json::json!({
                "name": state.name,
                "requests": state.requests.load(Ordering::SeqCst),
                "errors": state.errors.load(Ordering::SeqCst),
                "error_rate": state.error_ppm.load(Ordering::SeqCst) as f64 / 1e6,
                "latency_ms": state.latency_ms.load(Ordering::SeqCst),
            })
            .to_string(),
        ),
        _ => json_reply(
            StatusCode::NOT_FOUND,
            r#"{"error":"unknown admin endpoint"}"#.to_string(),
        ),
    }
}

async fn handle(state: Arc<ModelState>, request: Request<Incoming>) -> Result<Reply, hyper::Error> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let variant = request.headers().get("x-rollgate-variant").cloned();
    let body = request.into_body().collect().await?.to_bytes();
    if path.starts_with("/admin/") {
        return Ok(admin(&state, &method, &path, &body).await);
    }
    let count = state.requests.fetch_add(1, Ordering::SeqCst);
    let latency = state.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let mut reply = if is_error(count, state.seed, state.error_ppm.load(Ordering::SeqCst)) {
        state.errors.fetch_add(1, Ordering::SeqCst);
        json_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "model": state.name, "error": "injected failure" }).to_string(),
        )
    } else {
        let p = predict(state.seed, state.agree_ppm, &body);
        json_reply(
            StatusCode::OK,
            serde_json::json!({ "model": state.name, "prediction": p.label, "score": p.score })
                .to_string(),
        )
    };
    if let Ok(name) = hyper::header::HeaderValue::from_str(&state.name) {
        reply.headers_mut().insert("x-model-name", name);
    }
    if let Some(variant) = variant {
        reply.headers_mut().insert("x-rollgate-variant", variant);
    }
    Ok(reply)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        bail!(
            "--listen {} is not a loopback address; use 127.0.0.1:PORT",
            args.listen
        );
    }
    if !(0.0..=1.0).contains(&args.error_rate) || !(0.0..=1.0).contains(&args.agree_rate) {
        bail!("--error-rate and --agree-rate must be fractions in 0..=1");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {local}")?;
        out.flush()?;
    }
    eprintln!(
        "model-server {}: error rate {}, latency {} ms, agree rate {}",
        args.name, args.error_rate, args.latency_ms, args.agree_rate
    );
    let state = Arc::new(ModelState {
        name: args.name,
        seed: args.prediction_seed,
        agree_ppm: fraction_to_ppm(args.agree_rate),
        error_ppm: AtomicU64::new(fraction_to_ppm(args.error_rate)),
        latency_ms: AtomicU64::new(args.latency_ms),
        requests: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
