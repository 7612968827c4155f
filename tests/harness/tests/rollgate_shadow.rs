//! The real `.wasm` on the SDK in the harness (which follows cpp-host): a stream hands its
//! shadow copy to the root, which dispatches it on the queue wake-up and owns the call (replay
//! shows it); a
//! config push with calls in flight keeps the old root (its `on_done` says false) until their
//! answers came, then it calls `proxy_done`; every sent copy is accounted for. And the guard,
//! shared by two VMs of one plugin, trips after `min_requests` responses in total.

mod common;

use common::{experiment, filter_config, request, response, rollgate_plugin};
use rollgate_core::metrics::{
    stat_name, GUARD_TRIPPED_TOTAL, REQUESTS_TOTAL, SHADOW_COMPARISONS_TOTAL,
    SHADOW_REQUESTS_TOTAL, SHADOW_RESPONSES_TOTAL,
};
use rollgate_harness::{HttpCallResponse, MetricsSnapshot, Vm};

fn shadow_config(canary: u32) -> Vec<u8> {
    let mut e = experiment(
        "shadowed",
        "canary",
        "s",
        &[("stable", 10_000 - canary), ("canary", canary)],
    );
    e["shadow"] = serde_json::json!({
        "cluster": "shadow", "authority": "model-shadow", "sample": 10_000, "timeout_ms": 1_000,
        "compare": { "json_pointer": "/prediction" }
    });
    filter_config(vec![e])
}

fn shadow_result(m: &MetricsSnapshot, result: &str) -> u64 {
    m.counter(&stat_name(
        SHADOW_REQUESTS_TOTAL,
        &[("experiment", "shadowed"), ("result", result)],
    ))
    .unwrap_or(0)
}

fn answered(m: &MetricsSnapshot) -> u64 {
    ["2xx", "3xx", "4xx", "5xx"]
        .iter()
        .map(|class| {
            m.counter(&stat_name(
                SHADOW_RESPONSES_TOTAL,
                &[("experiment", "shadowed"), ("class", class)],
            ))
            .unwrap_or(0)
        })
        .sum()
}

/// One POST from `user`, answered 200 with a prediction.
fn post(vm: &mut Vm, user: &str) {
    let s = vm.create_stream().expect("stream");
    let mut headers = request("/predict", &[("x-user-id", user)]);
    headers.replace(":method", "POST");
    vm.request_headers(s, headers, false).expect("headers");
    vm.request_body(s, b"{\"x\":1}", true).expect("body");
    vm.response_headers(s, response(200), false)
        .expect("response");
    vm.response_body(s, b"{\"prediction\":1}", true)
        .expect("response body");
    vm.finish_stream(s).expect("finish");
}

#[test]
fn the_root_dispatches_the_copy_on_its_queue_wake_up_and_compares_the_answer() {
    let plugin = rollgate_plugin();
    let mut vm = plugin.start_vm(&shadow_config(0)).expect("starts");
    post(&mut vm, "u1");
    // The wake-up was delivered right after the callback that enqueued it (as in Envoy):
    // the call was made by the root context itself, not by the stream.
    assert_eq!(vm.deliver_queue_ready().expect("queue"), 0);
    let calls = vm.take_new_http_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].root_context_id, vm.root_context_id());
    assert_eq!(calls[0].origin_context_id, vm.root_context_id());
    assert_eq!(calls[0].headers.get_str(":authority"), Some("model-shadow"));
    assert_eq!(calls[0].body, b"{\"x\":1}");
    vm.deliver_http_call_response(
        calls[0].token,
        HttpCallResponse::with_status(200, "{\"prediction\":1}"),
    )
    .expect("answer");
    let m = vm.metrics();
    let agree = m.counter(&stat_name(
        SHADOW_COMPARISONS_TOTAL,
        &[("experiment", "shadowed"), ("result", "agree")],
    ));
    assert_eq!(agree, Some(1));
    assert_eq!((shadow_result(&m, "sent"), answered(&m)), (1, 1));

    // A reset call (no response to read: Envoy answers BAD_ARGUMENT for its headers) is a
    // 5xx answer and its comparison incomparable; the VM does not trap.
    post(&mut vm, "u2");
    let token = vm.take_new_http_calls()[0].token;
    vm.fail_http_call(token).expect("the failure is handled");
    let m = vm.metrics();
    let failed_5xx = m.counter(&stat_name(
        SHADOW_RESPONSES_TOTAL,
        &[("experiment", "shadowed"), ("class", "5xx")],
    ));
    assert_eq!(failed_5xx, Some(1));
    let incomparable = m.counter(&stat_name(
        SHADOW_COMPARISONS_TOTAL,
        &[("experiment", "shadowed"), ("result", "incomparable")],
    ));
    assert_eq!(incomparable, Some(1));
    assert!(vm.failure().is_none());
}

#[test]
fn replay_shows_the_copy_the_root_sends_for_a_line() {
    let plugin = rollgate_plugin();
    let mut vm = plugin.start_vm(&shadow_config(0)).expect("starts");
    let line: rollgate_harness::replay::InputLine = serde_json::from_value(serde_json::json!({
        "request": { "headers": { ":method": "POST", ":path": "/predict", ":authority": "model",
                                   "x-user-id": "u1" }, "body": "{\"x\":1}" },
        "response": { "headers": { ":status": "200" }, "body": "{\"prediction\":1}" },
        "call_response": { "headers": { ":status": "200" }, "body": "{\"prediction\":2}" }
    }))
    .expect("line");
    let out = rollgate_harness::replay::run_line(&mut vm, &line, 1).expect("runs");
    assert_eq!(out.http_calls.len(), 1);
    assert_eq!(out.http_calls[0].cluster, "shadow");
    let disagree = vm.metrics().counter(&stat_name(
        SHADOW_COMPARISONS_TOTAL,
        &[("experiment", "shadowed"), ("result", "disagree")],
    ));
    assert_eq!(disagree, Some(1));
}

#[test]
fn a_push_with_calls_in_flight_keeps_the_old_root_until_they_are_answered() {
    let plugin = rollgate_plugin();
    let mut vm = plugin.start_vm(&shadow_config(0)).expect("starts");
    let mut sent = 0;
    for (step, canary) in [500u32, 2_500, 10_000].into_iter().enumerate() {
        for u in 0..10 {
            post(&mut vm, &format!("user-{step}-{u}"));
        }
        let calls = vm.take_new_http_calls();
        assert_eq!(calls.len(), 10);
        sent += 10;
        let old = vm.root_context_id();
        vm.reconfigure(&shadow_config(canary)).expect("accepted");
        // on_done said false: the old root waits with its calls, none cancelled.
        assert_eq!(vm.root_context_ids(), vec![old, vm.root_context_id()]);
        assert!(vm.take_cancelled_http_calls().is_empty());
        for (i, call) in calls.iter().enumerate() {
            let answer = if i % 3 == 0 {
                HttpCallResponse::local_reply(504, "upstream request timeout")
            } else {
                HttpCallResponse::with_status(200, "{\"prediction\":1}")
            };
            vm.deliver_http_call_response(call.token, answer)
                .expect("answered on the old root");
        }
        // The last answer let it call proxy_done: deleted after that call.
        assert_eq!(vm.root_context_ids(), vec![vm.root_context_id()]);
    }
    let m = vm.metrics();
    assert_eq!(shadow_result(&m, "sent"), sent);
    assert_eq!(answered(&m), sent);
    let accounted = answered(&m)
        + shadow_result(&m, "failed")
        + shadow_result(&m, "cancelled")
        + shadow_result(&m, "evicted");
    assert_eq!(accounted, sent);
}

#[test]
fn two_vms_of_one_plugin_share_the_guard_counts() {
    let mut e = experiment(
        "guarded",
        "canary",
        "g",
        &[("stable", 0), ("canary", 10_000)],
    );
    e["guard"] = serde_json::json!({ "max_error_rate": 0.2, "min_requests": 20, "window": 100 });
    let config = filter_config(vec![e]);
    let plugin = rollgate_plugin();
    let mut vms = [
        plugin.start_vm(&config).expect("vm 1"),
        plugin.start_vm(&config).expect("vm 2"),
    ];
    let mut canary_hits = 0;
    for i in 0..60 {
        let vm = &mut vms[i % 2];
        let s = vm.create_stream().expect("stream");
        let user = format!("user-{i}");
        vm.request_headers(s, request("/p", &[("x-user-id", &user)]), true)
            .expect("request");
        let record = vm.stream(s).expect("record").clone();
        if record.request_headers.get_str("x-rollgate-variant") == Some("canary") {
            canary_hits += 1;
        }
        vm.response_headers(s, response(503), true)
            .expect("response");
        vm.finish_stream(s).expect("finish");
    }
    assert_eq!(canary_hits, 20, "20 in total, not 20 per VM");
    let m = plugin.metrics();
    let trips = m.counter(&stat_name(
        GUARD_TRIPPED_TOTAL,
        &[("experiment", "guarded"), ("variant", "canary")],
    ));
    assert_eq!(trips, Some(1));
    let stable = m.counter(&stat_name(
        REQUESTS_TOTAL,
        &[("experiment", "guarded"), ("variant", "stable")],
    ));
    assert_eq!(stable, Some(40));
}
