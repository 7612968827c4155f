//! Corrections for testing several metrics at once (statsmodels `multipletests` with
//! `method="bonferroni"` and `method="holm"`). A hypothesis is rejected when its corrected
//! p-value is at most alpha, as statsmodels does.

use serde::Serialize;

use crate::error::{check_probability, StatsError};

/// Which family-wise error correction to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Multiply every p-value by the number of tests.
    Bonferroni,
    /// Holm's step-down procedure (uniformly more powerful than Bonferroni).
    Holm,
}

/// Corrected p-values and rejections, in the input order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrectionResult {
    /// Corrected p-values, clipped to 1.
    pub p_values: Vec<f64>,
    /// Whether each hypothesis is rejected at the family-wise level alpha.
    pub reject: Vec<bool>,
}

/// Applies `correction` to `p_values` at family-wise level `alpha`.
pub fn correct(
    p_values: &[f64],
    alpha: f64,
    correction: Correction,
) -> Result<CorrectionResult, StatsError> {
    check_probability("alpha", alpha)?;
    if p_values.is_empty() {
        return Err(StatsError::invalid(
            "p_values",
            "must contain at least one p-value",
        ));
    }
    if let Some(i) = p_values.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(StatsError::invalid(
            format!("p_values[{i}]"),
            format!("must be within [0, 1], got {}", p_values[i]),
        ));
    }
    let m = p_values.len() as f64;
    let corrected = match correction {
        Correction::Bonferroni => p_values.iter().map(|p| (p * m).min(1.0)).collect(),
        Correction::Holm => {
            let mut order: Vec<usize> = (0..p_values.len()).collect();
            order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
            let mut corrected = vec![0.0; p_values.len()];
            let mut running_max: f64 = 0.0;
            for (rank, &i) in order.iter().enumerate() {
                running_max = running_max.max(p_values[i] * (m - rank as f64));
                corrected[i] = running_max.min(1.0);
            }
            corrected
        }
    };
    let reject = corrected.iter().map(|&p| p <= alpha).collect();
    Ok(CorrectionResult {
        p_values: corrected,
        reject,
    })
}
