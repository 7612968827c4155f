//! Realistic inputs shared by the routing bench and the soak: a filter config with a few
//! experiments (canary with shadow and guard, an A/B test in a layer, a request-level test) and
//! the header set a mesh sidecar sees on an inference request.

/// Route header the configs set.
pub const ROUTE_HEADER: &str = "x-rollgate-cluster";
/// Variant header the configs set.
pub const VARIANT_HEADER: &str = "x-rollgate-variant";

/// A realistic config: three experiments on different services, the canary at `canary_bp`
/// basis points. `0 < canary_bp < 10000`.
pub fn realistic_config(canary_bp: u32) -> String {
    let stable_bp = 10_000 - canary_bp;
    format!(
        r#"{{
  "version": 1,
  "unit": {{ "header": "x-user-id", "cookie": "uid", "missing_unit": "stable" }},
  "route_header": "{ROUTE_HEADER}",
  "variant_header": "{VARIANT_HEADER}",
  "experiments": [
    {{ "id": "fraud-v2", "kind": "canary", "salt": "fraud-v2",
      "match": {{ "authority": "fraud-detector", "path_prefix": "/predict" }},
      "variants": [
        {{ "name": "stable", "cluster": "outbound|80|stable|fraud-detector.ml.svc.cluster.local", "weight": {stable_bp} }},
        {{ "name": "canary", "cluster": "outbound|80|canary|fraud-detector.ml.svc.cluster.local", "weight": {canary_bp} }} ],
      "force_header": "x-rollgate-force",
      "shadow": {{ "cluster": "outbound|80|shadow|fraud-detector.ml.svc.cluster.local", "authority": "fraud-detector-shadow",
                  "sample": 1000, "timeout_ms": 1000, "max_body_bytes": 1048576,
                  "compare": {{ "json_pointer": "/prediction", "tolerance": 0.0 }} }},
      "guard": {{ "max_error_rate": 0.2, "min_requests": 50, "window": 200 }} }},
    {{ "id": "ranker-ab", "kind": "ab", "salt": "ranker-ab",
      "match": {{ "authority": "ranker", "path_prefix": "/rank", "headers": {{ "x-region": "eu" }} }},
      "variants": [
        {{ "name": "control", "cluster": "outbound|80|control|ranker.ml.svc.cluster.local", "weight": 5000 }},
        {{ "name": "treatment", "cluster": "outbound|80|treatment|ranker.ml.svc.cluster.local", "weight": 5000 }} ],
      "layer": {{ "name": "ranking", "from": 0, "to": 5000 }} }},
    {{ "id": "reco-req", "kind": "ab", "salt": "reco-req", "unit_kind": "request",
      "match": {{ "authority": "recommender" }},
      "variants": [
        {{ "name": "a", "cluster": "outbound|80|a|recommender.ml.svc.cluster.local", "weight": 5000 }},
        {{ "name": "b", "cluster": "outbound|80|b|recommender.ml.svc.cluster.local", "weight": 5000 }} ] }}
  ]
}}"#
    )
}

/// Configs the filter must refuse (the last good config keeps serving): weights not summing
/// to 10,000, unknown field, unknown version, not JSON.
pub const REFUSED_CONFIGS: [&str; 4] = [
    r#"{"version":1,"experiments":[{"id":"x","kind":"canary","salt":"x","variants":[{"name":"a","cluster":"c","weight":10}]}]}"#,
    r#"{"version":1,"bogus":true}"#,
    r#"{"version":2}"#,
    "not json {",
];

/// The headers of an inference request to the fraud detector from user `user`, as Envoy's
/// codec delivers them to the filter (16 headers, ~600 bytes).
pub fn request_headers(user: &str) -> Vec<(String, String)> {
    [
        (":authority", "fraud-detector"),
        (":path", "/predict?model=fraud&explain=false"),
        (":method", "POST"),
        (":scheme", "http"),
        ("content-type", "application/json"),
        ("accept", "application/json"),
        (
            "user-agent",
            "checkout-service/4.12.1 (grpc-gateway; +https://example.com)",
        ),
        ("x-user-id", user),
        (
            "cookie",
            "session=3f9a1c; uid=ignored-when-header; theme=dark",
        ),
        ("x-request-id", "9b1c3c2e-5d8f-4f1e-9a77-2c1d0e6f4b3a"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "10.12.4.7, 10.0.0.1"),
        ("x-envoy-attempt-count", "1"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("content-length", "512"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}
