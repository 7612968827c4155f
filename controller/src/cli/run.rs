//! `rollgate run ROLLOUT.yaml`: a progressive rollout, from the first step to promotion or
//! rollback, resuming from the persisted state after a restart.
//!
//! Exit codes (DESIGN.md contract): 0 promoted, 3 rolled back (reason printed), 4 stopped
//! paused (inconclusive gate or `rollgate pause`), 2 invalid spec (error names the field),
//! 5 lost the leader-election lease (`--leader-elect`, docs/ha.md), 1 any other error.

use super::leader_elect::{LeaderArgs, EXIT_LEADERSHIP_LOST};
use super::rollout_common::{
    load_or_exit, now_ms, percent, OutputFormat, EXIT_PAUSED, EXIT_ROLLED_BACK,
};
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use rollgate_rollout::duration::{format_duration_ms, parse_duration_ms};
use rollgate_rollout::engine::{Event, Phase, RolloutState, UnixMillis};
use rollgate_rollout::leader::{Fence, Unfenced};
use rollgate_rollout::metrics::render_metrics;
use rollgate_rollout::prometheus::PrometheusClient;
use rollgate_rollout::runner::{run_fenced, Observer, Outcome, RunOptions};
use rollgate_rollout::sinks::Sink;
use rollgate_rollout::spec::Rollout;
use rollgate_rollout::RolloutError;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Arguments of `rollgate run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The Rollout spec (YAML, `rollgate.dev/v1`).
    pub rollout: PathBuf,
    /// `text`: live progress on stderr, result on stdout; `json`: one JSON object per event
    /// and a final result object, on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// Longest time between two reconciles (Prometheus duration).
    #[arg(long, default_value = "1s")]
    pub tick: String,
    /// Keep running while paused, waiting for `rollgate resume|abort|promote`, instead of
    /// exiting with code 4.
    #[arg(long)]
    pub hold: bool,
    /// Serve the controller's own metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464; port 0
    /// picks a free port, printed on stderr).
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Leader election (several replicas on one WasmPlugin).
    #[command(flatten)]
    pub leader: LeaderArgs,
}

/// Runs the subcommand.
pub fn execute(args: RunArgs) -> anyhow::Result<ExitCode> {
    let rollout = match load_or_exit(&args.rollout) {
        Ok(rollout) => rollout,
        Err(code) => return Ok(code),
    };
    let tick_ms = parse_duration_ms(&args.tick).map_err(|e| anyhow::anyhow!("--tick: {e}"))?;
    let options = RunOptions {
        tick: Duration::from_millis(tick_ms.max(10)),
        hold_when_paused: args.hold,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let leader = args.leader.config(&rollout)?;
    runtime.block_on(run_async(
        rollout,
        args.output,
        args.metrics_listen,
        options,
        leader,
    ))
}

async fn run_async(
    rollout: Rollout,
    output: OutputFormat,
    metrics_listen: Option<SocketAddr>,
    options: RunOptions,
    leader: Option<rollgate_rollout::leader::LeaderConfig>,
) -> anyhow::Result<ExitCode> {
    let sink = Sink::open(&rollout).await?;
    let leadership = match leader {
        Some(config) => Some(super::leader_elect::acquire(config).await?),
        None => None,
    };
    let fence: &dyn Fence = match &leadership {
        Some(leadership) => leadership,
        None => &Unfenced,
    };
    let prometheus = match &rollout.prometheus {
        Some(p) => Some(PrometheusClient::from_target(p)?),
        None => None,
    };
    let metrics = Arc::new(Mutex::new(String::new()));
    if let Some(addr) = metrics_listen {
        serve_metrics(addr, Arc::clone(&metrics)).await?;
    }
    let mut observer = Progress::new(rollout.clone(), output, metrics);
    let outcome = run_fenced(
        &rollout,
        &sink,
        &prometheus,
        &now_ms,
        &mut observer,
        &options,
        fence,
    )
    .await;
    observer.finish();
    if let Some(leadership) = leadership {
        leadership.release(now_ms()).await;
    }
    if let Err(RolloutError::LeadershipLost(reason)) = &outcome {
        eprintln!("rollgate: rollout {}: leadership lost, stopped pushing: {reason}; a follower takes over", rollout.name);
        return Ok(ExitCode::from(EXIT_LEADERSHIP_LOST));
    }
    let outcome = outcome?;
    Ok(report(&rollout, &outcome, output))
}

fn report(rollout: &Rollout, outcome: &Outcome, output: OutputFormat) -> ExitCode {
    let (code, result, reason) = match outcome {
        Outcome::Promoted => (ExitCode::SUCCESS, "promoted", None),
        Outcome::RolledBack(reason) => (
            ExitCode::from(EXIT_ROLLED_BACK),
            "rolled_back",
            Some(serde_json::json!(reason)),
        ),
        Outcome::Paused(reason) => (
            ExitCode::from(EXIT_PAUSED),
            "paused",
            Some(serde_json::json!(reason)),
        ),
    };
    match output {
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::json!({ "result": result, "rollout": rollout.name, "reason": reason })
            );
        }
        OutputFormat::Text => match outcome {
            Outcome::Promoted => println!(
                "rollout {}: promoted, canary {} at 100 %",
                rollout.name, rollout.canary
            ),
            Outcome::RolledBack(reason) => {
                println!(
                    "rollout {}: rolled back, canary {} at 0 %: {reason}",
                    rollout.name, rollout.canary
                )
            }
            Outcome::Paused(reason) => println!(
                "rollout {}: paused ({}); `rollgate resume` then `rollgate run` to continue",
                rollout.name, reason
            ),
        },
    }
    code
}

async fn serve_metrics(addr: SocketAddr, text: Arc<Mutex<String>>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-listen {addr}"))?;
    let bound = listener.local_addr().context("metrics listener address")?;
    eprintln!("rollgate: metrics at http://{bound}/metrics");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = text.lock().map(|t| t.clone()).unwrap_or_default();
            async move {
                (
                    [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    text,
                )
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("rollgate: metrics endpoint stopped: {e}");
        }
    });
    Ok(())
}

/// Live progress: a spinner line on stderr (text) or JSON lines on stdout (json).
struct Progress {
    rollout: Rollout,
    output: OutputFormat,
    bar: ProgressBar,
    metrics: Arc<Mutex<String>>,
}

impl Progress {
    fn new(rollout: Rollout, output: OutputFormat, metrics: Arc<Mutex<String>>) -> Self {
        let bar = match output {
            OutputFormat::Text => ProgressBar::new_spinner(),
            OutputFormat::Json => ProgressBar::hidden(),
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Self {
            rollout,
            output,
            bar,
            metrics,
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn describe(&self, event: &Event) -> String {
        match event {
            Event::PushPlanned { canary_bp, version } => format!(
                "pushing canary {} (config version {version})",
                percent(*canary_bp)
            ),
            Event::Pushed { canary_bp, version } => format!(
                "pushed canary {} (config version {version})",
                percent(*canary_bp)
            ),
            Event::StepStarted {
                step,
                canary_bp,
                pause_ms,
            } => format!(
                "step {}/{}: canary {}, pause {}",
                step + 1,
                self.rollout.plan.steps.len(),
                percent(*canary_bp),
                format_duration_ms(*pause_ms)
            ),
            Event::GateChecked { verdict } => format!(
                "gate {}: {} {} ({:?}){}",
                verdict.gate,
                verdict
                    .value
                    .map_or_else(|| "no data".to_string(), |v| format!("{v:.6}")),
                verdict.condition,
                verdict.outcome,
                verdict
                    .detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            Event::Paused { reason } => format!("paused: {reason}"),
            Event::Resumed => "resumed".to_string(),
            Event::RolledBack { reason } => format!("rolling back: {reason}"),
            Event::Promoted => "promoting to 100 %".to_string(),
            Event::ControlIgnored { action, phase } => {
                format!("ignored {action:?} request: rollout is {phase}")
            }
        }
    }

    fn status_line(&self, state: &RolloutState, now: UnixMillis) -> String {
        let weight = state
            .applied_canary_bp
            .map_or_else(|| "-".to_string(), percent);
        let left = match (&state.phase, state.pause_left_ms(now)) {
            (Phase::Progressing | Phase::Paused { .. }, Some(ms)) => {
                format!(", {} left", format_duration_ms(ms / 1000 * 1000))
            }
            _ => String::new(),
        };
        let gates: Vec<String> = state
            .gates
            .iter()
            .filter_map(|(name, status)| status.last.as_ref().map(|v| (name, v)))
            .map(|(name, v)| {
                format!(
                    "{name}={}",
                    v.value
                        .map_or_else(|| "n/a".to_string(), |x| format!("{x:.4}"))
                )
            })
            .collect();
        format!(
            "{} step {}/{} canary {}{left} [{}] {}",
            self.rollout.name,
            state.step + 1,
            self.rollout.plan.steps.len(),
            weight,
            state.phase.name(),
            gates.join(" ")
        )
    }
}

impl Observer for Progress {
    fn event(&mut self, state: &RolloutState, event: &Event) {
        match self.output {
            OutputFormat::Text => {
                let line = self.describe(event);
                self.bar.suspend(|| eprintln!("{line}"));
            }
            OutputFormat::Json => {
                let line = serde_json::json!({
                    "at_ms": state.updated_at_ms,
                    "rollout": self.rollout.name,
                    "phase": state.phase.name(),
                    "step": state.step,
                    "canary_bp": state.applied_canary_bp,
                    "event": event,
                });
                println!("{line}");
            }
        }
    }

    fn tick(&mut self, state: &RolloutState, now: UnixMillis) {
        if let Ok(mut text) = self.metrics.lock() {
            *text = render_metrics(&self.rollout, state);
        }
        if self.output == OutputFormat::Text {
            self.bar.set_message(self.status_line(state, now));
            self.bar.tick();
        }
    }
}
