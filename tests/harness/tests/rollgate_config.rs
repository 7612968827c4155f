//! The real filter refuses invalid configs with a message naming the problem, while the
//! previous good config keeps routing (issue 2, item 5: at least 20 invalid configs).

mod common;

use common::{cluster, experiment, filter_config, rollgate_plugin, variant_of};
use rollgate_harness::{HarnessError, LogLevel};
use serde_json::{json, Value};

fn base() -> Value {
    let mut e = experiment(
        "fraud-v2",
        "canary",
        "fraud-v2",
        &[("stable", 9500), ("canary", 500)],
    );
    e["match"] = json!({"authority": "svc", "path_prefix": "/predict"});
    e["force_header"] = json!("x-rollgate-force");
    e["shadow"] = json!({
        "cluster": cluster("shadow"), "authority": "shadow", "sample": 1000,
        "timeout_ms": 1000, "max_body_bytes": 1024,
        "compare": {"json_pointer": "/prediction", "tolerance": 0.0}
    });
    serde_json::from_slice(&filter_config(vec![e])).expect("json")
}

fn with(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut config = base();
    edit(&mut config);
    serde_json::to_vec(&config).expect("json")
}

/// (invalid config, text its refusal log must contain)
fn invalid_configs() -> Vec<(Vec<u8>, &'static str)> {
    let exp = |c: &mut Value| -> Value { c["experiments"][0].clone() };
    vec![
        (b"{\"version\": 1,".to_vec(), "line 1"),
        (b"[]".to_vec(), "expected"),
        (with(|c| c["version"] = json!(2)), "version"),
        (
            with(|c| {
                if let Some(object) = c.as_object_mut() {
                    object.remove("version");
                }
            }),
            "version",
        ),
        (with(|c| c["extra"] = json!(true)), "extra"),
        (with(|c| c["experiments"][0]["bogus"] = json!(1)), "bogus"),
        (
            with(|c| c["experiments"][0]["variants"][1]["weight"] = json!(400)),
            "9900",
        ),
        (
            with(|c| {
                let e = exp(c);
                if let Some(list) = c["experiments"].as_array_mut() {
                    list.push(e);
                }
            }),
            "duplicate experiment id",
        ),
        (
            with(|c| c["experiments"][0]["variants"][1]["name"] = json!("stable")),
            "duplicate variant name",
        ),
        (
            with(|c| c["experiments"][0]["variants"] = json!([])),
            "at least one variant",
        ),
        (
            with(|c| {
                let v = c["experiments"][0]["variants"][1].clone();
                if let Some(list) = c["experiments"][0]["variants"].as_array_mut() {
                    list.push(v);
                }
            }),
            "exactly 2 variants",
        ),
        (
            with(|c| {
                c["experiments"][0]["variants"][0]["weight"] = json!(10001);
                c["experiments"][0]["variants"][1]["weight"] = json!(0);
            }),
            "10001",
        ),
        (with(|c| c["experiments"][0]["salt"] = json!("")), "salt"),
        (
            with(|c| c["experiments"][0]["match"]["path_prefix"] = json!("predict")),
            "path_prefix",
        ),
        (
            with(|c| c["experiments"][0]["match"]["authority"] = json!("")),
            "authority",
        ),
        (
            with(|c| c["experiments"][0]["variants"][0]["cluster"] = json!("")),
            "cluster",
        ),
        (
            with(|c| c["experiments"][0]["shadow"]["sample"] = json!(20000)),
            "sample",
        ),
        (
            with(|c| c["experiments"][0]["shadow"]["timeout_ms"] = json!(0)),
            "timeout_ms",
        ),
        (
            with(|c| {
                c["experiments"][0]["shadow"]["compare"]["json_pointer"] = json!("prediction")
            }),
            "json_pointer",
        ),
        (
            with(|c| c["experiments"][0]["shadow"]["compare"]["tolerance"] = json!(-1.0)),
            "tolerance",
        ),
        (
            with(|c| c["variant_header"] = json!("x-rollgate-cluster")),
            "variant_header",
        ),
        (
            with(|c| c["route_header"] = json!("Bad Header")),
            "route_header",
        ),
        (
            with(|c| c["unit"]["header"] = json!("x-rollgate-cluster")),
            "unit.header",
        ),
        (
            with(|c| c["experiments"][0]["force_header"] = json!("x-rollgate-variant")),
            "force_header",
        ),
        (
            with(|c| c["experiments"][0]["kind"] = json!("blue-green")),
            "blue-green",
        ),
        (
            with(|c| c["unit"]["missing_unit"] = json!("sometimes")),
            "sometimes",
        ),
        (
            with(|c| {
                c["experiments"][0]["guard"] =
                    json!({"max_error_rate": 2.0, "min_requests": 10, "window": 100})
            }),
            "max_error_rate",
        ),
    ]
}

#[test]
fn invalid_configs_are_refused_with_their_own_message_and_the_old_config_keeps_routing() {
    let plugin = rollgate_plugin();
    let good = with(|_| {});
    let mut vm = plugin.start_vm(&good).expect("the base config is valid");
    let users: Vec<String> = (0..50).map(|i| format!("user-{i}")).collect();
    let before: Vec<_> = users
        .iter()
        .map(|u| variant_of(&mut vm, "/predict", u))
        .collect();
    assert!(before.iter().all(|v| v.is_some()), "base config routes");

    let cases = invalid_configs();
    assert!(cases.len() >= 20);
    let mut messages: Vec<String> = Vec::new();
    for (index, (config, expected)) in cases.iter().enumerate() {
        let err = vm
            .reconfigure(config)
            .expect_err(&format!("case {index} ({expected}) must be refused"));
        let HarnessError::ConfigRejected { logs } = err else {
            panic!("case {index}: expected a refusal, got {err}");
        };
        let text: Vec<String> = logs
            .iter()
            .filter(|l| l.level >= LogLevel::Warn)
            .map(|l| l.message.clone())
            .collect();
        let joined = text.join("\n");
        assert!(!joined.is_empty(), "case {index}: no error log");
        assert!(
            joined.contains(expected),
            "case {index}: log {joined:?} does not mention {expected:?}"
        );
        assert!(
            !messages.contains(&joined),
            "case {index}: same message as an earlier case: {joined}"
        );
        messages.push(joined);

        assert_eq!(
            vm.config(),
            good.as_slice(),
            "case {index}: old config kept"
        );
        let now: Vec<_> = users
            .iter()
            .map(|u| variant_of(&mut vm, "/predict", u))
            .collect();
        assert_eq!(now, before, "case {index}: old config keeps routing");
    }
}
