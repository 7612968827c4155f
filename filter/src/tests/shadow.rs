//! Root-owned shadow calls: a stream hands its copy over, the queue's owner dispatches it and
//! gets the answer; across config pushes every sent copy is accounted for
//! (sent = answered + failed + cancelled + evicted), an old root with calls in flight waits
//! for them before `proxy_done`, and one whose calls never come back gives up on them.

use super::TestVm;
use crate::root::DRAIN_GRACE_MS;
use serde_json::json;

const TIMEOUT_MS: u64 = 1_500;

fn config(canary: u32, cluster: &str) -> serde_json::Value {
    json!({
        "version": 1,
        "unit": { "header": "x-user-id" },
        "experiments": [{
            "id": "pushed", "kind": "canary", "salt": "pushed",
            "variants": [
                { "name": "stable", "cluster": "stable", "weight": 10_000 - canary },
                { "name": "canary", "cluster": "canary", "weight": canary }
            ],
            "shadow": { "cluster": cluster, "authority": "shadow", "sample": 10_000,
                        "timeout_ms": TIMEOUT_MS, "compare": { "json_pointer": "/prediction" } }
        }]
    })
}

fn accounted(vm: &TestVm) -> (u64, u64) {
    let sent = vm.shadow_result("pushed", "sent");
    let done = vm.shadow_answered("pushed")
        + vm.shadow_result("pushed", "failed")
        + vm.shadow_result("pushed", "cancelled")
        + vm.shadow_result("pushed", "evicted");
    (sent, done)
}

#[test]
fn the_stream_hands_its_copy_to_the_root_which_dispatches_and_compares() {
    let mut vm = TestVm::start(&config(0, "shadow"));
    vm.request("u1", b"{\"x\":1}", 200, b"{\"prediction\":1}");
    // Nothing is sent from the stream itself: one wake-up for the root.
    assert!(vm.host.calls.borrow().is_empty());
    assert_eq!(vm.deliver_queue(), 1);
    let call = vm.host.calls.borrow()[0].clone();
    assert_eq!(call.cluster, "shadow");
    assert_eq!(call.body, b"{\"x\":1}");
    assert!(call
        .headers
        .iter()
        .any(|(n, v)| n == ":authority" && v == "shadow"));
    assert!(call
        .headers
        .iter()
        .any(|(n, v)| n == "x-rollgate-shadow" && v == "1"));
    vm.answer(0, call.token, 200, b"{\"prediction\":1}");
    let agree = vm.host.metric(&rollgate_core::metrics::stat_name(
        rollgate_core::metrics::SHADOW_COMPARISONS_TOTAL,
        &[("experiment", "pushed"), ("result", "agree")],
    ));
    assert_eq!(agree, 1);
    assert_eq!(accounted(&vm), (1, 1));
}

#[test]
fn copies_in_flight_across_a_ramp_of_pushes_are_all_accounted_for() {
    let mut vm = TestVm::start(&config(0, "shadow"));
    let mut expected_sent = 0;
    for (step, canary) in [500u32, 1_000, 2_500, 5_000, 10_000]
        .into_iter()
        .enumerate()
    {
        for u in 0..20 {
            vm.request(&format!("user-{u}"), b"{}", 200, b"{\"prediction\":0}");
        }
        vm.deliver_queue();
        expected_sent += 20;
        // Half the calls of this step are answered before the push, half after.
        let tokens: Vec<u32> = vm.host.calls.borrow().iter().map(|c| c.token).collect();
        let fresh = &tokens[tokens.len() - 20..];
        for token in &fresh[..10] {
            vm.answer(step, *token, 200, b"{\"prediction\":0}");
        }
        assert!(vm.push(&config(canary, "shadow")));
        // The old root owns 10 calls: it stays until they are answered.
        let old = step;
        assert!(!vm.roots[old].on_done(&vm.host));
        assert_eq!(vm.host.done_calls.get(), step as u32);
        for token in &fresh[10..] {
            vm.answer(old, *token, 200, b"{\"prediction\":1}");
        }
        assert_eq!(
            vm.host.done_calls.get(),
            step as u32 + 1,
            "proxy_done once drained"
        );
        vm.roots[old].on_delete(&vm.host);
    }
    let (sent, done) = accounted(&vm);
    assert_eq!(sent, expected_sent);
    assert_eq!(done, sent);
    assert_eq!(vm.shadow_result("pushed", "cancelled"), 0);
    assert_eq!(vm.shadow_answered("pushed"), expected_sent);
}

#[test]
fn an_old_root_gives_up_on_unanswered_calls_and_counts_them_cancelled() {
    let mut vm = TestVm::start(&config(0, "shadow"));
    for u in 0..5 {
        vm.request(&format!("user-{u}"), b"{}", 200, b"{}");
    }
    vm.deliver_queue();
    assert!(vm.push(&config(100, "shadow")));
    assert!(!vm.roots[0].on_done(&vm.host));
    assert_eq!(vm.host.tick_ms.get(), crate::root::DRAIN_TICK_MS);
    vm.roots[0].on_tick(&vm.host);
    assert_eq!(
        vm.host.done_calls.get(),
        0,
        "still within the calls' timeout"
    );
    vm.host.advance_ms(TIMEOUT_MS + DRAIN_GRACE_MS);
    vm.roots[0].on_tick(&vm.host);
    assert_eq!(vm.host.done_calls.get(), 1);
    assert_eq!(vm.shadow_result("pushed", "cancelled"), 5);
    // A late answer for a cancelled call is not counted.
    let token = vm.host.calls.borrow()[0].token;
    vm.answer(1, token, 200, b"{}");
    assert_eq!(vm.shadow_answered("pushed"), 0);
    assert_eq!(accounted(&vm), (5, 5));
}

#[test]
fn a_root_with_nothing_in_flight_is_done_at_once_and_deletion_cancels_the_rest() {
    let mut vm = TestVm::start(&config(0, "shadow"));
    assert!(vm.push(&config(100, "shadow")));
    assert!(
        vm.roots[0].on_done(&vm.host),
        "no call in flight: done at once"
    );
    // A root deleted while it owns calls (Envoy tears the VM down): they are cancelled.
    for u in 0..3 {
        vm.request(&format!("user-{u}"), b"{}", 200, b"{}");
    }
    vm.deliver_queue();
    vm.roots[1].on_delete(&vm.host);
    assert_eq!(vm.shadow_result("pushed", "cancelled"), 3);
    assert_eq!(accounted(&vm), (3, 3));
}

#[test]
fn a_refused_call_is_sent_and_failed() {
    let mut vm = TestVm::start(&config(0, "nowhere"));
    vm.host.unknown_clusters.borrow_mut().push("nowhere".into());
    vm.request("u", b"{}", 200, b"{}");
    vm.deliver_queue();
    assert_eq!(vm.shadow_result("pushed", "failed"), 1);
    assert_eq!(accounted(&vm), (1, 1));
}

#[test]
fn a_body_over_the_limit_is_skipped_not_sent() {
    let mut config = config(0, "shadow");
    config["experiments"][0]["shadow"]["max_body_bytes"] = json!(4);
    let mut vm = TestVm::start(&config);
    vm.request("u", b"too long", 200, b"{}");
    assert_eq!(vm.deliver_queue(), 0);
    assert_eq!(vm.shadow_result("pushed", "skipped_too_large"), 1);
    assert_eq!(accounted(&vm), (0, 0));
}

#[test]
fn the_wake_up_queue_is_registered_for_the_first_shadow_config_then_follows_new_roots() {
    let no_shadow = json!({
        "version": 1,
        "experiments": [{
            "id": "plain", "kind": "ab", "salt": "plain",
            "variants": [{ "name": "a", "cluster": "a", "weight": 10_000 }]
        }]
    });
    let registrations = |vm: &TestVm| {
        vm.host
            .journal
            .borrow()
            .iter()
            .filter(|c| **c == "register_queue")
            .count()
    };
    let mut vm = TestVm::start(&no_shadow);
    assert_eq!(registrations(&vm), 0, "no shadow, no queue");
    assert!(vm.push(&config(0, "shadow")));
    assert_eq!(registrations(&vm), 1);
    // Streams of the shadow config may still hand copies over: the new root takes the queue.
    assert!(vm.push(&no_shadow));
    assert_eq!(registrations(&vm), 2);
}
