//! The side-by-side cases of the real-Envoy cost bench (issue 12 item 5) and the Envoy
//! bootstraps they run: one listener, the case's HTTP filter (if any) before the router,
//! routes to two variant clusters and a shadow cluster, all on one upstream Envoy that answers
//! with a fixed `direct_response`.

use crate::envoy_proc::workspace_root;
use anyhow::{bail, Context as _, Result};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

/// The filter's `.wasm` as `make wasm` writes it.
pub const ROLLGATE_WASM: &str = "target/wasm32-wasip1/release/rollgate_filter.wasm";
/// The floor filter's `.wasm` (`benches/floor-filters/minimal`).
pub const FLOOR_WASM: &str = "target/wasm32-wasip1/release/rollgate_floor_filter.wasm";
/// What the upstream answers (the shadow comparison reads `/prediction`).
pub const UPSTREAM_BODY: &str = r#"{"prediction":0.1}"#;
/// The request body every case sends (an inference request).
pub const REQUEST_BODY: &str = r#"{"amount":125.5,"merchant":"m-17","currency":"EUR"}"#;
/// The authority the requests carry and the Rollgate configs match.
pub const AUTHORITY: &str = "fraud-detector";
/// The path the requests carry.
pub const PATH: &str = "/predict";

/// The HTTP filter of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// No filter before the router.
    None,
    /// The floor filter with this plugin configuration (`floor` or `hostcalls <headers>`).
    Floor(String),
    /// Rollgate with this filter config JSON.
    Rollgate(String),
}

/// How the route picks the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Always `variant_a`.
    Fixed,
    /// Envoy's native `weighted_clusters`, 50/50.
    Weighted,
    /// `cluster_header: x-rollgate-cluster` (set by the filter).
    ClusterHeader,
}

/// One case of the table.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short key (`a`, `b`, `c`, `c'`, `d`, `e`, `f`).
    pub key: &'static str,
    /// What it is, for the table.
    pub label: &'static str,
    /// Its filter.
    pub filter: Filter,
    /// Its route.
    pub route: Route,
    /// Request headers besides `host`, `x-user-id` and `content-length`.
    pub headers: Vec<(&'static str, &'static str)>,
}

/// The headers of a realistic 16-header inference request beyond the four pseudo-headers,
/// `x-user-id` and `content-length` (the shape of `fixtures::request_headers`).
pub const SIXTEEN_HEADER_EXTRAS: [(&str, &str); 10] = [
    ("content-type", "application/json"),
    ("accept", "application/json"),
    ("user-agent", "checkout-service/4.12.1 (grpc-gateway)"),
    (
        "cookie",
        "session=3f9a1c; uid=ignored-when-header; theme=dark",
    ),
    ("x-request-id", "9b1c3c2e-5d8f-4f1e-9a77-2c1d0e6f4b3a"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-for", "10.12.4.7, 10.0.0.1"),
    ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
    ("x-b3-spanid", "e457b5a2e4d86bd1"),
    ("x-region", "eu"),
];

/// A Rollgate config: `experiments` 50/50 A/B experiments of which only the last matches the
/// bench's requests (the others are on other services, so every one is evaluated), the last
/// with a shadow sampling `shadow_bp` basis points (none at 0). With more than one experiment
/// the matching one also requires the `x-region: eu` header.
pub fn rollgate_config(experiments: usize, shadow_bp: u32) -> String {
    let list: Vec<serde_json::Value> = (0..experiments)
        .map(|i| {
            let last = i + 1 == experiments;
            let mut rule = json!({ "authority": if last { AUTHORITY.to_string() } else { format!("service-{i}") },
                                   "path_prefix": PATH });
            if last && experiments > 1 {
                rule["headers"] = json!({ "x-region": "eu" });
            }
            let mut experiment = json!({
                "id": format!("exp-{i}"), "kind": "ab", "salt": format!("exp-{i}"), "match": rule,
                "variants": [
                    { "name": "a", "cluster": "variant_a", "weight": 5000 },
                    { "name": "b", "cluster": "variant_b", "weight": 5000 }
                ]
            });
            if last && shadow_bp > 0 {
                experiment["shadow"] = json!({
                    "cluster": "shadow", "authority": "fraud-detector-shadow", "sample": shadow_bp,
                    "timeout_ms": 1000, "max_body_bytes": 1_048_576,
                    "compare": { "json_pointer": "/prediction", "tolerance": 0.0 }
                });
            }
            experiment
        })
        .collect();
    json!({
        "version": 1,
        "unit": { "header": "x-user-id", "cookie": "uid", "missing_unit": "stable" },
        "route_header": "x-rollgate-cluster",
        "variant_header": "x-rollgate-variant",
        "experiments": list
    })
    .to_string()
}

/// The headers Rollgate reads by name for [`rollgate_config`]`(1, _)` and the bench's requests:
/// its table's `request_headers()` are read on first use, and `cookie` is used only when the
/// unit header is missing. The floor filter's `hostcalls` mode reads the same.
pub const ROLLGATE_READS_ONE_EXPERIMENT: &str = ":authority :path x-user-id";

/// The seven cases, in table order.
pub fn cases() -> Vec<Case> {
    let plain = vec![("content-type", "application/json")];
    let case = |key, label, filter, route, headers: &Vec<(&'static str, &'static str)>| Case {
        key,
        label,
        filter,
        route,
        headers: headers.clone(),
    };
    let many = SIXTEEN_HEADER_EXTRAS.to_vec();
    vec![
        case(
            "a",
            "(a) no wasm filter",
            Filter::None,
            Route::Fixed,
            &plain,
        ),
        case(
            "b",
            "(b) native weighted_clusters 50/50",
            Filter::None,
            Route::Weighted,
            &plain,
        ),
        case(
            "c",
            "(c) floor SDK filter",
            Filter::Floor("floor".into()),
            Route::ClusterHeader,
            &plain,
        ),
        case(
            "c'",
            "(c') floor + Rollgate's host calls",
            Filter::Floor(format!("hostcalls {ROLLGATE_READS_ONE_EXPERIMENT}")),
            Route::ClusterHeader,
            &plain,
        ),
        case(
            "d",
            "(d) Rollgate 50/50, no shadow",
            Filter::Rollgate(rollgate_config(1, 0)),
            Route::ClusterHeader,
            &plain,
        ),
        case(
            "e",
            "(e) Rollgate 3 experiments, 16 headers",
            Filter::Rollgate(rollgate_config(3, 0)),
            Route::ClusterHeader,
            &many,
        ),
        case(
            "f",
            "(f) Rollgate, 10 % shadow",
            Filter::Rollgate(rollgate_config(1, 1000)),
            Route::ClusterHeader,
            &plain,
        ),
    ]
}

/// Diagnostic cases (`DIAG=1`): (c′) without one group of host calls each, to price them.
pub fn diagnostic_cases() -> Vec<Case> {
    let plain = vec![("content-type", "application/json")];
    let floor = |key, label, config: String| Case {
        key,
        label,
        filter: Filter::Floor(config),
        route: Route::ClusterHeader,
        headers: plain.clone(),
    };
    vec![
        floor(
            "c'-clear",
            "(c') without clear_route_cache",
            format!("hostcalls no-clear {ROLLGATE_READS_ONE_EXPERIMENT}"),
        ),
        floor(
            "c'-metrics",
            "(c') without counters, histogram, clock",
            format!("hostcalls no-metrics {ROLLGATE_READS_ONE_EXPERIMENT}"),
        ),
        floor(
            "c'-1read",
            "(c') reading only x-user-id",
            "hostcalls x-user-id".to_string(),
        ),
    ]
}

/// The `.wasm` files the cases load: `ROLLGATE_WASM` may point the Rollgate cases elsewhere.
pub fn wasm_path(filter: &Filter) -> Option<PathBuf> {
    match filter {
        Filter::None => None,
        Filter::Floor(_) => Some(workspace_root().join(FLOOR_WASM)),
        Filter::Rollgate(_) => Some(
            std::env::var_os("ROLLGATE_WASM")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join(ROLLGATE_WASM)),
        ),
    }
}

/// Builds the floor filter's `.wasm` (release, wasm32-wasip1) with the running cargo.
pub fn build_floor_filter() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "--target", "wasm32-wasip1"])
        .args(["-p", "rollgate-floor-filter"])
        .status()
        .context("running cargo to build the floor filter")?;
    if !status.success() {
        bail!("building {FLOOR_WASM} failed (`make wasm-target` installs the target)");
    }
    Ok(())
}

/// The upstream: any request gets `200` with [`UPSTREAM_BODY`].
pub fn upstream_bootstrap() -> String {
    let route = json!({ "match": { "prefix": "/" },
        "direct_response": { "status": 200, "body": { "inline_string": UPSTREAM_BODY } } });
    listener_bootstrap(&[route], &[], &[])
}

/// The Envoy under test for `case`, its clusters on the upstream at `upstream_port`.
pub fn case_bootstrap(case: &Case, upstream_port: u16) -> String {
    let action = match case.route {
        Route::Fixed => json!({ "cluster": "variant_a" }),
        Route::Weighted => json!({ "weighted_clusters": { "clusters": [
            { "name": "variant_a", "weight": 50 }, { "name": "variant_b", "weight": 50 } ] } }),
        Route::ClusterHeader => json!({ "cluster_header": "x-rollgate-cluster" }),
    };
    let route = json!({ "match": { "prefix": "/" }, "route": action });
    let filters: Vec<serde_json::Value> = match (&case.filter, wasm_path(&case.filter)) {
        (Filter::Floor(config), Some(wasm)) => vec![wasm_filter("floor", config, &wasm)],
        (Filter::Rollgate(config), Some(wasm)) => vec![wasm_filter("rollgate", config, &wasm)],
        _ => vec![],
    };
    let clusters: Vec<serde_json::Value> = ["variant_a", "variant_b", "shadow"]
        .iter()
        .map(|name| static_cluster(name, upstream_port))
        .collect();
    listener_bootstrap(&[route], &filters, &clusters)
}

/// A wasm HTTP filter (V8) loading `wasm` with plugin configuration `config`.
pub fn wasm_filter(root_id: &str, config: &str, wasm: &std::path::Path) -> serde_json::Value {
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": root_id,
                "root_id": root_id,
                "configuration": { "@type": "type.googleapis.com/google.protobuf.StringValue", "value": config },
                "vm_config": { "runtime": "envoy.wasm.runtime.v8",
                               "code": { "local": { "filename": wasm.display().to_string() } } }
            }
        }
    })
}

/// A static cluster with one loopback endpoint.
pub fn static_cluster(name: &str, port: u16) -> serde_json::Value {
    json!({ "name": name, "type": "STATIC", "connect_timeout": "1s",
        "load_assignment": { "cluster_name": name, "endpoints": [{ "lb_endpoints": [{ "endpoint": {
            "address": { "socket_address": { "address": "127.0.0.1", "port_value": port } } } }] }] } })
}

/// One loopback listener (OS-chosen port) with `routes`, `filters` before the router, and
/// `clusters`; admin on an OS-chosen port. JSON is valid YAML.
pub fn listener_bootstrap(
    routes: &[serde_json::Value],
    filters: &[serde_json::Value],
    clusters: &[serde_json::Value],
) -> String {
    let mut http_filters = filters.to_vec();
    http_filters.push(
        json!({ "name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }),
    );
    json!({
        "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } },
        "static_resources": {
            "listeners": [{
                "name": "bench",
                "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } },
                "filter_chains": [{ "filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "bench",
                        "route_config": { "virtual_hosts": [{ "name": "all", "domains": ["*"], "routes": routes }] },
                        "http_filters": http_filters
                    }
                }] }]
            }],
            "clusters": clusters
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollgate_core::RoutingTable;

    #[test]
    fn the_rollgate_configs_are_valid_and_the_floor_reads_what_rollgate_reads() {
        for (experiments, shadow) in [(1, 0), (3, 0), (1, 1000)] {
            let config = rollgate_config(experiments, shadow);
            let table = RoutingTable::from_json(config.as_bytes());
            assert!(table.is_ok(), "{config}: {:?}", table.err());
        }
        let table = RoutingTable::from_json(rollgate_config(1, 0).as_bytes()).expect("valid");
        let needed: Vec<&str> = table
            .request_headers()
            .iter()
            .map(String::as_str)
            .filter(|name| *name != "cookie")
            .collect();
        assert_eq!(needed.join(" "), ROLLGATE_READS_ONE_EXPERIMENT);
        assert!(table.request_headers().iter().any(|n| n == "cookie"));
    }

    #[test]
    fn sixteen_header_requests_have_sixteen_headers() {
        // 4 pseudo-headers (:method, :path, :scheme, :authority) + x-user-id + content-length.
        assert_eq!(4 + 2 + SIXTEEN_HEADER_EXTRAS.len(), 16);
    }

    #[test]
    fn every_case_has_a_unique_key_and_the_wasm_cases_route_by_header() {
        let cases = cases();
        let mut keys: Vec<&str> = cases.iter().map(|c| c.key).collect();
        keys.dedup();
        assert_eq!(keys, ["a", "b", "c", "c'", "d", "e", "f"]);
        for case in &cases {
            let wasm = !matches!(case.filter, Filter::None);
            assert_eq!(wasm, case.route == Route::ClusterHeader, "{}", case.key);
            assert!(case_bootstrap(case, 1).contains("envoy.filters.http.router"));
        }
    }
}
