//! The real `rollgate_filter.wasm` in the harness: best match, force header, missing unit,
//! cookie fallback, stripping of client-sent routing headers, hostile inputs.

mod common;

use common::{cluster, experiment, filter_config, request, rollgate_plugin, route, variant_of};
use rollgate_harness::{Exchange, HeaderMap, Message};

fn single(id: &str, variant: &str, matcher: serde_json::Value) -> serde_json::Value {
    let mut e = experiment(id, "ab", id, &[(variant, 10_000)]);
    e["match"] = matcher;
    e
}

#[test]
fn the_best_matching_experiment_wins_not_the_first() {
    let config = filter_config(vec![
        single("any", "v-any", serde_json::json!({})),
        single(
            "path",
            "v-path",
            serde_json::json!({"path_prefix": "/predict"}),
        ),
        single(
            "path-long",
            "v-path-long",
            serde_json::json!({"path_prefix": "/predict/v2"}),
        ),
        single("host", "v-host", serde_json::json!({"authority": "model"})),
        single(
            "host-path",
            "v-host-path",
            serde_json::json!({"authority": "model", "path_prefix": "/predict"}),
        ),
    ]);
    let mut vm = rollgate_plugin().start_vm(&config).expect("accepted");
    let pick = |vm: &mut rollgate_harness::Vm, authority: &str, path: &str| {
        let mut headers = request(path, &[("x-user-id", "u1")]);
        headers.replace(":authority", authority);
        route(vm, headers)
            .get_str("x-rollgate-variant")
            .map(str::to_string)
    };
    assert_eq!(pick(&mut vm, "other", "/x").as_deref(), Some("v-any"));
    assert_eq!(
        pick(&mut vm, "other", "/predict/v1").as_deref(),
        Some("v-path")
    );
    assert_eq!(
        pick(&mut vm, "other", "/predict/v2/x").as_deref(),
        Some("v-path-long")
    );
    assert_eq!(pick(&mut vm, "model", "/x").as_deref(), Some("v-host"));
    assert_eq!(
        pick(&mut vm, "model:8080", "/predict/v2").as_deref(),
        Some("v-host-path")
    );
}

#[test]
fn force_header_pins_a_variant_and_unknown_names_are_ignored() {
    let mut e = experiment(
        "exp",
        "canary",
        "force",
        &[("stable", 10_000), ("canary", 0)],
    );
    e["force_header"] = serde_json::json!("x-rollgate-force");
    let plugin = rollgate_plugin();
    let mut vm = match plugin.start_vm(&filter_config(vec![e.clone()])) {
        Ok(vm) => vm,
        Err(_) => {
            e = experiment(
                "exp",
                "canary",
                "force",
                &[("stable", 9_999), ("canary", 1)],
            );
            e["force_header"] = serde_json::json!("x-rollgate-force");
            plugin.start_vm(&filter_config(vec![e])).expect("accepted")
        }
    };
    let forced = route(
        &mut vm,
        request("/", &[("x-user-id", "u1"), ("x-rollgate-force", "canary")]),
    );
    assert_eq!(forced.get_str("x-rollgate-variant"), Some("canary"));
    assert_eq!(
        forced.get_str("x-rollgate-cluster"),
        Some(cluster("canary").as_str())
    );
    let bogus = route(
        &mut vm,
        request("/", &[("x-user-id", "u1"), ("x-rollgate-force", "nope")]),
    );
    assert_eq!(bogus.get_str("x-rollgate-variant"), Some("stable"));
}

#[test]
fn missing_unit_follows_the_policy() {
    let weights = [("control", 5000), ("treatment", 5000)];
    let mut vm = rollgate_plugin()
        .start_vm(&filter_config(vec![experiment(
            "exp", "ab", "mu", &weights,
        )]))
        .expect("accepted");
    for _ in 0..50 {
        let headers = route(&mut vm, request("/", &[]));
        assert_eq!(
            headers.get_str("x-rollgate-variant"),
            Some("control"),
            "stable = first variant"
        );
    }
    let mut config: serde_json::Value = serde_json::from_slice(&filter_config(vec![experiment(
        "exp", "ab", "mu", &weights,
    )]))
    .expect("json");
    config["unit"]["missing_unit"] = serde_json::json!("random");
    let mut vm = rollgate_plugin()
        .start_vm(&serde_json::to_vec(&config).expect("json"))
        .expect("accepted");
    let mut treatment = 0;
    for i in 0..400 {
        let id = format!("req-{i}");
        let first = route(&mut vm, request("/", &[("x-request-id", &id)]));
        let again = route(&mut vm, request("/", &[("x-request-id", &id)]));
        assert_eq!(
            first.get("x-rollgate-variant"),
            again.get("x-rollgate-variant"),
            "hash of x-request-id"
        );
        treatment += (first.get_str("x-rollgate-variant") == Some("treatment")) as u32;
    }
    assert!(
        (120..280).contains(&treatment),
        "random split, got {treatment}/400"
    );
}

#[test]
fn cookie_is_the_fallback_unit_key() {
    let mut vm = rollgate_plugin()
        .start_vm(&filter_config(vec![experiment(
            "exp",
            "ab",
            "cookie",
            &[("a", 3400), ("b", 3300), ("c", 3300)],
        )]))
        .expect("accepted");
    for i in 0..200 {
        let user = format!("cookie-user-{i}");
        let by_header = variant_of(&mut vm, "/", &user);
        let cookie = format!("theme=dark; uid={user}; other=1");
        let by_cookie = route(&mut vm, request("/", &[("cookie", &cookie)]));
        assert_eq!(
            by_cookie.get_str("x-rollgate-variant"),
            by_header.as_deref(),
            "{user}"
        );
    }
}

#[test]
fn client_sent_routing_headers_are_replaced_or_stripped() {
    let mut e = experiment(
        "exp",
        "ab",
        "strip",
        &[("control", 5000), ("treatment", 5000)],
    );
    e["match"] = serde_json::json!({"path_prefix": "/predict"});
    let mut vm = rollgate_plugin()
        .start_vm(&filter_config(vec![e]))
        .expect("accepted");
    let spoof = [
        ("x-user-id", "u1"),
        ("x-rollgate-cluster", "evil"),
        ("x-rollgate-cluster", "evil2"),
        ("x-rollgate-variant", "evil"),
    ];
    let routed = route(&mut vm, request("/predict", &spoof));
    let variant = routed
        .get_str("x-rollgate-variant")
        .unwrap_or_default()
        .to_string();
    assert!(variant == "control" || variant == "treatment");
    assert_eq!(
        routed.get_all("x-rollgate-cluster"),
        vec![cluster(&variant).as_bytes()]
    );
    assert_eq!(routed.get_all("x-rollgate-variant").len(), 1);
    let unmatched = route(&mut vm, request("/other", &spoof));
    assert!(
        !unmatched.contains("x-rollgate-cluster"),
        "no experiment: spoofed route header removed"
    );
    assert!(!unmatched.contains("x-rollgate-variant"));
}

#[test]
fn hostile_inputs_do_not_trap_and_still_route_sanely() {
    let mut vm = rollgate_plugin()
        .start_vm(&filter_config(vec![experiment(
            "exp",
            "ab",
            "hostile",
            &[("control", 5000), ("treatment", 5000)],
        )]))
        .expect("accepted");
    let valid = [cluster("control"), cluster("treatment")];
    let mut cases: Vec<HeaderMap> = Vec::new();
    let big = "u".repeat(64 * 1024);
    cases.push(request("/", &[("x-user-id", big.as_str())]));
    let mut many = request("/", &[("x-user-id", "u1")]);
    for i in 0..1000 {
        many.append(format!("x-filler-{i}"), format!("value-{i}"));
    }
    cases.push(many);
    let mut binary = request("/", &[]);
    binary.append("x-user-id", [0xff, 0xfe, 0x80, 0x00, b'a']);
    binary.append("cookie", [b'u', b'i', b'd', b'=', 0xc3, 0x28]);
    cases.push(binary);
    cases.push(request("/", &[("x-user-id", ""), ("cookie", "")]));
    cases.push(request("/", &[("x-user-id", ""), ("cookie", "uid=")]));
    let mut odd_path = request("/", &[("x-user-id", "u2")]);
    odd_path.replace(":path", [b'/', 0xff, b'?', 0x80]);
    odd_path.replace(":authority", "");
    cases.push(odd_path);
    let mut big_cookie = request("/", &[]);
    big_cookie.append("cookie", format!("uid={}", "c".repeat(64 * 1024)));
    cases.push(big_cookie);
    for (i, headers) in cases.into_iter().enumerate() {
        let record = vm
            .run_exchange(&Exchange {
                request: Message::new(headers, "body"),
                response: Some(Message::new(common::response(200), "{}")),
            })
            .unwrap_or_else(|e| panic!("case {i} trapped: {e}"));
        let routed = record
            .request_headers
            .get_str("x-rollgate-cluster")
            .unwrap_or_default()
            .to_string();
        assert!(valid.contains(&routed), "case {i}: routed to {routed:?}");
    }
    assert!(vm.failure().is_none());
}
