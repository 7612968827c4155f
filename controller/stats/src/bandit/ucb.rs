//! UCB1 (Auer et al. 2002): score = mean + sqrt(2 ln N / n_i). Deterministic; the arm with the
//! highest score gets the traffic, arms never served come first.

use super::{argmax, mean_reward, ArmStats};

/// One-hot allocation on the UCB1 winner (shared evenly among unserved arms if any).
pub fn ucb1(arms: &[ArmStats]) -> Vec<f64> {
    let unserved: Vec<usize> = (0..arms.len()).filter(|&i| arms[i].total == 0).collect();
    let mut probabilities = vec![0.0; arms.len()];
    if !unserved.is_empty() {
        for &i in &unserved {
            probabilities[i] = 1.0 / unserved.len() as f64;
        }
        return probabilities;
    }
    let total: f64 = arms.iter().map(|a| a.total as f64).sum();
    let scores: Vec<f64> = arms
        .iter()
        .map(|a| mean_reward(a) + (2.0 * total.ln() / a.total as f64).sqrt())
        .collect();
    probabilities[argmax(&scores)] = 1.0;
    probabilities
}
