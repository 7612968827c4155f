//! The committed manifests (`manifests/`) agree with `manifests/values.yaml` and with the filter.
//!
//! `make manifests` runs this test: every YAML file parses; every `pluginConfig` and ECDS
//! `configuration.value` passes the filter's own validator and equals the filter config rendered
//! from the values file; every name (experiment, clusters, headers, subsets, images, ports, stat
//! tags) used by the Istio and Envoy manifests is the one the values file gives.

use rollgate_filter::config::{
    CompareConfig, Experiment, ExperimentKind, FilterConfig, MatchRule, MissingUnit, ShadowConfig,
    UnitKind, UnitSource, Variant,
};
use rollgate_filter::ecds::{parse_plugin_config_file, render_ecds, EcdsTarget};
use rollgate_filter::metrics::{self, stat_name};
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `manifests/values.yaml`, field for field (unknown fields refused so typos surface).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Values {
    namespace: String,
    app: String,
    service_port: u16,
    container_port: u16,
    experiment: ExperimentValues,
    headers: HeaderValues,
    variants: Vec<VariantValues>,
    shadow: ShadowValues,
    wasm: WasmValues,
    ecds: EcdsValues,
    envoy: EnvoyValues,
    stat_tags: Vec<String>,
    #[allow(dead_code)] // checked by manifests_prometheus.rs
    alerts: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentValues {
    id: String,
    kind: ExperimentKind,
    salt: String,
    authority: String,
    path_prefix: String,
    force_header: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderValues {
    unit: String,
    unit_cookie: String,
    route: String,
    variant: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantValues {
    name: String,
    version: String,
    image: String,
    replicas: u32,
    weight: u32,
    istio_cluster: String,
    envoy_cluster: String,
    envoy_upstream: Upstream,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowValues {
    name: String,
    version: String,
    image: String,
    replicas: u32,
    authority: String,
    sample: u32,
    timeout_ms: u32,
    max_body_bytes: u32,
    json_pointer: String,
    tolerance: f64,
    istio_cluster: String,
    envoy_cluster: String,
    envoy_upstream: Upstream,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Upstream {
    address: String,
    port: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WasmValues {
    plugin_name: String,
    wasm_plugin: String,
    oci_url: String,
    file_url: String,
    client_selector: BTreeMap<String, String>,
    envoy_filename: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EcdsValues {
    path: String,
    type_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvoyValues {
    listener_port: u16,
    admin_address: String,
    admin_port: u16,
}

/// Which cluster names a rendered filter config uses.
#[derive(Clone, Copy)]
enum Flavor {
    /// Istio subset clusters `outbound|port|subset|fqdn`.
    Istio,
    /// The static clusters of `manifests/envoy/envoy.yaml`.
    Envoy,
}

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

fn read(relative: &str) -> String {
    let path = manifests_dir().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn values() -> Values {
    serde_yaml::from_str(&read("values.yaml")).unwrap_or_else(|err| {
        panic!("manifests/values.yaml does not match the Values shape: {err}")
    })
}

/// Every YAML document of a (multi-document) file.
fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            Value::deserialize(doc)
                .unwrap_or_else(|err| panic!("manifests/{relative} is not valid YAML: {err}"))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

fn single_document(relative: &str) -> Value {
    let mut docs = documents(relative);
    assert_eq!(
        docs.len(),
        1,
        "manifests/{relative} should hold exactly one document"
    );
    docs.remove(0)
}

/// The value at a `/`-separated path of keys and list indexes; panics naming the path.
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    let mut current = value;
    for key in path.split('/') {
        current = match key.parse::<usize>() {
            Ok(index) => current.get(index),
            Err(_) => current.get(key),
        }
        .unwrap_or_else(|| panic!("missing `{path}` (stopped at `{key}`) in {value:?}"));
    }
    current
}

fn text<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string"))
}

fn number(value: &Value, path: &str) -> u64 {
    at(value, path)
        .as_u64()
        .unwrap_or_else(|| panic!("`{path}` is not an unsigned integer"))
}

fn list<'a>(value: &'a Value, path: &str) -> &'a Vec<Value> {
    at(value, path)
        .as_sequence()
        .unwrap_or_else(|| panic!("`{path}` is not a list"))
}

fn find_by_kind<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|doc| {
            doc.get("kind").and_then(Value::as_str) == Some(kind)
                && doc
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    == Some(name)
        })
        .unwrap_or_else(|| panic!("no {kind} named {name}"))
}

fn fqdn(values: &Values) -> String {
    format!("{}.{}.svc.cluster.local", values.app, values.namespace)
}

/// The filter config the manifests must carry, rendered from the values file.
fn expected_filter_config(values: &Values, flavor: Flavor) -> FilterConfig {
    let pick = |istio: &str, envoy: &str| match flavor {
        Flavor::Istio => istio.to_string(),
        Flavor::Envoy => envoy.to_string(),
    };
    let shadow = &values.shadow;
    FilterConfig {
        version: 1,
        unit: UnitSource {
            header: Some(values.headers.unit.clone()),
            cookie: Some(values.headers.unit_cookie.clone()),
            missing_unit: MissingUnit::Stable,
        },
        route_header: values.headers.route.clone(),
        variant_header: values.headers.variant.clone(),
        experiments: vec![Experiment {
            id: values.experiment.id.clone(),
            kind: values.experiment.kind,
            salt: values.experiment.salt.clone(),
            match_rule: MatchRule {
                authority: Some(values.experiment.authority.clone()),
                path_prefix: Some(values.experiment.path_prefix.clone()),
                headers: BTreeMap::new(),
            },
            variants: values
                .variants
                .iter()
                .map(|v| Variant {
                    name: v.name.clone(),
                    cluster: pick(&v.istio_cluster, &v.envoy_cluster),
                    weight: v.weight,
                })
                .collect(),
            force_header: Some(values.experiment.force_header.clone()),
            shadow: Some(ShadowConfig {
                cluster: pick(&shadow.istio_cluster, &shadow.envoy_cluster),
                authority: shadow.authority.clone(),
                sample: shadow.sample,
                timeout_ms: shadow.timeout_ms,
                max_body_bytes: shadow.max_body_bytes,
                compare: Some(CompareConfig {
                    json_pointer: shadow.json_pointer.clone(),
                    tolerance: shadow.tolerance,
                }),
            }),
            guard: None,
            layer: None,
            unit_kind: UnitKind::User,
        }],
    }
}

/// Runs the filter's validator on a config given as YAML (pluginConfig) and returns it.
fn validated(config: &Value, origin: &str) -> FilterConfig {
    let json = serde_json::to_vec(config)
        .unwrap_or_else(|err| panic!("{origin}: cannot convert to JSON: {err}"));
    FilterConfig::from_json(&json)
        .unwrap_or_else(|err| panic!("{origin}: the filter refuses this config: {err}"))
}

fn yaml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            yaml_files(&path, found);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            found.push(path);
        }
    }
}

#[test]
fn every_manifest_file_parses_as_yaml() {
    let root = manifests_dir();
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 14,
        "expected the whole manifest set, found {files:?}"
    );
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .expect("under manifests/")
            .to_string_lossy();
        let docs = documents(&relative);
        assert!(!docs.is_empty(), "{relative} holds no YAML document");
        for doc in &docs {
            assert!(
                doc.is_mapping(),
                "{relative}: every document is a mapping, got {doc:?}"
            );
        }
    }
}

#[test]
fn values_file_is_self_consistent() {
    let values = values();
    let total: u32 = values.variants.iter().map(|v| v.weight).sum();
    assert_eq!(
        total, 10_000,
        "variant weights in values.yaml must sum to 10000 basis points"
    );
    let fqdn = fqdn(&values);
    for (name, cluster) in values
        .variants
        .iter()
        .map(|v| (&v.name, &v.istio_cluster))
        .chain([(&values.shadow.name, &values.shadow.istio_cluster)])
    {
        assert_eq!(
            cluster,
            &format!("outbound|{}|{name}|{fqdn}", values.service_port),
            "Istio names subset clusters outbound|<port>|<subset>|<fqdn>"
        );
    }
    assert_eq!(
        values.stat_tags,
        [
            metrics::LABEL_EXPERIMENT,
            metrics::LABEL_VARIANT,
            metrics::LABEL_CLASS,
            metrics::LABEL_RESULT
        ]
    );
}

#[test]
fn wasm_plugins_carry_the_rendered_filter_config() {
    let values = values();
    let expected = expected_filter_config(&values, Flavor::Istio);
    for (file, url) in [
        ("istio/wasmplugin.yaml", &values.wasm.oci_url),
        ("istio/wasmplugin-file.yaml", &values.wasm.file_url),
    ] {
        let plugin = single_document(file);
        assert_eq!(
            text(&plugin, "apiVersion"),
            "extensions.istio.io/v1alpha1",
            "{file}"
        );
        assert_eq!(text(&plugin, "kind"), "WasmPlugin", "{file}");
        assert_eq!(
            text(&plugin, "metadata/name"),
            values.wasm.wasm_plugin,
            "{file}"
        );
        assert_eq!(
            text(&plugin, "metadata/namespace"),
            values.namespace,
            "{file}"
        );
        assert_eq!(text(&plugin, "spec/url"), url.as_str(), "{file}");
        assert_eq!(
            text(&plugin, "spec/pluginName"),
            values.wasm.plugin_name,
            "{file}"
        );
        assert_eq!(text(&plugin, "spec/phase"), "UNSPECIFIED_PHASE", "{file}");
        assert_eq!(text(&plugin, "spec/failStrategy"), "FAIL_OPEN", "{file}");
        assert_eq!(text(&plugin, "spec/type"), "HTTP", "{file}");
        assert_eq!(text(&plugin, "spec/match/0/mode"), "CLIENT", "{file}");
        assert_eq!(
            number(&plugin, "spec/match/0/ports/0/number"),
            u64::from(values.service_port)
        );
        let selector: BTreeMap<String, String> =
            serde_yaml::from_value(at(&plugin, "spec/selector/matchLabels").clone())
                .expect("selector labels are strings");
        assert_eq!(selector, values.wasm.client_selector, "{file}");
        let config = validated(at(&plugin, "spec/pluginConfig"), file);
        assert_eq!(
            config, expected,
            "{file}: pluginConfig differs from values.yaml"
        );
    }
}

#[test]
fn the_validator_really_checks_plugin_configs() {
    // The same pluginConfig with one weight changed must be refused: the check above can fail.
    let plugin = single_document("istio/wasmplugin.yaml");
    let mut config = at(&plugin, "spec/pluginConfig").clone();
    config["experiments"][0]["variants"][1]["weight"] = Value::from(1);
    let json = serde_json::to_vec(&config).expect("json");
    let err = FilterConfig::from_json(&json).expect_err("weights summing to 10001 are refused");
    assert!(err.to_string().contains("weight"), "{err}");
}

#[test]
fn ecds_example_carries_the_rendered_filter_config() {
    let values = values();
    let file = single_document("envoy/ecds.yaml");
    let resources = list(&file, "resources");
    assert_eq!(resources.len(), 1, "one ECDS resource: the Rollgate filter");
    let resource = &resources[0];
    assert_eq!(
        text(resource, "@type"),
        "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
    );
    assert_eq!(text(resource, "name"), values.wasm.plugin_name);
    assert_eq!(text(resource, "typed_config/@type"), values.ecds.type_url);
    let plugin = at(resource, "typed_config/config");
    assert_eq!(text(plugin, "root_id"), values.wasm.plugin_name);
    assert_eq!(text(plugin, "vm_config/runtime"), "envoy.wasm.runtime.v8");
    assert_eq!(
        text(plugin, "vm_config/code/local/filename"),
        values.wasm.envoy_filename
    );
    assert_eq!(
        text(plugin, "configuration/@type"),
        "type.googleapis.com/google.protobuf.StringValue"
    );
    let json = text(plugin, "configuration/value");
    let config = FilterConfig::from_json(json.as_bytes())
        .unwrap_or_else(|err| panic!("envoy/ecds.yaml: the filter refuses its config: {err}"));
    assert_eq!(config, expected_filter_config(&values, Flavor::Envoy));
}

/// Whether every key of `part` is in `whole` with an equal value (lists element by element).
fn contains(whole: &Value, part: &Value) -> bool {
    match (whole, part) {
        (Value::Mapping(w), Value::Mapping(p)) => p
            .iter()
            .all(|(k, v)| w.get(k).is_some_and(|wv| contains(wv, v))),
        (Value::Sequence(w), Value::Sequence(p)) => {
            w.len() == p.len() && w.iter().zip(p).all(|(a, b)| contains(a, b))
        }
        _ => whole == part,
    }
}

#[test]
fn ecds_example_has_the_shape_the_controller_writes() {
    let values = values();
    let target = EcdsTarget {
        name: values.wasm.plugin_name.clone(),
        wasm_filename: values.wasm.envoy_filename.clone(),
    };
    let config = expected_filter_config(&values, Flavor::Envoy);
    let written = render_ecds(&target, 1, &config).expect("the controller renders the values");
    let written: Value = serde_yaml::from_str(&written).expect("rendered ECDS is YAML");
    let mut example = single_document("envoy/ecds.yaml");
    // The JSON text may differ in spacing: compare it as a config, the rest as YAML.
    let path = "resources/0/typed_config/config/configuration/value";
    let json = text(&example, path).to_string();
    assert_eq!(
        FilterConfig::from_json(json.as_bytes()).expect("valid"),
        config
    );
    example["resources"][0]["typed_config"]["config"]["configuration"]["value"] =
        at(&written, path).clone();
    assert!(
        contains(&example, &written),
        "envoy/ecds.yaml lacks or changes a field the controller writes:\nexample: {example:?}\nwritten: {written:?}"
    );
    let read = parse_plugin_config_file(&read("envoy/ecds.yaml")).expect("the filter reads it");
    assert_eq!(read.version_info.as_deref(), Some("1"));
    assert_eq!(read.config_json, json);
}

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

#[test]
fn virtual_service_routes_each_variant_header_to_its_subset() {
    let values = values();
    let service = single_document("istio/virtualservice.yaml");
    assert_eq!(text(&service, "metadata/namespace"), values.namespace);
    assert_eq!(list(&service, "spec/hosts"), &[Value::from(fqdn(&values))]);
    let routes = list(&service, "spec/http");
    for variant in &values.variants {
        let route = routes
            .iter()
            .find(|r| {
                r.get("match")
                    .and_then(|m| m.get(0))
                    .and_then(|m| m.get("headers"))
                    .and_then(|h| h.get(values.headers.variant.as_str()))
                    .and_then(|h| h.get("exact"))
                    .and_then(Value::as_str)
                    == Some(variant.name.as_str())
            })
            .unwrap_or_else(|| panic!("no header match for variant {}", variant.name));
        assert_eq!(text(route, "route/0/destination/subset"), variant.name);
        assert_eq!(text(route, "route/0/destination/host"), fqdn(&values));
        assert_eq!(
            number(route, "route/0/destination/port/number"),
            u64::from(values.service_port)
        );
    }
    let default = routes.last().expect("a default route");
    assert!(
        default.get("match").is_none(),
        "the last route matches everything"
    );
    assert_eq!(
        text(default, "route/0/destination/subset"),
        values.variants[0].name
    );
    let subsets_routed: Vec<&str> = routes
        .iter()
        .map(|r| text(r, "route/0/destination/subset"))
        .collect();
    assert!(
        !subsets_routed.contains(&values.shadow.name.as_str()),
        "live traffic never goes to the shadow subset"
    );
}

#[test]
fn destination_rule_and_deployments_match_the_values() {
    let values = values();
    let rule = single_document("istio/destinationrule.yaml");
    assert_eq!(text(&rule, "spec/host"), fqdn(&values));
    let subsets: Vec<(&str, &str)> = list(&rule, "spec/subsets")
        .iter()
        .map(|s| (text(s, "name"), text(s, "labels/version")))
        .collect();
    let workloads: Vec<(&str, &str, &str, u32)> = values
        .variants
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.version.as_str(),
                v.image.as_str(),
                v.replicas,
            )
        })
        .chain([(
            values.shadow.name.as_str(),
            values.shadow.version.as_str(),
            values.shadow.image.as_str(),
            values.shadow.replicas,
        )])
        .collect();
    let expected_subsets: Vec<(&str, &str)> = workloads.iter().map(|w| (w.0, w.1)).collect();
    assert_eq!(subsets, expected_subsets);

    let docs = documents("istio/deployments.yaml");
    assert_eq!(
        docs.len(),
        1 + workloads.len(),
        "a Service and one Deployment per workload"
    );
    let service = find_by_kind(&docs, "Service", &values.app);
    assert_eq!(text(service, "spec/selector/app"), values.app);
    assert_eq!(
        number(service, "spec/ports/0/port"),
        u64::from(values.service_port)
    );
    assert_eq!(
        number(service, "spec/ports/0/targetPort"),
        u64::from(values.container_port)
    );
    for (name, version, image, replicas) in workloads {
        let deployment = find_by_kind(&docs, "Deployment", &format!("{}-{name}", values.app));
        assert_eq!(text(deployment, "metadata/namespace"), values.namespace);
        assert_eq!(number(deployment, "spec/replicas"), u64::from(replicas));
        for labels in ["spec/selector/matchLabels", "spec/template/metadata/labels"] {
            assert_eq!(text(deployment, &format!("{labels}/app")), values.app);
            assert_eq!(text(deployment, &format!("{labels}/version")), version);
        }
        let container = at(deployment, "spec/template/spec/containers/0");
        assert_eq!(text(container, "image"), image);
        assert_eq!(
            number(container, "ports/0/containerPort"),
            u64::from(values.container_port)
        );
    }
}

#[test]
fn istio_stat_tags_and_client_labels_match_the_values() {
    let values = values();
    let mesh = single_document("istio/mesh-config.yaml");
    let tags: Vec<&str> = list(&mesh, "spec/meshConfig/defaultConfig/extraStatTags")
        .iter()
        .map(|t| t.as_str().expect("tag"))
        .collect();
    assert_eq!(tags, values.stat_tags);

    let client = single_document("istio/client-example.yaml");
    let template = at(&client, "spec/template/metadata");
    let labels: BTreeMap<String, String> =
        serde_yaml::from_value(at(template, "labels").clone()).expect("labels are strings");
    for (key, value) in &values.wasm.client_selector {
        assert_eq!(
            labels.get(key),
            Some(value),
            "the WasmPlugin selector picks the client"
        );
    }
    let annotations = at(template, "annotations");
    let annotation = |key: &str| {
        annotations
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("client-example.yaml: no annotation {key}"))
    };
    let tags: Vec<&str> = annotation("sidecar.istio.io/extraStatTags")
        .split(',')
        .collect();
    assert_eq!(tags, values.stat_tags);
    let mount = annotation("sidecar.istio.io/userVolumeMount");
    let mount: serde_json::Value = serde_json::from_str(mount).expect("userVolumeMount is JSON");
    let mount_path = mount["rollgate-wasm"]["mountPath"]
        .as_str()
        .expect("mountPath");
    let file = values
        .wasm
        .file_url
        .strip_prefix("file://")
        .expect("file:// url");
    assert_eq!(Path::new(file).parent(), Some(Path::new(mount_path)));
}
