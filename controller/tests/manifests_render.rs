//! The committed manifests (`manifests/`) agree with `manifests/values.yaml`, with the filter
//! and with `rollgate render`.
//!
//! `make manifests` runs the manifests_* tests. This one: every YAML file parses; every
//! `pluginConfig`, ECDS `configuration.value` and `filter-config.json` passes the filter's own
//! validator and equals the filter config rendered from the values file; and `rollgate render`
//! of the two rollout specs (Envoy ECDS file, Istio WasmPlugin) reproduces the committed
//! `ecds.yaml` and `wasmplugin.yaml` config, so names never drift.

mod manifests_common;

use manifests_common::*;
use rollgate_core::config::FilterConfig;
use rollgate_core::ecds::parse_plugin_config_file;
use rollgate_core::metrics;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::process::Command;

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

/// Runs `rollgate render ROLLOUT` (from a scratch directory, with no cluster to read state
/// from) and parses its stdout as YAML.
fn rollgate_render(rollout: &str) -> Value {
    let scratch = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .arg("render")
        .arg(manifests_dir().join(rollout))
        .current_dir(scratch.path())
        .env("KUBECONFIG", scratch.path().join("no-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("rollgate runs");
    assert!(
        out.status.success(),
        "rollgate render {rollout} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("rollgate render {rollout}: not YAML: {err}"))
}

#[test]
fn rollout_specs_and_base_configs_match_the_values() {
    let values = values();
    for (dir, flavor) in [("envoy", Flavor::Envoy), ("istio", Flavor::Istio)] {
        let base = read(&format!("{dir}/filter-config.json"));
        let config = FilterConfig::from_json(base.as_bytes())
            .unwrap_or_else(|err| panic!("{dir}/filter-config.json is refused: {err}"));
        assert_eq!(
            config,
            expected_filter_config(&values, flavor),
            "{dir}/filter-config.json"
        );
        let spec = single_document(&format!("{dir}/rollout.yaml"));
        assert_eq!(
            text(&spec, "spec/experiment"),
            values.experiment.id,
            "{dir}"
        );
        assert_eq!(text(&spec, "spec/stable"), values.variants[0].name, "{dir}");
        assert_eq!(text(&spec, "spec/canary"), values.variants[1].name, "{dir}");
        assert_eq!(
            text(&spec, "spec/base_config"),
            "filter-config.json",
            "{dir}"
        );
    }
    let envoy = single_document("envoy/rollout.yaml");
    assert_eq!(text(&envoy, "spec/sink/ecds_file/path"), values.ecds.path);
    assert_eq!(
        text(&envoy, "spec/sink/ecds_file/name"),
        values.wasm.plugin_name
    );
    assert_eq!(
        text(&envoy, "spec/sink/ecds_file/wasm_filename"),
        values.wasm.envoy_filename
    );
    let istio = single_document("istio/rollout.yaml");
    assert_eq!(
        text(&istio, "spec/sink/kubernetes/wasm_plugin"),
        values.wasm.wasm_plugin
    );
    assert_eq!(
        text(&istio, "spec/sink/kubernetes/namespace"),
        values.namespace
    );
}

#[test]
fn rollgate_render_reproduces_the_ecds_file() {
    let values = values();
    let rendered = rollgate_render("envoy/rollout.yaml");
    let mut example = single_document("envoy/ecds.yaml");
    // The JSON text may differ in spacing: compare it as a config, the rest as YAML.
    let path = "resources/0/typed_config/config/configuration/value";
    let json = text(&example, path).to_string();
    let config = FilterConfig::from_json(json.as_bytes()).expect("valid");
    let rendered_config =
        FilterConfig::from_json(text(&rendered, path).as_bytes()).expect("rendered is valid");
    assert_eq!(config, rendered_config);
    assert_eq!(config, expected_filter_config(&values, Flavor::Envoy));
    example["resources"][0]["typed_config"]["config"]["configuration"]["value"] =
        at(&rendered, path).clone();
    assert!(
        contains(&example, &rendered),
        "envoy/ecds.yaml lacks or changes a field `rollgate render` writes:\n\
         example: {example:?}\nrendered: {rendered:?}"
    );
    let parsed = parse_plugin_config_file(&read("envoy/ecds.yaml")).expect("the filter reads it");
    assert_eq!(parsed.version_info.as_deref(), Some("0"));
    assert_eq!(parsed.config_json, json);
}

#[test]
fn rollgate_render_reproduces_the_wasm_plugin_config() {
    let values = values();
    let rendered = rollgate_render("istio/rollout.yaml");
    let plugin = single_document("istio/wasmplugin.yaml");
    for field in ["apiVersion", "kind", "metadata/name", "metadata/namespace"] {
        assert_eq!(text(&rendered, field), text(&plugin, field), "{field}");
    }
    let rendered_config = validated(at(&rendered, "spec/pluginConfig"), "rollgate render");
    assert_eq!(
        rendered_config,
        validated(at(&plugin, "spec/pluginConfig"), "wasmplugin.yaml")
    );
    assert_eq!(
        rendered_config,
        expected_filter_config(&values, Flavor::Istio)
    );
    let applied: Vec<&Value> = at(&rendered, "spec")
        .as_mapping()
        .expect("spec is a mapping")
        .keys()
        .collect();
    assert_eq!(
        applied,
        [&Value::from("pluginConfig")],
        "the controller owns only pluginConfig"
    );
}
