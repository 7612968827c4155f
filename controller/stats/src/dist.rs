//! Thin, accurate wrappers over statrs distributions (normal, Student t, chi-squared).
//!
//! Quantiles are refined with Newton steps on the CDF so that critical values match scipy's
//! `ppf`/`isf` to double precision, which statrs' own inverse does not always reach.

use statrs::distribution::{ChiSquared, Continuous, ContinuousCDF, StudentsT};
use statrs::function::erf;

/// Standard normal CDF, Φ(x).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erf::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal survival function, 1 - Φ(x), accurate in the far tail.
pub fn normal_sf(x: f64) -> f64 {
    0.5 * erf::erfc(x / std::f64::consts::SQRT_2)
}

/// Standard normal density.
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal quantile, Φ⁻¹(p) (scipy `norm.ppf`).
pub fn normal_ppf(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erf::erfc_inv(2.0 * p)
}

/// Standard normal inverse survival function (scipy `norm.isf`).
pub fn normal_isf(p: f64) -> f64 {
    std::f64::consts::SQRT_2 * erf::erfc_inv(2.0 * p)
}

fn students_t(df: f64) -> Option<StudentsT> {
    StudentsT::new(0.0, 1.0, df).ok()
}

/// Student t CDF with `df` degrees of freedom (NaN if `df` is not positive).
pub fn t_cdf(x: f64, df: f64) -> f64 {
    students_t(df).map_or(f64::NAN, |d| d.cdf(x))
}

/// Student t survival function (scipy `t.sf`).
pub fn t_sf(x: f64, df: f64) -> f64 {
    students_t(df).map_or(f64::NAN, |d| d.sf(x))
}

/// Two-sided p-value of a t statistic: 2 · sf(|t|), clipped to 1.
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    (2.0 * t_sf(t.abs(), df)).min(1.0)
}

/// Student t quantile (scipy `t.ppf`), refined by Newton steps on the CDF.
pub fn t_ppf(p: f64, df: f64) -> f64 {
    let Some(dist) = students_t(df) else {
        return f64::NAN;
    };
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    // Work in the lower tail for accuracy, then mirror.
    let (q, sign) = if p > 0.5 { (1.0 - p, 1.0) } else { (p, -1.0) };
    let mut x = dist.inverse_cdf(q);
    if !x.is_finite() {
        x = normal_ppf(q);
    }
    for _ in 0..8 {
        let f = dist.cdf(x) - q;
        let d = dist.pdf(x);
        if d <= 0.0 || !d.is_finite() {
            break;
        }
        let step = f / d;
        x -= step;
        if step.abs() <= 1e-15 * x.abs().max(1e-300) {
            break;
        }
    }
    // x is the lower-tail quantile (negative); mirror for the upper tail.
    if sign > 0.0 {
        -x
    } else {
        x
    }
}

/// Chi-squared survival function (scipy `chi2.sf`).
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    ChiSquared::new(df).map_or(f64::NAN, |d| d.sf(x))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn quantiles_match_scipy() {
        // scipy.stats.norm.ppf(0.975) -> 1.959963984540054
        assert!(close(normal_ppf(0.975), 1.959963984540054, 1e-12));
        // scipy.stats.t.ppf(0.975, 10) -> 2.228138851986274
        assert!(close(t_ppf(0.975, 10.0), 2.228138851986274, 1e-12));
        // scipy.stats.t.ppf(0.025, 3.5) -> -2.9400886379827296
        assert!(close(t_ppf(0.025, 3.5), -2.9400886379827296, 1e-12));
        // scipy.stats.t.ppf(0.995, 33000) -> 2.575978297952835
        assert!(close(t_ppf(0.995, 33000.0), 2.575978297952835, 1e-10));
    }

    #[test]
    fn tails_are_accurate() {
        // scipy.stats.norm.sf(10) -> 7.61985302416047e-24
        assert!(close(normal_sf(10.0), 7.61985302416047e-24, 1e-9));
        // scipy.stats.chi2.sf(3.84, 1) -> 0.05004352124870519
        assert!(close(chi2_sf(3.84, 1.0), 0.05004352124870519, 1e-12));
    }
}
