//! The request path: filter the request headers, pick the cluster from the route header,
//! forward with the filtered headers, and send the upstream's answer back through the filter's
//! response callbacks. Local responses of the filter go back as they are; responses the proxy
//! makes itself (unknown cluster, upstream failure) pass the response callbacks like Envoy's
//! local replies do.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Incoming};

use super::body::FilteredBody;
use super::clusters::Cluster;
use super::headers::{find, request_header_list, response_header_list, to_header_map};
use super::pool::FilterPool;
use super::stream::{Direction, FilterStream};
use super::upstream::{ProxyBody, Upstreams, ROUTE_TIMEOUT};
use super::upstream_stats::UpstreamOutcome;
use super::vm::{FilterVerdict, HeaderList, LocalResponse};
use super::vm_ref::VmRef;

/// What every request handler shares.
pub struct Proxy {
    pool: Arc<FilterPool>,
    upstreams: Arc<Upstreams>,
}

impl Proxy {
    /// A proxy over `pool`'s filter and `upstreams`.
    pub fn new(pool: Arc<FilterPool>, upstreams: Arc<Upstreams>) -> Self {
        Self { pool, upstreams }
    }

    /// Handles one request; never fails (failures become responses).
    pub async fn handle(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let generation = self.pool.current();
        let route_header = generation.config().route_header.clone();
        let stream = match VmRef::pick(generation, Arc::clone(&self.upstreams))
            .map(FilterStream::open)
            .transpose()
        {
            Ok(stream) => stream.map(Arc::new),
            Err(err) => {
                return Ok(plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("rollgate-harness: filter failed: {err}\n"),
                ))
            }
        };
        let (parts, body) = request.into_parts();
        let mut headers = request_header_list(&parts);
        let request_ended = body.is_end_stream();
        if let Some(stream) = &stream {
            match stream.headers(Direction::Request, &mut headers, request_ended) {
                Ok(FilterVerdict::LocalResponse(local)) => return Ok(local_response(local)),
                Ok(_) => {}
                Err(err) => {
                    return Ok(plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("rollgate-harness: filter failed: {err}\n"),
                    ))
                }
            }
        }
        let cluster = match self.route(&headers, &route_header) {
            Ok(cluster) => cluster,
            Err(message) => {
                return Ok(self.generated(StatusCode::SERVICE_UNAVAILABLE, message, stream))
            }
        };
        let upstream_body = if request_ended {
            Empty::new().map_err(|never| match never {}).boxed()
        } else {
            FilteredBody::new(body, stream.clone(), Direction::Request, false).boxed()
        };
        match self
            .upstreams
            .send(&cluster, &headers, upstream_body, ROUTE_TIMEOUT)
            .await
        {
            Ok(response) => Ok(self.filtered_response(response, stream)),
            Err(UpstreamOutcome::Timeout) => Ok(self.generated(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream request timeout\n".to_string(),
                stream,
            )),
            Err(_) => Ok(self.generated(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "upstream connect error or disconnect/reset before headers (cluster {:?})\n",
                    cluster.name()
                ),
                stream,
            )),
        }
    }

    /// The cluster the route header names, or the default one.
    fn route(&self, headers: &HeaderList, route_header: &str) -> Result<Arc<Cluster>, String> {
        let clusters = self.upstreams.clusters();
        let Some(name) = find(headers, route_header) else {
            return Ok(Arc::clone(clusters.default_cluster()));
        };
        let name = String::from_utf8_lossy(name);
        clusters.get(&name).cloned().ok_or_else(|| {
            format!(
                "rollgate-harness: no cluster named {name:?} (from the {route_header} header) in the clusters file; known: {}\n",
                clusters.names().join(", ")
            )
        })
    }

    /// The upstream's response, through the filter's response callbacks.
    fn filtered_response<B>(
        &self,
        response: Response<B>,
        stream: Option<Arc<FilterStream>>,
    ) -> Response<ProxyBody>
    where
        B: Body<Data = Bytes> + Unpin + Send + Sync + 'static,
        B::Error: Into<super::upstream::BoxError>,
    {
        let (parts, body) = response.into_parts();
        let ended = body.is_end_stream();
        let mut headers = response_header_list(parts.status.as_u16(), &parts.headers);
        if let Some(stream) = &stream {
            match stream.headers(Direction::Response, &mut headers, ended) {
                Ok(FilterVerdict::LocalResponse(local)) => return local_response(local),
                Ok(_) => {}
                Err(err) => {
                    return plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("rollgate-harness: filter failed: {err}\n"),
                    )
                }
            }
        }
        let status = find(&headers, ":status")
            .and_then(|value| std::str::from_utf8(value).ok())
            .and_then(|value| value.parse::<u16>().ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::BAD_GATEWAY);
        let (map, _) = to_header_map(&headers);
        let mut out =
            Response::new(FilteredBody::new(body, stream, Direction::Response, ended).boxed());
        *out.status_mut() = status;
        *out.headers_mut() = map;
        out
    }

    /// A response the proxy makes itself, seen by the filter like Envoy's local replies.
    fn generated(
        &self,
        status: StatusCode,
        message: String,
        stream: Option<Arc<FilterStream>>,
    ) -> Response<ProxyBody> {
        let mut response = Response::new(Full::new(Bytes::from(message)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        self.filtered_response(response, stream)
    }
}

fn local_response(local: LocalResponse) -> Response<ProxyBody> {
    let (map, _) = to_header_map(&local.headers);
    let mut response = Response::new(
        Full::new(Bytes::from(local.body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() =
        StatusCode::from_u16(local.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = map;
    response
}

fn plain(status: StatusCode, message: String) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(message))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}
