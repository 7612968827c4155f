//! Lifecycle: config refusal keeps the old VM serving, reconfiguration, traps fail the VM,
//! modules Envoy would refuse are refused, WASI stdout, queues, guest memory bounds.

mod common;

use common::{probe_plugin, request};
use rollgate_harness::{
    Action, Exchange, HarnessError, LogLevel, Message, Plugin, VmOptions, WasmModule,
};

fn run(
    vm: &mut rollgate_harness::Vm,
    extra: &[(&str, &str)],
) -> Result<rollgate_harness::StreamRecord, HarnessError> {
    vm.run_exchange(&Exchange {
        request: Message::new(request("/", extra), ""),
        response: None,
    })
}

#[test]
fn refused_config_returns_the_plugins_logs_and_the_old_vm_keeps_serving() {
    let plugin = probe_plugin();
    let mut vm = plugin.start_vm(b"cluster=first").expect("starts");
    let err = vm
        .reconfigure(b"reject=weights do not sum to 10000")
        .expect_err("refused");
    match &err {
        HarnessError::ConfigRejected { logs } => {
            assert_eq!(logs.len(), 1);
            assert_eq!(logs[0].level, LogLevel::Error);
            assert_eq!(
                logs[0].message,
                "probe config refused: weights do not sum to 10000"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("weights do not sum to 10000"));
    assert_eq!(vm.config(), b"cluster=first");
    let record = run(&mut vm, &[("x-probe-call", "/")]).expect("old config serves");
    assert_eq!(record.http_calls[0].cluster, "first");

    vm.reconfigure(b"cluster=second").expect("accepted");
    let record = run(&mut vm, &[("x-probe-call", "/")]).expect("new config serves");
    assert_eq!(record.http_calls[0].cluster, "second");
}

#[test]
fn configure_logs_and_wasi_stdout_are_captured() {
    let mut vm = probe_plugin()
        .start_vm(b"println=hello from wasi")
        .expect("starts");
    let logs = vm.take_logs();
    let messages: Vec<_> = logs.iter().map(|l| (l.level, l.message.as_str())).collect();
    assert!(
        messages.contains(&(LogLevel::Info, "hello from wasi")),
        "{messages:?}"
    );
    assert!(
        messages.contains(&(
            LogLevel::Info,
            "probe configured (23 bytes), configuration 1 of this VM"
        )),
        "{messages:?}"
    );
}

#[test]
fn a_panic_traps_and_fails_the_vm_like_envoy() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    let err = run(&mut vm, &[("x-probe-panic", "1")]).expect_err("traps");
    match &err {
        HarnessError::Trap { callback, logs, .. } => {
            assert_eq!(callback, "proxy_on_request_headers");
            assert!(
                logs.iter()
                    .any(|l| l.message.contains("probe panic requested")),
                "{logs:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(vm.failure().is_some());
    assert!(matches!(run(&mut vm, &[]), Err(HarnessError::VmFailed(_))));
    // A fresh VM of the same plugin serves again.
    let mut fresh = vm.plugin().start_vm(b"").expect("fresh");
    run(&mut fresh, &[]).expect("serves");
}

#[test]
fn queues_notify_the_registering_vm() {
    let plugin = probe_plugin();
    let mut owner = plugin.start_vm(b"").expect("owner");
    let mut other = plugin.start_vm(b"").expect("other");
    // Both VMs registered "probe-queue" at start; the last registration owns it.
    run(&mut owner, &[("x-probe-enqueue", "from-owner")]).expect("enqueue");
    assert_eq!(owner.deliver_queue_ready().expect("deliver"), 0);
    assert_eq!(other.deliver_queue_ready().expect("deliver"), 1);
    let root = other.take_root_record();
    assert!(
        root.logs
            .iter()
            .any(|l| l.message == "queue item from-owner"),
        "{:?}",
        root.logs
    );
}

#[test]
fn stream_ids_are_per_vm_and_checked() {
    let mut vm = probe_plugin().start_vm(b"").expect("starts");
    assert_eq!(vm.root_context_id(), 1);
    let s = vm.create_stream().expect("stream");
    assert_eq!(s.0, 2);
    vm.finish_stream(s).expect("finish");
    assert!(matches!(
        vm.finish_stream(s),
        Err(HarnessError::UnknownStream(2))
    ));
    assert!(matches!(
        vm.request_headers(s, request("/", &[]), true),
        Err(HarnessError::UnknownStream(2))
    ));
}

#[test]
fn vms_are_send_and_run_on_worker_threads() {
    let plugin = probe_plugin();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let mut vm = plugin.start_vm(b"").expect("vm");
            std::thread::spawn(move || {
                for _ in 0..20 {
                    run(&mut vm, &[]).expect("runs");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(plugin.metrics().counter("probe_requests_total"), Some(60));
}

const MINIMAL_PREFIX: &str = r#"
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
"#;

fn wat(imports: &str, body: &str) -> String {
    format!("(module {imports} {MINIMAL_PREFIX} {body})")
}

#[test]
fn a_module_importing_wasi_functions_envoy_lacks_fails_to_load() {
    let text = wat(
        r#"(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))"#,
        "",
    );
    let err = WasmModule::from_bytes(text.as_bytes()).expect_err("refused");
    assert!(matches!(err, HarnessError::Link(_)), "{err:?}");
    assert!(err.to_string().contains("sock_accept"), "{err}");

    let text = wat(r#"(import "env" "proxy_made_up" (func (result i32)))"#, "");
    assert!(matches!(
        WasmModule::from_bytes(text.as_bytes()),
        Err(HarnessError::Link(_))
    ));

    let text = wat(
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))"#,
        "",
    );
    WasmModule::from_bytes(text.as_bytes()).expect("Envoy-provided WASI functions link");
}

#[test]
fn a_module_without_abi_marker_or_allocator_is_refused() {
    let text = r#"(module (memory (export "memory") 1) (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0)))"#;
    assert!(matches!(
        WasmModule::from_bytes(text.as_bytes()),
        Err(HarnessError::Link(_))
    ));
    let text = r#"(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1")))"#;
    assert!(matches!(
        WasmModule::from_bytes(text.as_bytes()),
        Err(HarnessError::Link(_))
    ));
    assert!(matches!(
        WasmModule::from_bytes(b"not wasm"),
        Err(HarnessError::Compile(_))
    ));
}

#[test]
fn out_of_bounds_guest_pointers_get_invalid_memory_access_and_never_touch_host_memory() {
    // proxy_on_request_headers returns the status of proxy_log / proxy_get_header_map_pairs
    // called with pointers past the end of the 1-page memory.
    let text = wat(
        r#"(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
           (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))"#,
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (call $log (i32.const 2) (i32.const 65530) (i32.const 100)))
           (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
             (call $pairs (i32.const 2) (i32.const -4) (i32.const 0)))
           (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
             (call $log (i32.const 9) (i32.const 0) (i32.const 1)))"#,
    );
    let module = WasmModule::from_bytes(text.as_bytes()).expect("loads");
    let mut vm = Plugin::new(module, VmOptions::default())
        .start_vm(b"")
        .expect("starts");
    let s = vm.create_stream().expect("stream");
    assert_eq!(
        vm.request_headers(s, request("/", &[]), false)
            .expect("no trap"),
        Action::Other(6)
    );
    // An unknown log level gets BAD_ARGUMENT (2), returned here as the body action.
    assert_eq!(
        vm.request_body(s, b"x", true).expect("no trap").action,
        Action::StopIterationAndWatermark
    );
    assert_eq!(
        vm.response_headers(s, common::response(200), true)
            .expect("no trap"),
        Action::Other(6)
    );
    assert!(vm.take_logs().is_empty());
}
