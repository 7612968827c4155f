//! Behaviours where the harness follows Envoy and proxy-wasm-cpp-host exactly: header maps
//! after Continue, call timeouts and missing upstreams as local replies, imports per ABI
//! version, a new configuration as a new root context in the same VM, root shutdown with
//! `proxy_on_done` / `proxy_done` and cancelled calls, per-root ticks, queues.

mod common;

use common::{probe_plugin, request, response};
use rollgate_harness::{HarnessError, HttpCallResponse, WasmModule};
use std::time::Duration;

fn logs_of(vm: &mut rollgate_harness::Vm) -> Vec<String> {
    vm.take_logs().into_iter().map(|l| l.message).collect()
}

#[test]
fn request_headers_are_gone_in_the_response_phase_after_continue() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    // Pairs of a map Envoy no longer holds read as empty (Ok, no pairs).
    let s = vm.create_stream().expect("stream");
    vm.request_headers(s, request("/p", &[("x-probe-late", "pairs")]), true)
        .expect("request");
    vm.response_headers(s, response(200), true)
        .expect("response");
    let record = vm.finish_stream(s).expect("finish");
    let headers = record.response_headers.unwrap_or_default();
    assert_eq!(headers.get_str("x-probe-late-pairs"), Some("0"));
    // In proxy_on_log the maps are readable again (Envoy's access-log view).
    assert_eq!(
        record.logs.last().map(|l| l.message.as_str()),
        Some(format!("on_log {} path=/p", record.context_id).as_str())
    );

    // One value of it is BAD_ARGUMENT, on which the SDK panics: a trap, as in Envoy.
    let s = vm.create_stream().expect("stream");
    vm.request_headers(s, request("/p", &[("x-probe-late", "value")]), true)
        .expect("request");
    let err = vm
        .response_headers(s, response(200), true)
        .expect_err("trap");
    match err {
        HarnessError::Trap { callback, logs, .. } => {
            assert_eq!(callback, "proxy_on_response_headers");
            assert!(
                logs.iter()
                    .any(|l| l.message.contains("unexpected status: 2")),
                "{logs:?}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn request_headers_stay_available_while_the_stream_is_paused() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let s = vm.create_stream().expect("stream");
    vm.request_headers(
        s,
        request("/", &[("x-probe-call", "/c"), ("x-probe-wait", "1")]),
        true,
    )
    .expect("paused");
    let token = vm.take_new_http_calls()[0].token;
    // The stream returned Pause: its request headers are still held, so the response
    // callback can set one.
    vm.deliver_http_call_response(token, HttpCallResponse::with_status(200, ""))
        .expect("delivered");
    let record = vm.finish_stream(s).expect("finish");
    assert_eq!(
        record.request_headers.get_str("x-probe-call-status"),
        Some("200")
    );
}

#[test]
fn a_call_timeout_is_a_local_504_reply_and_no_healthy_upstream_a_503() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    for (status, body) in [
        (504, "upstream request timeout"),
        (503, "no healthy upstream"),
    ] {
        let s = vm.create_stream().expect("stream");
        vm.request_headers(
            s,
            request("/", &[("x-probe-call", "/slow"), ("x-probe-wait", "1")]),
            true,
        )
        .expect("paused");
        let token = vm.take_new_http_calls()[0].token;
        if status == 504 {
            vm.time_out_http_call(token).expect("timeout delivered");
        } else {
            vm.no_healthy_upstream_http_call(token)
                .expect("503 delivered");
        }
        let record = vm.finish_stream(s).expect("finish");
        assert_eq!(
            record.request_headers.get_str("x-probe-call-status"),
            Some(status.to_string().as_str())
        );
        let line = format!("stream {} call {token} status={status} body={body}", s.0);
        assert!(
            record.logs.iter().any(|l| l.message == line),
            "{line} not in {:?}",
            record.logs
        );
    }
    let reply = HttpCallResponse::local_reply(504, "upstream request timeout");
    assert_eq!(reply.headers.get_str("content-length"), Some("24"));
    assert_eq!(reply.headers.get_str("content-type"), Some("text/plain"));
}

const MINIMAL: &str = r#"(memory (export "memory") 1)
    (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))"#;

fn module(abi: &str, imports: &str) -> Result<WasmModule, HarnessError> {
    let text = format!("(module {imports} {MINIMAL} (func (export \"{abi}\")))");
    WasmModule::from_bytes(text.as_bytes())
}

#[test]
fn imports_are_registered_per_abi_version_as_cpp_host_does() {
    let log_level = r#"(import "env" "proxy_get_log_level" (func (param i32) (result i32)))"#;
    module("proxy_abi_version_0_2_1", log_level).expect("0.2.1 has proxy_get_log_level");
    let err = module("proxy_abi_version_0_2_0", log_level).expect_err("0.2.0 has not");
    assert!(err.to_string().contains("proxy_get_log_level"), "{err}");

    let stream = r#"(import "env" "proxy_continue_stream" (func (param i32) (result i32)))
        (import "env" "proxy_close_stream" (func (param i32) (result i32)))"#;
    for abi in ["proxy_abi_version_0_2_0", "proxy_abi_version_0_2_1"] {
        let m = module(abi, stream).expect("0.2.x has continue/close_stream");
        assert_eq!(m.abi().marker(), abi);
    }
    // The 0.1.0-only imports are never registered for 0.2.x modules.
    for name in [
        "proxy_continue_request",
        "proxy_continue_response",
        "proxy_clear_route_cache",
    ] {
        let import = format!(r#"(import "env" "{name}" (func (result i32)))"#);
        let err = module("proxy_abi_version_0_2_1", &import).expect_err("0.1.0 only");
        assert!(err.to_string().contains(name), "{err}");
    }
    // cpp-host's WASI list, exactly: these three are not in it.
    for (name, sig) in [
        ("sched_yield", "(result i32)"),
        ("poll_oneoff", "(param i32 i32 i32 i32) (result i32)"),
        ("fd_fdstat_set_flags", "(param i32 i32) (result i32)"),
    ] {
        let import = format!(r#"(import "wasi_snapshot_preview1" "{name}" (func {sig}))"#);
        assert!(
            module("proxy_abi_version_0_2_1", &import).is_err(),
            "{name} must not link"
        );
    }
    let emscripten = r#"(import "env" "pthread_equal" (func (param i32 i32) (result i32)))
        (import "env" "emscripten_notify_memory_growth" (func (param i32)))"#;
    module("proxy_abi_version_0_2_1", emscripten).expect("cpp-host registers these for all");
}

#[test]
fn a_new_config_is_a_new_root_context_in_the_same_vm() {
    let mut vm = probe_plugin().start_vm(b"cluster=first").expect("starts");
    let first_root = vm.root_context_id();
    assert!(logs_of(&mut vm)
        .iter()
        .any(|m| m.ends_with("configuration 1 of this VM")));
    vm.reconfigure(b"cluster=second").expect("accepted");
    let second_root = vm.root_context_id();
    assert_ne!(first_root, second_root);
    let logs = logs_of(&mut vm);
    // The module's globals survived: the same instance, not a fresh VM.
    assert!(
        logs.iter()
            .any(|m| m.ends_with("configuration 2 of this VM")),
        "{logs:?}"
    );
    // No stream was open: the old root was shut down at once (on_done true → deleted).
    assert!(logs.iter().any(|m| m == "root on_done"), "{logs:?}");
    assert_eq!(vm.root_context_ids(), vec![second_root]);
    let s = vm.create_stream().expect("stream");
    vm.request_headers(s, request("/", &[("x-probe-call", "/")]), true)
        .expect("request");
    let record = vm.finish_stream(s).expect("finish");
    assert_eq!(record.http_calls[0].cluster, "second");
    assert_eq!(record.http_calls[0].root_context_id, second_root);
}

#[test]
fn the_old_root_lives_until_its_last_stream_ends() {
    let mut vm = probe_plugin().start_vm(b"cluster=first").expect("starts");
    let old = vm.root_context_id();
    let s = vm.create_stream().expect("stream on the old root");
    vm.request_headers(s, request("/", &[]), false)
        .expect("request");
    vm.reconfigure(b"cluster=second").expect("accepted");
    let new = vm.root_context_id();
    assert_eq!(vm.root_context_ids(), vec![old, new]);
    // The open stream still runs on the old root's configuration.
    vm.request_body(s, b"x", true).expect("body");
    vm.finish_stream(s).expect("finish");
    assert_eq!(vm.root_context_ids(), vec![new]);
}

#[test]
fn a_root_shut_down_at_once_has_its_pending_calls_cancelled_with_no_callback() {
    let mut vm = probe_plugin()
        .start_vm(b"tick_ms=100\ncluster=shadow")
        .expect("starts");
    let old = vm.root_context_id();
    vm.advance_clock(Duration::from_millis(250)).expect("ticks");
    let calls = vm.take_new_http_calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.root_context_id == old));
    vm.take_logs();
    vm.reconfigure(b"cluster=other").expect("accepted");
    let cancelled = vm.take_cancelled_http_calls();
    assert_eq!(
        cancelled.iter().map(|c| c.token).collect::<Vec<_>>(),
        calls.iter().map(|c| c.token).collect::<Vec<_>>()
    );
    assert!(vm.pending_http_calls().is_empty());
    assert!(matches!(
        vm.deliver_http_call_response(calls[0].token, HttpCallResponse::with_status(200, "")),
        Err(HarnessError::UnknownHttpCall(_))
    ));
    // The new root set no tick period: no more ticks, no callback for the cancelled calls.
    assert_eq!(
        vm.advance_clock(Duration::from_secs(1)).expect("advance"),
        0
    );
    let logs = logs_of(&mut vm);
    assert!(!logs.iter().any(|m| m.starts_with("root call")), "{logs:?}");
}

#[test]
fn a_root_whose_on_done_returns_false_is_kept_until_it_calls_proxy_done() {
    let mut vm = probe_plugin()
        .start_vm(b"tick_ms=100\ndefer_done")
        .expect("starts");
    let old = vm.root_context_id();
    vm.advance_clock(Duration::from_millis(200)).expect("ticks");
    let calls = vm.take_new_http_calls();
    assert_eq!(calls.len(), 2);
    vm.reconfigure(b"tick_ms=1000").expect("accepted");
    let new = vm.root_context_id();
    // on_done returned false: the old root waits, with its calls and its tick timer.
    assert_eq!(vm.root_context_ids(), vec![old, new]);
    assert!(vm.take_cancelled_http_calls().is_empty());
    assert_eq!(vm.tick_period_of(old), Some(Duration::from_millis(100)));
    vm.take_logs();
    // It can still receive the answer of a pending call, on its own context.
    vm.deliver_http_call_response(calls[0].token, HttpCallResponse::with_status(200, "ok"))
        .expect("delivered to the old root");
    let logs = vm.take_logs();
    let answer = logs
        .iter()
        .find(|l| l.message == format!("root call {} status=200 body=ok", calls[0].token))
        .expect("the old root got its answer");
    assert_eq!(answer.context_id, old);
    // Its next tick calls proxy_done: deleted after that call, the last call is cancelled.
    assert_eq!(
        vm.advance_clock(Duration::from_millis(100)).expect("tick"),
        1
    );
    assert_eq!(vm.root_context_ids(), vec![new]);
    let cancelled = vm.take_cancelled_http_calls();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].token, calls[1].token);
    assert!(logs_of(&mut vm)
        .iter()
        .any(|m| m == "root calls proxy_done"));
    // The new root ticks on its own period.
    assert_eq!(
        vm.advance_clock(Duration::from_millis(1000)).expect("tick"),
        1
    );
}

#[test]
fn queue_items_reach_the_registering_root_and_follow_a_new_root() {
    let plugin = probe_plugin();
    let mut vm = plugin.start_vm(b"").expect("starts");
    vm.reconfigure(b"cluster=next").expect("accepted");
    let new_root = vm.root_context_id();
    let s = vm.create_stream().expect("stream");
    vm.take_logs();
    // Envoy runs the notification right after the callback that enqueued: nothing is left.
    vm.request_headers(s, request("/", &[("x-probe-enqueue", "item-1")]), true)
        .expect("enqueue");
    assert_eq!(vm.deliver_queue_ready().expect("ready"), 0);
    vm.finish_stream(s).expect("finish");
    let logs = vm.take_logs();
    let item = logs
        .iter()
        .find(|l| l.message == "queue item item-1")
        .expect("dequeued");
    assert_eq!(item.context_id, new_root);
}
