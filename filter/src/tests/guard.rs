//! The guard shared by two VMs of one plugin: the trip comes after `min_requests` responses
//! in total (not per VM), is counted once, and a new config resets it.

use super::TestVm;
use rollgate_core::metrics::{stat_name, GUARD_TRIPPED_TOTAL, LABEL_EXPERIMENT, LABEL_VARIANT};
use serde_json::json;

const MIN_REQUESTS: u32 = 20;

fn config(window: u32) -> serde_json::Value {
    json!({
        "version": 1,
        "unit": { "header": "x-user-id" },
        "experiments": [{
            "id": "guarded", "kind": "canary", "salt": "guarded",
            "variants": [
                { "name": "stable", "cluster": "stable", "weight": 0 },
                { "name": "canary", "cluster": "canary", "weight": 10_000 }
            ],
            "guard": { "max_error_rate": 0.2, "min_requests": MIN_REQUESTS, "window": window }
        }]
    })
}

#[test]
fn two_vms_trip_together_after_min_requests_in_total_and_count_it_once() {
    let mut a = TestVm::start(&config(100));
    let second_host = a.host.another_vm();
    let mut b = TestVm::start_on(second_host, &config(100));
    let mut canary_hits = 0;
    for i in 0..80 {
        let vm = if i % 2 == 0 { &mut a } else { &mut b };
        let before = vm.requests("guarded", "canary");
        vm.request(&format!("user-{i}"), b"", 503, b"");
        canary_hits += vm.requests("guarded", "canary") - before;
    }
    // Each VM alone would let 20 through (40 in all): shared counts stop at 20.
    assert_eq!(canary_hits, u64::from(MIN_REQUESTS));
    let trips = a.host.metric(&stat_name(
        GUARD_TRIPPED_TOTAL,
        &[(LABEL_EXPERIMENT, "guarded"), (LABEL_VARIANT, "canary")],
    ));
    assert_eq!(trips, 1, "one trip across both VMs");
    assert_eq!(a.requests("guarded", "stable"), 60);

    // A new config (another generation) starts untripped on both VMs.
    assert!(a.push(&config(101)) && b.push(&config(101)));
    let before = a.requests("guarded", "canary");
    a.request("user-x", b"", 200, b"");
    b.request("user-y", b"", 200, b"");
    assert_eq!(a.requests("guarded", "canary") - before, 2);
}
