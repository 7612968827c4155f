//! The filter's cost in real Envoy, side by side (issue 12 item 5).
//!
//! Seven cases, each its own Envoy (one build, `--concurrency 1`, all pinned to CPU 0), run in
//! interleaved rounds (the order rotates each round): (a) no wasm filter, (b) native
//! `weighted_clusters` 50/50, (c) the floor SDK filter, (c′) the floor filter making Rollgate's
//! host calls, (d) Rollgate 50/50, (e) Rollgate with 3 experiments and 16-header requests,
//! (f) Rollgate with a 10 % shadow. The upstream is a second Envoy answering with a
//! `direct_response`; it, this process (the open-loop client) and `wrk` are pinned to CPU 1.
//!
//! Per case and round: median and p99 latency at a fixed rate (open loop, `openloop`), then
//! throughput with `wrk` at 16 connections and Envoy's CPU time per request from
//! `/proc/<pid>/stat` over that run. Prints the markdown tables (medians over rounds, ratios to
//! (c), (c′), (b), issue 12's targets) and writes them to `target/bench/envoy_cost.md`
//! (samples in `envoy_cost.json`). Targets missed are reported, never fatal.
//!
//! Environment: `ROUNDS` (default 12: many short rounds so every case sees the same load of a
//! shared machine), `OPEN_SECS` (1), `WRK_SECS` (1), `RATE` (1000 req/s),
//! `ROLLGATE_WASM` (default the `make wasm` output), `ENVOY` (default Envoy 1.40.0), `DIAG=1`
//! (adds `cost_cases::diagnostic_cases`: (c′) without one group of host calls each).

use anyhow::{bail, Context as _, Result};
use rollgate_benches::cost_cases::{
    build_floor_filter, case_bootstrap, cases, diagnostic_cases, upstream_bootstrap, wasm_path,
    Case, Filter, AUTHORITY, PATH, REQUEST_BODY,
};
use rollgate_benches::cost_table::{markdown, CaseResult, RunInfo, Sample};
use rollgate_benches::envoy_proc::{
    base_id, bench_dir, env_u64, envoy_version, pin_self, EnvoyProcess, EnvoySpec, TICKS_PER_SECOND,
};
use rollgate_benches::openloop::{post_request, OpenLoop};
use rollgate_benches::wrk::{lua_script, WrkRun};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// CPU of the Envoys under test.
const PROXY_CPU: &str = "0";
/// CPU of the upstream, the open-loop client and `wrk`.
const CLIENT_CPU: &str = "1";

fn shell(command: &str) -> String {
    Command::new("sh")
        .args(["-c", command])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn request_headers(case: &Case, user: &str) -> Vec<u8> {
    let mut headers = vec![("x-user-id", user)];
    headers.extend(case.headers.iter().copied());
    post_request(PATH, AUTHORITY, &headers, REQUEST_BODY)
}

/// Share of upstream requests that went to `variant_b` (checks that routing happened).
fn variant_b_share(envoy: &EnvoyProcess) -> Result<f64> {
    let stats = envoy.admin_get("/stats?filter=^cluster\\.variant_.\\.upstream_rq_total$")?;
    let count = |cluster: &str| -> f64 {
        stats
            .lines()
            .find(|l| l.starts_with(&format!("cluster.{cluster}.upstream_rq_total:")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let (a, b) = (count("variant_a"), count("variant_b"));
    Ok(if a + b > 0.0 { b / (a + b) } else { 0.0 })
}

struct Plan {
    rounds: usize,
    open: OpenLoop,
    wrk: WrkRun,
}

fn measure(plan: &Plan, case: &Case, envoy: &EnvoyProcess) -> Result<Sample> {
    let open = OpenLoop {
        target: SocketAddr::from(([127, 0, 0, 1], envoy.port)),
        ..plan.open.clone()
    };
    let shaped = case.clone();
    let latencies = open
        .run(move |i| request_headers(&shaped, &format!("user-{i}")))
        .with_context(|| format!("open-loop run of {}", case.label))?;
    let script = bench_dir()?
        .join("envoy")
        .join(format!("{}.lua", case.key.replace('\'', "2")));
    std::fs::write(
        &script,
        lua_script(PATH, AUTHORITY, &case.headers, REQUEST_BODY),
    )?;
    let before = envoy.cpu_ticks()?;
    let result = plan
        .wrk
        .run(&script, envoy.port)
        .with_context(|| format!("wrk run of {}", case.label))?;
    let ticks = envoy.cpu_ticks()? - before;
    let cpu_s = ticks as f64 / TICKS_PER_SECOND;
    let cpu_us = cpu_s * 1e6 / result.requests.max(1) as f64;
    if result.timeouts > 0 {
        eprintln!(
            "WARNING: {}: {} requests timed out in wrk (the machine is busy; see the busy column)",
            case.label, result.timeouts
        );
    }
    Ok(Sample {
        p50_us: latencies.quantile(0.5),
        p99_us: latencies.quantile(0.99),
        rps: result.requests_per_second,
        cpu_us,
        busy: cpu_s / plan.wrk.duration.as_secs_f64(),
    })
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return Ok(()); // `cargo test --benches` and criterion's listing: nothing to list
    }
    let rounds = env_u64("ROUNDS", 12)?.max(1) as usize;
    let open_secs = env_u64("OPEN_SECS", 1)?.max(1);
    let wrk_secs = env_u64("WRK_SECS", 1)?.max(1);
    let rate = u32::try_from(env_u64("RATE", 1000)?.max(1)).context("RATE too large")?;
    build_floor_filter()?;
    let mut cases = cases();
    if env_u64("DIAG", 0)? == 1 {
        cases.extend(diagnostic_cases());
    }
    for case in &cases {
        if let Some(path) = wasm_path(&case.filter) {
            if !path.exists() {
                bail!("{} missing: run `make wasm`", path.display());
            }
        }
    }
    pin_self(CLIENT_CPU)?;
    let load_before = shell("cut -d' ' -f1-3 /proc/loadavg");
    let upstream = EnvoyProcess::start(&EnvoySpec {
        name: "upstream".into(),
        bootstrap: upstream_bootstrap(),
        cpus: Some(CLIENT_CPU.into()),
        concurrency: 1,
        base_id: base_id(0),
    })?;
    let mut envoys = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        envoys.push(EnvoyProcess::start(&EnvoySpec {
            name: case.key.replace('\'', "2"),
            bootstrap: case_bootstrap(case, upstream.port),
            cpus: Some(PROXY_CPU.into()),
            concurrency: 1,
            base_id: base_id(1 + i as u32),
        })?);
    }
    let plan = Plan {
        rounds,
        open: OpenLoop {
            target: SocketAddr::from(([127, 0, 0, 1], 0)),
            rate,
            duration: Duration::from_secs(open_secs),
            connections: 8,
        },
        wrk: WrkRun {
            cpus: CLIENT_CPU.into(),
            connections: 16,
            duration: Duration::from_secs(wrk_secs),
        },
    };
    let warm = Plan {
        rounds: 1,
        open: OpenLoop {
            duration: Duration::from_secs(1),
            ..plan.open.clone()
        },
        wrk: WrkRun {
            duration: Duration::from_secs(1),
            ..plan.wrk.clone()
        },
    };
    for (case, envoy) in cases.iter().zip(&envoys) {
        measure(&warm, case, envoy)?;
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); cases.len()];
    for round in 0..plan.rounds {
        for k in 0..cases.len() {
            let i = (k + round) % cases.len();
            let sample = measure(&plan, &cases[i], &envoys[i])?;
            eprintln!(
                "round {round} {:<42} p50 {:6.0} µs  p99 {:6.0} µs  {:7.0} req/s  {:5.1} µs CPU/req  busy {:3.0} %",
                cases[i].label, sample.p50_us, sample.p99_us, sample.rps, sample.cpu_us, 100.0 * sample.busy
            );
            samples[i].push(sample);
        }
    }
    let mut results = Vec::new();
    for ((case, envoy), rounds) in cases.iter().zip(&envoys).zip(samples) {
        results.push(CaseResult {
            key: case.key.to_string(),
            label: case.label.to_string(),
            rounds,
            rss_kib: envoy.rss_kib()?,
            variant_b_share: variant_b_share(envoy)?,
        });
    }
    let wasm_bytes = cases
        .iter()
        .find(|c| matches!(c.filter, Filter::Rollgate(_)))
        .and_then(|c| wasm_path(&c.filter))
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    let machine = format!(
        "Machine: {} ({} cores); Envoys under test on CPU {PROXY_CPU}, upstream Envoy + client + \
         wrk on CPU {CLIENT_CPU}; load average {load_before} before, {} after (the machine is shared).",
        shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
        shell("nproc --all"),
        shell("cut -d' ' -f1-3 /proc/loadavg"),
    );
    let info = RunInfo {
        envoy: envoy_version()?,
        date: shell("date -u '+%Y-%m-%d %H:%M UTC'"),
        rounds,
        rate,
        open_secs,
        wrk_secs,
        machine,
        wasm_bytes,
    };
    let table = markdown(&info, &results);
    println!("\n{table}");
    let dir = bench_dir()?;
    std::fs::write(dir.join("envoy_cost.md"), &table)?;
    let json: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            serde_json::json!({ "case": r.key, "label": r.label, "rss_kib": r.rss_kib,
                "variant_b_share": r.variant_b_share,
                "rounds": r.rounds.iter().map(|s| serde_json::json!({ "p50_us": s.p50_us,
                    "p99_us": s.p99_us, "rps": s.rps, "cpu_us": s.cpu_us, "busy": s.busy })).collect::<Vec<_>>() })
        })
        .collect();
    std::fs::write(
        dir.join("envoy_cost.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("wrote {}", dir.join("envoy_cost.md").display());
    drop(envoys);
    drop(upstream);
    Ok(())
}
