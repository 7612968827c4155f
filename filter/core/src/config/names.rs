//! Syntax rules for the names a config carries: header names, cookie names, cluster names and
//! values that become metric labels.

use super::validate::invalid;
use super::ConfigError;

/// The text with control characters shown as `?`, safe to put in a log line.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `Ok` when `valid`, else the error at `path` that `rule` words around the printable value.
fn require(
    path: &str,
    value: &str,
    valid: bool,
    rule: impl FnOnce(String) -> String,
) -> Result<(), ConfigError> {
    if valid {
        Ok(())
    } else {
        Err(invalid(path, rule(printable(value))))
    }
}

/// HTTP token characters besides letters and digits (RFC 9110 `tchar`).
const TOKEN_PUNCTUATION: &[u8] = b"!#$%&'*+-.^_`|~";

/// Header names must be lower-case HTTP tokens (RFC 9110 `tchar`), as Envoy stores them.
pub(crate) fn check_header_name(path: &str, name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || TOKEN_PUNCTUATION.contains(&b)
        });
    require(path, name, valid, |name| {
        format!(
            "header name \"{name}\" must be a non-empty lower-case HTTP token (a-z, 0-9, -, _, ...)"
        )
    })
}

/// Cookie names are HTTP tokens (case preserved).
pub(crate) fn check_cookie_name(path: &str, name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || TOKEN_PUNCTUATION.contains(&b));
    require(path, name, valid, |name| {
        format!("cookie name \"{name}\" must be a non-empty HTTP token")
    })
}

/// Cluster names are set as a header value: non-empty, no whitespace, no control characters.
pub(crate) fn check_cluster(path: &str, cluster: &str) -> Result<(), ConfigError> {
    let valid = !cluster.is_empty() && cluster.bytes().all(|b| b > b' ' && b != 0x7f);
    require(path, cluster, valid, |cluster| {
        format!(
            "cluster name \"{cluster}\" must be non-empty with no whitespace or control characters"
        )
    })
}

/// Experiment ids and variant names travel in headers and metric labels:
/// `[A-Za-z0-9._-]`, 1 to 128 characters.
pub(crate) fn check_label_value(path: &str, value: &str) -> Result<(), ConfigError> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    require(path, value, valid, |value| {
        format!("\"{value}\" must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
    })
}
