//! `rollgate bandit`: multi-armed bandit traffic allocation as filter weights (basis points).
//!
//! Two modes:
//! - `--spec BANDIT.yaml` (Prometheus): every `--interval`, reads each arm's reward with the
//!   spec's PromQL, allocates and pushes the weights through the Rollout's sink (ECDS file,
//!   Kubernetes WasmPlugin or stdout), for `--rounds N` rounds or until SIGTERM / Ctrl-C.
//!   One JSON line per round on stdout: `{"round", "rewards", "weights", "version", "sink"}`
//!   (or `{"round", "skipped"}` when a query failed: nothing is pushed then).
//! - `--input ARMS.json` (offline): per-arm `name`, `successes`, `total` from a file
//!   (`[{...}, ...]` or `{"arms": [...]}`); prints the allocation JSON and with `--rollout`
//!   pushes the weights once through the rollout spec's sink.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use rollgate_rollout::bandit::spec::load_bandit;
use rollgate_rollout::bandit::{run_round, weighted_config, BanditPlan, RoundReport};
use rollgate_rollout::duration::parse_duration_ms;
use rollgate_rollout::prometheus::PrometheusClient;
use rollgate_rollout::sinks::ConfigSink;
use rollgate_rollout::spec::load_rollout;
use rollgate_stats::bandit::{allocate, Allocation, ArmStats, BanditAlgorithm};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Exit code for invalid input.
const EXIT_INVALID_INPUT: u8 = 2;

/// Bandit algorithm names on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgorithmName {
    /// Thompson sampling with Beta(1, 1) priors; weights ∝ P(arm is best).
    Thompson,
    /// UCB1: the upper-confidence winner takes the traffic above the floors.
    Ucb1,
    /// Epsilon-greedy: 1 - ε to the best mean, ε spread evenly.
    EpsilonGreedy,
}

/// Arguments of `rollgate bandit`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["input", "spec"])))]
pub struct BanditArgs {
    /// Offline mode: JSON file with per-arm `name`, `successes`, `total` (one allocation).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Prometheus mode: a `kind: Bandit` spec (its Rollout, arms and reward queries); loops.
    #[arg(long, conflicts_with = "rollout")]
    pub spec: Option<PathBuf>,
    /// Prometheus mode: time between rounds (Prometheus duration, e.g. 30s, 5m).
    #[arg(long, default_value = "30s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Prometheus mode: stop after this many rounds (default: until SIGTERM or Ctrl-C).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Allocation algorithm.
    #[arg(long, value_enum, default_value_t = AlgorithmName::Thompson)]
    pub algorithm: AlgorithmName,
    /// Seed of Thompson sampling's Monte Carlo draws (round r of a loop uses seed + r).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Monte Carlo draws for Thompson sampling.
    #[arg(long, default_value_t = 10_000)]
    pub draws: usize,
    /// Exploration share for epsilon-greedy.
    #[arg(long, default_value_t = 0.1)]
    pub epsilon: f64,
    /// Minimum weight per arm in basis points (100 = 1 %).
    #[arg(long, default_value_t = rollgate_stats::bandit::DEFAULT_MIN_WEIGHT_BP)]
    pub min_weight_bp: u32,
    /// Offline mode: Rollout spec whose experiment gets the weights, pushed through its sink.
    #[arg(long)]
    pub rollout: Option<PathBuf>,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    match parse_duration_ms(text)? {
        0 => Err("must be longer than 0 (e.g. 30s)".to_string()),
        ms => Ok(Duration::from_millis(ms)),
    }
}

impl BanditArgs {
    /// The algorithm with the seed of round `round` (offline mode: round 0).
    fn algorithm(&self, round: u64) -> BanditAlgorithm {
        match self.algorithm {
            AlgorithmName::Thompson => BanditAlgorithm::Thompson {
                draws: self.draws,
                seed: self.seed.wrapping_add(round),
            },
            AlgorithmName::Ucb1 => BanditAlgorithm::Ucb1,
            AlgorithmName::EpsilonGreedy => BanditAlgorithm::EpsilonGreedy {
                epsilon: self.epsilon,
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ArmsFile {
    List(Vec<ArmStats>),
    Wrapped { arms: Vec<ArmStats> },
}

/// Runs the subcommand.
pub fn execute(args: BanditArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match (&args.spec, &args.input) {
        (Some(spec), _) => runtime.block_on(run_loop(spec, &args)),
        (None, Some(input)) => runtime.block_on(run_offline(input, &args)),
        (None, None) => anyhow::bail!("give --spec BANDIT.yaml or --input ARMS.json"),
    }
}

/// Offline mode: one allocation from a JSON file, optionally pushed.
async fn run_offline(input: &Path, args: &BanditArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("reading arms file {}", input.display()))?;
    let arms = match serde_json::from_str::<ArmsFile>(&text) {
        Ok(ArmsFile::List(arms) | ArmsFile::Wrapped { arms }) => arms,
        Err(err) => {
            eprintln!(
                "rollgate: bandit: {}: expected [{{\"name\",\"successes\",\"total\"}}, ...]: {err}",
                input.display()
            );
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    let algorithm = args.algorithm(0);
    let allocation = match allocate(&arms, algorithm, args.min_weight_bp) {
        Ok(a) => a,
        Err(err) => {
            eprintln!("rollgate: bandit: {err}");
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    if let Some(path) = &args.rollout {
        let rollout = load_rollout(path).with_context(|| format!("loading {}", path.display()))?;
        let config = weighted_config(&rollout.base_config, &rollout.experiment, &allocation)?;
        let sink = ConfigSink::open(&rollout.sink).await?;
        let version = sink.push_next(&config).await?;
        eprintln!(
            "rollgate: bandit: pushed weights as version {version} to {}",
            sink.describe()
        );
    }
    let output = json!({
        "algorithm": algorithm,
        "weights": weights_by_arm(&allocation),
        "arms": allocation.arms,
        "probabilities": allocation.probabilities,
        "weights_bp": allocation.weights_bp,
    });
    println!("{output}");
    Ok(ExitCode::SUCCESS)
}

/// Prometheus mode: rounds at `--interval` until `--rounds` or a stop signal.
async fn run_loop(spec_path: &Path, args: &BanditArgs) -> anyhow::Result<ExitCode> {
    let spec = match load_bandit(spec_path) {
        Ok(spec) => spec,
        Err(err) => {
            eprintln!("rollgate: bandit: {}: {err}", spec_path.display());
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    let rollout = load_rollout(&spec.rollout)
        .with_context(|| format!("loading the rollout {}", spec.rollout.display()))?;
    let plan = match BanditPlan::new(&spec, &rollout) {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("rollgate: bandit: {}: {err}", spec_path.display());
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    let target = rollout
        .prometheus
        .as_ref()
        .context("the rollout has no spec.prometheus")?;
    let source = PrometheusClient::from_target(target).map_err(|e| e.to_string());
    let sink = ConfigSink::open(&rollout.sink).await?;
    // Registered before the first round, so a SIGTERM at any time ends the loop cleanly.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let mut round: u64 = 0;
    loop {
        round += 1;
        let algorithm = args.algorithm(round);
        match run_round(&plan, &source, &sink, algorithm, args.min_weight_bp).await {
            Ok(report) => println!("{}", round_line(round, &report, &sink.describe())),
            Err(err) => {
                println!("{}", json!({ "round": round, "skipped": err.to_string() }));
                eprintln!("rollgate: bandit {}: round {round}: {err}", spec.name);
            }
        }
        if args.rounds.is_some_and(|n| round >= n) {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(args.interval) => {}
            _ = terminate.recv() => {
                eprintln!("rollgate: bandit {}: SIGTERM, stopping after round {round}", spec.name);
                break;
            }
            _ = tokio::signal::ctrl_c() => {
                eprintln!("rollgate: bandit {}: stopping after round {round}", spec.name);
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn weights_by_arm(allocation: &Allocation) -> Map<String, Value> {
    allocation
        .arms
        .iter()
        .zip(&allocation.weights_bp)
        .map(|(name, bp)| (name.clone(), Value::from(*bp)))
        .collect()
}

/// The progress line of a round.
fn round_line(round: u64, report: &RoundReport, sink: &str) -> Value {
    let rewards: Map<String, Value> = report
        .rewards
        .iter()
        .map(|arm| {
            let entry = json!({ "successes": arm.successes, "trials": arm.total });
            (arm.name.clone(), entry)
        })
        .collect();
    json!({
        "round": round,
        "rewards": rewards,
        "probabilities": report.allocation.probabilities,
        "weights": weights_by_arm(&report.allocation),
        "version": report.version,
        "sink": sink,
    })
}
