//! Conversion of parsed JSON into the schema types, by hand rather than through the serde
//! derives: the result is the same as `#[derive(Deserialize)]` with `deny_unknown_fields`
//! (tests check the two agree), every error names the JSON path of the offending value, and the
//! wasm filter stays small (the derive code for every struct is not linked in).

use super::{
    CompareConfig, ConfigError, Experiment, ExperimentKind, FilterConfig, GuardConfig, LayerConfig,
    MatchRule, MissingUnit, ShadowConfig, UnitKind, UnitSource, Variant,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

type Object = Map<String, Value>;

fn shape(path: &str, message: String) -> ConfigError {
    ConfigError::Syntax {
        path: path.to_string(),
        message,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(path: &str, value: &Value, expected: &str) -> ConfigError {
    let shown = if path.is_empty() { "(top level)" } else { path };
    shape(
        shown,
        format!("invalid type: {}, expected {expected}", kind_of(value)),
    )
}

/// An object whose keys must all be in `allowed`.
fn object<'a>(value: &'a Value, path: &str, allowed: &[&str]) -> Result<&'a Object, ConfigError> {
    let Value::Object(map) = value else {
        return Err(wrong_type(path, value, "an object"));
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        let expected: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
        return Err(shape(
            &join(path, unknown),
            format!(
                "unknown field `{unknown}`, expected one of {}",
                expected.join(", ")
            ),
        ));
    }
    Ok(map)
}

/// A field that may be absent (`None`); `null` counts as absent only when `null_is_none`.
fn field<'a>(map: &'a Object, key: &str) -> Option<&'a Value> {
    map.get(key)
}

fn missing(path: &str, key: &str) -> ConfigError {
    shape(&join(path, key), format!("missing field `{key}`"))
}

fn string(value: &Value, path: &str) -> Result<String, ConfigError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| wrong_type(path, value, "a string"))
}

fn uint(value: &Value, path: &str) -> Result<u32, ConfigError> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| wrong_type(path, value, "an integer in 0..=4294967295"))
}

fn float(value: &Value, path: &str) -> Result<f64, ConfigError> {
    value
        .as_f64()
        .ok_or_else(|| wrong_type(path, value, "a number"))
}

fn req<'a>(map: &'a Object, path: &str, key: &str) -> Result<&'a Value, ConfigError> {
    field(map, key).ok_or_else(|| missing(path, key))
}

fn req_string(map: &Object, path: &str, key: &str) -> Result<String, ConfigError> {
    string(req(map, path, key)?, &join(path, key))
}

fn req_uint(map: &Object, path: &str, key: &str) -> Result<u32, ConfigError> {
    uint(req(map, path, key)?, &join(path, key))
}

/// `Option<String>` with serde's rules: absent or `null` → `None`.
fn opt_string(map: &Object, path: &str, key: &str) -> Result<Option<String>, ConfigError> {
    match field(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => string(value, &join(path, key)).map(Some),
    }
}

fn uint_or(map: &Object, path: &str, key: &str, default: u32) -> Result<u32, ConfigError> {
    field(map, key).map_or(Ok(default), |v| uint(v, &join(path, key)))
}

fn choice<T: Copy>(value: &Value, path: &str, options: &[(&str, T)]) -> Result<T, ConfigError> {
    let Some(text) = value.as_str() else {
        return Err(wrong_type(path, value, "a string"));
    };
    options
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let expected: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
            shape(
                path,
                format!(
                    "unknown variant `{text}`, expected one of {}",
                    expected.join(", ")
                ),
            )
        })
}

fn optional<T>(
    map: &Object,
    path: &str,
    key: &str,
    convert: impl FnOnce(&Value, &str) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    match field(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => convert(value, &join(path, key)).map(Some),
    }
}

/// Converts a parsed JSON document into a [`FilterConfig`] (no semantic validation).
pub(crate) fn filter_config(value: &Value) -> Result<FilterConfig, ConfigError> {
    let map = object(
        value,
        "",
        &[
            "version",
            "unit",
            "route_header",
            "variant_header",
            "experiments",
        ],
    )?;
    let defaults = FilterConfig::default_headers();
    let unit = match field(map, "unit") {
        None => UnitSource::default(),
        Some(value) => unit_source(value, "unit")?,
    };
    let experiments = match field(map, "experiments") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| experiment(item, &format!("experiments[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(wrong_type("experiments", other, "an array")),
    };
    Ok(FilterConfig {
        version: req_uint(map, "", "version")?,
        unit,
        route_header: field(map, "route_header")
            .map_or(Ok(defaults.0), |v| string(v, "route_header"))?,
        variant_header: field(map, "variant_header")
            .map_or(Ok(defaults.1), |v| string(v, "variant_header"))?,
        experiments,
    })
}

fn unit_source(value: &Value, path: &str) -> Result<UnitSource, ConfigError> {
    let map = object(value, path, &["header", "cookie", "missing_unit"])?;
    let defaults = UnitSource::default();
    Ok(UnitSource {
        header: match field(map, "header") {
            None => defaults.header,
            Some(_) => opt_string(map, path, "header")?,
        },
        cookie: opt_string(map, path, "cookie")?,
        missing_unit: match field(map, "missing_unit") {
            None => MissingUnit::default(),
            Some(v) => choice(
                v,
                &join(path, "missing_unit"),
                &[
                    ("stable", MissingUnit::Stable),
                    ("random", MissingUnit::Random),
                ],
            )?,
        },
    })
}

fn experiment(value: &Value, path: &str) -> Result<Experiment, ConfigError> {
    let map = object(
        value,
        path,
        &[
            "id",
            "kind",
            "salt",
            "match",
            "variants",
            "force_header",
            "shadow",
            "guard",
            "layer",
            "unit_kind",
        ],
    )?;
    Ok(Experiment {
        id: req_string(map, path, "id")?,
        kind: choice(
            req(map, path, "kind")?,
            &join(path, "kind"),
            &[
                ("canary", ExperimentKind::Canary),
                ("ab", ExperimentKind::Ab),
            ],
        )?,
        salt: req_string(map, path, "salt")?,
        match_rule: match field(map, "match") {
            None => MatchRule::default(),
            Some(v) => match_rule(v, &join(path, "match"))?,
        },
        variants: variants(map, path)?,
        force_header: opt_string(map, path, "force_header")?,
        shadow: optional(map, path, "shadow", shadow)?,
        guard: optional(map, path, "guard", guard)?,
        layer: optional(map, path, "layer", layer)?,
        unit_kind: match field(map, "unit_kind") {
            None => UnitKind::default(),
            Some(v) => choice(
                v,
                &join(path, "unit_kind"),
                &[("user", UnitKind::User), ("request", UnitKind::Request)],
            )?,
        },
    })
}

fn variants(map: &Object, path: &str) -> Result<Vec<Variant>, ConfigError> {
    match req(map, path, "variants")? {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| variant(item, &format!("{path}.variants[{i}]")))
            .collect(),
        other => Err(wrong_type(&join(path, "variants"), other, "an array")),
    }
}

fn match_rule(value: &Value, path: &str) -> Result<MatchRule, ConfigError> {
    let map = object(value, path, &["authority", "path_prefix", "headers"])?;
    let mut headers = BTreeMap::new();
    match field(map, "headers") {
        None => {}
        Some(Value::Object(entries)) => {
            for (name, v) in entries {
                headers.insert(name.clone(), string(v, &format!("{path}.headers.{name}"))?);
            }
        }
        Some(other) => return Err(wrong_type(&join(path, "headers"), other, "an object")),
    }
    Ok(MatchRule {
        authority: opt_string(map, path, "authority")?,
        path_prefix: opt_string(map, path, "path_prefix")?,
        headers,
    })
}

fn variant(value: &Value, path: &str) -> Result<Variant, ConfigError> {
    let map = object(value, path, &["name", "cluster", "weight"])?;
    Ok(Variant {
        name: req_string(map, path, "name")?,
        cluster: req_string(map, path, "cluster")?,
        weight: req_uint(map, path, "weight")?,
    })
}

fn shadow(value: &Value, path: &str) -> Result<ShadowConfig, ConfigError> {
    let map = object(
        value,
        path,
        &[
            "cluster",
            "authority",
            "sample",
            "timeout_ms",
            "max_body_bytes",
            "compare",
        ],
    )?;
    let defaults = ShadowConfig::defaults();
    Ok(ShadowConfig {
        cluster: req_string(map, path, "cluster")?,
        authority: req_string(map, path, "authority")?,
        sample: req_uint(map, path, "sample")?,
        timeout_ms: uint_or(map, path, "timeout_ms", defaults.0)?,
        max_body_bytes: uint_or(map, path, "max_body_bytes", defaults.1)?,
        compare: optional(map, path, "compare", |v, p| {
            let map = object(v, p, &["json_pointer", "tolerance"])?;
            Ok(CompareConfig {
                json_pointer: req_string(map, p, "json_pointer")?,
                tolerance: field(map, "tolerance")
                    .map_or(Ok(0.0), |t| float(t, &join(p, "tolerance")))?,
            })
        })?,
    })
}

fn guard(value: &Value, path: &str) -> Result<GuardConfig, ConfigError> {
    let map = object(value, path, &["max_error_rate", "min_requests", "window"])?;
    Ok(GuardConfig {
        max_error_rate: float(
            req(map, path, "max_error_rate")?,
            &join(path, "max_error_rate"),
        )?,
        min_requests: req_uint(map, path, "min_requests")?,
        window: req_uint(map, path, "window")?,
    })
}

fn layer(value: &Value, path: &str) -> Result<LayerConfig, ConfigError> {
    let map = object(value, path, &["name", "from", "to"])?;
    Ok(LayerConfig {
        name: req_string(map, path, "name")?,
        from: req_uint(map, path, "from")?,
        to: req_uint(map, path, "to")?,
    })
}
