//! Http calls: Envoy's validation, delivery on the root context (also after the stream ended),
//! failures, pausing until the response, and calls made from ticks.

mod common;

use common::{probe_module, probe_plugin, request};
use rollgate_harness::{
    Action, Callback, ClusterPolicy, Exchange, HarnessError, HttpCallResponse, Message, Plugin,
    Status, VmOptions,
};
use std::time::Duration;

fn plugin_with_clusters(names: &[&str]) -> Plugin {
    let options = VmOptions {
        clusters: ClusterPolicy::Only(names.iter().map(|s| s.to_string()).collect()),
        ..VmOptions::default()
    };
    Plugin::new(probe_module(), options)
}

#[test]
fn dispatched_call_is_recorded_and_answered_while_the_stream_waits() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let stream = vm.create_stream().expect("stream");
    let action = vm
        .request_headers(
            stream,
            request("/", &[("x-probe-call", "/check"), ("x-probe-wait", "1")]),
            true,
        )
        .expect("headers");
    assert_eq!(action, Action::Pause);
    let calls = vm.take_new_http_calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.cluster, "upstream");
    assert_eq!(call.headers.get_str(":path"), Some("/check"));
    assert_eq!(call.headers.get_str(":authority"), Some("probe-upstream"));
    assert_eq!(call.body, b"call-body");
    assert_eq!(call.timeout_ms, 250);
    assert_eq!(call.origin_context_id, stream.0);
    assert_eq!(vm.pending_http_calls().len(), 1);
    assert!(vm.take_new_http_calls().is_empty(), "taken once");

    vm.deliver_http_call_response(call.token, HttpCallResponse::with_status(201, "answer"))
        .expect("delivered");
    assert!(vm.pending_http_calls().is_empty());
    let record = vm.finish_stream(stream).expect("finish");
    assert_eq!(
        record.request_headers.get_str("x-probe-call-status"),
        Some("201")
    );
    assert_eq!(
        record.continued,
        vec![rollgate_harness::types::StreamType::Request]
    );
    assert!(record.logs.iter().any(|l| l.message
        == format!(
            "stream {} call {} status=201 body=answer",
            stream.0, call.token
        )));
    assert_eq!(record.http_calls, calls);
    assert!(matches!(
        vm.deliver_http_call_response(call.token, HttpCallResponse::default()),
        Err(HarnessError::UnknownHttpCall(_))
    ));
}

#[test]
fn late_response_after_the_stream_ended_reaches_the_root_context_without_trapping() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let record = vm
        .run_exchange(&Exchange {
            request: Message::new(request("/", &[("x-probe-call", "/late")]), ""),
            response: None,
        })
        .expect("runs");
    let token = record.http_calls[0].token;
    vm.deliver_http_call_response(token, HttpCallResponse::with_status(200, "late"))
        .expect("late delivery does not trap");
    // The Rust SDK drops a response whose HTTP context is gone; the VM keeps working.
    assert!(vm.failure().is_none());
    vm.run_exchange(&Exchange {
        request: Message::new(request("/", &[]), ""),
        response: None,
    })
    .expect("still serving");
}

#[test]
fn unknown_cluster_and_missing_pseudo_headers_get_bad_argument() {
    let mut vm = plugin_with_clusters(&["other"])
        .start_vm(b"")
        .expect("starts");
    let record = vm
        .run_exchange(&Exchange {
            request: Message::new(request("/", &[("x-probe-call", "/x")]), ""),
            response: None,
        })
        .expect("runs");
    assert_eq!(
        record.request_headers.get_str("x-probe-dispatch"),
        Some("BadArgument")
    );
    assert!(record.http_calls.is_empty());
    assert_eq!(record.refused_http_calls.len(), 1);
    assert_eq!(record.refused_http_calls[0].status, Status::BadArgument);
    assert_eq!(record.refused_http_calls[0].cluster, "upstream");

    let mut vm = plugin_with_clusters(&["upstream"])
        .start_vm(b"")
        .expect("starts");
    for missing in [":method", ":path", ":authority"] {
        let record = vm
            .run_exchange(&Exchange {
                request: Message::new(request("/", &[("x-probe-bad-call", missing)]), ""),
                response: None,
            })
            .expect("runs");
        assert_eq!(
            record.request_headers.get_str("x-probe-dispatch"),
            Some("Some(BadArgument)"),
            "{missing}"
        );
    }
    let record = vm
        .run_exchange(&Exchange {
            request: Message::new(request("/", &[("x-probe-bad-call", "none")]), ""),
            response: None,
        })
        .expect("runs");
    assert_eq!(
        record.request_headers.get_str("x-probe-dispatch"),
        Some("None"),
        "complete headers pass"
    );
}

#[test]
fn failed_call_is_reported_with_no_headers_and_body() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let stream = vm.create_stream().expect("stream");
    vm.request_headers(
        stream,
        request("/", &[("x-probe-call", "/f"), ("x-probe-wait", "1")]),
        true,
    )
    .expect("headers");
    let token = vm.take_new_http_calls()[0].token;
    vm.fail_http_call(token).expect("failure delivered");
    let record = vm.finish_stream(stream).expect("finish");
    assert!(record
        .logs
        .iter()
        .any(|l| l.message.ends_with(&format!("call {token} status= body="))));
}

#[test]
fn ticks_follow_the_virtual_clock_and_root_calls_reach_the_root() {
    let mut vm = probe_plugin().start_vm(b"tick_ms=100").expect("starts");
    assert_eq!(vm.tick_period(), Some(Duration::from_millis(100)));
    let start = vm.now_unix_nanos();
    assert_eq!(
        vm.advance_clock(Duration::from_millis(99))
            .expect("advance"),
        0
    );
    assert_eq!(
        vm.advance_clock(Duration::from_millis(1)).expect("advance"),
        1
    );
    assert_eq!(
        vm.advance_clock(Duration::from_millis(350))
            .expect("advance"),
        3
    );
    assert_eq!(vm.now_unix_nanos(), start + 450_000_000);
    assert_eq!(vm.metrics().counter("probe_ticks_total"), Some(4));
    let root = vm.take_root_record();
    let tick_logs: Vec<_> = root
        .logs
        .iter()
        .filter(|l| l.message.starts_with("tick at "))
        .map(|l| l.message.clone())
        .collect();
    assert_eq!(tick_logs[0], format!("tick at {}", start + 100_000_000));
    assert_eq!(tick_logs[3], format!("tick at {}", start + 400_000_000));
    assert_eq!(root.http_calls.len(), 4);
    let token = root.http_calls[0].token;
    vm.deliver_http_call_response(token, HttpCallResponse::with_status(204, ""))
        .expect("delivered");
    let root = vm.take_root_record();
    assert!(root
        .logs
        .iter()
        .any(|l| l.message == format!("root call {token} status=204 body=")));
    assert_eq!(root.logs[0].context_id, vm.root_context_id());
}

#[test]
fn pause_on_body_buffers_until_end_of_stream() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let stream = vm.create_stream().expect("stream");
    vm.request_headers(stream, request("/", &[("x-probe-body", "upper")]), false)
        .expect("headers");
    let first = vm.request_body(stream, b"abc", false).expect("chunk");
    assert_eq!(first.action, Action::Pause);
    assert!(first.forwarded.is_empty());
    let last = vm.request_body(stream, b"def\xff", true).expect("chunk");
    assert_eq!(last.action, Action::Continue);
    assert_eq!(last.forwarded, b"ABCDEF\xff");
    let record = vm.finish_stream(stream).expect("finish");
    assert_eq!(record.request_body, b"ABCDEF\xff");
    assert_eq!(
        record.last_action(Callback::RequestBody),
        Some(Action::Continue)
    );
}
