//! Pearson chi-squared test of independence on a variants × outcomes table, without continuity
//! correction (scipy `chi2_contingency(table, correction=False)`).

use serde::Serialize;

use crate::dist::chi2_sf;
use crate::error::StatsError;

/// Result of [`chi_squared_contingency`] and [`crate::srm::srm_check`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChiSquaredResult {
    /// Pearson's X² statistic.
    pub statistic: f64,
    /// Upper-tail p-value.
    pub p_value: f64,
    /// Degrees of freedom.
    pub dof: u64,
    /// Expected counts under the null hypothesis, same shape as the input.
    pub expected: Vec<Vec<f64>>,
}

/// Pearson chi-squared test of independence; rows are variants, columns outcomes.
///
/// Errors when the table is not rectangular, has fewer than 2 rows or columns, or has a row or
/// column summing to 0 (its expected counts would be 0, like scipy's error).
pub fn chi_squared_contingency(table: &[Vec<u64>]) -> Result<ChiSquaredResult, StatsError> {
    let rows = table.len();
    let cols = table.first().map_or(0, Vec::len);
    if rows < 2 || cols < 2 {
        return Err(StatsError::invalid(
            "table",
            format!("needs at least 2 rows (variants) and 2 columns (outcomes), got {rows}×{cols}"),
        ));
    }
    if let Some(r) = table.iter().position(|row| row.len() != cols) {
        return Err(StatsError::invalid(
            format!("table[{r}]"),
            format!(
                "has {} columns but row 0 has {cols}; rows must be equally long",
                table[r].len()
            ),
        ));
    }
    let row_sums: Vec<f64> = table
        .iter()
        .map(|row| row.iter().map(|&x| x as f64).sum())
        .collect();
    let col_sums: Vec<f64> = (0..cols)
        .map(|c| table.iter().map(|row| row[c] as f64).sum())
        .collect();
    if let Some(r) = row_sums.iter().position(|&s| s == 0.0) {
        return Err(StatsError::invalid(
            format!("table[{r}]"),
            "row sums to 0, so its expected counts are 0; drop the empty variant",
        ));
    }
    if let Some(c) = col_sums.iter().position(|&s| s == 0.0) {
        return Err(StatsError::invalid(
            "table",
            format!("column {c} sums to 0, so its expected counts are 0; drop the empty outcome"),
        ));
    }
    let total: f64 = row_sums.iter().sum();
    let mut statistic = 0.0;
    let mut expected = Vec::with_capacity(rows);
    for (r, row) in table.iter().enumerate() {
        let mut expected_row = Vec::with_capacity(cols);
        for (c, &observed) in row.iter().enumerate() {
            let e = row_sums[r] * col_sums[c] / total;
            let d = observed as f64 - e;
            statistic += d * d / e;
            expected_row.push(e);
        }
        expected.push(expected_row);
    }
    let dof = ((rows - 1) * (cols - 1)) as u64;
    Ok(ChiSquaredResult {
        statistic,
        p_value: chi2_sf(statistic, dof as f64),
        dof,
        expected,
    })
}
