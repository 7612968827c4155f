//! The API's one error type and its HTTP mapping: RFC 7807 `application/problem+json`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a request can fail with. Each variant maps to one HTTP status; messages say what
/// is wrong, where (the field), and what to do.
#[derive(Debug, Error)]
pub enum ApiError {
    /// No or unknown bearer token (401).
    #[error("missing or invalid bearer token: send `Authorization: Bearer <token>` with a token listed (hashed) in tokens.yaml")]
    Unauthorized,
    /// The resource does not exist for this tenant (404; also for other tenants' ids).
    #[error("{what} `{id}` not found")]
    NotFound {
        /// Kind of resource (`ab-test`, `canary`, ...).
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The body is not JSON of the expected shape: syntax, wrong type, unknown field (400).
    #[error("invalid request body at `{field}`: {message}")]
    BadBody {
        /// JSON path of the offending value (`.` for the whole body).
        field: String,
        /// What the parser expected.
        message: String,
    },
    /// A well-formed value breaks a rule (422).
    #[error("`{field}`: {message}")]
    Invalid {
        /// Field at fault.
        field: String,
        /// The rule broken and what to do.
        message: String,
    },
    /// The recomputed filter config would be refused by the filter (422); nothing was stored.
    #[error("the filter would refuse the resulting config at `{field}`: {message}; nothing was stored or pushed")]
    ConfigRefused {
        /// JSON path in the filter config.
        field: String,
        /// The filter's reason.
        message: String,
    },
    /// The request does not fit the resource's current state (409).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` does not name the current version (412).
    #[error("version mismatch: If-Match names {given} but the current version is {current}; GET it again and retry")]
    PreconditionFailed {
        /// The version the client sent.
        given: String,
        /// The stored version.
        current: i64,
    },
    /// An update without `If-Match` (428).
    #[error(
        "updates need an `If-Match` header with the ETag returned by GET (optimistic concurrency)"
    )]
    PreconditionRequired,
    /// Body larger than the limit (413).
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Body not declared as JSON (415).
    #[error("request body must be JSON: send `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// The configured sink refused or failed the push (502); nothing was stored.
    #[error("pushing the filter config to the sink failed: {0}; nothing was stored")]
    Sink(String),
    /// This replica is a follower under `rollgate serve --leader-elect` and may not push
    /// (503): the lease holder serves writes that push a config.
    #[error("this replica does not hold the leader lease {lease}, so it pushes nothing; send writes to the leader ({leader})")]
    NotLeader {
        /// `namespace/name` of the Lease.
        lease: String,
        /// The current holder as last seen, or why this replica stopped leading.
        leader: String,
    },
    /// Storage failure (500).
    #[error("storage error: {0}")]
    Store(String),
    /// Any other server-side failure (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A 404 for a resource kind and id.
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        ApiError::NotFound {
            what,
            id: id.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::BadBody { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } | ApiError::ConfigRefused { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Sink(_) => StatusCode::BAD_GATEWAY,
            ApiError::NotLeader { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound { .. } => "not-found",
            ApiError::BadBody { .. } => "bad-body",
            ApiError::Invalid { .. } => "invalid-field",
            ApiError::ConfigRefused { .. } => "config-refused",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed { .. } => "version-mismatch",
            ApiError::PreconditionRequired => "if-match-required",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::Sink(_) => "sink-failed",
            ApiError::NotLeader { .. } => "not-leader",
            ApiError::Store(_) => "storage",
            ApiError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::BadBody { field, .. }
            | ApiError::Invalid { field, .. }
            | ApiError::ConfigRefused { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The RFC 7807 body of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        Problem {
            problem_type: format!("https://rollgate.dev/problems/{}", self.kind()),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
            field: self.field().map(str::to_string),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::Store(err.to_string())
    }
}

impl From<rollgate_core::config::ConfigError> for ApiError {
    fn from(err: rollgate_core::config::ConfigError) -> Self {
        use rollgate_core::config::ConfigError;
        match err {
            ConfigError::Syntax { path, message } => ApiError::ConfigRefused {
                field: path,
                message,
            },
            ConfigError::Invalid { path, rule } => ApiError::ConfigRefused {
                field: path,
                message: rule,
            },
        }
    }
}

/// An RFC 7807 problem document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// URI naming the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary (the HTTP reason phrase).
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong and what to do.
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, ApiError::Unauthorized) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rollgate\""),
            );
        }
        response
    }
}

/// Result alias of the handlers.
pub type ApiResult<T> = Result<T, ApiError>;
