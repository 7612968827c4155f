//! Shared pieces of the Rollgate fuzz targets: the fixed valid config the request targets run
//! against, and an arbitrary request shape that reaches the interesting header names often.

use libfuzzer_sys::arbitrary::{self, Arbitrary};

/// A valid config exercising every routing feature: best match by authority, path prefix and
/// header; force header; shadow; layers; request-level units; a catch-all so every request
/// gets a decision.
pub const FIXED_CONFIG: &str = r#"{
  "version": 1,
  "unit": { "header": "x-user-id", "cookie": "uid", "missing_unit": "stable" },
  "route_header": "x-rollgate-cluster",
  "variant_header": "x-rollgate-variant",
  "experiments": [
    { "id": "fraud-v2", "kind": "canary", "salt": "fraud-v2",
      "match": { "authority": "fraud-detector", "path_prefix": "/predict", "headers": { "x-region": "eu" } },
      "variants": [
        { "name": "stable", "cluster": "outbound|80|stable|fraud.ml.svc.cluster.local", "weight": 9500 },
        { "name": "canary", "cluster": "outbound|80|canary|fraud.ml.svc.cluster.local", "weight": 500 } ],
      "force_header": "x-rollgate-force",
      "shadow": { "cluster": "outbound|80|shadow|fraud.ml.svc.cluster.local", "authority": "fraud-shadow",
                  "sample": 5000, "timeout_ms": 1000, "max_body_bytes": 4096,
                  "compare": { "json_pointer": "/prediction", "tolerance": 0.0 } },
      "guard": { "max_error_rate": 0.2, "min_requests": 50, "window": 200 } },
    { "id": "rank-a", "kind": "ab", "salt": "rank-a",
      "match": { "authority": "ranker", "path_prefix": "/rank" },
      "variants": [
        { "name": "control", "cluster": "ranker-control", "weight": 5000 },
        { "name": "treatment", "cluster": "ranker-treatment", "weight": 5000 } ],
      "force_header": "x-rollgate-force",
      "layer": { "name": "ranking", "from": 0, "to": 5000 } },
    { "id": "rank-b", "kind": "ab", "salt": "rank-b",
      "match": { "authority": "ranker", "path_prefix": "/rank" },
      "variants": [
        { "name": "control", "cluster": "ranker-control", "weight": 3400 },
        { "name": "t1", "cluster": "ranker-t1", "weight": 3300 },
        { "name": "t2", "cluster": "ranker-t2", "weight": 3300 } ],
      "layer": { "name": "ranking", "from": 5000, "to": 10000 } },
    { "id": "reco-req", "kind": "ab", "salt": "reco", "unit_kind": "request",
      "match": { "path_prefix": "/recommend" },
      "variants": [
        { "name": "a", "cluster": "reco-a", "weight": 2000 },
        { "name": "b", "cluster": "reco-b", "weight": 8000 } ] },
    { "id": "catch-all", "kind": "canary", "salt": "all",
      "variants": [
        { "name": "stable", "cluster": "all-stable", "weight": 9000 },
        { "name": "canary", "cluster": "all-canary", "weight": 1000 } ] }
  ]
}"#;

/// Header names the config reacts to; arbitrary input picks one of these most of the time.
pub const KNOWN_NAMES: [&str; 12] = [
    ":authority",
    ":path",
    "x-user-id",
    "cookie",
    "x-region",
    "x-rollgate-force",
    "x-request-id",
    "x-rollgate-cluster",
    "x-rollgate-variant",
    ":method",
    "content-type",
    "x-rollgate-shadow",
];

/// Values that hit match rules and force names.
const KNOWN_VALUES: [&str; 14] = [
    "fraud-detector",
    "fraud-detector:8080",
    "FRAUD-DETECTOR",
    "ranker",
    "/predict/v1",
    "/rank",
    "/recommend?x=1",
    "eu",
    "canary",
    "stable",
    "t2",
    "uid=u-1; other=2",
    "uid=\"\"; uid=u-9",
    "",
];

/// A header name: one the config knows, or arbitrary bytes.
#[derive(Debug, Arbitrary)]
pub enum FuzzName {
    /// An index into [`KNOWN_NAMES`].
    Known(u8),
    /// Any bytes.
    Raw(Vec<u8>),
}

/// A header value: one the config knows, or arbitrary bytes.
#[derive(Debug, Arbitrary)]
pub enum FuzzValue {
    /// An index into the known values.
    Known(u8),
    /// Any bytes.
    Raw(Vec<u8>),
}

/// One arbitrary request: headers (names may repeat), a per-request random, a body.
#[derive(Debug, Arbitrary)]
pub struct FuzzRequest {
    /// Headers in order.
    pub headers: Vec<(FuzzName, FuzzValue)>,
    /// The caller's per-request random value.
    pub random: u64,
    /// A response body (fed to the shadow comparison).
    pub body: Vec<u8>,
}

impl FuzzName {
    /// The name as bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            FuzzName::Known(i) => KNOWN_NAMES[usize::from(*i) % KNOWN_NAMES.len()]
                .as_bytes()
                .to_vec(),
            FuzzName::Raw(raw) => raw.clone(),
        }
    }
}

impl FuzzValue {
    /// The value as bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            FuzzValue::Known(i) => KNOWN_VALUES[usize::from(*i) % KNOWN_VALUES.len()]
                .as_bytes()
                .to_vec(),
            FuzzValue::Raw(raw) => raw.clone(),
        }
    }
}

impl FuzzRequest {
    /// The headers as (name, value) byte pairs, in order.
    pub fn pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.bytes(), v.bytes()))
            .collect()
    }
}
