//! Multi-armed bandit allocation (seed 004): Thompson sampling for Bernoulli rewards, UCB1 and
//! epsilon-greedy. Each produces a probability per arm, turned into integer basis-point weights
//! that sum to 10000 with a minimum floor per arm, ready for the filter config.

mod epsilon;
mod sampling;
mod thompson;
mod ucb;
mod weights;

pub use epsilon::epsilon_greedy;
pub use thompson::thompson_sampling;
pub use ucb::ucb1;
pub use weights::{to_basis_points, TOTAL_BASIS_POINTS};

use serde::{Deserialize, Serialize};

use crate::error::StatsError;

/// Default minimum weight per arm: 100 bp = 1 %, so every arm keeps being measured.
pub const DEFAULT_MIN_WEIGHT_BP: u32 = 100;

/// Observed Bernoulli rewards of one arm (variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmStats {
    /// Variant name (as in the filter config).
    pub name: String,
    /// Rewarded units (conversions, successful predictions).
    pub successes: u64,
    /// Units served.
    pub total: u64,
}

/// Which bandit algorithm allocates the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanditAlgorithm {
    /// Traffic ∝ P(arm is best) under Beta(1 + s, 1 + f) posteriors, from `draws` seeded
    /// Monte Carlo draws.
    Thompson {
        /// Monte Carlo draws (10,000 is plenty for basis-point precision).
        draws: usize,
        /// Seed of the ChaCha8 stream.
        seed: u64,
    },
    /// All non-floor traffic to the arm with the highest mean + sqrt(2 ln N / n); arms never
    /// served share it first.
    Ucb1,
    /// 1 - ε to the best observed mean, ε spread evenly over all arms.
    EpsilonGreedy {
        /// Exploration share in (0, 1), typically 0.05–0.1.
        epsilon: f64,
    },
}

/// Traffic allocation for the arms, in input order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocation {
    /// Arm names.
    pub arms: Vec<String>,
    /// Share each arm should get before the floor (sums to 1).
    pub probabilities: Vec<f64>,
    /// Integer basis points after the floor; sums to 10000.
    pub weights_bp: Vec<u32>,
}

/// Allocates traffic with `algorithm`, then applies `min_weight_bp` per arm.
pub fn allocate(
    arms: &[ArmStats],
    algorithm: BanditAlgorithm,
    min_weight_bp: u32,
) -> Result<Allocation, StatsError> {
    validate_arms(arms)?;
    let probabilities = match algorithm {
        BanditAlgorithm::Thompson { draws, seed } => thompson_sampling(arms, draws, seed)?,
        BanditAlgorithm::Ucb1 => ucb1(arms),
        BanditAlgorithm::EpsilonGreedy { epsilon } => epsilon_greedy(arms, epsilon)?,
    };
    let weights_bp = to_basis_points(&probabilities, min_weight_bp)?;
    Ok(Allocation {
        arms: arms.iter().map(|a| a.name.clone()).collect(),
        probabilities,
        weights_bp,
    })
}

fn validate_arms(arms: &[ArmStats]) -> Result<(), StatsError> {
    if arms.len() < 2 {
        return Err(StatsError::invalid(
            "arms",
            format!("needs at least 2 arms, got {}", arms.len()),
        ));
    }
    for (i, arm) in arms.iter().enumerate() {
        if arm.successes > arm.total {
            return Err(StatsError::invalid(
                format!("arms[{i}].successes"),
                format!(
                    "{} successes exceed total {} for arm {:?}",
                    arm.successes, arm.total, arm.name
                ),
            ));
        }
        if arms[..i].iter().any(|a| a.name == arm.name) {
            return Err(StatsError::invalid(
                format!("arms[{i}].name"),
                format!("duplicate arm name {:?}", arm.name),
            ));
        }
    }
    Ok(())
}

/// Observed mean reward of an arm (0 when never served).
fn mean_reward(arm: &ArmStats) -> f64 {
    if arm.total == 0 {
        0.0
    } else {
        arm.successes as f64 / arm.total as f64
    }
}

/// Index of the largest value; ties go to the earliest arm.
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}
