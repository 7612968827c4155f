//! Every validation rule refuses its own invalid config with its own path and message.

mod common;

use common::{base_config, parse};
use rollgate_core::config::ConfigError;
use serde_json::{json, Value};

type Mutation = fn(&mut Value);

fn exp(v: &mut Value) -> &mut Value {
    &mut v["experiments"][0]
}

/// (name, mutation, expected path, fragment of the rule message)
fn cases() -> Vec<(&'static str, Mutation, &'static str, &'static str)> {
    vec![
        (
            "unknown version",
            |v| v["version"] = json!(2),
            "version",
            "unsupported config version 2",
        ),
        (
            "empty id",
            |v| exp(v)["id"] = json!(""),
            "experiments[0].id",
            "must be 1 to 128 characters",
        ),
        (
            "id with space",
            |v| exp(v)["id"] = json!("a b"),
            "experiments[0].id",
            "must be 1 to 128 characters",
        ),
        (
            "duplicate experiment id",
            |v| {
                let copy = v["experiments"][0].clone();
                if let Some(a) = v["experiments"].as_array_mut() {
                    a.push(copy);
                }
            },
            "experiments[1].id",
            "duplicate experiment id",
        ),
        (
            "empty variants",
            |v| exp(v)["variants"] = json!([]),
            "experiments[0].variants",
            "at least one variant",
        ),
        (
            "duplicate variant name",
            |v| exp(v)["variants"][1]["name"] = json!("stable"),
            "experiments[0].variants[1].name",
            "duplicate variant name",
        ),
        (
            "weights do not sum",
            |v| exp(v)["variants"][1]["weight"] = json!(400),
            "experiments[0].variants",
            "weights sum to 9900",
        ),
        (
            "weight above 10000",
            |v| exp(v)["variants"][1]["weight"] = json!(10001),
            "experiments[0].variants[1].weight",
            "exceeds 10000",
        ),
        (
            "empty cluster",
            |v| exp(v)["variants"][0]["cluster"] = json!(""),
            "experiments[0].variants[0].cluster",
            "must be non-empty",
        ),
        (
            "cluster with space",
            |v| exp(v)["variants"][0]["cluster"] = json!("a b"),
            "experiments[0].variants[0].cluster",
            "no whitespace",
        ),
        (
            "cluster with control char",
            |v| exp(v)["variants"][0]["cluster"] = json!("a\u{1}b"),
            "experiments[0].variants[0].cluster",
            "control characters",
        ),
        (
            "upper-case route header",
            |v| v["route_header"] = json!("X-Cluster"),
            "route_header",
            "lower-case HTTP token",
        ),
        (
            "variant header not a token",
            |v| v["variant_header"] = json!("x variant"),
            "variant_header",
            "lower-case HTTP token",
        ),
        (
            "route header equals variant header",
            |v| v["variant_header"] = json!("x-rollgate-cluster"),
            "variant_header",
            "must differ from route_header",
        ),
        (
            "empty salt",
            |v| exp(v)["salt"] = json!(""),
            "experiments[0].salt",
            "must not be empty",
        ),
        (
            "shadow sample above 10000",
            |v| exp(v)["shadow"]["sample"] = json!(10001),
            "experiments[0].shadow.sample",
            "sample 10001 exceeds",
        ),
        (
            "shadow timeout zero",
            |v| exp(v)["shadow"]["timeout_ms"] = json!(0),
            "experiments[0].shadow.timeout_ms",
            "at least 1 millisecond",
        ),
        (
            "shadow body limit too large",
            |v| exp(v)["shadow"]["max_body_bytes"] = json!(100_000_000),
            "experiments[0].shadow.max_body_bytes",
            "at most 16777216",
        ),
        (
            "json pointer without slash",
            |v| exp(v)["shadow"]["compare"]["json_pointer"] = json!("prediction"),
            "experiments[0].shadow.compare.json_pointer",
            "starting with '/'",
        ),
        (
            "negative tolerance",
            |v| exp(v)["shadow"]["compare"]["tolerance"] = json!(-0.5),
            "experiments[0].shadow.compare.tolerance",
            "finite number >= 0",
        ),
        (
            "guard rate zero",
            |v| exp(v)["guard"]["max_error_rate"] = json!(0.0),
            "experiments[0].guard.max_error_rate",
            "must be in (0, 1]",
        ),
        (
            "guard rate above one",
            |v| exp(v)["guard"]["max_error_rate"] = json!(1.5),
            "experiments[0].guard.max_error_rate",
            "must be in (0, 1]",
        ),
        (
            "guard window zero",
            |v| exp(v)["guard"]["window"] = json!(0),
            "experiments[0].guard.window",
            "at least 1 response",
        ),
        (
            "guard min_requests above window",
            |v| exp(v)["guard"]["min_requests"] = json!(201),
            "experiments[0].guard.min_requests",
            "must be in 1..=200",
        ),
        (
            "layer from not below to",
            |v| exp(v)["layer"]["from"] = json!(5000),
            "experiments[0].layer.from",
            "must be below to",
        ),
        (
            "layer to above 10000",
            |v| exp(v)["layer"]["to"] = json!(10001),
            "experiments[0].layer.to",
            "at most 10000",
        ),
        (
            "layer empty name",
            |v| exp(v)["layer"]["name"] = json!(""),
            "experiments[0].layer.name",
            "layer's salt",
        ),
        (
            "overlapping layer ranges",
            |v| {
                let mut copy = v["experiments"][0].clone();
                copy["id"] = json!("other");
                copy["layer"]["from"] = json!(4000);
                copy["layer"]["to"] = json!(6000);
                if let Some(a) = v["experiments"].as_array_mut() {
                    a.push(copy);
                }
            },
            "experiments[1].layer",
            "overlaps experiments[0]",
        ),
        (
            "canary with three variants",
            |v| {
                exp(v)["variants"] = json!([
                { "name": "a", "cluster": "a", "weight": 5000 },
                { "name": "b", "cluster": "b", "weight": 2500 },
                { "name": "c", "cluster": "c", "weight": 2500 }]);
            },
            "experiments[0].variants",
            "exactly 2 variants",
        ),
        (
            "path prefix without slash",
            |v| exp(v)["match"]["path_prefix"] = json!("predict"),
            "experiments[0].match.path_prefix",
            "must start with '/'",
        ),
        (
            "empty authority",
            |v| exp(v)["match"]["authority"] = json!(""),
            "experiments[0].match.authority",
            "non-empty host name",
        ),
        (
            "match header upper-case",
            |v| exp(v)["match"]["headers"] = json!({ "X-Region": "eu" }),
            "experiments[0].match.headers.X-Region",
            "lower-case HTTP token",
        ),
        (
            "force header equals route header",
            |v| exp(v)["force_header"] = json!("x-rollgate-cluster"),
            "experiments[0].force_header",
            "must not be route_header",
        ),
        (
            "unit header equals variant header",
            |v| v["unit"]["header"] = json!("x-rollgate-variant"),
            "unit.header",
            "must not be route_header",
        ),
        (
            "bad cookie name",
            |v| v["unit"]["cookie"] = json!("a=b"),
            "unit.cookie",
            "HTTP token",
        ),
        (
            "no unit source",
            |v| v["unit"] = json!({ "header": null, "cookie": null }),
            "unit",
            "set unit.header or unit.cookie",
        ),
        (
            "variant name with semicolon",
            |v| exp(v)["variants"][1]["name"] = json!("can;ary"),
            "experiments[0].variants[1].name",
            "must be 1 to 128 characters",
        ),
        (
            "empty shadow authority",
            |v| exp(v)["shadow"]["authority"] = json!(""),
            "experiments[0].shadow.authority",
            "non-empty host name",
        ),
        (
            "bad shadow cluster",
            |v| exp(v)["shadow"]["cluster"] = json!(" "),
            "experiments[0].shadow.cluster",
            "must be non-empty",
        ),
    ]
}

#[test]
fn base_config_is_valid() {
    if let Err(err) = parse(&base_config()) {
        panic!("base config refused: {err}");
    }
}

#[test]
fn every_rule_refuses_with_its_own_path_and_message() {
    let mut messages = std::collections::BTreeSet::new();
    let cases = cases();
    assert!(cases.len() >= 20);
    for (name, mutate, path, fragment) in cases {
        let mut value = base_config();
        mutate(&mut value);
        match parse(&value) {
            Ok(_) => panic!("{name}: accepted"),
            Err(ConfigError::Invalid { path: got, rule }) => {
                assert_eq!(got, path, "{name}: wrong path (rule: {rule})");
                assert!(
                    rule.contains(fragment),
                    "{name}: rule {rule:?} lacks {fragment:?}"
                );
                messages.insert(format!("{got}: {rule}"));
            }
            Err(other) => panic!("{name}: expected Invalid, got {other}"),
        }
    }
    // distinct messages (two cases may share a rule but not the full text)
    assert!(
        messages.len() >= 30,
        "only {} distinct messages",
        messages.len()
    );
}

#[test]
fn syntax_errors_name_line_and_column_or_path() {
    let cases: [(&str, &str, &str); 7] = [
        ("{\"version\": 1, \"bogus\": true}", "bogus", "unknown field `bogus`"),
        // serde quotes the value it refused
        ("{\"version\": \"one\"}", "version", "invalid type: string \"one\", expected an integer"),
        ("{\"version\": 1,\n \"experiments\": [", "line 2, column", "EOF"),
        ("{\"version\": 1, \"experiments\": [{\"id\": \"a\", \"kind\": \"blue\"}]}", "experiments[0].kind", "unknown variant `blue`"),
        ("{\"version\": 1, \"experiments\": [{\"id\": \"a\", \"kind\": \"ab\", \"salt\": \"s\"}]}", "experiments[0].variants", "missing field `variants`"),
        ("{\"version\": 1.5}", "version", "expected an integer"),
        ("[1, 2]", "(top level)", "expected an object"),
    ];
    for (text, path_fragment, fragment) in cases {
        match rollgate_core::FilterConfig::from_json(text.as_bytes()) {
            Err(ConfigError::Syntax { path, message }) => {
                assert!(path.starts_with(path_fragment), "{text}: path {path}");
                assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
            }
            other => panic!("{text}: expected a syntax error, got {other:?}"),
        }
    }
}

/// What the derive writes, the parser reads back unchanged (one schema both ways).
#[test]
fn what_is_written_reads_back_unchanged() {
    let mut samples = vec![
        base_config(),
        json!({"version": 1}),
        json!({"version": 1, "unit": {"header": null, "cookie": "uid"}, "experiments": [common::experiment("x", "s", &[5000, 5000])]}),
    ];
    let mut minimal = base_config();
    if let Some(o) = minimal["experiments"][0].as_object_mut() {
        o.remove("shadow");
        o.remove("guard");
        o.remove("layer");
        o.remove("match");
        o.remove("force_header");
    }
    samples.push(minimal);
    for sample in samples {
        let parsed = parse(&sample).unwrap_or_else(|e| panic!("{e}"));
        let written = serde_json::to_vec(&parsed).unwrap_or_default();
        assert_eq!(
            rollgate_core::FilterConfig::from_json(&written).ok(),
            Some(parsed)
        );
    }
}

/// `{"version": 1}` reads as `FilterConfig::default()`: the defaults live in one place.
#[test]
fn the_minimal_config_is_the_default() {
    let parsed = parse(&json!({"version": 1})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed, rollgate_core::FilterConfig::default());
    assert_eq!(
        parsed.route_header,
        rollgate_core::config::DEFAULT_ROUTE_HEADER
    );
    assert_eq!(
        parsed.unit.header.as_deref(),
        Some(rollgate_core::config::DEFAULT_UNIT_HEADER)
    );
}

/// serde's derive would read a struct from an array by position; the contract is objects.
#[test]
fn arrays_are_refused_where_objects_are_due() {
    let cases = [
        (json!([1]), "(top level)"),
        (json!({"version": 1, "unit": ["x-user-id"]}), "unit"),
        (
            json!({"version": 1, "experiments": [{"id": "a", "kind": "ab", "salt": "s",
                "variants": [["a", "c", 10000]]}]}),
            "experiments[0].variants[0]",
        ),
    ];
    for (config, expected) in cases {
        match rollgate_core::FilterConfig::from_json(config.to_string().as_bytes()) {
            Err(ConfigError::Syntax { path, message }) => {
                assert_eq!(path, expected, "{message}");
                assert!(message.contains("expected an object"), "{message}");
            }
            other => panic!("{config}: expected a syntax error, got {other:?}"),
        }
    }
}

/// Shape errors deep in the document name the full JSON path.
#[test]
fn shape_errors_name_the_full_json_path() {
    let mut config = base_config();
    if let Some(list) = config["experiments"].as_array_mut() {
        list.push(common::experiment("second", "s2", &[5000, 5000]));
    }
    config["experiments"][1]["variants"][0]["weight"] = json!("half");
    match rollgate_core::FilterConfig::from_json(config.to_string().as_bytes()) {
        Err(ConfigError::Syntax { path, message }) => {
            assert_eq!(path, "experiments[1].variants[0].weight", "{message}");
            assert!(message.contains("expected an integer"), "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    config["experiments"][1]["variants"][0]["weight"] = json!(5000);
    config["experiments"][1]["variants"][0]["wieght"] = json!(5000);
    match rollgate_core::FilterConfig::from_json(config.to_string().as_bytes()) {
        Err(ConfigError::Syntax { path, message }) => {
            assert!(path.starts_with("experiments[1].variants[0]"), "{path}");
            assert!(message.contains("unknown field `wieght`"), "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn nan_tolerance_is_refused_by_validate() {
    let mut config = match parse(&base_config()) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    if let Some(shadow) = config.experiments[0].shadow.as_mut() {
        if let Some(compare) = shadow.compare.as_mut() {
            compare.tolerance = f64::NAN;
        }
    }
    let err = config
        .validate()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("tolerance"), "{err}");
}
