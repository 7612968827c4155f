//! What one request costs in host calls, and what it routes to.

use super::TestVm;
use crate::host::Map;
use serde_json::json;

fn split_config() -> serde_json::Value {
    json!({
        "version": 1,
        "unit": { "header": "x-user-id", "cookie": "uid" },
        "experiments": [{
            "id": "split", "kind": "ab", "salt": "split",
            "variants": [
                { "name": "a", "cluster": "cluster-a", "weight": 5_000 },
                { "name": "b", "cluster": "cluster-b", "weight": 5_000 }
            ]
        }]
    })
}

/// How many request headers the VM's table may read.
fn table_reads(vm: &mut TestVm) -> usize {
    vm.root()
        .active()
        .map_or(0, |a| a.table.request_headers().len())
}

fn count(journal: &[&str], call: &str) -> usize {
    journal.iter().filter(|c| **c == call).count()
}

#[test]
fn a_request_without_shadow_makes_only_the_host_calls_routing_needs() {
    let mut vm = TestVm::start(&split_config());
    let table_reads = table_reads(&mut vm);
    assert_eq!(table_reads, 2, "x-user-id, then cookie");
    vm.host.journal.borrow_mut().clear();
    vm.request("user-1", b"{}", 200, b"{}");
    let journal = vm.host.journal.borrow().clone();
    // Request: the unit header (the cookie is not needed when it is there), the clock, two
    // sets, the route cache, a counter. Response: `:status`, exposures and class counters,
    // the clock, the histogram. No whole-map read, no header removal, no body read, no
    // shared data, no queue.
    let reads = 1;
    assert_eq!(count(&journal, "header"), reads + 1, "{journal:?}");
    assert_eq!(count(&journal, "now"), 2, "{journal:?}");
    assert_eq!(count(&journal, "set_header"), 2, "{journal:?}");
    assert_eq!(count(&journal, "clear_route_cache"), 1, "{journal:?}");
    assert_eq!(count(&journal, "increment"), 3, "{journal:?}");
    assert_eq!(count(&journal, "record"), 1, "{journal:?}");
    assert_eq!(journal.len(), reads + 10, "{journal:?}");
    let route = vm
        .host
        .request
        .borrow()
        .iter()
        .find(|(n, _)| n == "x-rollgate-cluster")
        .map(|(_, v)| v.clone());
    assert!(matches!(
        route.as_deref(),
        Some(b"cluster-a") | Some(b"cluster-b")
    ));
    assert_eq!(vm.requests("split", "a") + vm.requests("split", "b"), 1);

    // Without the unit header the decision falls back to the cookie: one read more.
    let mut stream = vm.stream();
    *vm.host.request.borrow_mut() = vec![
        (":path".into(), b"/".to_vec()),
        ("cookie".into(), b"uid=user-1".to_vec()),
    ];
    vm.host.journal.borrow_mut().clear();
    stream.on_request_headers(&vm.host, true);
    assert_eq!(count(&vm.host.journal.borrow(), "header"), 2);
}

#[test]
fn client_sent_routing_headers_are_overwritten_or_removed() {
    let mut vm = TestVm::start(&split_config());
    let mut stream = vm.stream();
    *vm.host.request.borrow_mut() = vec![
        (":path".into(), b"/".to_vec()),
        ("x-user-id".into(), b"u".to_vec()),
        ("x-rollgate-cluster".into(), b"spoofed".to_vec()),
    ];
    stream.on_request_headers(&vm.host, true);
    let cluster = crate::host::Host::header(&vm.host, Map::RequestHeaders, "x-rollgate-cluster");
    assert_ne!(cluster.as_deref(), Some(&b"spoofed"[..]));

    // A request no experiment matches keeps no client-sent routing header.
    let mut config = split_config();
    config["experiments"][0]["match"] = json!({ "path_prefix": "/only" });
    let mut vm = TestVm::start(&config);
    let mut stream = vm.stream();
    *vm.host.request.borrow_mut() = vec![
        (":path".into(), b"/".to_vec()),
        ("x-rollgate-cluster".into(), b"spoofed".to_vec()),
        ("x-rollgate-variant".into(), b"b".to_vec()),
    ];
    stream.on_request_headers(&vm.host, true);
    assert_eq!(vm.host.request.borrow().len(), 1);
}

/// A request whose unit comes from its header does not touch the VM's request counter (the
/// random value is computed only when a decision needs one); one without a unit under
/// `missing_unit: random` does, once.
#[test]
fn the_random_value_is_computed_only_when_the_decision_needs_it() {
    let mut config = split_config();
    config["unit"]["missing_unit"] = json!("random");
    let mut vm = TestVm::start(&config);
    vm.request("user-1", b"", 200, b"");
    assert_eq!(vm.vm.borrow_mut().next_request(), 1, "no random drawn");
    let mut stream = vm.stream();
    *vm.host.request.borrow_mut() = vec![(":path".into(), b"/".to_vec())];
    stream.on_request_headers(&vm.host, true);
    assert_eq!(vm.vm.borrow_mut().next_request(), 3, "one random drawn");
    assert_eq!(vm.requests("split", "a") + vm.requests("split", "b"), 2);
}

/// A table reading more headers than a request keeps inline still reads each of them: an
/// experiment matching on ten headers routes only a request carrying all ten.
#[test]
fn a_table_reading_many_headers_reads_every_one() {
    let mut config = split_config();
    let wanted: Vec<(String, String)> = (0..10)
        .map(|i| (format!("x-m{i}"), format!("v{i}")))
        .collect();
    let matched: serde_json::Map<String, serde_json::Value> =
        wanted.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
    config["experiments"][0]["match"] = json!({ "headers": matched });
    let mut vm = TestVm::start(&config);
    let reads = table_reads(&mut vm);
    assert!(reads > 8, "{reads} headers read: more than kept inline");
    for missing in [None, Some(9), Some(0)] {
        let mut stream = vm.stream();
        let mut headers: Vec<(String, Vec<u8>)> = vec![
            (":path".into(), b"/".to_vec()),
            ("x-user-id".into(), b"u".to_vec()),
        ];
        for (i, (name, value)) in wanted.iter().enumerate() {
            if Some(i) != missing {
                headers.push((name.clone(), value.as_bytes().to_vec()));
            }
        }
        *vm.host.request.borrow_mut() = headers;
        stream.on_request_headers(&vm.host, true);
        let routed = crate::host::Host::header(&vm.host, Map::RequestHeaders, "x-rollgate-cluster");
        assert_eq!(routed.is_some(), missing.is_none(), "missing {missing:?}");
    }
}
