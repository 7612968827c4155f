//! `manifests/istio/` agrees with `manifests/values.yaml`: the VirtualService routes each
//! variant header to its DestinationRule subset, the Deployments and Service carry the values'
//! names, images and ports, and the stat tags and client labels are the ones the filter and the
//! WasmPlugin use.

mod manifests_common;

use manifests_common::*;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::Path;

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
