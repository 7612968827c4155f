//! Dev proxy overhead: `rollgate-harness serve` with the real filter `.wasm` vs the same proxy
//! with `--no-filter`, both in front of one loopback upstream. 10,000 sequential keep-alive
//! requests per proxy from a Rust client, interleaved one by one so drift hits both alike.
//! Prints each median, the added median latency (target ≤ 50 µs), and the median of the
//! per-pair differences.
//!
//! Run: `cargo bench -p rollgate-benches --bench proxy` (builds the filter first if needed).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rollgate_harness::serve::{start, RunningProxy, ServeArgs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const REQUESTS: usize = 10_000;
const WARMUP: usize = 1_000;
const TARGET_ADDED_MICROS: f64 = 50.0;
const ANSWER: &str = "{\"prediction\":0.5}";

/// A minimal keep-alive HTTP/1.1 upstream: reads a request (headers, content-length body) and
/// answers a fixed JSON body. Kept tiny so the measurement is the proxy's.
async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("upstream addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve_connection(tcp));
        }
    });
    addr
}

async fn serve_connection(mut tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
        ANSWER.len()
    );
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // One request: headers up to the blank line, then content-length bytes of body.
        let header_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
        let body_len = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buffer.len() < header_end + body_len {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..header_end + body_len);
        if tcp.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn proxy(dir: &Path, wasm: Option<PathBuf>, upstream: SocketAddr) -> RunningProxy {
    let clusters = dir.join("clusters.yaml");
    let mut yaml = String::from(
        "default_cluster: \"outbound|80|stable|model.ml.svc.cluster.local\"\nclusters:\n",
    );
    for variant in ["stable", "canary"] {
        yaml.push_str(&format!(
            "  - name: \"outbound|80|{variant}|model.ml.svc.cluster.local\"\n    endpoints: [\"{upstream}\"]\n"
        ));
    }
    std::fs::write(&clusters, yaml).expect("write clusters");
    let config = dir.join("filter.json");
    let experiment = serde_json::json!({
        "id": "fraud-v2", "kind": "canary", "salt": "fraud-v2",
        "match": {"path_prefix": "/predict"},
        "variants": [
            {"name": "stable", "cluster": "outbound|80|stable|model.ml.svc.cluster.local", "weight": 9500},
            {"name": "canary", "cluster": "outbound|80|canary|model.ml.svc.cluster.local", "weight": 500},
        ],
    });
    std::fs::write(
        &config,
        serde_json::json!({"version": 1, "experiments": [experiment]}).to_string(),
    )
    .expect("write config");
    let filtered = wasm.is_some();
    let mut args = ServeArgs::new(wasm, filtered.then_some(config), clusters);
    args.workers = Some(1);
    start(&args).await.expect("proxy starts")
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

async fn timed_get(client: &reqwest::Client, url: &str, user: usize) -> Duration {
    let started = Instant::now();
    let response = client
        .post(url)
        .header("x-user-id", format!("user-{user}"))
        .body("{\"features\":[1,2,3]}")
        .send()
        .await;
    let body = response
        .expect("proxy answers")
        .bytes()
        .await
        .expect("body");
    let elapsed = started.elapsed();
    assert_eq!(
        &body[..],
        ANSWER.as_bytes(),
        "the proxy returned the upstream's answer"
    );
    elapsed
}

fn main() -> ExitCode {
    let wasm = match rollgate_benches::wasm::ensure_filter_wasm() {
        Ok(path) => path,
        Err(err) => {
            eprintln!("proxy bench: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("rollgate-proxy-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let upstream = upstream().await;
        let with_filter = proxy(&dir.join(""), Some(wasm), upstream).await;
        let plain_dir = dir.join("plain");
        std::fs::create_dir_all(&plain_dir).expect("temp dir");
        let without_filter = proxy(&plain_dir, None, upstream).await;
        let client = reqwest::Client::builder().pool_max_idle_per_host(4).build().expect("client");
        let filtered_url = format!("http://{}/predict", with_filter.listen_addr());
        let plain_url = format!("http://{}/predict", without_filter.listen_addr());

        for user in 0..WARMUP {
            timed_get(&client, &filtered_url, user).await;
            timed_get(&client, &plain_url, user).await;
        }
        let (mut filtered, mut plain, mut added) = (Vec::new(), Vec::new(), Vec::new());
        for user in 0..REQUESTS {
            // Alternate which goes first so neither always gets the warmer cache.
            let (f, p) = if user % 2 == 0 {
                let f = timed_get(&client, &filtered_url, user).await;
                (f, timed_get(&client, &plain_url, user).await)
            } else {
                let p = timed_get(&client, &plain_url, user).await;
                (timed_get(&client, &filtered_url, user).await, p)
            };
            let (f, p) = (f.as_secs_f64() * 1e6, p.as_secs_f64() * 1e6);
            filtered.push(f);
            plain.push(p);
            added.push(f - p);
        }
        let (median_filtered, median_plain) = (median(&mut filtered), median(&mut plain));
        let added_median = median_filtered - median_plain;
        println!("dev proxy, {REQUESTS} requests each, sequential keep-alive loopback client:");
        println!("  with filter (.wasm in wasmtime): median {median_filtered:.1} µs");
        println!("  without filter (--no-filter):    median {median_plain:.1} µs");
        println!("  added median latency:            {added_median:.1} µs (target ≤ {TARGET_ADDED_MICROS} µs)");
        println!("  median of per-pair differences:  {:.1} µs", median(&mut added));
        println!(
            "  {}",
            if added_median <= TARGET_ADDED_MICROS { "within target" } else { "OVER TARGET" }
        );
        drop((with_filter, without_filter));
        let _ = std::fs::remove_dir_all(&dir);
    });
    ExitCode::SUCCESS
}
