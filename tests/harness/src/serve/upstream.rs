//! Talking to the clusters: the primary request and the filter's dispatched calls, over one
//! keep-alive HTTP/1.1 client, counted in [`UpstreamStats`].

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::clusters::{Cluster, ClusterSet};
use super::headers::{find, response_header_list, to_header_map};
use super::upstream_stats::{UpstreamOutcome, UpstreamStats};
use super::vm::{CallResponse, DispatchedCall, HeaderList};

/// Error type of proxied bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body of every request and response the proxy sends.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// How long the primary request may wait for response headers (Envoy's default route timeout).
pub const ROUTE_TIMEOUT: Duration = Duration::from_secs(15);

/// The clusters, the client that reaches them, and their statistics.
pub struct Upstreams {
    client: Client<HttpConnector, ProxyBody>,
    clusters: ClusterSet,
    stats: UpstreamStats,
}

impl Upstreams {
    /// A client for `clusters`. Must be called inside a tokio runtime.
    pub fn new(clusters: ClusterSet) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build(connector);
        Self {
            client,
            clusters,
            stats: UpstreamStats::default(),
        }
    }

    /// The clusters file.
    pub fn clusters(&self) -> &ClusterSet {
        &self.clusters
    }

    /// The upstream statistics.
    pub fn stats(&self) -> &UpstreamStats {
        &self.stats
    }

    /// Sends a request (headers as the filter left them) to the next endpoint of `cluster`.
    pub async fn send(
        &self,
        cluster: &Cluster,
        headers: &HeaderList,
        body: ProxyBody,
        timeout: Duration,
    ) -> Result<Response<Incoming>, UpstreamOutcome> {
        let started = Instant::now();
        let request = build_request(cluster.next_endpoint(), headers, body).map_err(|reason| {
            tracing::warn!(cluster = cluster.name(), %reason, "cannot build the upstream request");
            UpstreamOutcome::Failed
        });
        let outcome = match request {
            Ok(request) => {
                match tokio::time::timeout(timeout, self.client.request(request)).await {
                    Ok(Ok(response)) => Ok(response),
                    Ok(Err(err)) => {
                        tracing::debug!(cluster = cluster.name(), error = %err, "upstream request failed");
                        Err(UpstreamOutcome::Failed)
                    }
                    Err(_) => Err(UpstreamOutcome::Timeout),
                }
            }
            Err(outcome) => Err(outcome),
        };
        let recorded = match &outcome {
            Ok(response) => UpstreamOutcome::Status(response.status().as_u16()),
            Err(failure) => *failure,
        };
        self.stats
            .record(cluster.name(), recorded, started.elapsed());
        outcome
    }

    /// Performs a dispatched call: the whole response within the call's timeout, or `None`
    /// (the filter then sees a failed call, as in Envoy).
    pub async fn call(&self, call: &DispatchedCall) -> Option<CallResponse> {
        let cluster = self.clusters.get(&call.cluster)?;
        let body = Full::new(Bytes::from(call.body.clone()))
            .map_err(|never| match never {})
            .boxed();
        let exchange = async {
            let response = self
                .send(cluster, &call.headers, body, call.timeout)
                .await
                .ok()?;
            let status = response.status().as_u16();
            let headers = response_header_list(status, response.headers());
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some(CallResponse {
                headers,
                body: body.to_vec(),
            })
        };
        tokio::time::timeout(call.timeout, exchange)
            .await
            .ok()
            .flatten()
    }
}

fn build_request(
    endpoint: &str,
    headers: &HeaderList,
    body: ProxyBody,
) -> Result<Request<ProxyBody>, String> {
    let method = find(headers, ":method").unwrap_or(b"GET");
    let method = Method::from_bytes(method).map_err(|_| "invalid :method".to_string())?;
    let path = find(headers, ":path").unwrap_or(b"/");
    let path = std::str::from_utf8(path).map_err(|_| ":path is not UTF-8".to_string())?;
    let uri: Uri = format!("http://{endpoint}{path}")
        .parse()
        .map_err(|err| format!("invalid :path {path:?}: {err}"))?;
    let (mut map, dropped) = to_header_map(headers);
    if !dropped.is_empty() {
        tracing::debug!(?dropped, "headers hyper cannot send were left out");
    }
    if let Some(authority) = find(headers, ":authority").filter(|value| !value.is_empty()) {
        let host = http::HeaderValue::from_bytes(authority)
            .map_err(|_| "invalid :authority".to_string())?;
        map.insert(http::header::HOST, host);
    }
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = map;
    Ok(request)
}
