//! Bandits fed by Prometheus (`rollgate bandit --spec`): each round queries every arm's reward
//! with PromQL templated like the gates' ([`reward`]), allocates traffic with
//! `rollgate_stats::bandit` (Thompson, UCB1, epsilon-greedy, a floor per arm) and pushes the
//! weights into the Rollout's experiment through its [`crate::sinks::ConfigSink`].
//!
//! Pure: [`spec`] (the `kind: Bandit` file), [`BanditPlan`] (rendered queries, answers →
//! [`ArmStats`]), [`weighted_config`]. The IO of one round is [`run_round`]; the loop at an
//! interval lives in the CLI.

pub mod reward;
mod round;
pub mod spec;

pub use round::{run_round, RoundReport};

use crate::error::RolloutError;
use crate::gates::QueryResult;
use crate::spec::Rollout;
use reward::{arm_stats, render_arm_queries, ArmQueries, RewardError, RewardQueries};
use rollgate_core::config::FilterConfig;
use rollgate_stats::bandit::{Allocation, ArmStats};
use spec::BanditSpec;

/// A Bandit spec bound to its Rollout: the arms and their rendered queries.
#[derive(Debug, Clone)]
pub struct BanditPlan {
    /// Experiment whose variant weights are set.
    pub experiment: String,
    /// The rendered queries, one entry per arm in arm order.
    pub queries: Vec<ArmQueries>,
    /// How the answers are read.
    pub reward: RewardQueries,
    /// The config every round's weights are written into.
    pub base_config: FilterConfig,
}

impl BanditPlan {
    /// Checks the spec against the Rollout: arms are variants of its experiment (default:
    /// all of them), a Prometheus source is configured, the window spans at least 4 scrape
    /// intervals (so `increase()` has samples).
    pub fn new(spec: &BanditSpec, rollout: &Rollout) -> Result<Self, RolloutError> {
        let experiment = rollout
            .base_config
            .experiments
            .iter()
            .find(|e| e.id == rollout.experiment)
            .ok_or_else(|| {
                RolloutError::spec(
                    "spec.experiment",
                    format!("{:?} is not in the base config", rollout.experiment),
                )
            })?;
        let variants: Vec<String> = experiment.variants.iter().map(|v| v.name.clone()).collect();
        let arms = if spec.arms.is_empty() {
            variants.clone()
        } else {
            spec.arms.clone()
        };
        for (i, arm) in arms.iter().enumerate() {
            if !variants.contains(arm) {
                return Err(RolloutError::spec(
                    format!("spec.arms[{i}]"),
                    format!(
                        "{arm:?} is not a variant of experiment {:?} (variants: {})",
                        rollout.experiment,
                        variants.join(", ")
                    ),
                ));
            }
        }
        let prometheus = rollout.prometheus.as_ref().ok_or_else(|| {
            RolloutError::spec(
                "spec.prometheus",
                format!(
                    "the rollout {} has no Prometheus source; a bandit reads its rewards there",
                    spec.rollout.display()
                ),
            )
        })?;
        let min_window = prometheus.scrape_interval_ms.saturating_mul(4);
        if spec.window_ms < min_window {
            return Err(RolloutError::spec(
                "spec.reward.window",
                format!(
                    "{} is shorter than 4 scrape intervals ({}); increase() needs samples",
                    spec.window(),
                    crate::duration::format_duration_ms(min_window)
                ),
            ));
        }
        let queries = render_arm_queries(
            &spec.reward,
            &rollout.experiment,
            &rollout.namespace,
            &spec.window(),
            &arms,
        )
        .map_err(|e| RolloutError::spec("spec.reward", e))?;
        Ok(Self {
            experiment: rollout.experiment.clone(),
            queries,
            reward: spec.reward.clone(),
            base_config: rollout.base_config.clone(),
        })
    }

    /// Arm counts from the answers to [`Self::queries`] (`(first, second)` per arm, in order).
    pub fn rewards(
        &self,
        answers: &[(QueryResult, QueryResult)],
    ) -> Result<Vec<ArmStats>, RewardError> {
        self.queries
            .iter()
            .zip(answers)
            .map(|(q, (first, second))| arm_stats(&self.reward, &q.arm, first, second))
            .collect()
    }
}

/// `base` with `experiment`'s variant weights set from `allocation` (variants that are not
/// arms get 0), validated by the filter's validator.
pub fn weighted_config(
    base: &FilterConfig,
    experiment: &str,
    allocation: &Allocation,
) -> Result<FilterConfig, RolloutError> {
    let mut config = base.clone();
    let target = config
        .experiments
        .iter_mut()
        .find(|e| e.id == experiment)
        .ok_or_else(|| {
            RolloutError::Other(format!(
                "experiment {experiment:?} is not in the base config"
            ))
        })?;
    for arm in &allocation.arms {
        if !target.variants.iter().any(|v| v.name == *arm) {
            return Err(RolloutError::Other(format!(
                "arm {arm:?} is not a variant of experiment {experiment:?}"
            )));
        }
    }
    for variant in &mut target.variants {
        let position = allocation.arms.iter().position(|a| *a == variant.name);
        variant.weight = position.map_or(0, |i| allocation.weights_bp[i]);
    }
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests;
