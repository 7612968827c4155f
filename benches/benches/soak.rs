//! Soak: 1,000,000 requests through one harness VM of the real filter `.wasm`, with the config
//! swapped every 50,000 requests (valid configs at different canary weights, and refused ones
//! that must leave the last good config serving). Every request is a full exchange (request
//! headers, response headers, log/done/delete) and shadow copies are answered.
//!
//! Checks: zero traps; every request for which the native core (same config) has a decision
//! gets the route header with that cluster, every other one gets none; wasm linear memory is
//! printed at 10k and 1M requests and at the end of every segment, and must not grow after
//! warm-up. Exits non-zero on any violation. Run: `cargo bench -p rollgate-benches --bench soak`
//! (`ROLLGATE_SOAK_REQUESTS=N` for a shorter run).
//!
//! Note: in this harness an accepted config starts a fresh VM (`Vm::reconfigure`, as Envoy
//! creates a new plugin instance), so memory is compared within each VM's lifetime too.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rollgate_benches::fixtures::{realistic_config, REFUSED_CONFIGS, ROUTE_HEADER};
use rollgate_benches::wasm::start_filter_vm;
use rollgate_core::{HeaderList, RoutingTable};
use rollgate_harness::{HeaderMap, HttpCallResponse, Vm};
use std::process::ExitCode;
use std::time::Instant;

const SEGMENT: usize = 50_000;
const CANARY_STEPS: [u32; 5] = [100, 500, 1000, 2500, 5000];

#[derive(Default)]
struct Counts {
    requests: usize,
    traps: usize,
    decided: usize,
    missing_decision: usize,
    wrong_cluster: usize,
    spurious_route: usize,
    shadow_calls: usize,
    configs_accepted: usize,
    configs_refused: usize,
    refusal_not_reported: usize,
}

/// One request: a service, a user (header or cookie or none), a request id.
fn request(rng: &mut ChaCha8Rng, n: usize) -> Vec<(String, Vec<u8>)> {
    let (authority, path) = match rng.random_range(0..10) {
        0..=5 => ("fraud-detector", "/predict"),
        6..=7 => ("ranker:8080", "/rank/top"),
        8 => ("recommender", "/recommend"),
        _ => ("unrelated", "/health"),
    };
    let user = format!("u-{}", rng.random_range(0..200_000u32));
    let mut pairs = vec![
        (":authority", authority.to_string()),
        (":path", path.to_string()),
        (":method", "GET".to_string()),
        (":scheme", "http".to_string()),
        ("x-request-id", format!("req-{n}")),
        (
            "x-region",
            if rng.random_bool(0.5) { "eu" } else { "us" }.to_string(),
        ),
    ];
    match rng.random_range(0..10) {
        0 => pairs.push(("cookie", format!("a=1; uid={user}"))),
        1 => {}
        2 => pairs.push((ROUTE_HEADER, "spoofed".to_string())),
        _ => pairs.push(("x-user-id", user)),
    }
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_bytes()))
        .collect()
}

fn exchange(vm: &mut Vm, pairs: &[(String, Vec<u8>)], status: &str) -> Result<HeaderMap, String> {
    let stream = vm.create_stream().map_err(|e| e.to_string())?;
    let headers = HeaderMap::from_pairs(pairs.iter().map(|(k, v)| (k, v)));
    vm.request_headers(stream, headers, true)
        .map_err(|e| e.to_string())?;
    let response =
        HeaderMap::from_pairs([(":status", status), ("content-type", "application/json")]);
    vm.response_headers(stream, response, true)
        .map_err(|e| e.to_string())?;
    let record = vm.finish_stream(stream).map_err(|e| e.to_string())?;
    Ok(record.request_headers)
}

fn answer_shadow_calls(vm: &mut Vm, counts: &mut Counts) -> Result<(), String> {
    for call in vm.take_new_http_calls() {
        counts.shadow_calls += 1;
        let body = if call.token % 2 == 0 {
            r#"{"prediction":0.5}"#
        } else {
            r#"{"prediction":0.7}"#
        };
        vm.deliver_http_call_response(call.token, HttpCallResponse::with_status(200, body))
            .map_err(|e| e.to_string())?;
    }
    vm.take_root_record();
    Ok(())
}

/// Swaps the config at a segment boundary: every third segment tries a refused config first.
fn swap_config(vm: &mut Vm, table: &mut RoutingTable, segment: usize, counts: &mut Counts) {
    if segment % 3 == 2 {
        let bad = REFUSED_CONFIGS[segment % REFUSED_CONFIGS.len()];
        match vm.reconfigure(bad.as_bytes()) {
            Ok(()) => counts.refusal_not_reported += 1,
            Err(_) => counts.configs_refused += 1,
        }
        return;
    }
    let config = realistic_config(CANARY_STEPS[segment % CANARY_STEPS.len()]);
    match vm.reconfigure(config.as_bytes()) {
        Ok(()) => {
            counts.configs_accepted += 1;
            *table = RoutingTable::from_json(config.as_bytes()).expect("soak configs are valid");
        }
        Err(e) => {
            eprintln!("soak: a valid config was refused: {e}");
            counts.traps += 1;
        }
    }
}

fn main() -> ExitCode {
    let total: usize = std::env::var("ROLLGATE_SOAK_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return ExitCode::SUCCESS;
    }
    let first = realistic_config(CANARY_STEPS[0]);
    let mut table = RoutingTable::from_json(first.as_bytes()).expect("soak configs are valid");
    let mut vm = match start_filter_vm(first.as_bytes()) {
        Ok(vm) => vm,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_123);
    let mut counts = Counts::default();
    let started = Instant::now();
    let mut pages_10k = 0;
    let mut segment_peaks = Vec::new();
    println!(
        "soak: {total} requests, config swap every {SEGMENT}; pages at start {}",
        vm.memory_pages()
    );
    for n in 0..total {
        if n > 0 && n % SEGMENT == 0 {
            segment_peaks.push(vm.memory_pages());
            swap_config(&mut vm, &mut table, n / SEGMENT, &mut counts);
        }
        let pairs = request(&mut rng, n);
        let status = if rng.random_range(0..50) == 0 {
            "404"
        } else {
            "200"
        };
        let view = HeaderList::new(
            pairs
                .iter()
                .filter(|(k, _)| k != ROUTE_HEADER)
                .cloned()
                .collect(),
        );
        let native = table.decide(&view, 0).map(|d| d.cluster.to_string());
        counts.requests += 1;
        let outcome = exchange(&mut vm, &pairs, status).and_then(|headers| {
            answer_shadow_calls(&mut vm, &mut counts)?;
            Ok(headers)
        });
        let headers = match outcome {
            Ok(headers) => headers,
            Err(e) => {
                counts.traps += 1;
                eprintln!("soak: request {n} failed: {e}");
                break;
            }
        };
        let routed = headers.get_str(ROUTE_HEADER).map(str::to_string);
        match (&native, &routed) {
            (Some(want), Some(got)) if want == got => counts.decided += 1,
            (Some(_), Some(_)) => counts.wrong_cluster += 1,
            (Some(_), None) => counts.missing_decision += 1,
            (None, Some(_)) => counts.spurious_route += 1,
            (None, None) => {}
        }
        if n % 1024 == 0 {
            vm.take_logs();
        }
        if n + 1 == 10_000 {
            pages_10k = vm.memory_pages();
        }
    }
    let pages_end = vm.memory_pages();
    segment_peaks.push(pages_end);
    let elapsed = started.elapsed();
    let growth_after_warmup =
        segment_peaks.iter().copied().max().unwrap_or(0) > pages_10k.max(segment_peaks[0]);
    println!(
        "soak: {} requests in {:.1} s ({:.2} us/request incl. native check); traps {}; decided {} \
         (missing {}, wrong cluster {}, route set without decision {}); shadow calls answered {}; \
         configs accepted {}, refused {} (refusal not reported {})",
        counts.requests,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / counts.requests.max(1) as f64,
        counts.traps,
        counts.decided,
        counts.missing_decision,
        counts.wrong_cluster,
        counts.spurious_route,
        counts.shadow_calls,
        counts.configs_accepted,
        counts.configs_refused,
        counts.refusal_not_reported
    );
    println!(
        "soak: wasm memory pages (64 KiB): at 10k {pages_10k}, at {} {pages_end}; per segment end {:?}; \
         growth after warm-up: {}",
        counts.requests,
        segment_peaks,
        if growth_after_warmup { "YES" } else { "none" }
    );
    let failed = counts.traps
        + counts.missing_decision
        + counts.wrong_cluster
        + counts.spurious_route
        + counts.refusal_not_reported;
    if failed > 0 || growth_after_warmup {
        eprintln!("soak: FAILED");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
