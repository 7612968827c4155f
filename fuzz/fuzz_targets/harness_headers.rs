//! The real `rollgate_filter.wasm` (build it first: `make wasm`) in the harness, one VM reused
//! like an Envoy worker's, fed arbitrary request header maps (names as Envoy's codecs admit
//! them: lower-case tokens; values without NUL/CR/LF; repeats, empty and non-UTF-8 values).
//! Never a trap; the route and variant headers are set, exactly once, to what the native core
//! decides (every request matches the fixed config's catch-all), whatever the client sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollgate_core::config::UnitKind;
use rollgate_core::{HeaderList, RequestView, RoutingTable};
use rollgate_fuzz::{FuzzRequest, FIXED_CONFIG};
use rollgate_harness::{HeaderMap, HttpCallResponse, LogLevel, Plugin, Vm, VmOptions, WasmModule};
use std::sync::{Mutex, OnceLock};

const WASM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/wasm32-wasip1/release/rollgate_filter.wasm"
);
const ROUTE: &str = "x-rollgate-cluster";
const VARIANT: &str = "x-rollgate-variant";

struct Fixture {
    vm: Mutex<Vm>,
    table: RoutingTable,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let module = WasmModule::from_file(WASM)
            .unwrap_or_else(|e| panic!("load {WASM} (run `make wasm` first): {e}"));
        let options = VmOptions {
            log_level: LogLevel::Warn,
            max_retained_logs: 64,
            ..VmOptions::default()
        };
        let vm = Plugin::new(module, options)
            .start_vm(FIXED_CONFIG.as_bytes())
            .unwrap_or_else(|e| panic!("fixed config refused by the filter: {e}"));
        let table = RoutingTable::from_json(FIXED_CONFIG.as_bytes())
            .unwrap_or_else(|e| panic!("fixed config refused natively: {e}"));
        Fixture {
            vm: Mutex::new(vm),
            table,
        }
    })
}

/// A header name as Envoy's codecs deliver it: lower-case token characters, never empty.
fn token(name: &[u8]) -> Vec<u8> {
    let is_tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    let keep_colon = name.first() == Some(&b':');
    let mut out: Vec<u8> = name
        .iter()
        .enumerate()
        .filter(|(i, b)| is_tchar(b) || (*i == 0 && keep_colon))
        .map(|(_, b)| b.to_ascii_lowercase())
        .collect();
    if out.is_empty() || out == b":" {
        out = b"x-empty".to_vec();
    }
    out
}

fuzz_target!(|input: FuzzRequest| {
    let fixture = fixture();
    let mut vm = fixture.vm.lock().unwrap_or_else(|e| e.into_inner());
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = input
        .pairs()
        .into_iter()
        .take(256)
        .map(|(name, value)| {
            let value: Vec<u8> = value
                .into_iter()
                .filter(|b| !b"\0\r\n".contains(b))
                .collect();
            (token(&name), value)
        })
        .collect();

    // What the router must see: the native decision on the request minus the client's copies
    // of the two headers. Compared only when it does not depend on the per-request random.
    let view = HeaderList::new(
        pairs
            .iter()
            .filter(|(n, _)| n != ROUTE.as_bytes() && n != VARIANT.as_bytes())
            .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), v.clone()))
            .collect(),
    );
    let native = fixture.table.decide(&view, 0);
    // Request-level units without an x-request-id hash the filter's own per-request random.
    let has_request_id = view.header("x-request-id").is_some_and(|id| !id.is_empty());
    let stable = native.is_some_and(|d| {
        has_request_id
            || fixture.table.experiments()[d.experiment_index].unit_kind != UnitKind::Request
    });

    let stream = vm
        .create_stream()
        .unwrap_or_else(|e| panic!("context create: {e}"));
    let headers = HeaderMap::from_pairs(pairs.iter().map(|(n, v)| (n, v)));
    if let Err(e) = vm.request_headers(stream, headers, true) {
        panic!("request headers trapped or failed: {e}");
    }
    let record = vm
        .finish_stream(stream)
        .unwrap_or_else(|e| panic!("finish: {e}"));
    let routes = record.request_headers.get_all(ROUTE);
    let variants = record.request_headers.get_all(VARIANT);
    assert_eq!(
        routes.len(),
        1,
        "route header not set exactly once: {routes:?}"
    );
    assert_eq!(
        variants.len(),
        1,
        "variant header not set exactly once: {variants:?}"
    );
    let Some(native) = native else {
        panic!("native core gave no decision although the catch-all applies");
    };
    if stable {
        assert_eq!(
            routes[0],
            native.cluster.as_bytes(),
            "wasm and native disagree"
        );
        assert_eq!(variants[0], native.variant_name.as_bytes());
    }
    // Answer shadow copies so nothing piles up in the VM between inputs.
    for call in vm.take_new_http_calls() {
        let response = HttpCallResponse {
            headers: HeaderMap::from_pairs([(":status", "200")]),
            body: br#"{"prediction":1}"#.to_vec(),
            ..HttpCallResponse::default()
        };
        if let Err(e) = vm.deliver_http_call_response(call.token, response) {
            panic!("http call response: {e}");
        }
    }
    vm.take_logs();
});
