//! `rollgate bandit`: multi-armed bandit traffic allocation as filter weights (basis points).
//!
//! Reads per-arm successes/totals from a JSON file (`[{"name","successes","total"}, ...]` or
//! `{"arms": [...]}`), prints the allocation JSON, and with `--rollout` writes the weights into
//! the rollout spec's experiment and pushes the config through its sink (ECDS file or stdout;
//! the Kubernetes sink carries rollout state and is driven by `rollgate run` only).
//! With the stdout sink, the push line comes first, then the allocation line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use rollgate_core::config::FilterConfig;
use rollgate_rollout::sinks::EcdsFileSink;
use rollgate_rollout::spec::{load_rollout, SinkTarget};
use rollgate_stats::bandit::{allocate, Allocation, ArmStats, BanditAlgorithm};
use serde::Deserialize;

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
pub struct BanditArgs {
    /// JSON file with per-arm `name`, `successes`, `total`.
    #[arg(long)]
    pub input: PathBuf,
    /// Allocation algorithm.
    #[arg(long, value_enum, default_value_t = AlgorithmName::Thompson)]
    pub algorithm: AlgorithmName,
    /// Seed of Thompson sampling's Monte Carlo draws.
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
    /// Rollout spec whose experiment gets the weights, pushed through its sink.
    #[arg(long)]
    pub rollout: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ArmsFile {
    List(Vec<ArmStats>),
    Wrapped { arms: Vec<ArmStats> },
}

/// Runs the subcommand.
pub fn execute(args: BanditArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading arms file {}", args.input.display()))?;
    let arms = match serde_json::from_str::<ArmsFile>(&text) {
        Ok(ArmsFile::List(arms) | ArmsFile::Wrapped { arms }) => arms,
        Err(err) => {
            eprintln!(
                "rollgate: bandit: {}: expected [{{\"name\",\"successes\",\"total\"}}, ...]: {err}",
                args.input.display()
            );
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    let algorithm = match args.algorithm {
        AlgorithmName::Thompson => BanditAlgorithm::Thompson {
            draws: args.draws,
            seed: args.seed,
        },
        AlgorithmName::Ucb1 => BanditAlgorithm::Ucb1,
        AlgorithmName::EpsilonGreedy => BanditAlgorithm::EpsilonGreedy {
            epsilon: args.epsilon,
        },
    };
    let allocation = match allocate(&arms, algorithm, args.min_weight_bp) {
        Ok(a) => a,
        Err(err) => {
            eprintln!("rollgate: bandit: {err}");
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    if let Some(path) = &args.rollout {
        push_to_rollout(path, &allocation)?;
    }
    let weights: serde_json::Map<String, serde_json::Value> = allocation
        .arms
        .iter()
        .zip(&allocation.weights_bp)
        .map(|(name, bp)| (name.clone(), serde_json::Value::from(*bp)))
        .collect();
    let output = serde_json::json!({
        "algorithm": algorithm,
        "weights": weights,
        "arms": allocation.arms,
        "probabilities": allocation.probabilities,
        "weights_bp": allocation.weights_bp,
    });
    println!("{output}");
    Ok(ExitCode::SUCCESS)
}

/// Sets the experiment's variant weights by arm name and pushes the config through the sink.
fn push_to_rollout(path: &std::path::Path, allocation: &Allocation) -> anyhow::Result<()> {
    let rollout = load_rollout(path).with_context(|| format!("loading {}", path.display()))?;
    let mut config: FilterConfig = rollout.base_config.clone();
    let experiment = config
        .experiments
        .iter_mut()
        .find(|e| e.id == rollout.experiment)
        .with_context(|| {
            format!(
                "experiment {:?} is not in the base config",
                rollout.experiment
            )
        })?;
    for variant in &mut experiment.variants {
        let position = allocation.arms.iter().position(|a| *a == variant.name);
        variant.weight = position.map_or(0, |i| allocation.weights_bp[i]);
    }
    for arm in &allocation.arms {
        anyhow::ensure!(
            experiment.variants.iter().any(|v| v.name == *arm),
            "arm {arm:?} is not a variant of experiment {:?}",
            rollout.experiment
        );
    }
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("the weighted config is invalid: {e}"))?;
    let version = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match &rollout.sink {
        SinkTarget::EcdsFile {
            path,
            name,
            wasm_filename,
        } => {
            EcdsFileSink::new(path, name, wasm_filename).push(&config, version)?;
            eprintln!("rollgate: bandit: wrote weights to {}", path.display());
        }
        SinkTarget::Stdout => {
            let line =
                serde_json::json!({ "sink": "stdout", "version": version, "config": config });
            println!("{line}");
        }
        SinkTarget::Kubernetes { .. } => anyhow::bail!(
            "the kubernetes sink is not supported by `rollgate bandit` yet (it carries rollout \
             state); use an ecds_file or stdout sink, or apply the printed weights"
        ),
    }
    Ok(())
}
