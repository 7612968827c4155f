//! The Prometheus adapter: instant queries over HTTP (`/api/v1/query`) with a timeout. A
//! Prometheus that is down, slow or answers garbage gives [`QueryResult::Failed`], which gates
//! treat as no data. Response parsing is pure ([`parse_query_response`]).

use crate::gates::QueryResult;
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

/// A Prometheus server.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    base_url: String,
    http: reqwest::Client,
}

impl PrometheusClient {
    /// A client for `base_url` (e.g. `http://127.0.0.1:9090`) with a per-query timeout.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
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
        async move {
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    return QueryResult::Failed(format!(
                        "Prometheus unreachable: {}",
                        describe_error(&e.without_url())
                    ))
                }
            };
            let status = response.status();
            match response.text().await {
                Ok(body) => parse_query_response(status.as_u16(), &body),
                Err(e) => QueryResult::Failed(format!("reading the Prometheus answer: {e}")),
            }
        }
    }
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
