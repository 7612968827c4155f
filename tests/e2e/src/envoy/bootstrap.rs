//! The Envoy bootstrap a test runs: one HTTP listener on an OS-chosen loopback port whose
//! filter chain holds the Rollgate filter as an ECDS filter (`config_discovery` over a
//! `path_config_source` with a `watched_directory`, as `manifests/envoy/envoy.yaml` ships it),
//! the router, and one static cluster per loopback upstream.
//!
//! Pure: [`render`] turns [`EnvoyOptions`] and the instance's paths into the bootstrap JSON.

use crate::paths::workspace_root;
use crate::E2eError;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Name of the listener (and of its HTTP stats prefix).
pub const LISTENER: &str = "ingress";
/// Name of the ECDS extension config (the listener's `http_filters[].name`).
pub const FILTER_NAME: &str = "rollgate";
/// Type URL the ECDS filter accepts.
pub const WASM_TYPE_URL: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";

/// A static cluster with one loopback endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Cluster name, as the filter config's `variants[].cluster` names it.
    pub name: String,
    /// The endpoint.
    pub addr: SocketAddr,
}

impl Cluster {
    /// A cluster `name` pointing at `addr`.
    pub fn new(name: &str, addr: SocketAddr) -> Self {
        Self {
            name: name.to_string(),
            addr,
        }
    }
}

/// Where the stat tags (and which stats) come from.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsPipeline {
    /// `stats_config` of `manifests/envoy/envoy.yaml`, read from the file as shipped.
    Manifest,
    /// Istio's sidecar pipeline: the `stats_matcher` inclusion list and the `extraStatTags`
    /// regexes Istio's bootstrap writes for `manifests/istio/mesh-config.yaml`
    /// (see [`super::istio::istio_stats_config`]).
    Istio,
    /// Any `stats_config` object.
    Custom(Value),
}

/// Everything a test chooses about its Envoy.
#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    /// Upstream clusters (variants, shadow). Needs at least one.
    pub clusters: Vec<Cluster>,
    /// Cluster of requests the filter did not route; default: the first cluster.
    pub default_cluster: Option<String>,
    /// Request header a `cluster_header` route reads (the filter config's `route_header`).
    pub route_header: String,
    /// Worker threads (`--concurrency`); each worker runs its own Wasm VM.
    pub concurrency: u32,
    /// Stat tags and inclusion list.
    pub stats: StatsPipeline,
    /// The `.wasm` Envoy loads; default: the release filter `make wasm` builds.
    pub wasm: Option<PathBuf>,
    /// HTTP filters placed before the Rollgate filter (e.g. a header mutation).
    pub filters_before: Vec<Value>,
    /// A whole `route_config` replacing the two default routes.
    pub route_config: Option<Value>,
    /// Route timeout of the default routes.
    pub route_timeout_ms: u64,
    /// Extra command line arguments for Envoy.
    pub extra_args: Vec<String>,
}

impl EnvoyOptions {
    /// Defaults for `clusters`: concurrency 2, the manifest's stats, `x-rollgate-cluster`.
    pub fn new(clusters: Vec<Cluster>) -> Self {
        Self {
            clusters,
            default_cluster: None,
            route_header: "x-rollgate-cluster".to_string(),
            concurrency: 2,
            stats: StatsPipeline::Manifest,
            wasm: None,
            filters_before: Vec::new(),
            route_config: None,
            route_timeout_ms: 5_000,
            extra_args: Vec::new(),
        }
    }
}

/// The instance's files the bootstrap refers to.
#[derive(Debug, Clone)]
pub struct BootstrapPaths {
    /// The ECDS file Envoy watches.
    pub ecds_file: PathBuf,
}

/// The `stats_config` of `manifests/envoy/envoy.yaml`.
pub fn manifest_stats_config() -> Result<Value, E2eError> {
    let path = workspace_root().join("manifests/envoy/envoy.yaml");
    let text = std::fs::read_to_string(&path).map_err(|source| E2eError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    let yaml: Value = serde_yaml::from_str(&text).map_err(|err| E2eError::Protocol {
        what: format!("parsing {}", path.display()),
        why: err.to_string(),
    })?;
    yaml.get("stats_config")
        .cloned()
        .ok_or_else(|| E2eError::Protocol {
            what: format!("reading {}", path.display()),
            why: "no stats_config".to_string(),
        })
}

/// The two default routes: a set route header routes by `cluster_header`, anything else goes
/// to the default cluster (as `manifests/envoy/envoy.yaml`).
pub fn default_route_config(route_header: &str, default_cluster: &str, timeout_ms: u64) -> Value {
    let timeout = format!("{}s", timeout_ms as f64 / 1000.0);
    json!({
        "name": "routes",
        "virtual_hosts": [{
            "name": "all",
            "domains": ["*"],
            "routes": [
                {
                    "name": "rollgate_variant",
                    "match": { "prefix": "/", "headers": [{ "name": route_header, "present_match": true }] },
                    "route": { "cluster_header": route_header, "timeout": timeout }
                },
                {
                    "name": "default",
                    "match": { "prefix": "/" },
                    "route": { "cluster": default_cluster, "timeout": timeout }
                }
            ]
        }]
    })
}

/// The ECDS HTTP filter entry: the config comes from `ecds_file`, reloaded when a file is
/// moved into its directory.
pub fn ecds_http_filter(ecds_file: &Path) -> Value {
    let dir = ecds_file.parent().unwrap_or_else(|| Path::new("/"));
    json!({
        "name": FILTER_NAME,
        "config_discovery": {
            "config_source": {
                "resource_api_version": "V3",
                "path_config_source": {
                    "path": ecds_file.display().to_string(),
                    "watched_directory": { "path": dir.display().to_string() }
                }
            },
            "type_urls": [WASM_TYPE_URL]
        }
    })
}

/// The bootstrap JSON for `options`.
pub fn render(options: &EnvoyOptions, paths: &BootstrapPaths) -> Result<Value, E2eError> {
    let first = options.clusters.first().ok_or_else(|| E2eError::Protocol {
        what: "building an Envoy bootstrap".to_string(),
        why: "no upstream cluster given".to_string(),
    })?;
    let default_cluster = options.default_cluster.as_deref().unwrap_or(&first.name);
    let stats_config = match &options.stats {
        StatsPipeline::Manifest => manifest_stats_config()?,
        StatsPipeline::Istio => super::istio::istio_stats_config(),
        StatsPipeline::Custom(value) => value.clone(),
    };
    let route_config = options.route_config.clone().unwrap_or_else(|| {
        default_route_config(
            &options.route_header,
            default_cluster,
            options.route_timeout_ms,
        )
    });
    let mut http_filters = options.filters_before.clone();
    http_filters.push(ecds_http_filter(&paths.ecds_file));
    http_filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
    }));
    let clusters: Vec<Value> = options
        .clusters
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": {
                    "cluster_name": c.name,
                    "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": socket_address(c.addr) } }] }]
                }
            })
        })
        .collect();
    Ok(json!({
        "node": { "id": "rollgate-test", "cluster": "rollgate" },
        "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } },
        "stats_config": stats_config,
        "static_resources": {
            "listeners": [{
                "name": LISTENER,
                "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } },
                // Connections alternate between the workers, so a test with a few keep-alive
                // connections reaches every worker (and every Wasm VM).
                "connection_balance_config": { "exact_balance": {} },
                "filter_chains": [{
                    "filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                            "stat_prefix": LISTENER,
                            "codec_type": "AUTO",
                            "route_config": route_config,
                            "http_filters": http_filters
                        }
                    }]
                }]
            }],
            "clusters": clusters
        }
    }))
}

fn socket_address(addr: SocketAddr) -> Value {
    json!({ "socket_address": { "address": addr.ip().to_string(), "port_value": addr.port() } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_is_an_ecds_filter_before_the_router() -> Result<(), E2eError> {
        let options = EnvoyOptions::new(vec![Cluster::new(
            "stable",
            SocketAddr::from(([127, 0, 0, 1], 1)),
        )]);
        let paths = BootstrapPaths {
            ecds_file: PathBuf::from("/tmp/x/ecds.yaml"),
        };
        let boot = render(&options, &paths)?;
        let hcm = &boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"];
        let filters = hcm["http_filters"].as_array().cloned().unwrap_or_default();
        assert_eq!(filters.len(), 2);
        let source = &filters[0]["config_discovery"]["config_source"]["path_config_source"];
        assert_eq!(source["path"], "/tmp/x/ecds.yaml");
        assert_eq!(source["watched_directory"]["path"], "/tmp/x");
        assert_eq!(filters[1]["name"], "envoy.filters.http.router");
        let routes = &hcm["route_config"]["virtual_hosts"][0]["routes"];
        assert_eq!(routes[0]["route"]["cluster_header"], "x-rollgate-cluster");
        assert_eq!(routes[1]["route"]["cluster"], "stable");
        assert!(boot["stats_config"]["stats_tags"].is_array());
        Ok(())
    }
}
