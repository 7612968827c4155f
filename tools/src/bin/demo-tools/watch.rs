//! `demo-tools watch`: the live view of one rollout.

use anyhow::Context;
use rollgate_tools::envoy_admin::{served_weight, ECDS_DUMP_PATH};
use rollgate_tools::net::{http_get, http_post, url_encode};
use rollgate_tools::timeline::describe_reason;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Arguments of `watch`.
#[derive(clap::Args)]
pub struct WatchArgs {
    /// File the controller's `--output json` lines are written to.
    #[arg(long)]
    events: PathBuf,
    /// Prometheus address (`127.0.0.1:PORT`).
    #[arg(long)]
    prometheus: SocketAddr,
    /// Envoy's admin address (its `/config_dump` says which weight the filter serves).
    #[arg(long)]
    envoy_admin: SocketAddr,
    /// Name of the filter's ECDS extension config in Envoy.
    #[arg(long, default_value = "rollgate")]
    filter_name: String,
    /// Experiment id.
    #[arg(long, default_value = "fraud-v2")]
    experiment: String,
    /// Number of steps of the rollout (for the display).
    #[arg(long, default_value_t = 6)]
    steps: usize,
    /// Break the canary once a push of at least this many basis points is confirmed.
    #[arg(long)]
    inject_at_bp: Option<u64>,
    /// Model server admin address whose error rate is set then.
    #[arg(long)]
    inject_admin: Option<SocketAddr>,
    /// Error rate set then.
    #[arg(long, default_value_t = 0.08)]
    inject_error_rate: f64,
    /// Where to write the measurements (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One instant query, grouped by `variant` (or by nothing): label value → number.
fn query_by(prometheus: SocketAddr, promql: &str, label: &str) -> Vec<(String, f64)> {
    let path = format!("/api/v1/query?query={}", url_encode(promql));
    let Ok(reply) = http_get(prometheus, &path) else {
        return Vec::new();
    };
    let parsed: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    parsed["data"]["result"]
        .as_array()
        .map(|result| {
            result
                .iter()
                .filter_map(|s| {
                    let v = s["value"][1].as_str()?.parse::<f64>().ok()?;
                    Some((s["metric"][label].as_str().unwrap_or("").to_string(), v))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn lookup(values: &[(String, f64)], key: &str) -> Option<f64> {
    values
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
}

fn bar(percent: f64) -> String {
    let filled = ((percent / 100.0) * 20.0).round().clamp(0.0, 20.0) as usize;
    format!("[{}{}]", "#".repeat(filled), ".".repeat(20 - filled))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "   -  ".to_string(), |v| format!("{:5.1}%", v * 100.0))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "    - ".to_string(), |v| format!("{v:4.0}ms"))
}

/// What the controller said so far.
#[derive(Default)]
struct Followed {
    lines_seen: usize,
    step: u64,
    canary_bp: u64,
    phase: String,
    last: String,
    result: Option<Value>,
    max_pushed_bp: u64,
}

impl Followed {
    fn read(&mut self, path: &PathBuf) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let lines: Vec<&str> = text.lines().collect();
        // The last line may be half written: only take complete lines.
        let complete = if text.ends_with('\n') {
            lines.len()
        } else {
            lines.len().saturating_sub(1)
        };
        for line in &lines[self.lines_seen.min(complete)..complete] {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if v.get("result").is_some() {
                self.result = Some(v);
                continue;
            }
            self.step = v["step"].as_u64().unwrap_or(self.step);
            self.canary_bp = v["canary_bp"].as_u64().unwrap_or(self.canary_bp);
            self.phase = v["phase"].as_str().unwrap_or("").to_string();
            let e = &v["event"];
            if e["event"] == "pushed" {
                self.max_pushed_bp = self.max_pushed_bp.max(e["canary_bp"].as_u64().unwrap_or(0));
            }
            self.last = match e["event"].as_str() {
                Some("gate_checked") => format!(
                    "gate {} = {} ({})",
                    e["verdict"]["gate"].as_str().unwrap_or("?"),
                    e["verdict"]["value"]
                        .as_f64()
                        .map_or_else(|| "no data".to_string(), |x| format!("{x:.4}")),
                    e["verdict"]["outcome"].as_str().unwrap_or("?")
                ),
                Some("rolled_back") => format!("ROLLBACK: {}", describe_reason(&e["reason"])),
                Some("promoted") => "PROMOTED".to_string(),
                Some("paused") => format!("PAUSED: {}", describe_reason(&e["reason"])),
                Some("push_planned") => continue,
                Some("pushed") => {
                    let pushed = format!(
                        "canary {:.0} % live",
                        e["canary_bp"].as_f64().unwrap_or(0.0) / 100.0
                    );
                    if self.last.starts_with("ROLLBACK") || self.last == "PROMOTED" {
                        format!("{}; {pushed}", self.last)
                    } else {
                        pushed
                    }
                }
                Some(other) => other.replace('_', " "),
                None => String::new(),
            };
        }
        self.lines_seen = complete;
    }
}

/// Polls Envoy's ECDS `/config_dump` until the filter `name` serves the canary at weight 0;
/// the Unix time it was seen.
fn wait_canary_zero(
    admin: SocketAddr,
    name: &str,
    experiment: &str,
    timeout: Duration,
) -> Option<u64> {
    let deadline = Instant::now() + timeout;
    loop {
        let weight = http_get(admin, ECDS_DUMP_PATH)
            .ok()
            .and_then(|r| serde_json::from_str::<Value>(&r.body).ok())
            .and_then(|d| served_weight(&d, name, experiment, "canary"));
        if weight == Some(0) {
            return Some(unix_ms());
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `watch`.
pub fn run(args: WatchArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.timeout_s);
    let mut followed = Followed::default();
    let mut injected_at_ms: Option<u64> = None;
    let mut rollback_seen_at_ms: Option<u64> = None;
    let mut next_row = Instant::now();
    let exp = &args.experiment;
    println!(
        "  time  step  canary weight                phase        | stable  err   p99 | canary  err   p99 | shadow agree | last controller event"
    );
    loop {
        followed.read(&args.events);
        if let (Some(at), Some(admin), None) =
            (args.inject_at_bp, args.inject_admin, injected_at_ms)
        {
            if followed.max_pushed_bp >= at {
                http_post(
                    admin,
                    "/admin/error-rate",
                    &args.inject_error_rate.to_string(),
                )
                .context("breaking the canary through its admin endpoint")?;
                injected_at_ms = Some(unix_ms());
                println!(
                    ">>> canary weight reached {:.0} %: canary v2 now fails {:.0} % of its requests (breach)",
                    at as f64 / 100.0,
                    args.inject_error_rate * 100.0
                );
            }
        }
        if injected_at_ms.is_some() && rollback_seen_at_ms.is_none() {
            rollback_seen_at_ms =
                wait_canary_zero(args.envoy_admin, &args.filter_name, exp, Duration::ZERO);
        }
        if Instant::now() >= next_row || followed.result.is_some() {
            next_row += Duration::from_secs(1);
            let sel = format!("experiment=\"{exp}\"");
            let errors = query_by(
                args.prometheus,
                &format!("sum by (variant) (rate(rollgate_responses_total{{{sel},class=\"5xx\"}}[5s])) / sum by (variant) (rate(rollgate_responses_total{{{sel}}}[5s]))"),
                "variant",
            );
            let p99 = query_by(
                args.prometheus,
                &format!("histogram_quantile(0.99, sum by (variant, le) (rate(rollgate_request_duration_ms_bucket{{{sel}}}[5s])))"),
                "variant",
            );
            let shadow = query_by(
                args.prometheus,
                &format!("sum(rate(rollgate_shadow_comparisons_total{{{sel},result=\"agree\"}}[30s])) / sum(rate(rollgate_shadow_comparisons_total{{{sel},result=~\"agree|disagree\"}}[30s]))"),
                "",
            );
            let percent = followed.canary_bp as f64 / 100.0;
            println!(
                "{:5.0}s  {}/{}   {} {:5.1}%  {:<12} | {} {} | {} {} |    {}    | {}",
                start.elapsed().as_secs_f64(),
                followed.step + 1,
                args.steps,
                bar(percent),
                percent,
                followed.phase,
                pct(lookup(&errors, "stable")),
                ms(lookup(&p99, "stable")),
                pct(lookup(&errors, "canary")),
                ms(lookup(&p99, "canary")),
                pct(lookup(&shadow, "")),
                followed.last
            );
        }
        if let Some(result) = &followed.result {
            if injected_at_ms.is_some() && rollback_seen_at_ms.is_none() {
                // The controller confirms the rollback once the file is renamed, before Envoy applies it: wait
                // (bounded) until the filter serves it.
                rollback_seen_at_ms = wait_canary_zero(
                    args.envoy_admin,
                    &args.filter_name,
                    exp,
                    Duration::from_secs(5),
                );
            }
            let breach_to_rollback_s = match (injected_at_ms, rollback_seen_at_ms) {
                (Some(b), Some(r)) => Some(r.saturating_sub(b) as f64 / 1000.0),
                _ => None,
            };
            let out = json!({
                "result": result["result"],
                "reason": result["reason"],
                "breach_at_ms": injected_at_ms,
                "rollback_in_filter_at_ms": rollback_seen_at_ms,
                "breach_to_rollback_s": breach_to_rollback_s,
            });
            std::fs::write(&args.out, serde_json::to_vec_pretty(&out)?)
                .with_context(|| format!("writing {}", args.out.display()))?;
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the rollout did not finish within {} s (events in {})",
                args.timeout_s,
                args.events.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
