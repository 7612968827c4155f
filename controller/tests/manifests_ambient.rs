//! `manifests/istio/ambient-*.yaml` (waypoint, WasmPlugin with targetRefs, HTTPRoute) and
//! `manifests/gateway-api/envoy-gateway.yaml` agree with `manifests/values.yaml` and with each
//! other: the WasmPlugin targets the waypoint Gateway, its pluginConfig passes the filter's
//! validator and names the waypoint's per-version clusters, and every HTTPRoute sends each
//! variant header value to the Service of that variant's version (stable by default).

mod manifests_common;

use manifests_common::*;
use rollgate_core::config::FilterConfig;
use serde_yaml::Value;

/// The per-version backend Service of a variant version (`fraud-detector-v2`).
fn backend(values: &Values, version: &str) -> String {
    format!("{}-{version}", values.app)
}

/// The cluster a waypoint builds for a Service: `inbound-vip|<port>|http|<fqdn>`.
fn waypoint_cluster(values: &Values, version: &str) -> String {
    format!(
        "inbound-vip|{}|http|{}.{}.svc.cluster.local",
        values.service_port,
        backend(values, version),
        values.namespace
    )
}

/// Checks an HTTPRoute's rules: one exact variant-header match per variant → its Service, and
/// a last rule without matches → the first variant's Service.
fn check_variant_rules(values: &Values, route: &Value, origin: &str) {
    let rules = list(route, "spec/rules");
    for variant in &values.variants {
        let rule = rules
            .iter()
            .find(|r| {
                r.get("matches")
                    .and_then(|m| m.get(0))
                    .and_then(|m| m.get("headers"))
                    .and_then(|h| h.get(0))
                    .is_some_and(|h| {
                        h.get("name").and_then(Value::as_str) == Some(&values.headers.variant)
                            && h.get("value").and_then(Value::as_str) == Some(&variant.name)
                            && h.get("type").and_then(Value::as_str) == Some("Exact")
                    })
            })
            .unwrap_or_else(|| panic!("{origin}: no rule for variant {}", variant.name));
        assert_eq!(
            text(rule, "backendRefs/0/name"),
            backend(values, &variant.version),
            "{origin}: {}",
            variant.name
        );
        assert_eq!(
            number(rule, "backendRefs/0/port"),
            u64::from(values.service_port),
            "{origin}"
        );
    }
    let default = rules.last().expect("a default rule");
    assert!(
        default.get("matches").is_none(),
        "{origin}: last rule matches all"
    );
    assert_eq!(
        text(default, "backendRefs/0/name"),
        backend(values, &values.variants[0].version),
        "{origin}: requests without the header go to the first variant"
    );
}

fn check_variants(values: &Values, config: &FilterConfig, clusters: &[String], origin: &str) {
    assert_eq!(config.variant_header, values.headers.variant, "{origin}");
    let experiment = &config.experiments[0];
    assert_eq!(experiment.id, values.experiment.id, "{origin}");
    let names: Vec<(&str, &str)> = experiment
        .variants
        .iter()
        .map(|v| (v.name.as_str(), v.cluster.as_str()))
        .collect();
    let expected: Vec<(&str, &str)> = values
        .variants
        .iter()
        .zip(clusters)
        .map(|(v, c)| (v.name.as_str(), c.as_str()))
        .collect();
    assert_eq!(names, expected, "{origin}");
}

#[test]
fn waypoint_wasm_plugin_targets_the_waypoint_and_names_its_clusters() {
    let values = values();
    let waypoint_docs = documents("istio/ambient-waypoint.yaml");
    let waypoint = find_by_kind(&waypoint_docs, "Gateway", "waypoint");
    assert_eq!(text(waypoint, "spec/gatewayClassName"), "istio-waypoint");
    let plugin = single_document("istio/ambient-wasmplugin.yaml");
    assert_eq!(text(&plugin, "kind"), "WasmPlugin");
    assert_eq!(text(&plugin, "metadata/namespace"), values.namespace);
    assert_eq!(text(&plugin, "spec/targetRefs/0/kind"), "Gateway");
    assert_eq!(
        text(&plugin, "spec/targetRefs/0/group"),
        "gateway.networking.k8s.io"
    );
    assert_eq!(
        text(&plugin, "spec/targetRefs/0/name"),
        text(waypoint, "metadata/name")
    );
    assert!(
        plugin["spec"].get("selector").is_none(),
        "targetRefs, not a selector"
    );
    assert_eq!(text(&plugin, "spec/pluginName"), values.wasm.plugin_name);
    assert_eq!(text(&plugin, "spec/url"), values.wasm.oci_url);
    let config = validated(at(&plugin, "spec/pluginConfig"), "ambient-wasmplugin.yaml");
    let clusters: Vec<String> = values
        .variants
        .iter()
        .map(|v| waypoint_cluster(&values, &v.version))
        .collect();
    check_variants(&values, &config, &clusters, "ambient-wasmplugin.yaml");
    // the service clients call uses the waypoint; one Service per version exists
    let service = find_by_kind(&waypoint_docs, "Service", &values.app);
    assert_eq!(
        at(service, "metadata/labels")
            .get("istio.io/use-waypoint")
            .and_then(Value::as_str),
        Some(text(waypoint, "metadata/name"))
    );
    for variant in &values.variants {
        let name = backend(&values, &variant.version);
        let svc = find_by_kind(&waypoint_docs, "Service", &name);
        assert_eq!(
            text(svc, "spec/selector/version"),
            variant.version,
            "{name}"
        );
        assert_eq!(text(svc, "spec/selector/app"), values.app, "{name}");
        assert_eq!(
            number(svc, "spec/ports/0/port"),
            u64::from(values.service_port)
        );
        assert_eq!(
            number(svc, "spec/ports/0/targetPort"),
            u64::from(values.container_port)
        );
    }
}

#[test]
fn ambient_http_route_sends_each_variant_to_its_service() {
    let values = values();
    let route = single_document("istio/ambient-httproute.yaml");
    assert_eq!(text(&route, "kind"), "HTTPRoute");
    assert_eq!(text(&route, "spec/parentRefs/0/kind"), "Service");
    assert_eq!(text(&route, "spec/parentRefs/0/name"), values.app);
    check_variant_rules(&values, &route, "ambient-httproute.yaml");
}

#[test]
fn envoy_gateway_example_attaches_the_wasm_to_the_variant_route() {
    let values = values();
    let docs = documents("gateway-api/envoy-gateway.yaml");
    let gateway = docs
        .iter()
        .find(|d| d.get("kind").and_then(Value::as_str) == Some("Gateway"))
        .expect("a Gateway");
    let route = find_by_kind(&docs, "HTTPRoute", &values.app);
    assert_eq!(
        text(route, "spec/parentRefs/0/name"),
        text(gateway, "metadata/name")
    );
    check_variant_rules(&values, route, "envoy-gateway.yaml");
    let policy = docs
        .iter()
        .find(|d| d.get("kind").and_then(Value::as_str) == Some("EnvoyExtensionPolicy"))
        .expect("an EnvoyExtensionPolicy");
    assert_eq!(text(policy, "apiVersion"), "gateway.envoyproxy.io/v1alpha1");
    assert_eq!(text(policy, "spec/targetRefs/0/kind"), "HTTPRoute");
    assert_eq!(
        text(policy, "spec/targetRefs/0/name"),
        text(route, "metadata/name")
    );
    assert_eq!(text(policy, "spec/wasm/0/rootID"), values.wasm.plugin_name);
    assert!(text(policy, "spec/wasm/0/code/http/url").ends_with(".wasm"));
    let config = validated(at(policy, "spec/wasm/0/config"), "envoy-gateway.yaml");
    let experiment = &config.experiments[0];
    let names: Vec<&str> = experiment
        .variants
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let expected: Vec<&str> = values.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, expected);
    assert_eq!(config.variant_header, values.headers.variant);
}
