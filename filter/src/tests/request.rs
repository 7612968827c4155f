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

fn count(journal: &[&str], call: &str) -> usize {
    journal.iter().filter(|c| **c == call).count()
}

#[test]
fn a_request_without_shadow_makes_only_the_host_calls_routing_needs() {
    let mut vm = TestVm::start(&split_config());
    let table_reads = vm
        .root()
        .active()
        .expect("config")
        .table
        .request_headers()
        .len();
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
