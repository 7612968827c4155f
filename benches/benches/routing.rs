//! Routing decision: the native core vs the real filter `.wasm` in wasmtime (harness), on the
//! same realistic requests (16 headers, three experiments, 1,024 users in rotation).
//!
//! - `native/decide`: `RoutingTable::decide` on a prepared header view (the pure decision);
//! - `native/view_and_decide`: building the header view from the header pairs, then deciding
//!   (what the glue does natively inside the filter);
//! - `wasm/request_round_trip`: one request on one reused VM: `proxy_on_context_create`,
//!   `proxy_on_request_headers` (the filter reads the map, decides, sets two headers, clears the
//!   route cache, counts), `proxy_on_log`/`on_done`/`on_delete`;
//! - `wasm/context_only`: the same without the headers callback (what a request costs anyway);
//! - `config/*`: parse + validate + compile natively, and a config push to the `.wasm`.
//!
//! Ends with a one-line summary of medians and ratio (own measurement: median over 51
//! samples of per-request means). Run: `cargo bench -p rollgate-benches --bench routing`.

use criterion::{BatchSize, Criterion};
use rollgate_benches::fixtures::{realistic_config, request_headers, ROUTE_HEADER};
use rollgate_benches::wasm::start_filter_vm;
use rollgate_core::{FilterConfig, HeaderList, RoutingTable};
use rollgate_harness::{HeaderMap, Vm};
use std::hint::black_box;
use std::time::Instant;

const USERS: usize = 1024;
const CANARY_BP: u32 = 500;

struct Inputs {
    pairs: Vec<Vec<(String, Vec<u8>)>>,
    views: Vec<HeaderList>,
    maps: Vec<HeaderMap>,
}

fn inputs() -> Inputs {
    let pairs: Vec<Vec<(String, Vec<u8>)>> = (0..USERS)
        .map(|i| {
            request_headers(&format!("user-{i:06}"))
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect()
        })
        .collect();
    let views = pairs.iter().cloned().map(HeaderList::new).collect();
    let maps = pairs
        .iter()
        .map(|p| HeaderMap::from_pairs(p.iter().map(|(k, v)| (k, v))))
        .collect();
    Inputs { pairs, views, maps }
}

fn wasm_request(vm: &mut Vm, headers: HeaderMap) -> usize {
    let stream = vm.create_stream().expect("context create");
    // Not end of stream: an inference POST has a body, so no shadow call is dispatched here.
    vm.request_headers(stream, headers, false)
        .expect("request headers");
    let record = vm.finish_stream(stream).expect("finish stream");
    record.request_headers.len()
}

fn wasm_context_only(vm: &mut Vm) {
    let stream = vm.create_stream().expect("context create");
    vm.finish_stream(stream).expect("finish stream");
}

fn check_same_decisions(vm: &mut Vm, table: &RoutingTable, inputs: &Inputs) {
    for (view, map) in inputs.views.iter().zip(&inputs.maps) {
        let native = table.decide(view, 0).expect("fraud-v2 applies");
        let stream = vm.create_stream().expect("context create");
        vm.request_headers(stream, map.clone(), false)
            .expect("headers");
        let record = vm.finish_stream(stream).expect("finish");
        assert_eq!(
            record.request_headers.get_str(ROUTE_HEADER),
            Some(native.cluster),
            "wasm and native disagree"
        );
    }
}

fn bench_decision(c: &mut Criterion, table: &RoutingTable, vm: &mut Vm, inputs: &Inputs) {
    let mut group = c.benchmark_group("routing");
    let mut i = 0usize;
    group.bench_function("native/decide", |b| {
        b.iter(|| {
            i = (i + 1) % USERS;
            black_box(
                table
                    .decide(black_box(&inputs.views[i]), 7)
                    .map(|d| d.variant_index),
            )
        })
    });
    group.bench_function("native/view_and_decide", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % USERS;
                inputs.pairs[i].clone()
            },
            |pairs| {
                let view = HeaderList::new(pairs);
                black_box(table.decide(&view, 7).map(|d| d.variant_index))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("wasm/request_round_trip", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % USERS;
                inputs.maps[i].clone()
            },
            |map| wasm_request(vm, map),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("wasm/context_only", |b| b.iter(|| wasm_context_only(vm)));
    group.finish();
}

fn bench_config(c: &mut Criterion, vm: &mut Vm) {
    let config = realistic_config(CANARY_BP);
    let mut group = c.benchmark_group("config");
    group.bench_function("native/parse_validate_compile", |b| {
        b.iter(|| {
            let parsed = FilterConfig::from_json(black_box(config.as_bytes())).expect("valid");
            black_box(RoutingTable::compile(&parsed).expect("compiles"))
        })
    });
    group.sample_size(20);
    group.bench_function("wasm/push_to_fresh_vm", |b| {
        b.iter(|| {
            vm.reconfigure(black_box(config.as_bytes()))
                .expect("accepted")
        })
    });
    group.finish();
}

/// Median over `samples` of the mean per-call time of `batch` calls, in nanoseconds.
fn median_ns(samples: usize, batch: usize, mut run: impl FnMut(usize)) -> f64 {
    let mut means: Vec<f64> = (0..samples)
        .map(|s| {
            let start = Instant::now();
            for k in 0..batch {
                run(s * batch + k);
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    means[samples / 2]
}

fn summary(table: &RoutingTable, vm: &mut Vm, inputs: &Inputs) {
    let native = median_ns(51, 20_000, |k| {
        black_box(
            table
                .decide(&inputs.views[k % USERS], 7)
                .map(|d| d.variant_index),
        );
    });
    let native_view = median_ns(51, 5_000, |k| {
        let view = HeaderList::new(inputs.pairs[k % USERS].clone());
        black_box(table.decide(&view, 7).map(|d| d.variant_index));
    });
    // The map clone is input preparation (Envoy already holds the map); measured apart below.
    let maps: Vec<HeaderMap> = (0..2_000).map(|k| inputs.maps[k % USERS].clone()).collect();
    let mut pool = maps.clone();
    let wasm = median_ns(51, 2_000, |k| {
        if k % 2_000 == 0 {
            pool = maps.clone();
        }
        let map = std::mem::take(&mut pool[k % 2_000]);
        black_box(wasm_request(vm, map));
    });
    let context = median_ns(51, 2_000, |_| wasm_context_only(vm));
    println!(
        "routing summary: native decide {native:.0} ns (view+decide {native_view:.0} ns), \
         wasm round trip {wasm:.0} ns (of which context create+log/done/delete {context:.0} ns), \
         ratio {:.1}x (vs view+decide {:.1}x); targets: wasm <= 1000 ns, ratio <= 2x",
        wasm / native,
        wasm / native_view
    );
}

fn main() {
    let config = realistic_config(CANARY_BP);
    let table = RoutingTable::from_json(config.as_bytes()).expect("realistic config is valid");
    let mut vm = match start_filter_vm(config.as_bytes()) {
        Ok(vm) => vm,
        Err(err) => {
            eprintln!("routing bench: {err}");
            std::process::exit(1);
        }
    };
    let inputs = inputs();
    check_same_decisions(&mut vm, &table, &inputs);
    let mut criterion = Criterion::default().configure_from_args();
    bench_decision(&mut criterion, &table, &mut vm, &inputs);
    bench_config(&mut criterion, &mut vm);
    criterion.final_summary();
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    if !quick {
        summary(&table, &mut vm, &inputs);
    }
}
