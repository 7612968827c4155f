//! Shared assertion helper for the scipy/statsmodels comparison tests.

/// Asserts `actual` is within relative tolerance `rel` of `expected` (absolute near 0).
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, rel: f64) {
    let scale = expected.abs().max(1e-300);
    let ok = if expected == 0.0 {
        actual.abs() <= rel
    } else {
        (actual - expected).abs() <= rel * scale
    };
    assert!(
        ok,
        "actual {actual:?} vs expected {expected:?} (rel tol {rel:e})"
    );
}
