//! Beta variates from a seeded generator (Marsaglia–Tsang gamma method), written here because
//! statrs' samplers are built on a different `rand` major version than the workspace.

use rand::Rng;

/// Standard normal variate (Marsaglia polar method).
fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    loop {
        let u: f64 = rng.random::<f64>() * 2.0 - 1.0;
        let v: f64 = rng.random::<f64>() * 2.0 - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

/// Gamma(shape, 1) variate for shape >= 1 (Marsaglia & Tsang 2000).
fn gamma_at_least_one<R: Rng>(rng: &mut R, shape: f64) -> f64 {
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = standard_normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// Beta(a, b) variate for a, b >= 1.
pub fn beta<R: Rng>(rng: &mut R, a: f64, b: f64) -> f64 {
    let x = gamma_at_least_one(rng, a);
    let y = gamma_at_least_one(rng, b);
    x / (x + y)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn beta_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (a, b) = (3.0, 9.0);
        let n = 20_000;
        let draws: Vec<f64> = (0..n).map(|_| beta(&mut rng, a, b)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        // Beta(3, 9): mean 0.25, variance ab / ((a+b)^2 (a+b+1)) = 27 / 1872.
        assert!((mean - 0.25).abs() < 0.003, "mean {mean}");
        assert!((var - 27.0 / 1872.0).abs() < 0.0008, "var {var}");
    }
}
