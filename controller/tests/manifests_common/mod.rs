//! Shared by the manifests_* tests: `manifests/values.yaml` as a type, YAML path helpers, and
//! the filter config the manifests must carry, rendered from the values.
#![allow(dead_code)] // each test crate uses part of it

use rollgate_core::config::{
    CompareConfig, Experiment, ExperimentKind, FilterConfig, MatchRule, MissingUnit, ShadowConfig,
    UnitKind, UnitSource, Variant,
};
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `manifests/values.yaml`, field for field (unknown fields refused so typos surface).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Values {
    pub namespace: String,
    pub app: String,
    pub service_port: u16,
    pub container_port: u16,
    pub experiment: ExperimentValues,
    pub headers: HeaderValues,
    pub variants: Vec<VariantValues>,
    pub shadow: ShadowValues,
    pub wasm: WasmValues,
    pub ecds: EcdsValues,
    pub envoy: EnvoyValues,
    pub stat_tags: Vec<String>,
    #[allow(dead_code)] // checked by manifests_prometheus.rs
    pub alerts: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentValues {
    pub id: String,
    pub kind: ExperimentKind,
    pub salt: String,
    pub authority: String,
    pub path_prefix: String,
    pub force_header: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderValues {
    pub unit: String,
    pub unit_cookie: String,
    pub route: String,
    pub variant: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantValues {
    pub name: String,
    pub version: String,
    pub image: String,
    pub replicas: u32,
    pub weight: u32,
    pub istio_cluster: String,
    pub envoy_cluster: String,
    pub envoy_upstream: Upstream,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowValues {
    pub name: String,
    pub version: String,
    pub image: String,
    pub replicas: u32,
    pub authority: String,
    pub sample: u32,
    pub timeout_ms: u32,
    pub max_body_bytes: u32,
    pub json_pointer: String,
    pub tolerance: f64,
    pub istio_cluster: String,
    pub envoy_cluster: String,
    pub envoy_upstream: Upstream,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    pub address: String,
    pub port: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmValues {
    pub plugin_name: String,
    pub wasm_plugin: String,
    pub oci_url: String,
    pub file_url: String,
    pub client_selector: BTreeMap<String, String>,
    pub envoy_filename: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcdsValues {
    pub path: String,
    pub type_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvoyValues {
    pub listener_port: u16,
    pub admin_address: String,
    pub admin_port: u16,
}

/// Which cluster names a rendered filter config uses.
#[derive(Clone, Copy)]
pub enum Flavor {
    /// Istio subset clusters `outbound|port|subset|fqdn`.
    Istio,
    /// The static clusters of `manifests/envoy/envoy.yaml`.
    Envoy,
}

pub fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

pub fn read(relative: &str) -> String {
    let path = manifests_dir().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

pub fn values() -> Values {
    serde_yaml::from_str(&read("values.yaml")).unwrap_or_else(|err| {
        panic!("manifests/values.yaml does not match the Values shape: {err}")
    })
}

/// Every YAML document of a (multi-document) file.
pub fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            Value::deserialize(doc)
                .unwrap_or_else(|err| panic!("manifests/{relative} is not valid YAML: {err}"))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

pub fn single_document(relative: &str) -> Value {
    let mut docs = documents(relative);
    assert_eq!(
        docs.len(),
        1,
        "manifests/{relative} should hold exactly one document"
    );
    docs.remove(0)
}

/// The value at a `/`-separated path of keys and list indexes; panics naming the path.
pub fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
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

pub fn text<'a>(value: &'a Value, path: &str) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string"))
}

pub fn number(value: &Value, path: &str) -> u64 {
    at(value, path)
        .as_u64()
        .unwrap_or_else(|| panic!("`{path}` is not an unsigned integer"))
}

pub fn list<'a>(value: &'a Value, path: &str) -> &'a Vec<Value> {
    at(value, path)
        .as_sequence()
        .unwrap_or_else(|| panic!("`{path}` is not a list"))
}

pub fn find_by_kind<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
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

pub fn fqdn(values: &Values) -> String {
    format!("{}.{}.svc.cluster.local", values.app, values.namespace)
}

/// The filter config the manifests must carry, rendered from the values file.
pub fn expected_filter_config(values: &Values, flavor: Flavor) -> FilterConfig {
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
pub fn validated(config: &Value, origin: &str) -> FilterConfig {
    let json = serde_json::to_vec(config)
        .unwrap_or_else(|err| panic!("{origin}: cannot convert to JSON: {err}"));
    FilterConfig::from_json(&json)
        .unwrap_or_else(|err| panic!("{origin}: the filter refuses this config: {err}"))
}

pub fn yaml_files(dir: &Path, found: &mut Vec<PathBuf>) {
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

/// Whether every key of `part` is in `whole` with an equal value (lists element by element).
pub fn contains(whole: &Value, part: &Value) -> bool {
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
