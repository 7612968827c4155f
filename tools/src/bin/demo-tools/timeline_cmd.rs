//! `demo-tools timeline`: `timeline.json` for `rollgate report`.

use anyhow::Context;
use rollgate_report::{AbSummary, GateMetric, GateThreshold, Timeline};
use rollgate_tools::net::{http_get, url_encode};
use rollgate_tools::timeline::{shadow_samples, variant_samples, weights_and_decisions};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `timeline`.
#[derive(clap::Args)]
pub struct TimelineArgs {
    /// Prometheus address (`127.0.0.1:PORT`).
    #[arg(long)]
    prometheus: SocketAddr,
    /// `t = 0` of the report, Unix milliseconds.
    #[arg(long)]
    start_ms: u64,
    /// End of the report, Unix milliseconds.
    #[arg(long)]
    end_ms: u64,
    /// Controller `--output json` files, in run order.
    #[arg(long = "events", required = true)]
    events: Vec<PathBuf>,
    /// `demo-tools watch --out` files (breach times), any order.
    #[arg(long = "watch")]
    watch: Vec<PathBuf>,
    /// Gate thresholds to draw: `NAME:METRIC:THRESHOLD` (metric: error_rate, p99_latency_ms,
    /// shadow_agreement).
    #[arg(long = "gate")]
    gates: Vec<String>,
    /// The A/B summary (an `AbSummary` JSON file).
    #[arg(long)]
    ab: Option<PathBuf>,
    /// Experiment id.
    #[arg(long, default_value = "fraud-v2")]
    experiment: String,
    /// Where the numbers came from, shown in the report.
    #[arg(long)]
    metric_source: String,
    /// Sample step in seconds.
    #[arg(long, default_value_t = 2)]
    step_s: u64,
}

fn range(args: &TimelineArgs, promql: &str) -> anyhow::Result<Vec<Value>> {
    let path = format!(
        "/api/v1/query_range?query={}&start={:.3}&end={:.3}&step={}",
        url_encode(promql),
        args.start_ms as f64 / 1000.0,
        args.end_ms as f64 / 1000.0,
        args.step_s
    );
    let reply = http_get(args.prometheus, &path).context("Prometheus range query")?;
    let parsed: Value = serde_json::from_str(&reply.body)
        .with_context(|| format!("Prometheus answered {}: not JSON", reply.status))?;
    anyhow::ensure!(
        parsed["status"] == "success",
        "Prometheus range query failed: {}",
        parsed["error"]
    );
    Ok(parsed["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn gate(text: &str) -> anyhow::Result<GateThreshold> {
    let mut parts = text.splitn(3, ':');
    let (Some(name), Some(metric), Some(threshold)) = (parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!("--gate {text}: expected NAME:METRIC:THRESHOLD");
    };
    let metric: GateMetric = serde_json::from_value(Value::String(metric.to_string()))
        .with_context(|| format!("--gate {text}: unknown metric {metric}"))?;
    Ok(GateThreshold {
        name: name.to_string(),
        metric,
        threshold: threshold
            .parse()
            .with_context(|| format!("--gate {text}: threshold is not a number"))?,
    })
}

/// Runs `timeline`: prints the JSON on stdout.
pub fn run(args: TimelineArgs) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    for path in &args.events {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        lines.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()),
        );
    }
    let mut breaches = Vec::new();
    for path in &args.watch {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let v: Value = serde_json::from_str(&text)?;
        breaches.extend(v["breach_at_ms"].as_u64());
    }
    let (weights, decisions) =
        weights_and_decisions(&lines, args.start_ms, breaches.first().copied());
    let sel = format!("experiment=\"{}\"", args.experiment);
    // Counts per step: the per-second rate over a window of at least four scrapes, times the
    // step. (`increase` over a window as short as the step often holds a single sample.)
    let step = args.step_s.max(1);
    let w = format!("{}s", (2 * step).max(4));
    let responses = range(
        &args,
        &format!("sum by (variant) (rate(rollgate_responses_total{{{sel}}}[{w}])) * {step}"),
    )?;
    let errors = range(
        &args,
        &format!("sum by (variant) (rate(rollgate_responses_total{{{sel},class=\"5xx\"}}[{w}])) * {step}"),
    )?;
    let p99 = range(
        &args,
        &format!("histogram_quantile(0.99, sum by (variant, le) (rate(rollgate_request_duration_ms_bucket{{{sel}}}[{w}])))"),
    )?;
    let comparisons = range(
        &args,
        &format!(
            "sum by (result) (rate(rollgate_shadow_comparisons_total{{{sel}}}[{w}])) * {step}"
        ),
    )?;
    let ab: Option<AbSummary> = match &args.ab {
        Some(path) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            )
            .with_context(|| format!("{}: not an A/B summary", path.display()))?,
        ),
        None => None,
    };
    let timeline = Timeline {
        title: "Rollgate demo: fraud-detector canary v2".to_string(),
        experiment: args.experiment.clone(),
        stable: "stable".to_string(),
        canary: "canary".to_string(),
        metric_source: Some(args.metric_source.clone()),
        started_at: None,
        samples: variant_samples(&responses, &errors, &p99, args.start_ms),
        weights,
        gates: args
            .gates
            .iter()
            .map(|g| gate(g))
            .collect::<Result<_, _>>()?,
        decisions,
        shadow: shadow_samples(&comparisons, args.start_ms),
        ab,
    };
    timeline
        .validate()
        .map_err(|e| anyhow::anyhow!("the timeline does not validate: {e}"))?;
    println!("{}", serde_json::to_string_pretty(&timeline)?);
    Ok(())
}
