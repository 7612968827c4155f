//! `loadgen`: a bounded loopback load generator for the end-to-end tests and the demo.
//!
//! Sends `POST PATH` with a JSON body at a fixed rate to a loopback target, one user key per
//! request (drawn from `--users` with a seeded generator), prints a progress line on stderr every
//! `--progress` and, at the end (duration over, `--max-requests` reached, or SIGINT/SIGTERM),
//! a JSON summary on stdout: counts by status and by the `x-rollgate-variant` echoed back.

use anyhow::{bail, Context};
use clap::Parser;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rollgate_tools::duration::parse_duration;
use rollgate_tools::load::{plan_request, LoadSummary};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Command line of the load generator.
#[derive(Parser, Debug)]
#[command(about = "Bounded loopback load generator for Rollgate's end-to-end tests and demo")]
struct Args {
    /// Loopback `host:port` of the proxy to load.
    #[arg(long)]
    target: SocketAddr,
    /// Number of distinct users.
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Requests per second.
    #[arg(long, default_value_t = 300.0)]
    rps: f64,
    /// How long to run (`30s`, `2m`; at most 1h).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many requests.
    #[arg(long)]
    max_requests: Option<u64>,
    /// Seed of the user/body generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Header carrying the user key.
    #[arg(long, default_value = "x-user-id")]
    header: String,
    /// Request path.
    #[arg(long, default_value = "/predict")]
    path: String,
    /// Host header (the authority the filter matches on).
    #[arg(long)]
    host: Option<String>,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Per-request timeout.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Progress interval.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    progress: Duration,
    /// Also write the summary JSON to this file at every progress tick (atomically).
    #[arg(long)]
    summary_file: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

fn write_summary_file(path: &PathBuf, summary: &LoadSummary) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(summary)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

async fn send_one(
    client: &reqwest::Client,
    url: &str,
    args: &Args,
    user: String,
    body: String,
    request_id: u64,
) -> Option<(u16, Option<String>)> {
    let mut request = client
        .post(url)
        .header(args.header.as_str(), user)
        .header("x-request-id", request_id.to_string())
        .header("content-type", "application/json")
        .body(body);
    if let Some(host) = &args.host {
        request = request.header("host", host.as_str());
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let variant = response
        .headers()
        .get("x-rollgate-variant")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Drain the body so the connection can be reused.
    let _ = response.bytes().await;
    Some((status, variant))
}

async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    if !args.target.ip().is_loopback() {
        bail!(
            "--target {} is not loopback: loadgen only loads 127.0.0.1",
            args.target
        );
    }
    if !(args.rps > 0.0 && args.rps <= 20_000.0) {
        bail!("--rps must be in (0, 20000]");
    }
    if args.duration > Duration::from_secs(3600) {
        bail!("--duration is capped at 1h");
    }
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .pool_max_idle_per_host(args.concurrency)
        .no_proxy()
        .build()?;
    let url = format!("http://{}{}", args.target, args.path);
    let summary = Arc::new(Mutex::new(LoadSummary {
        target: args.target.to_string(),
        ..LoadSummary::default()
    }));
    let in_flight = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let start = Instant::now();
    let period = Duration::from_secs_f64(1.0 / args.rps);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut progress = tokio::time::interval(args.progress.max(Duration::from_millis(100)));
    progress.tick().await;
    let deadline = tokio::time::sleep(args.duration);
    tokio::pin!(deadline);
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut sent: u64 = 0;
    loop {
        if args.max_requests.is_some_and(|max| sent >= max) {
            break;
        }
        tokio::select! {
            _ = &mut deadline => break,
            _ = &mut stop => break,
            _ = progress.tick() => {
                let mut s = summary.lock().unwrap_or_else(|e| e.into_inner());
                s.elapsed_s = start.elapsed().as_secs_f64();
                s.sent = sent;
                if !args.quiet {
                    eprintln!("{}", s.progress_line());
                }
                if let Some(path) = &args.summary_file {
                    if let Err(err) = write_summary_file(path, &s) {
                        eprintln!("loadgen: {err:#}");
                    }
                }
            }
            _ = ticker.tick() => {
                let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                let planned = plan_request(&mut rng, args.users);
                sent += 1;
                let (client, url, args, summary) =
                    (client.clone(), url.clone(), args.clone(), summary.clone());
                let request_id = sent;
                tokio::spawn(async move {
                    let outcome =
                        send_one(&client, &url, &args, planned.user, planned.body, request_id).await;
                    let mut s = summary.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Some((status, variant)) => s.record(status, variant.as_deref()),
                        None => s.transport_errors += 1,
                    }
                    drop(permit);
                });
            }
        }
    }
    // Let requests in flight finish (bounded by the request timeout).
    let all = u32::try_from(args.concurrency.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(
        args.timeout + Duration::from_secs(1),
        in_flight.acquire_many(all),
    )
    .await;
    let mut s = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
    s.elapsed_s = start.elapsed().as_secs_f64();
    s.sent = sent;
    if !args.quiet {
        eprintln!("{}", s.progress_line());
    }
    if let Some(path) = &args.summary_file {
        write_summary_file(path, &s)?;
    }
    println!("{}", serde_json::to_string(&s)?);
    Ok(())
}
