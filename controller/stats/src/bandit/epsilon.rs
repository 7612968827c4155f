//! Epsilon-greedy: 1 - ε to the arm with the best observed mean, ε spread evenly over all arms.

use super::{argmax, mean_reward, ArmStats};
use crate::error::StatsError;

/// Allocation that exploits the best observed mean and explores with share `epsilon`.
pub fn epsilon_greedy(arms: &[ArmStats], epsilon: f64) -> Result<Vec<f64>, StatsError> {
    if !(epsilon.is_finite() && (0.0..=1.0).contains(&epsilon)) {
        return Err(StatsError::invalid(
            "epsilon",
            format!("must be within [0, 1] (typically 0.05–0.1), got {epsilon}"),
        ));
    }
    let means: Vec<f64> = arms.iter().map(mean_reward).collect();
    let best = argmax(&means);
    let k = arms.len() as f64;
    Ok((0..arms.len())
        .map(|i| epsilon / k + if i == best { 1.0 - epsilon } else { 0.0 })
        .collect())
}
