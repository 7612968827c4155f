//! The one config parser: serde's derive on the schema types (`deny_unknown_fields`), run
//! through `serde_path_to_error` so a shape error names the JSON path of the offending value.

use super::{ConfigError, FilterConfig};
use serde_json::error::Category;
use serde_json::Value;

/// Shown as the path of an error about the document itself (not an object, ...).
const TOP_LEVEL: &str = "(top level)";

/// Parses JSON text into a [`FilterConfig`] (no semantic validation).
///
/// Text that is not JSON gives a path of `line L, column C`; JSON of the wrong shape gives the
/// JSON path (`experiments[1].variants[0].weight`), with a missing field's name appended.
pub(crate) fn from_slice(bytes: &[u8]) -> Result<FilterConfig, ConfigError> {
    let document: Value = serde_json::from_slice(bytes).map_err(|err| shape_error("", &err))?;
    refuse_positional_objects(&document)?;
    serde_path_to_error::deserialize(&document)
        .map_err(|err| shape_error(&err.path().to_string(), err.inner()))
}

/// serde's derive also reads a struct from a JSON array (fields by position), so `[1]` would
/// read as `{"version": 1}`. The contract is objects: refuse an array wherever an object is due.
fn refuse_positional_objects(document: &Value) -> Result<(), ConfigError> {
    let objects = |value: Option<&Value>, path: String| match value {
        Some(Value::Array(_)) => Err(ConfigError::Syntax {
            path: if path.is_empty() {
                TOP_LEVEL.to_string()
            } else {
                path
            },
            message: "invalid type: array, expected an object".to_string(),
        }),
        _ => Ok(()),
    };
    objects(Some(document), String::new())?;
    objects(document.get("unit"), "unit".to_string())?;
    let Some(Value::Array(experiments)) = document.get("experiments") else {
        return Ok(());
    };
    for (index, experiment) in experiments.iter().enumerate() {
        let path = format!("experiments[{index}]");
        objects(Some(experiment), path.clone())?;
        for key in ["match", "shadow", "guard", "layer"] {
            objects(experiment.get(key), format!("{path}.{key}"))?;
        }
        let compare = experiment.get("shadow").and_then(|s| s.get("compare"));
        objects(compare, format!("{path}.shadow.compare"))?;
        if let Some(Value::Array(variants)) = experiment.get("variants") {
            for (v, variant) in variants.iter().enumerate() {
                objects(Some(variant), format!("{path}.variants[{v}]"))?;
            }
        }
    }
    Ok(())
}

fn shape_error(path: &str, err: &serde_json::Error) -> ConfigError {
    if matches!(
        err.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return ConfigError::Syntax {
            path: format!("line {}, column {}", err.line(), err.column()),
            message: err.to_string(),
        };
    }
    // serde_json appends " at line L column C" to data errors: the path says more.
    let full = err.to_string();
    let message = match full.rfind(" at line ") {
        Some(end) => full.get(..end).unwrap_or(&full),
        None => &full,
    };
    let mut path = if path == "." {
        String::new()
    } else {
        path.to_string()
    };
    if let Some(name) = missing_field(message) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
    }
    if path.is_empty() {
        path = TOP_LEVEL.to_string();
    }
    ConfigError::Syntax {
        path,
        message: plain_words(message),
    }
}

/// The field name of serde's "missing field `name`".
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
}

/// serde names Rust types ("expected u32", "expected struct Variant"); say it in JSON terms.
fn plain_words(message: &str) -> String {
    let mut text = message
        .replace("expected u32", "expected an integer in 0..=4294967295")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected an array");
    if let Some(start) = text.find("expected struct ") {
        text.truncate(start);
        text.push_str("expected an object");
    } else if let Some(start) = text.find("expected a map") {
        text.truncate(start);
        text.push_str("expected an object");
    }
    text
}
