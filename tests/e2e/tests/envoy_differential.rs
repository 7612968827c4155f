//! Differential check of the harness against real Envoy: the same seeded stream of requests
//! (split, force header, cookie fallback, both `missing_unit` policies, `unit_kind: request`,
//! best match on authority and path, layers, spoofed route/variant headers) goes through
//! Envoy (`--concurrency 2`) and through the harness's `replay` path with the same `.wasm`
//! and config; the routing headers the upstream received must equal the harness's, request by
//! request.

mod envoy_support;

use envoy_support::{two_variant_experiment, Seen, Stack};
use rollgate_e2e::envoy::Request;
use rollgate_e2e::paths::filter_wasm;
use rollgate_e2e::E2eError;
use rollgate_harness::replay::{run_line, InputLine, LineMessage};
use rollgate_harness::{Plugin, VmOptions, WasmModule};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Requests per `missing_unit` policy (two policies: 6,000 requests in all).
const PER_POLICY: usize = 3_000;

/// The config's experiments: two variants `{prefix}a` / `{prefix}b` on clusters c0 / c1.
fn experiment(id: &str, prefix: &str, extra: Value) -> Value {
    two_variant_experiment(id, prefix, [3_000, 7_000], extra)
}

fn config(missing_unit: &str) -> Value {
    json!({
        "version": 1,
        "unit": { "header": "x-user-id", "cookie": "uid", "missing_unit": missing_unit },
        "experiments": [
            experiment("generic", "g", json!({ "force_header": "x-rollgate-force" })),
            experiment("by-path", "p", json!({ "match": { "path_prefix": "/predict" } })),
            experiment("by-longer-path", "l", json!({ "match": { "path_prefix": "/predict/v2" } })),
            experiment("by-authority", "h", json!({ "match": { "authority": "fraud-detector", "path_prefix": "/predict" } })),
            experiment("by-header", "m", json!({ "match": { "path_prefix": "/hdr", "headers": { "x-tier": "gold" } } })),
            experiment("per-request", "r", json!({ "match": { "path_prefix": "/req" }, "unit_kind": "request" })),
            experiment("layer-x", "x", json!({ "match": { "path_prefix": "/layer" }, "layer": { "name": "ranking", "from": 0, "to": 5_000 } })),
            experiment("layer-y", "y", json!({ "match": { "path_prefix": "/layer" }, "layer": { "name": "ranking", "from": 5_000, "to": 10_000 } })),
        ]
    })
}

/// splitmix64: a seeded, dependency-free generator for the request stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The seeded request stream: every feature case, users drawn from a pool of 500.
fn requests(seed: u64, n: usize) -> Vec<Request> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let user = format!("u-{}", rng.below(500));
            let rid = format!("rid-{seed}-{i}");
            let base = |path: &str| Request::get(path).header("x-request-id", &rid);
            match rng.below(11) {
                0 => base("/other").user(&user),
                1 => base("/predict/x").user(&user),
                2 => base("/predict/v2/x").user(&user),
                3 => base("/predict")
                    .authority("fraud-detector:8080")
                    .user(&user),
                4 => base("/hdr").header("x-tier", "gold").user(&user),
                5 => base("/other")
                    .header("x-rollgate-force", ["ga", "gb", "nope"][i % 3])
                    .user(&user),
                6 => base("/other").header("cookie", &format!("a=1; uid={user}")),
                7 => base("/predict/x"),
                8 => base("/req").user(&user),
                9 => base("/layer").user(&user),
                _ => base("/predict/x")
                    .header("x-rollgate-cluster", "c2")
                    .header("x-rollgate-variant", "spoofed")
                    .user(&user),
            }
        })
        .collect()
}

/// The harness's view of one request: the headers the filter saw in Envoy (method, path, the
/// authority and `x-request-id` the upstream received, the client's headers).
fn replay_line(request: &Request, seen: &Seen) -> InputLine {
    let recorded = seen.request.as_ref();
    let mut headers = BTreeMap::new();
    headers.insert(":method".to_string(), request.method.clone());
    headers.insert(":path".to_string(), request.path.clone());
    headers.insert(":scheme".to_string(), "http".to_string());
    let authority = request
        .authority
        .clone()
        .or_else(|| recorded.and_then(|r| r.header("host")).map(str::to_string))
        .unwrap_or_default();
    headers.insert(":authority".to_string(), authority);
    for (name, value) in &request.headers {
        headers.insert(name.clone(), value.clone());
    }
    if let Some(rid) = seen.request_id() {
        headers.insert("x-request-id".to_string(), rid.to_string());
    }
    InputLine {
        request: LineMessage {
            headers,
            body: None,
            body_base64: None,
        },
        response: None,
        call_response: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_replay_routes_every_request_as_envoy_does() -> Result<(), E2eError> {
    let module = WasmModule::from_file(filter_wasm()?).map_err(|e| E2eError::Missing {
        what: format!("the filter module in the harness: {e}"),
        fix: "run `make wasm`".to_string(),
    })?;
    let stack = Stack::start(&["c0", "c1", "c2"], &config("stable")).await?;
    let mut compared = 0;
    for (policy, seed) in [("stable", 11_u64), ("random", 12)] {
        let config = config(policy);
        if policy != "stable" {
            stack.push(&config).await?;
        }
        let plugin = Plugin::new(module.clone(), VmOptions::default());
        let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
        let mut vm = plugin
            .start_vm(&config_bytes)
            .unwrap_or_else(|e| panic!("the harness refused the {policy} config: {e}"));
        let requests = requests(seed, PER_POLICY);
        let seen = stack.send_seen(&requests).await?;
        let mut variants = BTreeMap::new();
        for (i, (request, seen)) in requests.iter().zip(&seen).enumerate() {
            let recorded = seen
                .request
                .as_ref()
                .unwrap_or_else(|| panic!("request {i} {request:?} reached no upstream"));
            let out = run_line(&mut vm, &replay_line(request, seen), i + 1)
                .unwrap_or_else(|e| panic!("harness failed on request {i}: {e}"));
            for name in ["x-rollgate-cluster", "x-rollgate-variant"] {
                assert_eq!(
                    out.request_headers.get_str(name),
                    recorded.header(name),
                    "{policy} request {i} {request:?}: {name} differs (harness vs Envoy)"
                );
            }
            let variant = recorded.header("x-rollgate-variant").unwrap_or("<none>");
            *variants.entry(variant.to_string()).or_insert(0_u32) += 1;
            compared += 1;
        }
        // The stream covers every experiment (a differential test of nothing proves nothing).
        for prefix in ["g", "p", "l", "h", "m", "r", "x", "y"] {
            assert!(
                variants
                    .keys()
                    .any(|v| v.starts_with(prefix) && v.len() == 2),
                "{policy}: no request routed by experiment {prefix}: {variants:?}"
            );
        }
    }
    assert_eq!(compared, 2 * PER_POLICY);
    Ok(())
}
