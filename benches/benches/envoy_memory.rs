//! Envoy's memory per worker with the filter loaded (issue 12 item 6).
//!
//! Starts Envoy at `--concurrency` 1, 2 and 4, without a wasm filter, with the floor SDK filter
//! (what V8 and any proxy-wasm module cost) and with Rollgate on the realistic config
//! (`fixtures::realistic_config`: three experiments, shadow, guard), sends a
//! few requests on several connections so every worker served some, and reads `VmRSS` from
//! `/proc/<pid>/status`. The per-worker cost is the least-squares slope of RSS over the worker
//! count (`numpy.polyfit(workers, rss, 1)[0]`); a filter's per-worker cost is the slope with
//! it minus the slope without. Prints a markdown table and writes `target/bench/envoy_memory.md`.
//! Environment: `ROLLGATE_WASM`, `ENVOY`.

use anyhow::{Context as _, Result};
use rollgate_benches::cost_cases::{
    build_floor_filter, listener_bootstrap, static_cluster, upstream_bootstrap, wasm_filter,
    AUTHORITY, FLOOR_WASM, PATH, REQUEST_BODY, ROLLGATE_WASM,
};
use rollgate_benches::cost_table::slope;
use rollgate_benches::envoy_proc::{
    base_id, bench_dir, envoy_version, workspace_root, EnvoyProcess, EnvoySpec,
};
use rollgate_benches::fixtures::realistic_config;
use rollgate_benches::openloop::{post_request, read_response};
use serde_json::json;
use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

const WORKERS: [u32; 3] = [1, 2, 4];

/// What the Envoy loads.
#[derive(Clone, Copy, PartialEq)]
enum Loaded {
    Nothing,
    Floor,
    Rollgate,
}

impl Loaded {
    fn name(self) -> &'static str {
        match self {
            Loaded::Nothing => "none",
            Loaded::Floor => "floor SDK filter",
            Loaded::Rollgate => "Rollgate",
        }
    }
}

fn bootstrap(loaded: Loaded, upstream: u16) -> String {
    let default = json!({ "match": { "prefix": "/" }, "route": { "cluster": "stable" } });
    let wasm = std::env::var_os("ROLLGATE_WASM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(ROLLGATE_WASM));
    let filters = match loaded {
        Loaded::Nothing => vec![],
        Loaded::Floor => vec![wasm_filter(
            "floor",
            "floor",
            &workspace_root().join(FLOOR_WASM),
        )],
        Loaded::Rollgate => vec![wasm_filter("rollgate", &realistic_config(500), &wasm)],
    };
    let routed = json!({ "match": { "prefix": "/", "headers": [{ "name": "x-rollgate-cluster", "present_match": true }] },
                         "route": { "cluster_header": "x-rollgate-cluster" } });
    let clusters: Vec<_> = [
        "stable",
        "variant_a",
        "variant_b",
        "outbound|80|stable|fraud-detector.ml.svc.cluster.local",
        "outbound|80|canary|fraud-detector.ml.svc.cluster.local",
        "outbound|80|shadow|fraud-detector.ml.svc.cluster.local",
    ]
    .iter()
    .map(|name| static_cluster(name, upstream))
    .collect();
    listener_bootstrap(&[routed, default], &filters, &clusters)
}

/// RSS in KiB after `requests` requests over `connections` connections.
fn settled_rss(envoy: &EnvoyProcess, connections: usize) -> Result<u64> {
    let mut buf = Vec::new();
    for c in 0..connections {
        let mut stream = TcpStream::connect(("127.0.0.1", envoy.port))?;
        for i in 0..50 {
            let user = format!("user-{c}-{i}");
            let request = post_request(
                PATH,
                AUTHORITY,
                &[("x-user-id", &user), ("content-type", "application/json")],
                REQUEST_BODY,
            );
            stream.write_all(&request)?;
            read_response(&mut stream, &mut buf)?;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    envoy.rss_kib()
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return Ok(());
    }
    let upstream = EnvoyProcess::start(&EnvoySpec {
        name: "memory-upstream".into(),
        bootstrap: upstream_bootstrap(),
        cpus: None,
        concurrency: 1,
        base_id: base_id(20),
    })?;
    build_floor_filter()?;
    let mut rows = Vec::new();
    for (f, loaded) in [Loaded::Nothing, Loaded::Floor, Loaded::Rollgate]
        .into_iter()
        .enumerate()
    {
        let mut rss = Vec::new();
        for (w, workers) in WORKERS.iter().enumerate() {
            let envoy = EnvoyProcess::start(&EnvoySpec {
                name: format!("memory-{}-{workers}", loaded.name().replace(' ', "-")),
                bootstrap: bootstrap(loaded, upstream.port),
                cpus: None,
                concurrency: *workers,
                base_id: base_id(21 + (f * WORKERS.len() + w) as u32),
            })?;
            let kib = settled_rss(&envoy, 2 * *workers as usize)
                .with_context(|| format!("loading {}", envoy.name()))?;
            eprintln!("{}: {kib} KiB", envoy.name());
            rss.push(kib as f64);
        }
        rows.push((loaded, rss));
    }
    let x: Vec<f64> = WORKERS.iter().map(|w| f64::from(*w)).collect();
    let mut out = format!(
        "Envoy {} · RSS (`VmRSS` of `/proc/<pid>/status`) after 50 requests per connection, two \
         connections per worker · Rollgate on the realistic config (3 experiments, shadow, guard)\n\n\
         | filter | 1 worker MiB | 2 workers MiB | 4 workers MiB | per worker MiB (slope) |\n|---|---:|---:|---:|---:|\n",
        envoy_version()?
    );
    let mut slopes = Vec::new();
    for (loaded, rss) in &rows {
        let s = slope(&x, rss);
        slopes.push(s);
        out.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.2} |\n",
            loaded.name(),
            rss[0] / 1024.0,
            rss[1] / 1024.0,
            rss[2] / 1024.0,
            s / 1024.0
        ));
    }
    for (i, (loaded, rss)) in rows.iter().enumerate().skip(1) {
        let per_worker = slopes[i] - slopes[0];
        let fixed = (rss[0] - rows[0].1[0]) - per_worker;
        out.push_str(&format!(
            "\n{} over no filter: {:.2} MiB per worker (one Wasm VM each), {:.2} MiB once per process.",
            loaded.name(),
            per_worker / 1024.0,
            fixed / 1024.0
        ));
    }
    out.push('\n');
    println!("\n{out}");
    std::fs::write(bench_dir()?.join("envoy_memory.md"), &out)?;
    Ok(())
}
