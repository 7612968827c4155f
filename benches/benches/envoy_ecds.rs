//! Time from an ECDS push to the new config routing (issue 12 item 6).
//!
//! Real Envoy (`--concurrency 2`, the bootstrap of `rollgate_e2e::envoy`: the filter as an ECDS
//! filter over a watched directory) with three loopback upstreams: `unrouted` (the default
//! route, so an answer from another one proves the filter routed it), `blue` and `green`.
//! Each push routes 100 % to the other colour: the controller's `EcdsFileSink` renders it and
//! writes + renames the ECDS file, the clock starts just before that write, and two keep-alive
//! connections (one per worker: the listener balances connections exactly) poll until the new
//! colour answers. Reports the median and range over `ECDS_PUSHES` pushes (default 10) of the
//! first routed answer and of the answer on the last worker, as a markdown table written to
//! `target/bench/envoy_ecds.md`.

use anyhow::{bail, Result};
use rollgate_benches::cost_table::median;
use rollgate_benches::envoy_proc::{bench_dir, env_u64};
use rollgate_e2e::envoy::bootstrap::FILTER_NAME;
use rollgate_e2e::envoy::FilterConfig;
use rollgate_e2e::envoy::{
    filter_config, Behavior, Cluster, Envoy, EnvoyOptions, Request, Upstream,
};
use rollgate_rollout::sinks::EcdsFileSink;
use serde_json::json;
use std::time::{Duration, Instant};

/// Longest wait for a push to route before the bench fails.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

fn all_to(colour: &str, other: &str) -> Result<FilterConfig> {
    Ok(filter_config(&json!({
        "version": 1,
        "experiments": [{
            "id": "switch", "kind": "ab", "salt": "switch", "match": { "path_prefix": "/" },
            "variants": [
                { "name": colour, "cluster": colour, "weight": 10_000 },
                { "name": other, "cluster": other, "weight": 0 }
            ]
        }]
    }))?)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return Ok(());
    }
    let pushes = env_u64("ECDS_PUSHES", 10)?.max(1);
    let upstreams =
        ["unrouted", "blue", "green"].map(|name| Upstream::start(name, Behavior::default()));
    let [unrouted, blue, green] = upstreams;
    let (unrouted, blue, green) = (unrouted?, blue?, green?);
    let wasm = rollgate_e2e::paths::filter_wasm()?;
    let mut options = EnvoyOptions::new(vec![
        Cluster::new("unrouted", unrouted.addr()),
        Cluster::new("blue", blue.addr()),
        Cluster::new("green", green.addr()),
    ]);
    options.wasm = Some(wasm.clone());
    let envoy = Envoy::start(options, &all_to("blue", "green")?).await?;
    let sink = EcdsFileSink::new(envoy.ecds_file(), FILTER_NAME, &wasm.display().to_string());
    let clients = [envoy.client()?, envoy.client()?];
    let request = Request::post("/predict", r#"{"amount":1}"#).user("u1");
    let (mut first, mut last) = (Vec::new(), Vec::new());
    for k in 0..pushes {
        let (colour, other) = if k % 2 == 0 {
            ("green", "blue")
        } else {
            ("blue", "green")
        };
        let config = all_to(colour, other)?;
        let start = Instant::now();
        sink.push(&config, 1000 + k)
            .map_err(|err| anyhow::anyhow!("pushing ECDS version {}: {err}", 1000 + k))?;
        let mut seen = [None, None];
        while seen.iter().any(Option::is_none) {
            if start.elapsed() > PUSH_TIMEOUT {
                bail!("push {k} to {colour} not routing after {PUSH_TIMEOUT:?}");
            }
            for (worker, client) in clients.iter().enumerate() {
                let reply = client.send(&request).await?;
                if seen[worker].is_none() && reply.upstream() == Some(colour) {
                    seen[worker] = Some(start.elapsed());
                }
            }
        }
        let times: Vec<Duration> = seen.into_iter().flatten().collect();
        let (a, b) = (times[0].min(times[1]), times[0].max(times[1]));
        eprintln!(
            "push {k} to {colour}: first routed {:.1} ms, both workers {:.1} ms",
            ms(a),
            ms(b)
        );
        first.push(ms(a));
        last.push(ms(b));
        // Let the old root context finish before the next push.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.1}–{hi:.1}")
    };
    let out = format!(
        "Envoy {} · `--concurrency 2` · {pushes} pushes (write + rename of the ECDS file by the \
         controller's `EcdsFileSink`, then back-to-back requests on one connection per worker)\n\n\
         | from the push to | median ms | min–max ms |\n|---|---:|---:|\n\
         | the first request routed by the new config | {:.1} | {} |\n\
         | the new config routing on both workers | {:.1} | {} |\n",
        envoy.version(),
        median(&first),
        range(&first),
        median(&last),
        range(&last)
    );
    println!("\n{out}");
    std::fs::write(bench_dir()?.join("envoy_ecds.md"), &out)?;
    Ok(())
}
