//! Header maps, properties, foreign functions, local responses, metrics and logs, through the
//! probe test filter.

mod common;

use common::{probe_plugin, request, response};
use rollgate_harness::record::MetricOp;
use rollgate_harness::{Action, Callback, Exchange, LogLevel, Message};

#[test]
fn replace_add_remove_follow_envoy_semantics() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let headers = request(
        "/a",
        &[
            ("x-probe-set", "r1"),
            ("x-probe-route", "spoofed-1"),
            ("x-probe-route", "spoofed-2"),
            ("x-probe-add", "1"),
            ("x-probe-remove", "x-drop-me"),
            ("X-Drop-Me", "bye"),
        ],
    );
    let record = vm
        .run_exchange(&Exchange {
            request: Message::new(headers, ""),
            response: None,
        })
        .expect("runs");
    let out = &record.request_headers;
    assert_eq!(
        out.get_all("x-probe-route"),
        vec![&b"r1"[..]],
        "replace leaves one value"
    );
    assert_eq!(out.get_str("x-probe-added"), Some("yes"));
    assert!(!out.contains("x-drop-me"));
    assert_eq!(
        record.last_action(Callback::RequestHeaders),
        Some(Action::Continue)
    );
    assert!(
        record.route_cache_clears >= 3,
        "each request-header change clears the route cache"
    );
    let after = record.callbacks[0]
        .headers_after
        .clone()
        .unwrap_or_default();
    assert_eq!(&after, out);
}

#[test]
fn properties_foreign_functions_and_time_are_served() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let stream = vm.create_stream().expect("stream");
    let headers = request(
        "/p?q=1",
        &[
            ("x-probe-property", "1"),
            ("x-probe-foreign", "1"),
            ("x-probe-time", "1"),
        ],
    );
    vm.request_headers(stream, headers, true).expect("headers");
    let record = vm.finish_stream(stream).expect("finish");
    let out = &record.request_headers;
    assert_eq!(out.get_str("x-probe-path"), Some("/p?q=1"));
    assert_eq!(out.get_str("x-probe-plugin"), Some("rollgate"));
    assert_eq!(
        out.get_str("x-probe-time"),
        Some(
            rollgate_harness::DEFAULT_VIRTUAL_START_NANOS
                .to_string()
                .as_str()
        ),
        "virtual clock"
    );
    let names: Vec<_> = record
        .foreign_calls
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        names,
        vec![
            ("clear_route_cache", rollgate_harness::Status::Ok),
            ("no_such_function", rollgate_harness::Status::NotFound)
        ]
    );
    assert!(record
        .logs
        .iter()
        .any(|l| l.message == "foreign known_ok=true unknown_err=Some(NotFound)"));
}

#[test]
fn local_response_stops_the_stream_and_skips_upstream() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let exchange = Exchange {
        request: Message::new(
            request("/deny", &[("x-probe-local", "429")]),
            "ignored body",
        ),
        response: Some(Message::new(response(200), "upstream")),
    };
    let record = vm.run_exchange(&exchange).expect("runs");
    let local = record.local_response.clone().expect("local response");
    assert_eq!(local.status, 429);
    assert_eq!(local.body, b"denied by probe");
    assert_eq!(local.headers.get_str("x-probe-local"), Some("1"));
    assert_eq!(
        record.last_action(Callback::RequestHeaders),
        Some(Action::Pause)
    );
    assert!(
        record.response_headers.is_none(),
        "no upstream response after a local reply"
    );
    assert!(record.request_body.is_empty());
}

#[test]
fn response_callbacks_see_and_change_response_headers() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let stream = vm.create_stream().expect("stream");
    vm.request_headers(stream, request("/", &[]), true)
        .expect("req");
    vm.response_headers(stream, response(503), false)
        .expect("resp");
    let first = vm.response_body(stream, b"part-1", false).expect("chunk");
    let last = vm.response_body(stream, b"part-2", true).expect("chunk");
    assert_eq!(first.forwarded, b"part-1");
    assert_eq!(last.forwarded, b"part-2");
    let record = vm.finish_stream(stream).expect("finish");
    let resp = record.response_headers.clone().unwrap_or_default();
    assert_eq!(resp.get_str("x-probe-response"), Some("seen-503"));
    assert_eq!(record.response_body, b"part-1part-2");
    let messages: Vec<_> = record.logs.iter().map(|l| l.message.as_str()).collect();
    assert!(messages.contains(&"response body chunk 6 eos=false"));
    assert!(messages.contains(&"response body chunk 6 eos=true"));
    assert_eq!(
        messages.last(),
        Some(&format!("on_log {} path=/", record.context_id).as_str())
    );
}

#[test]
fn metrics_are_shared_by_the_plugin_vms_and_recorded_per_stream() {
    let plugin = probe_plugin();
    let mut a = plugin.start_vm(b"").expect("vm a");
    let mut b = plugin.start_vm(b"").expect("vm b");
    let one = request("/", &[]);
    let three = request("/", &[("x-1", "1"), ("x-2", "2"), ("x-3", "3")]);
    let rec = a
        .run_exchange(&Exchange {
            request: Message::new(one, ""),
            response: None,
        })
        .expect("a");
    b.run_exchange(&Exchange {
        request: Message::new(three, ""),
        response: None,
    })
    .expect("b");
    let snapshot = plugin.metrics();
    assert_eq!(snapshot.counter("probe_requests_total"), Some(2));
    let hist = snapshot
        .histogram("probe_header_count")
        .cloned()
        .unwrap_or_default();
    assert_eq!(hist.samples, vec![4, 7]);
    assert_eq!(hist.sum, 11);
    assert!(rec.metric_ops.contains(&MetricOp::Increment {
        name: "probe_requests_total".into(),
        offset: 1
    }));
    assert!(rec.metric_ops.contains(&MetricOp::Record {
        name: "probe_header_count".into(),
        value: 4
    }));
    assert!(rec
        .logs
        .iter()
        .any(|l| l.level == LogLevel::Info && l.message == "request headers: 4 eos=true"));
}

#[test]
fn shared_data_cas_counts_across_vms() {
    let plugin = probe_plugin();
    let mut vms: Vec<_> = (0..3).map(|_| plugin.start_vm(b"").expect("vm")).collect();
    let mut seen = Vec::new();
    for round in 0..2 {
        for vm in vms.iter_mut() {
            let rec = vm
                .run_exchange(&Exchange {
                    request: Message::new(request("/", &[("x-probe-shared", "1")]), ""),
                    response: None,
                })
                .expect("runs");
            seen.push(
                rec.request_headers
                    .get_str("x-probe-hits")
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        assert_eq!(seen.len(), 3 * (round + 1));
    }
    assert_eq!(seen, ["1", "2", "3", "4", "5", "6"]);
}

#[test]
fn hostile_header_values_and_non_utf8_bytes_do_not_trap_the_host() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let mut headers = request("/", &[("x-probe-add", "1")]);
    headers.append("x-big", vec![b'a'; 64 * 1024]);
    headers.append("x-bin", [0xff, 0xfe, 0x00, 0x80]);
    headers.append("x-empty", "");
    for i in 0..1000 {
        headers.append(format!("x-h-{i}"), "v");
    }
    let record = vm
        .run_exchange(&Exchange {
            request: Message::new(headers, ""),
            response: None,
        })
        .expect("runs");
    assert_eq!(
        record.request_headers.get("x-bin"),
        Some(&[0xff, 0xfe, 0x00, 0x80][..])
    );
    assert_eq!(
        record.request_headers.get("x-big").map(<[u8]>::len),
        Some(64 * 1024)
    );
    assert_eq!(record.request_headers.get_str("x-probe-added"), Some("yes"));
    assert_eq!(record.request_headers.len(), 4 + 1 + 3 + 1000 + 1);
}
