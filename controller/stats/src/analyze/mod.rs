//! The `rollgate analyze --json` contract as a pure function: one JSON request in, one JSON
//! result out (DESIGN.md, "`rollgate analyze` contract"). The CLI and the REST API both call
//! [`analyze`]; neither does any statistics itself.
//!
//! Tests: `two_proportion_z`, `welch_t`, `student_t`, `mann_whitney_u`, `chi_squared`, `srm`,
//! `sample_size`, `cuped`, `ratio_delta`, plus `sequential`, `bonferroni`, `holm` and
//! `bootstrap`. Every test takes
//! `confidence` (default 0.95). Sign convention: treatment minus control. Non-finite numbers
//! never appear in the output (they become `null`).

mod comparisons;
mod fields;
mod tables;
mod variance;

use serde_json::{Map, Value};

use crate::error::{alpha_from_confidence, StatsError};
use fields::Obj;

/// Names of the tests [`analyze`] accepts in the `test` field.
pub const TESTS: &[&str] = &[
    "two_proportion_z",
    "welch_t",
    "student_t",
    "mann_whitney_u",
    "chi_squared",
    "srm",
    "sample_size",
    "sequential",
    "bonferroni",
    "holm",
    "bootstrap",
    "cuped",
    "ratio_delta",
];

/// Runs the test named by the request's `test` field and returns the result object.
pub fn analyze(request: &Value) -> Result<Value, StatsError> {
    let root = Obj::root(request)?;
    let test = root.string("test")?;
    let confidence = root.opt_f64("confidence", 0.95)?;
    alpha_from_confidence(confidence)?;
    let mut out = match test {
        "two_proportion_z" => comparisons::two_proportion(&root, confidence)?,
        "welch_t" => comparisons::t(&root, confidence, crate::ttest::TTestKind::Welch)?,
        "student_t" => comparisons::t(&root, confidence, crate::ttest::TTestKind::Student)?,
        "mann_whitney_u" => comparisons::mann_whitney(&root, confidence)?,
        "sequential" => comparisons::sequential(&root, confidence)?,
        "bootstrap" => comparisons::bootstrap(&root, confidence)?,
        "cuped" => variance::cuped(&root, confidence)?,
        "ratio_delta" => variance::ratio_delta(&root, confidence)?,
        "chi_squared" => tables::chi_squared(&root, confidence)?,
        "srm" => tables::srm(&root)?,
        "sample_size" => tables::sample_size(&root, confidence)?,
        "bonferroni" => {
            tables::correction(&root, confidence, crate::multiple::Correction::Bonferroni)?
        }
        "holm" => tables::correction(&root, confidence, crate::multiple::Correction::Holm)?,
        other => {
            return Err(StatsError::invalid(
                "test",
                format!(
                    "unknown test {other:?}; expected one of {}",
                    TESTS.join(", ")
                ),
            ))
        }
    };
    if let Value::Object(map) = &mut out {
        map.insert("test".into(), Value::from(test));
        map.insert("confidence".into(), Value::from(confidence));
    }
    Ok(finite_only(out))
}

/// The error object the contract prints: `{"error": "..."}` plus the field at fault.
pub fn error_json(err: &StatsError) -> Value {
    let mut map = Map::new();
    map.insert("error".into(), Value::from(err.to_string()));
    map.insert("field".into(), Value::from(err.field()));
    Value::Object(map)
}

/// Replaces every non-finite number by `null` (JSON has no NaN or infinity).
fn finite_only(value: Value) -> Value {
    match value {
        Value::Number(n) if n.as_f64().is_some_and(|x| !x.is_finite()) => Value::Null,
        Value::Array(items) => Value::Array(items.into_iter().map(finite_only).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, finite_only(v))).collect())
        }
        other => other,
    }
}
