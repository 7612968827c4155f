//! The proxy-wasm SDK glue (wasm32 only): [`SdkHost`] implements [`Host`] with the SDK's
//! hostcalls, and the SDK's root and HTTP contexts forward each callback to the logic in
//! `root` and `stream`. Nothing here decides anything.

use crate::host::{Buffer, CasMismatch, Host, Map, MetricKind};
use crate::root::RootLogic;
use crate::stream::StreamLogic;
use crate::vm::{VmHandle, VmState};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType, Status};
use std::hash::BuildHasher;
use std::time::{Duration, UNIX_EPOCH};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|context_id| Box::new(SdkRoot {
        logic: RootLogic::new(context_id, vm()),
    }));
}}

thread_local! {
    static VM: VmHandle = VmState::handle(queue_name());
}

fn vm() -> VmHandle {
    VM.with(VmHandle::clone)
}

/// A shared-queue name no other VM of the plugin has: WASI randomness (Rust's `RandomState`
/// seeds from `random_get`) mixed with the host clock.
fn queue_name() -> String {
    let random = std::collections::hash_map::RandomState::new().hash_one(SdkHost.now_ns());
    format!("rollgate.shadow.{random:016x}")
}

/// The host, through the SDK's hostcalls. Only statuses the SDK returns as errors can reach
/// these wrappers (it panics on the others); each is turned into `None` / `false` / `Err`.
struct SdkHost;

fn map_type(map: Map) -> MapType {
    match map {
        Map::RequestHeaders => MapType::HttpRequestHeaders,
        Map::ResponseHeaders => MapType::HttpResponseHeaders,
        Map::CallResponseHeaders => MapType::HttpCallResponseHeaders,
    }
}

/// A readable name of a host status, for logs.
fn status_name(status: Status) -> &'static str {
    match status {
        Status::Ok => "OK",
        Status::NotFound => "NOT_FOUND",
        Status::BadArgument => "BAD_ARGUMENT (unknown cluster or missing :method/:path/:authority)",
        Status::SerializationFailure => "SERIALIZATION_FAILURE",
        Status::ParseFailure => "PARSE_FAILURE",
        Status::Empty => "EMPTY",
        Status::CasMismatch => "CAS_MISMATCH",
        Status::InternalFailure => "INTERNAL_FAILURE",
        _ => "UNKNOWN",
    }
}

impl Host for SdkHost {
    fn now_ns(&self) -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    fn header(&self, map: Map, name: &str) -> Option<Vec<u8>> {
        hostcalls::get_map_value_bytes(map_type(map), name)
            .ok()
            .flatten()
    }

    fn headers(&self, map: Map) -> Vec<(String, Vec<u8>)> {
        hostcalls::get_map_bytes(map_type(map)).unwrap_or_default()
    }

    fn set_header(&self, map: Map, name: &str, value: &str) {
        let _ = hostcalls::set_map_value(map_type(map), name, Some(value));
    }

    fn remove_header(&self, map: Map, name: &str) {
        let _ = hostcalls::remove_map_value(map_type(map), name);
    }

    fn buffer(&self, buffer: Buffer, size: usize) -> Option<Vec<u8>> {
        if size == 0 {
            return None;
        }
        let kind = match buffer {
            Buffer::RequestBody => BufferType::HttpRequestBody,
            Buffer::ResponseBody => BufferType::HttpResponseBody,
            Buffer::CallResponseBody => BufferType::HttpCallResponseBody,
            Buffer::PluginConfiguration => BufferType::PluginConfiguration,
        };
        hostcalls::get_buffer(kind, 0, size).ok().flatten()
    }

    fn clear_route_cache(&self) {
        // A host without the foreign function re-picks the route anyway (ABI 0.2.1).
        let _ = hostcalls::call_foreign_function("clear_route_cache", None);
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> Option<u32> {
        let kind = match kind {
            MetricKind::Counter => MetricType::Counter,
            MetricKind::Histogram => MetricType::Histogram,
        };
        hostcalls::define_metric(kind, name).ok()
    }

    fn increment(&self, metric: Option<u32>) {
        if let Some(id) = metric {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }

    fn record(&self, metric: Option<u32>, value: u64) {
        if let Some(id) = metric {
            let _ = hostcalls::record_metric(id, value);
        }
    }

    fn dispatch(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout_ms: u32,
    ) -> Result<u32, &'static str> {
        let body = (!body.is_empty()).then_some(body);
        hostcalls::dispatch_http_call(
            cluster,
            headers.to_vec(),
            body,
            Vec::new(),
            Duration::from_millis(u64::from(timeout_ms)),
        )
        .map_err(status_name)
    }

    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        hostcalls::get_shared_data(key).unwrap_or((None, None))
    }

    fn set_shared_data(
        &self,
        key: &str,
        value: &[u8],
        cas: Option<u32>,
    ) -> Result<(), CasMismatch> {
        hostcalls::set_shared_data(key, Some(value), cas).map_err(|_| CasMismatch)
    }

    fn register_queue(&self, name: &str) -> Option<u32> {
        hostcalls::register_shared_queue(name).ok()
    }

    fn enqueue(&self, queue: u32, value: &[u8]) -> bool {
        hostcalls::enqueue_shared_queue(queue, Some(value)).is_ok()
    }

    fn dequeue(&self, queue: u32) -> Option<Vec<u8>> {
        hostcalls::dequeue_shared_queue(queue).ok().flatten()
    }

    fn set_tick_period_ms(&self, period_ms: u32) {
        let _ = hostcalls::set_tick_period(Duration::from_millis(u64::from(period_ms)));
    }

    fn done(&self) {
        let _ = hostcalls::done();
    }
}

/// The SDK's root context.
struct SdkRoot {
    logic: RootLogic,
}

impl Context for SdkRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        self.logic
            .on_http_call_response(&SdkHost, token_id, num_headers, body_size);
    }

    fn on_done(&mut self) -> bool {
        self.logic.on_done(&SdkHost)
    }
}

impl RootContext for SdkRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        self.logic.on_vm_start(&SdkHost)
    }

    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        self.logic.on_configure(&SdkHost, plugin_configuration_size)
    }

    fn on_tick(&mut self) {
        self.logic.on_tick(&SdkHost);
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        self.logic.on_queue_ready(&SdkHost, queue_id);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(SdkHttp {
            logic: StreamLogic::new(context_id, self.logic.vm().clone(), self.logic.active()),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

impl Drop for SdkRoot {
    fn drop(&mut self) {
        self.logic.on_delete(&SdkHost);
    }
}

/// The SDK's HTTP context of one stream.
struct SdkHttp {
    logic: StreamLogic,
}

impl Context for SdkHttp {}

impl HttpContext for SdkHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.logic.on_request_headers(&SdkHost, end_of_stream);
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.logic
            .on_request_body(&SdkHost, body_size, end_of_stream);
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.logic.on_request_trailers(&SdkHost);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.logic.on_response_headers(&SdkHost, end_of_stream);
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.logic
            .on_response_body(&SdkHost, body_size, end_of_stream);
        Action::Continue
    }
}

impl Drop for SdkHttp {
    fn drop(&mut self) {
        self.logic.on_delete(&SdkHost);
    }
}
