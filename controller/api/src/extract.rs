//! Request extractors that answer with [`ApiError`]: JSON bodies (content type, size limit,
//! unknown fields, field paths), `If-Match` versions and paging.

use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Default largest request body, in bytes.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body parsed into `T`; every failure is a problem+json naming the field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: DEFAULT_BODY_LIMIT,
                }
            } else {
                ApiError::BadBody {
                    field: ".".into(),
                    message: rejection.body_text(),
                }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON text into `T`, naming the path of the first bad value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("malformed JSON: {inner}")
        } else {
            inner.to_string()
        };
        ApiError::BadBody { field, message }
    })?;
    deserializer.end().map_err(|e| ApiError::BadBody {
        field: ".".into(),
        message: format!("malformed JSON: {e}"),
    })?;
    Ok(value)
}

/// The version an `If-Match` header names (`"3"`, `W/"3"` or `3`); 428 when absent.
pub fn if_match(headers: &HeaderMap, current: i64) -> ApiResult<()> {
    let raw = headers
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?;
    let text = raw.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(());
    }
    let matches = text.split(',').any(|tag| {
        let tag = tag.trim().trim_start_matches("W/").trim_matches('"');
        tag.parse::<i64>().ok() == Some(current)
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed {
            given: text.to_string(),
            current,
        })
    }
}

/// The `ETag` value of a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// `?limit=&offset=` of list endpoints.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Items skipped (default 0).
    pub offset: Option<u32>,
}

impl Paging {
    /// Parses and checks the query string.
    pub fn from_query(query: Option<&str>) -> ApiResult<Self> {
        let paging: Paging = serde_urlencoded_like(query.unwrap_or(""))?;
        if let Some(limit) = paging.limit {
            if !(1..=500).contains(&limit) {
                return Err(ApiError::invalid(
                    "limit",
                    format!("{limit} must be between 1 and 500"),
                ));
            }
        }
        Ok(paging)
    }

    /// Limit with the default applied.
    pub fn limit(&self) -> i64 {
        i64::from(self.limit.unwrap_or(50))
    }

    /// Offset with the default applied.
    pub fn offset(&self) -> i64 {
        i64::from(self.offset.unwrap_or(0))
    }
}

/// Parses `a=1&b=2` into a struct of optional numbers / strings through a JSON object, so
/// unknown keys and bad numbers are refused with the key's name.
pub fn serde_urlencoded_like<T: DeserializeOwned>(query: &str) -> ApiResult<T> {
    let mut object = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        let json = match value.parse::<u64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(value),
        };
        object.insert(percent_decode(key), json);
    }
    serde_json::from_value::<T>(serde_json::Value::Object(object))
        .map_err(|e| ApiError::invalid("query", e.to_string()))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let escaped = match (byte, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(if byte == b'+' { b' ' } else { byte });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
