//! Istio's sidecar stats pipeline, as `pilot-agent` writes it into Envoy's bootstrap
//! (`tools/packaging/common/envoy_bootstrap.json` in Istio) for the proxy settings of
//! `manifests/istio/mesh-config.yaml` (`extraStatTags` + `proxyStatsMatcher.inclusionRegexps`).
//!
//! Istio writes `use_all_default_tags: false`, its own tag list, one tag per `extraStatTags`
//! entry with the regex `(<tag>=\.=(.*?);\.;)`, and a `stats_matcher` inclusion list: the
//! `reporter=` prefix, the agent's required prefixes, the mesh's inclusion prefixes / suffixes /
//! regexps, then `component` and `istio`. Only stats matching one pattern exist at all.

use crate::paths::workspace_root;
use serde_json::{json, Value};

/// Prefixes `pilot-agent` always includes (its required Envoy stats).
pub const ISTIO_REQUIRED_PREFIXES: [&str; 5] = [
    "cluster_manager",
    "listener_manager",
    "server",
    "cluster.xds-grpc",
    "wasm",
];

/// Prefix the fixture adds so it can watch ECDS pushes apply
/// (`extension_config_discovery.http_filter.rollgate.config_reload`); a mesh would list it in
/// `proxyStatsMatcher.inclusionPrefixes` for the same reason. It matches no Rollgate metric.
pub const ECDS_STATS_PREFIX: &str = "extension_config_discovery";

/// `extraStatTags` and `proxyStatsMatcher.inclusionRegexps` of `manifests/istio/mesh-config.yaml`.
pub fn mesh_config_stats() -> (Vec<String>, Vec<String>) {
    let path = workspace_root().join("manifests/istio/mesh-config.yaml");
    let parsed: Option<Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_yaml::from_str(&text).ok());
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let config = parsed
        .as_ref()
        .map(|p| &p["spec"]["meshConfig"]["defaultConfig"]);
    (
        strings(config.map(|c| &c["extraStatTags"])),
        strings(config.map(|c| &c["proxyStatsMatcher"]["inclusionRegexps"])),
    )
}

/// The `stats_config` Istio's bootstrap holds for `extra_stat_tags` and `inclusion_regexps`.
pub fn istio_stats_config_for(extra_stat_tags: &[String], inclusion_regexps: &[String]) -> Value {
    let mut tags = vec![
        json!({"tag_name": "cluster_name", "regex": "^cluster\\.((.+?(\\..+?\\.svc\\.cluster\\.local)?)\\.)"}),
        json!({"tag_name": "tcp_prefix", "regex": "^tcp\\.((.*?)\\.)\\w+?$"}),
        json!({"tag_name": "response_code", "regex": "_rq(_(\\d{3}))$"}),
        json!({"tag_name": "response_code_class", "regex": "_rq(_(\\dxx))$"}),
        json!({"tag_name": "http_conn_manager_listener_prefix", "regex": "^listener(?=\\.).*?\\.http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)"}),
        json!({"tag_name": "http_conn_manager_prefix", "regex": "^http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)"}),
        json!({"tag_name": "listener_address", "regex": "^listener\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)"}),
        json!({"tag_name": "mongo_prefix", "regex": "^mongo\\.(.+?)\\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$"}),
    ];
    for tag in extra_stat_tags {
        tags.push(json!({"tag_name": tag, "regex": format!("({tag}=\\.=(.*?);\\.;)")}));
    }
    tags.extend([
        json!({"tag_name": "cache", "regex": "(cache\\.(.+?)\\.)"}),
        json!({"tag_name": "component", "regex": "(component\\.(.+?)\\.)"}),
        json!({"tag_name": "tag", "regex": "(tag\\.(.+?);\\.)"}),
        json!({"tag_name": "wasm_filter", "regex": "(wasm_filter\\.(.+?)\\.)"}),
        json!({"tag_name": "authz_enforce_result", "regex": "rbac(\\.(allowed|denied))"}),
        json!({"tag_name": "authz_dry_run_action", "regex": "(\\.istio_dry_run_(allow|deny)_)"}),
        json!({"tag_name": "authz_dry_run_result", "regex": "(\\.shadow_(allowed|denied))"}),
    ]);
    let mut patterns = vec![json!({"prefix": "reporter="})];
    patterns.extend(
        ISTIO_REQUIRED_PREFIXES
            .iter()
            .chain([&ECDS_STATS_PREFIX])
            .map(|p| json!({ "prefix": p })),
    );
    patterns.extend(
        inclusion_regexps
            .iter()
            .map(|r| json!({ "safe_regex": { "regex": r } })),
    );
    patterns.push(json!({"prefix": "component"}));
    patterns.push(json!({"prefix": "istio"}));
    json!({
        "use_all_default_tags": false,
        "stats_tags": tags,
        "stats_matcher": { "inclusion_list": { "patterns": patterns } }
    })
}

/// [`istio_stats_config_for`] the settings of `manifests/istio/mesh-config.yaml`.
pub fn istio_stats_config() -> Value {
    let (tags, regexps) = mesh_config_stats();
    istio_stats_config_for(&tags, &regexps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_config_is_read() {
        let (tags, regexps) = mesh_config_stats();
        assert_eq!(tags, ["experiment", "variant", "class", "result"]);
        assert_eq!(regexps, [".*rollgate_.*"]);
        let config = istio_stats_config();
        let tags = config["stats_tags"].as_array().cloned().unwrap_or_default();
        assert!(tags
            .iter()
            .any(|t| t["tag_name"] == "variant" && t["regex"] == "(variant=\\.=(.*?);\\.;)"));
    }
}
