//! Shared fixtures for the filter's integration tests.
#![allow(dead_code)]

use rollgate_core::config::FilterConfig;
use rollgate_core::routing::RequestView;
use serde_json::{json, Value};

/// A valid canary config with every optional block, used as the base the tests mutate.
pub fn base_config() -> Value {
    json!({
        "version": 1,
        "unit": { "header": "x-user-id", "cookie": "uid", "missing_unit": "stable" },
        "route_header": "x-rollgate-cluster",
        "variant_header": "x-rollgate-variant",
        "experiments": [{
            "id": "fraud-v2",
            "kind": "canary",
            "salt": "fraud-v2",
            "match": { "authority": "fraud-detector", "path_prefix": "/predict", "headers": { "x-region": "eu" } },
            "variants": [
                { "name": "stable", "cluster": "outbound|80|stable|fraud-detector.ml.svc.cluster.local", "weight": 9500 },
                { "name": "canary", "cluster": "outbound|80|canary|fraud-detector.ml.svc.cluster.local", "weight": 500 }
            ],
            "force_header": "x-rollgate-force",
            "shadow": { "cluster": "outbound|80|shadow|fraud-detector.ml.svc.cluster.local", "authority": "fraud-detector-shadow",
                        "sample": 1000, "timeout_ms": 1000, "max_body_bytes": 1048576,
                        "compare": { "json_pointer": "/prediction", "tolerance": 0.0 } },
            "guard": { "max_error_rate": 0.2, "min_requests": 50, "window": 200 },
            "layer": { "name": "ranking", "from": 0, "to": 5000 }
        }]
    })
}

/// Parses a JSON value as a filter config.
pub fn parse(value: &Value) -> Result<FilterConfig, rollgate_core::ConfigError> {
    FilterConfig::from_json(value.to_string().as_bytes())
}

/// A simple experiment with `weights`, matching everything.
pub fn experiment(id: &str, salt: &str, weights: &[u32]) -> Value {
    let variants: Vec<Value> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| json!({ "name": format!("v{i}"), "cluster": format!("cluster-{id}-{i}"), "weight": w }))
        .collect();
    json!({ "id": id, "kind": "ab", "salt": salt, "variants": variants })
}

/// A config with the given experiments and default unit settings.
pub fn config_with(experiments: Vec<Value>) -> FilterConfig {
    let value = json!({ "version": 1, "unit": { "header": "x-user-id", "cookie": "uid" }, "experiments": experiments });
    match parse(&value) {
        Ok(config) => config,
        Err(err) => panic!("fixture config refused: {err}"),
    }
}

/// A request as a list of (lower-case name, value) pairs.
#[derive(Debug, Clone, Default)]
pub struct Req(pub Vec<(String, Vec<u8>)>);

impl Req {
    /// A request to `authority` + `path` with extra headers.
    pub fn new(authority: &str, path: &str, headers: &[(&str, &str)]) -> Req {
        let mut pairs = vec![
            (":authority".to_string(), authority.as_bytes().to_vec()),
            (":path".to_string(), path.as_bytes().to_vec()),
        ];
        pairs.extend(
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())),
        );
        Req(pairs)
    }

    /// The same request for user `user` (x-user-id header).
    pub fn user(user: &str) -> Req {
        Req::new("svc", "/", &[("x-user-id", user)])
    }
}

impl RequestView for Req {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}
