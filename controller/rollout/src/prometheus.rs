//! The Prometheus adapter: instant queries over HTTP (`/api/v1/query`) with a timeout. A
//! Prometheus that is down, slow or answers garbage gives [`QueryResult::Failed`], which gates
//! treat as no data. Response parsing is pure ([`parse_query_response`]).

use crate::error::RolloutError;
use crate::gates::QueryResult;
use crate::spec::{PrometheusTarget, SourceAuth};
use serde::Deserialize;
use std::future::Future;
use std::time::Duration;

/// Something that answers PromQL instant queries (Prometheus, or a fake in tests).
pub trait QuerySource {
    /// Runs `promql` as an instant query.
    fn query(&self, promql: &str) -> impl Future<Output = QueryResult> + Send;
}

/// No Prometheus configured: every query fails (gates then follow their no-data policy).
impl<Q: QuerySource + Sync> QuerySource for Option<Q> {
    fn query(&self, promql: &str) -> impl Future<Output = QueryResult> + Send {
        let inner = self.as_ref().map(|source| source.query(promql));
        async move {
            match inner {
                Some(future) => future.await,
                None => QueryResult::Failed("no spec.prometheus configured".to_string()),
            }
        }
    }
}

/// A source that could not be set up (e.g. its TLS settings are unusable): every query fails
/// with that reason, so gates follow their no-data rules and nothing is decided on it.
impl<Q: QuerySource + Sync> QuerySource for Result<Q, String> {
    fn query(&self, promql: &str) -> impl Future<Output = QueryResult> + Send {
        let inner = self.as_ref().map(|source| source.query(promql));
        let failure = self.as_ref().err().cloned();
        async move {
            match (inner, failure) {
                (Ok(future), _) => future.await,
                (Err(_), why) => QueryResult::Failed(why.unwrap_or_default()),
            }
        }
    }
}

/// A Prometheus-compatible query API (Prometheus, Thanos, Mimir, Cortex, ...).
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    base_url: String,
    http: reqwest::Client,
}

impl PrometheusClient {
    /// A client for plain-http `base_url` (e.g. `http://127.0.0.1:9090`) with a per-query
    /// timeout.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, RolloutError> {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        Self::from_target(&PrometheusTarget::plain(base_url, timeout_ms))
    }

    /// A client with every setting of `spec.prometheus`: https with its CA file, bearer token
    /// or basic auth read now from their file or environment variable, extra headers, the
    /// query timeout. Errors name the source and the setting.
    pub fn from_target(target: &PrometheusTarget) -> Result<Self, RolloutError> {
        let source =
            |what: String| RolloutError::Other(format!("Prometheus source {}: {what}", target.url));
        let timeout = Duration::from_millis(target.timeout_ms);
        let mut headers = http::HeaderMap::new();
        for (name, value) in &target.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| source(format!("header {name}: {e}")))?;
            let value = http::HeaderValue::from_str(value)
                .map_err(|e| source(format!("header {name}: {e}")))?;
            headers.insert(name, value);
        }
        let authorization = match &target.auth {
            SourceAuth::None => None,
            SourceAuth::Bearer(token) => {
                let token = token
                    .read()
                    .map_err(|e| source(format!("bearer_token: {e}")))?;
                Some(format!("Bearer {token}"))
            }
            SourceAuth::Basic { username, password } => {
                let password = password
                    .read()
                    .map_err(|e| source(format!("basic_auth.password: {e}")))?;
                Some(format!(
                    "Basic {}",
                    base64_encode(format!("{username}:{password}").as_bytes())
                ))
            }
        };
        if let Some(text) = authorization {
            let mut value = http::HeaderValue::from_str(&text)
                .map_err(|_| source("the credentials are not valid header text".to_string()))?;
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .default_headers(headers);
        if let Some(path) = &target.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| source(format!("reading ca_file {}: {e}", path.display())))?;
            let ca = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| source(format!("ca_file {}: {e}", path.display())))?;
            builder = builder.add_root_certificate(ca);
        }
        let http = builder
            .build()
            .map_err(|e| source(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            base_url: target.url.trim_end_matches('/').to_string(),
            http,
        })
    }
}

impl QuerySource for PrometheusClient {
    fn query(&self, promql: &str) -> impl Future<Output = QueryResult> + Send {
        let request = self
            .http
            .get(format!("{}/api/v1/query", self.base_url))
            .query(&[("query", promql)]);
        let base = self.base_url.clone();
        async move {
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    return QueryResult::Failed(format!(
                        "Prometheus {base} unreachable: {}",
                        describe_error(&e.without_url())
                    ))
                }
            };
            let status = response.status();
            if matches!(status.as_u16(), 401 | 403) {
                return QueryResult::Failed(format!(
                    "Prometheus {base} refused the credentials (HTTP {status}): check \
                     spec.prometheus.basic_auth / bearer_token and the secret they read"
                ));
            }
            match response.text().await {
                Ok(body) => match parse_query_response(status.as_u16(), &body) {
                    QueryResult::Failed(why) => {
                        QueryResult::Failed(format!("Prometheus {base}: {why}"))
                    }
                    other => other,
                },
                Err(e) => {
                    QueryResult::Failed(format!("reading the answer of Prometheus {base}: {e}"))
                }
            }
        }
    }
}

/// Standard base64 with padding (RFC 4648), for the basic-auth header.
fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The error with its causes (reqwest's own message hides the root cause).
fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorSample>),
    Scalar((f64, String)),
    Matrix(serde::de::IgnoredAny),
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct VectorSample {
    value: (f64, String),
}

/// Interprets an `/api/v1/query` answer: one finite sample is a value; no sample or NaN is
/// no data; errors and several series are failures or no data with the reason.
pub fn parse_query_response(http_status: u16, body: &str) -> QueryResult {
    let envelope: Envelope = match serde_json::from_str(body) {
        Ok(e) => e,
        Err(e) => {
            return QueryResult::Failed(format!("HTTP {http_status}, not a Prometheus answer: {e}"))
        }
    };
    if envelope.status != "success" {
        let error = envelope.error.unwrap_or_default();
        return QueryResult::Failed(format!("HTTP {http_status}, Prometheus error: {error}"));
    }
    let text = match envelope.data {
        Some(Data::Scalar((_, text))) => text,
        Some(Data::Vector(samples)) => match <[VectorSample; 1]>::try_from(samples) {
            Ok([one]) => one.value.1,
            Err(samples) if samples.is_empty() => {
                return QueryResult::Empty("the query returned no series".into())
            }
            Err(samples) => {
                return QueryResult::Empty(format!(
                    "the query returned {} series, expected one (aggregate it, e.g. with sum())",
                    samples.len()
                ))
            }
        },
        Some(Data::Matrix(_) | Data::String(_)) | None => {
            return QueryResult::Failed("expected an instant vector or scalar result".into())
        }
    };
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => QueryResult::Value(v),
        Ok(v) => QueryResult::Empty(format!("value is {v} (no traffic in the interval?)")),
        Err(_) => QueryResult::Failed(format!("sample value {text:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_is_a_value() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"0.025"]}]}}"#;
        assert_eq!(parse_query_response(200, body), QueryResult::Value(0.025));
        let body =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}"#;
        assert_eq!(parse_query_response(200, body), QueryResult::Value(3.0));
    }

    #[test]
    fn no_series_and_nan_are_no_data() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(matches!(
            parse_query_response(200, body),
            QueryResult::Empty(_)
        ));
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#;
        assert!(matches!(
            parse_query_response(200, body),
            QueryResult::Empty(_)
        ));
        let two = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]}]}}"#;
        match parse_query_response(200, two) {
            QueryResult::Empty(why) => assert!(why.contains("2 series"), "{why}"),
            other => panic!("expected no data, got {other:?}"),
        }
    }

    #[test]
    fn errors_are_failures_with_the_reason() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        match parse_query_response(400, body) {
            QueryResult::Failed(why) => assert!(why.contains("parse error at char 5"), "{why}"),
            other => panic!("expected failure, got {other:?}"),
        }
        assert!(matches!(
            parse_query_response(502, "<html>bad gateway"),
            QueryResult::Failed(_)
        ));
    }

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        // python3 -c "import base64; print(base64.b64encode(b'rollgate:s3cret!'))"
        assert_eq!(
            base64_encode(b"rollgate:s3cret!"),
            "cm9sbGdhdGU6czNjcmV0IQ=="
        );
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b""), "");
    }

    /// A loopback server that answers `vector(1)` only with the expected headers.
    async fn header_checking_server() -> String {
        use axum::http::HeaderMap;
        let app = axum::Router::new().route(
            "/api/v1/query",
            axum::routing::get(|headers: HeaderMap| async move {
                let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                let ok = get("authorization") == Some("Bearer t0ken")
                    && get("x-scope-orgid") == Some("tenant-a");
                let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}"#;
                if ok {
                    (axum::http::StatusCode::OK, body)
                } else {
                    (axum::http::StatusCode::UNAUTHORIZED, "unauthorized")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn bearer_token_from_a_file_and_extra_headers_are_sent() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("token"), "t0ken\n").expect("token");
        let url = header_checking_server().await;
        let mut target = PrometheusTarget::plain(&url, 2_000);
        target.headers = vec![("X-Scope-OrgID".into(), "tenant-a".into())];
        target.auth = SourceAuth::Bearer(crate::spec::SecretRef::File(dir.path().join("token")));
        let client = PrometheusClient::from_target(&target).expect("client");
        assert_eq!(client.query("vector(1)").await, QueryResult::Value(1.0));
        target.headers.clear();
        let client = PrometheusClient::from_target(&target).expect("client");
        match client.query("vector(1)").await {
            QueryResult::Failed(why) => assert!(
                why.contains(&url) && why.contains("refused the credentials"),
                "{why}"
            ),
            other => panic!("expected a failure, got {other:?}"),
        }
        target.auth = SourceAuth::Bearer(crate::spec::SecretRef::Env(
            "ROLLGATE_TEST_UNSET_TOKEN_VARIABLE".into(),
        ));
        let err = PrometheusClient::from_target(&target).expect_err("no secret");
        let text = err.to_string();
        assert!(
            text.contains(&url) && text.contains("ROLLGATE_TEST_UNSET_TOKEN_VARIABLE is not set"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_prometheus_that_is_down_is_a_failure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let client = PrometheusClient::new(
            &format!("http://127.0.0.1:{port}"),
            Duration::from_millis(500),
        )
        .expect("client");
        assert!(matches!(client.query("up").await, QueryResult::Failed(_)));
    }
}
