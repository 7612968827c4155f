//! Bearer tokens → tenants. `tokens.yaml` lists `tenants: [{name, token_sha256}]`, so no token
//! is stored in clear; a request's token is hashed and compared in constant time with every
//! entry.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;
use thiserror::Error;

/// Why a tokens file was refused.
#[derive(Debug, Error)]
pub enum TokensError {
    /// The file could not be read.
    #[error("cannot read tokens file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not the expected YAML.
    #[error("tokens file {path}: {message} (expected `tenants: [{{name, token_sha256}}]`)")]
    Parse {
        /// The file.
        path: String,
        /// Parser message.
        message: String,
    },
    /// A rule is broken.
    #[error("tokens file {path}: `{field}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Field at fault, e.g. `tenants[1].token_sha256`.
        field: String,
        /// What to fix.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tenants: Vec<TenantEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantEntry {
    name: String,
    token_sha256: String,
}

/// The tenants the server knows, with the SHA-256 of their tokens.
#[derive(Debug, Clone, Default)]
pub struct TenantTokens {
    entries: Vec<(String, [u8; 32])>,
}

impl TenantTokens {
    /// Reads and checks a tokens file.
    pub fn load(path: &Path) -> Result<Self, TokensError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokensError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses the YAML text of a tokens file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, TokensError> {
        let file: TokensFile = serde_yaml::from_str(text).map_err(|e| TokensError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |field: String, message: &str| TokensError::Invalid {
            path: origin.to_string(),
            field,
            message: message.to_string(),
        };
        let mut entries = Vec::with_capacity(file.tenants.len());
        for (index, entry) in file.tenants.into_iter().enumerate() {
            if !crate::validate::is_label(&entry.name) {
                return Err(invalid(
                    format!("tenants[{index}].name"),
                    "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
                ));
            }
            if entries.iter().any(|(name, _)| *name == entry.name) {
                return Err(invalid(
                    format!("tenants[{index}].name"),
                    "duplicate tenant name",
                ));
            }
            let mut hash = [0u8; 32];
            hex::decode_to_slice(entry.token_sha256.trim(), &mut hash).map_err(|_| {
                invalid(
                    format!("tenants[{index}].token_sha256"),
                    "must be 64 hex digits: the SHA-256 of the token (`printf %s TOKEN | sha256sum`)",
                )
            })?;
            entries.push((entry.name, hash));
        }
        Ok(TenantTokens { entries })
    }

    /// Builds the table from `(tenant, token)` pairs (tests, embedding).
    pub fn from_plain_tokens<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let entries = pairs
            .into_iter()
            .map(|(name, token)| (name.to_string(), sha256(token)))
            .collect();
        TenantTokens { entries }
    }

    /// The tenant whose token this is. Every entry is compared, each in constant time, so the
    /// answer time does not depend on which entry (or how much of a hash) matched.
    pub fn tenant_for(&self, token: &str) -> Option<&str> {
        let hash = sha256(token);
        let mut found = None;
        for (name, expected) in &self.entries {
            if constant_time_eq(&hash, expected) {
                found = Some(name.as_str());
            }
        }
        found
    }

    /// Number of tenants.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no tenant is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// SHA-256 of a token.
pub fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two hashes without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff == 0
}

/// The authenticated tenant of a request (extractor: 401 without a valid bearer token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::Unauthorized);
        }
        state
            .tokens
            .tenant_for(token.trim())
            .map(|name| Tenant(name.to_string()))
            .ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_hashed_tokens() {
        let hash = hex::encode(sha256("s3cret"));
        let text = format!(
            "tenants:\n- name: acme\n  token_sha256: {hash}\n- name: globex\n  token_sha256: {}\n",
            hex::encode(sha256("other"))
        );
        let tokens = TenantTokens::parse(&text, "t.yaml").unwrap();
        assert_eq!(tokens.tenant_for("s3cret"), Some("acme"));
        assert_eq!(tokens.tenant_for("other"), Some("globex"));
        assert_eq!(tokens.tenant_for("s3cret "), None);
        assert_eq!(
            tokens.tenant_for(&hash),
            None,
            "the hash itself is not a token"
        );
    }

    #[test]
    fn refuses_bad_hash_and_unknown_fields() {
        let err = TenantTokens::parse("tenants:\n- name: acme\n  token_sha256: xyz\n", "t.yaml")
            .unwrap_err();
        assert!(err.to_string().contains("tenants[0].token_sha256"), "{err}");
        let err =
            TenantTokens::parse("tenants:\n- name: acme\n  token: abc\n", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
