#![allow(missing_docs)] // `proxy_wasm::main!` generates an undocumented `_start`.
//! Floor filters for the real-Envoy cost bench (`benches/benches/envoy_cost.rs`).
//!
//! One module, behaviours chosen by the plugin configuration (plain text, words):
//! - `floor`: read `x-user-id`, set `x-rollgate-cluster` to `variant_a` or `variant_b` from
//!   its last byte. The cheapest useful thing a proxy-wasm filter can do for routing.
//! - `hostcalls <header>...`: the same decision, but making the host calls Rollgate's glue
//!   makes per request when no shadow copy is sampled (see `filter/src/stream.rs`): on request
//!   headers one read by name of each listed header (the headers the routing table needs),
//!   1 clock read, 2 header sets (route and variant; replace semantics), the
//!   `clear_route_cache` foreign function, 1 counter increment; on response headers 1 header
//!   read (`:status`), 2 counter increments (exposure and status class), 1 clock read,
//!   1 histogram record. No routing logic.
//! - the words `no-clear` and `no-metrics` in `hostcalls` leave out the `clear_route_cache`
//!   call, or the counters, histogram and clock reads: the bench's diagnostic cases price each.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, MetricType};
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Warn);
    proxy_wasm::set_root_context(|_| Box::new(FloorRoot::default()));
}}

/// Metric ids defined once per root, as Rollgate does.
#[derive(Clone, Copy, Default)]
struct Metrics {
    requests: u32,
    exposures: u32,
    class: u32,
    duration: u32,
}

/// What every stream of a root does.
#[derive(Default)]
struct Mode {
    hostcalls: bool,
    reads: Vec<String>,
    clear_route_cache: bool,
    metrics: Option<Metrics>,
}

impl Mode {
    fn parse(config: &str) -> Mode {
        let mut words = config.split_whitespace();
        if words.next() != Some("hostcalls") {
            return Mode::default();
        }
        let words: Vec<&str> = words.collect();
        let define = |kind, name: &str| hostcalls::define_metric(kind, name).unwrap_or(0);
        Mode {
            hostcalls: true,
            reads: words
                .iter()
                .filter(|w| !w.starts_with("no-"))
                .map(|w| w.to_string())
                .collect(),
            clear_route_cache: !words.contains(&"no-clear"),
            metrics: (!words.contains(&"no-metrics")).then(|| Metrics {
                requests: define(MetricType::Counter, "floor_requests_total"),
                exposures: define(MetricType::Counter, "floor_exposures_total"),
                class: define(MetricType::Counter, "floor_responses_2xx_total"),
                duration: define(MetricType::Histogram, "floor_duration_ms"),
            }),
        }
    }
}

/// Root context: reads the mode and defines the metrics.
#[derive(Default)]
struct FloorRoot {
    mode: Rc<Mode>,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        self.mode = Rc::new(Mode::parse(&String::from_utf8_lossy(&config)));
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FloorHttp {
            mode: self.mode.clone(),
            started_ms: 0,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One stream.
struct FloorHttp {
    mode: Rc<Mode>,
    started_ms: u64,
}

impl Context for FloorHttp {}

fn cluster_for(user: Option<&[u8]>) -> &'static str {
    match user.and_then(|u| u.last()) {
        Some(byte) if byte % 2 == 1 => "variant_b",
        _ => "variant_a",
    }
}

fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

impl HttpContext for FloorHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let mode = self.mode.clone();
        if !mode.hostcalls {
            let user = self.get_http_request_header_bytes("x-user-id");
            self.set_http_request_header("x-rollgate-cluster", Some(cluster_for(user.as_deref())));
            return Action::Continue;
        }
        let mut user = None;
        for name in &mode.reads {
            let value = self.get_http_request_header_bytes(name);
            if name == "x-user-id" {
                user = value;
            }
        }
        let cluster = cluster_for(user.as_deref());
        if mode.metrics.is_some() {
            self.started_ms = now_ms();
        }
        self.set_http_request_header("x-rollgate-cluster", Some(cluster));
        self.set_http_request_header("x-rollgate-variant", Some(&cluster[8..]));
        if mode.clear_route_cache {
            let _ = hostcalls::call_foreign_function("clear_route_cache", None);
        }
        if let Some(metrics) = mode.metrics {
            let _ = hostcalls::increment_metric(metrics.requests, 1);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if !self.mode.hostcalls {
            return Action::Continue;
        }
        let _status = self.get_http_response_header_bytes(":status");
        if let Some(metrics) = self.mode.metrics {
            let _ = hostcalls::increment_metric(metrics.exposures, 1);
            let _ = hostcalls::increment_metric(metrics.class, 1);
            let elapsed = now_ms().saturating_sub(self.started_ms);
            let _ = hostcalls::record_metric(metrics.duration, elapsed);
        }
        Action::Continue
    }
}
