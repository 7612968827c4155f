//! Thompson sampling for Bernoulli rewards: P(arm is best) under Beta(1 + successes,
//! 1 + failures) posteriors, estimated from seeded Monte Carlo draws.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{argmax, sampling, ArmStats};
use crate::error::StatsError;

/// Probability that each arm has the highest conversion rate, from `draws` joint draws.
pub fn thompson_sampling(
    arms: &[ArmStats],
    draws: usize,
    seed: u64,
) -> Result<Vec<f64>, StatsError> {
    if draws == 0 {
        return Err(StatsError::invalid(
            "draws",
            "must be at least 1 (10000 recommended)",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut wins = vec![0u64; arms.len()];
    let mut sample = vec![0.0; arms.len()];
    for _ in 0..draws {
        for (slot, arm) in sample.iter_mut().zip(arms) {
            let failures = arm.total - arm.successes;
            *slot = sampling::beta(&mut rng, 1.0 + arm.successes as f64, 1.0 + failures as f64);
        }
        wins[argmax(&sample)] += 1;
    }
    Ok(wins.iter().map(|&w| w as f64 / draws as f64).collect())
}
