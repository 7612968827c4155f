//! Probabilities → integer basis points summing to 10000, with a floor per arm
//! (largest-remainder rounding, ties to the earlier arm, so the result is deterministic).

use crate::error::StatsError;

/// Basis points in 100 %.
pub const TOTAL_BASIS_POINTS: u32 = 10_000;

/// Gives every arm `min_weight_bp`, then splits the rest in proportion to `probabilities`.
pub fn to_basis_points(probabilities: &[f64], min_weight_bp: u32) -> Result<Vec<u32>, StatsError> {
    let k = probabilities.len() as u32;
    if k == 0 {
        return Err(StatsError::invalid("arms", "needs at least one arm"));
    }
    if u64::from(min_weight_bp) * u64::from(k) > u64::from(TOTAL_BASIS_POINTS) {
        return Err(StatsError::invalid(
            "min_weight_bp",
            format!(
                "{min_weight_bp} bp for each of {k} arms exceeds 10000 bp; lower the floor to at \
                 most {}",
                TOTAL_BASIS_POINTS / k
            ),
        ));
    }
    if probabilities.iter().any(|p| !p.is_finite() || *p < 0.0) {
        return Err(StatsError::invalid(
            "probabilities",
            "must be finite and >= 0",
        ));
    }
    let sum: f64 = probabilities.iter().sum();
    let shares: Vec<f64> = if sum > 0.0 {
        probabilities.iter().map(|p| p / sum).collect()
    } else {
        vec![1.0 / f64::from(k); probabilities.len()]
    };
    let free = TOTAL_BASIS_POINTS - min_weight_bp * k;
    let exact: Vec<f64> = shares.iter().map(|s| s * f64::from(free)).collect();
    let mut weights: Vec<u32> = exact.iter().map(|x| x.floor() as u32).collect();
    let assigned: u32 = weights.iter().sum();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().take(free.saturating_sub(assigned) as usize) {
        weights[i] += 1;
    }
    for w in weights.iter_mut() {
        *w += min_weight_bp;
    }
    Ok(weights)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sums_to_total_and_respects_floor() {
        let w = to_basis_points(&[0.999, 0.001, 0.0], 100).unwrap();
        assert_eq!(w.iter().sum::<u32>(), 10_000);
        assert!(w.iter().all(|&x| x >= 100));
        assert_eq!(w, vec![9790, 110, 100]);
        let thirds = to_basis_points(&[1.0, 1.0, 1.0], 0).unwrap();
        assert_eq!(thirds, vec![3334, 3333, 3333]);
        assert!(to_basis_points(&[0.5, 0.5], 6000).is_err());
    }
}
