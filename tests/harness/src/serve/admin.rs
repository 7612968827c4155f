//! The admin listener: `/stats/prometheus`, `/ready`, `/config_dump`, like Envoy's admin.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use super::pool::FilterPool;
use super::prometheus::{filter_families, render};
use super::reload::Reloader;
use super::upstream::Upstreams;

/// What the admin handler reads.
pub struct Admin {
    pool: Arc<FilterPool>,
    upstreams: Arc<Upstreams>,
    reloader: Option<Arc<Reloader>>,
}

impl Admin {
    /// Admin over the proxy's pool, upstreams and (with a filter) reloader.
    pub fn new(
        pool: Arc<FilterPool>,
        upstreams: Arc<Upstreams>,
        reloader: Option<Arc<Reloader>>,
    ) -> Self {
        Self {
            pool,
            upstreams,
            reloader,
        }
    }

    /// Handles one admin request.
    pub fn handle<B>(&self, request: &Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
        if request.method() != Method::GET {
            return Ok(respond(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "admin endpoints take GET\n".into(),
            ));
        }
        Ok(match request.uri().path() {
            "/stats/prometheus" => {
                let mut families = filter_families(&self.pool.metrics());
                families.extend(self.upstreams.stats().families());
                respond(
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    render(&families),
                )
            }
            "/ready" => respond(StatusCode::OK, "text/plain", "LIVE\n".into()),
            "/config_dump" => respond(StatusCode::OK, "application/json", self.config_dump()),
            _ => respond(
                StatusCode::NOT_FOUND,
                "text/plain",
                "admin endpoints: /stats/prometheus, /ready, /config_dump\n".into(),
            ),
        })
    }

    fn config_dump(&self) -> String {
        let generation = self.pool.current();
        let config = generation.config();
        let parsed = serde_json::from_str::<serde_json::Value>(&config.config_json)
            .unwrap_or_else(|_| serde_json::Value::String(config.config_json.clone()));
        let status = self
            .reloader
            .as_ref()
            .map(|reloader| reloader.status())
            .unwrap_or_default();
        let last_rejection = status.last_rejection.map(|rejection| {
            serde_json::json!({ "version": rejection.version, "error": rejection.error })
        });
        let dump = serde_json::json!({
            "version": config.version,
            "route_header": config.route_header,
            "config": parsed,
            "reloads": status.reloads,
            "rejections": status.rejections,
            "last_rejection": last_rejection,
            "clusters": self.upstreams.clusters().names(),
        });
        format!("{dump:#}\n")
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}
