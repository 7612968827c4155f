//! Reading a Rollout spec file and the base filter config it points at.

use super::model::Rollout;
use super::raw::RawRollout;
use super::validate::{resolve, validate};
use crate::error::RolloutError;
use rollgate_core::config::FilterConfig;
use std::path::Path;

/// Reads, parses and validates the Rollout spec at `path` (relative paths inside it are
/// resolved against its directory).
pub fn load_rollout(path: &Path) -> Result<Rollout, RolloutError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RolloutError::io("reading the rollout spec", path, e))?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    parse_rollout(&text, dir)
}

/// Parses and validates spec text; `spec_dir` is where relative paths start.
pub fn parse_rollout(text: &str, spec_dir: &Path) -> Result<Rollout, RolloutError> {
    let raw: RawRollout = serde_yaml::from_str(text).map_err(yaml_error)?;
    let base_path = resolve(spec_dir, &raw.spec.base_config);
    let base_text = std::fs::read(&base_path).map_err(|e| {
        RolloutError::spec(
            "spec.base_config",
            format!("cannot read {}: {e}", base_path.display()),
        )
    })?;
    let base = FilterConfig::from_json(&base_text).map_err(|e| {
        RolloutError::spec(
            "spec.base_config",
            format!("{} is refused by the filter: {e}", base_path.display()),
        )
    })?;
    validate(raw, spec_dir, base)
}

/// Turns a YAML error into a spec error: serde_yaml prefixes the message with the field path
/// (`spec.gates[1]: unknown field ...`), which becomes the error's field.
fn yaml_error(err: serde_yaml::Error) -> RolloutError {
    let text = err.to_string();
    match text.split_once(": ") {
        Some((field, message)) if !field.contains(' ') && !field.is_empty() => {
            RolloutError::spec(field, message)
        }
        _ => RolloutError::spec("(document)", text),
    }
}
