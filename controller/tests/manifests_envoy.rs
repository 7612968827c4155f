//! `manifests/envoy/envoy.yaml` agrees with `manifests/values.yaml` and the filter: the
//! Rollgate filter comes from the ECDS file the controller writes, routes use `cluster_header`,
//! the clusters and ports are the values', client routing headers are stripped first, and the
//! stats tags and histogram buckets fit the filter's stat names.

mod manifests_common;

use manifests_common::*;
use rollgate_core::metrics::{self, stat_name};
use serde_yaml::Value;
use std::path::Path;

/// The HTTP filters of the bootstrap's only listener.
fn envoy_http_filters(bootstrap: &Value) -> &Vec<Value> {
    list(
        bootstrap,
        "static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters",
    )
}

#[test]
fn envoy_bootstrap_loads_the_filter_through_ecds() {
    let values = values();
    let bootstrap = single_document("envoy/envoy.yaml");
    let filters = envoy_http_filters(&bootstrap);
    let names: Vec<&str> = filters.iter().map(|f| text(f, "name")).collect();
    assert_eq!(
        names.last(),
        Some(&"envoy.filters.http.router"),
        "router comes last"
    );
    let rollgate = filters
        .iter()
        .find(|f| text(f, "name") == values.wasm.plugin_name)
        .expect("an http filter named like the ECDS resource");
    let source = at(rollgate, "config_discovery/config_source");
    assert_eq!(text(source, "path_config_source/path"), values.ecds.path);
    let watched = text(source, "path_config_source/watched_directory/path");
    assert_eq!(
        Some(Path::new(watched)),
        Path::new(&values.ecds.path).parent()
    );
    assert_eq!(text(source, "resource_api_version"), "V3");
    let type_urls = list(rollgate, "config_discovery/type_urls");
    assert_eq!(type_urls, &[Value::from(values.ecds.type_url.as_str())]);
    // Client-sent routing headers are stripped before the filter sets them.
    let strip = &filters[0];
    let removed: Vec<&str> = list(strip, "typed_config/mutations/request_mutations")
        .iter()
        .map(|m| text(m, "remove"))
        .collect();
    assert_eq!(
        removed,
        [
            values.headers.route.as_str(),
            values.headers.variant.as_str()
        ]
    );
    assert!(
        names.iter().position(|n| *n == values.wasm.plugin_name) > Some(0),
        "strip the headers before the Rollgate filter"
    );
}

#[test]
fn envoy_bootstrap_routes_by_cluster_header_to_the_values_clusters() {
    let values = values();
    let bootstrap = single_document("envoy/envoy.yaml");
    let listener = at(&bootstrap, "static_resources/listeners/0");
    assert_eq!(
        number(listener, "address/socket_address/port_value"),
        u64::from(values.envoy.listener_port)
    );
    let hcm = at(listener, "filter_chains/0/filters/0/typed_config");
    let routes = list(hcm, "route_config/virtual_hosts/0/routes");
    assert_eq!(
        routes.len(),
        2,
        "a cluster_header route and a default route"
    );
    assert_eq!(
        text(&routes[0], "match/headers/0/name"),
        values.headers.route
    );
    assert_eq!(
        at(&routes[0], "match/headers/0/present_match"),
        &Value::from(true)
    );
    assert_eq!(
        text(&routes[0], "route/cluster_header"),
        values.headers.route
    );
    assert_eq!(
        text(&routes[1], "route/cluster"),
        values.variants[0].envoy_cluster
    );

    let clusters = list(&bootstrap, "static_resources/clusters");
    let expected: Vec<(&str, &Upstream)> = values
        .variants
        .iter()
        .map(|v| (v.envoy_cluster.as_str(), &v.envoy_upstream))
        .chain([(
            values.shadow.envoy_cluster.as_str(),
            &values.shadow.envoy_upstream,
        )])
        .collect();
    assert_eq!(
        clusters.len(),
        expected.len(),
        "one cluster per variant plus the shadow"
    );
    for (cluster, (name, upstream)) in clusters.iter().zip(expected) {
        assert_eq!(text(cluster, "name"), name);
        assert_eq!(text(cluster, "load_assignment/cluster_name"), name);
        let address = at(
            cluster,
            "load_assignment/endpoints/0/lb_endpoints/0/endpoint/address",
        );
        assert_eq!(text(address, "socket_address/address"), upstream.address);
        assert_eq!(
            number(address, "socket_address/port_value"),
            u64::from(upstream.port)
        );
    }

    assert_eq!(
        text(&bootstrap, "admin/address/socket_address/address"),
        values.envoy.admin_address
    );
    assert_eq!(
        number(&bootstrap, "admin/address/socket_address/port_value"),
        u64::from(values.envoy.admin_port)
    );
    let tags: Vec<(&str, &str)> = list(&bootstrap, "stats_config/stats_tags")
        .iter()
        .map(|t| (text(t, "tag_name"), text(t, "regex")))
        .collect();
    let expected_tags: Vec<(String, String)> = values
        .stat_tags
        .iter()
        .map(|tag| (tag.clone(), format!(r"({tag}=\.=(.+?);\.;)")))
        .collect();
    let expected_tags: Vec<(&str, &str)> = expected_tags
        .iter()
        .map(|(t, r)| (t.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        tags, expected_tags,
        "Istio's extraStatTags regexes, one per tag"
    );
    for tag in &values.stat_tags {
        // What each regex captures is exactly how the filter writes that label.
        let name = stat_name(metrics::REQUESTS_TOTAL, &[(tag.as_str(), "v")]);
        assert!(
            name.contains(&format!("{tag}=.=v;.;")),
            "{tag}: the filter writes {name}"
        );
    }

    let buckets: Vec<&str> = list(&bootstrap, "stats_config/histogram_bucket_settings")
        .iter()
        .map(|b| text(b, "match/suffix"))
        .collect();
    assert_eq!(
        buckets,
        [metrics::REQUEST_DURATION_MS, metrics::SHADOW_DURATION_MS]
    );
    let labelled = stat_name(
        metrics::REQUEST_DURATION_MS,
        &[("experiment", "e"), ("variant", "v")],
    );
    assert!(
        labelled.ends_with(buckets[0]),
        "labels come first, so a suffix matches: {labelled}"
    );
}
