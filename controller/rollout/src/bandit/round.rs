//! One bandit round (the IO adapter): query every arm's reward, allocate, push the weights.

use super::{weighted_config, BanditPlan};
use crate::error::RolloutError;
use crate::prometheus::QuerySource;
use crate::sinks::ConfigSink;
use rollgate_stats::bandit::{allocate, Allocation, ArmStats, BanditAlgorithm};

/// What a round measured and pushed.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    /// Arm counts read from the queries.
    pub rewards: Vec<ArmStats>,
    /// The allocation (probabilities and basis points after the floor).
    pub allocation: Allocation,
    /// Version the sink holds after the push.
    pub version: u64,
}

/// Runs one round: every query of `plan` on `source`, rewards, `algorithm` with
/// `min_weight_bp` per arm, then a push at the destination's next version. A failed query
/// fails the round before anything is pushed (a bandit never acts on a failed query).
pub async fn run_round<Q: QuerySource>(
    plan: &BanditPlan,
    source: &Q,
    sink: &ConfigSink,
    algorithm: BanditAlgorithm,
    min_weight_bp: u32,
) -> Result<RoundReport, RolloutError> {
    let mut answers = Vec::with_capacity(plan.queries.len());
    for arm in &plan.queries {
        answers.push((
            source.query(&arm.first).await,
            source.query(&arm.second).await,
        ));
    }
    let rewards = plan
        .rewards(&answers)
        .map_err(|e| RolloutError::Other(format!("round skipped, nothing pushed: {}", e.0)))?;
    let allocation = allocate(&rewards, algorithm, min_weight_bp)
        .map_err(|e| RolloutError::Other(format!("bandit allocation: {e}")))?;
    let config = weighted_config(&plan.base_config, &plan.experiment, &allocation)?;
    let version = sink.push_next(&config).await?;
    Ok(RoundReport {
        rewards,
        allocation,
        version,
    })
}
