//! Host calls that never panic on a host error: failures become `None` / `false`.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, Bytes, LogLevel, MapType, MetricType};
use std::time::{Duration, UNIX_EPOCH};

/// Logs at `level`; a failing log call is ignored.
pub fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Milliseconds since the Unix epoch, from the host clock (0 when unavailable).
pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Nanoseconds since the Unix epoch (0 when unavailable).
pub fn now_ns() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// All pairs of a header map.
pub fn headers(map: MapType) -> Vec<(String, Bytes)> {
    hostcalls::get_map_bytes(map).unwrap_or_default()
}

/// One header value.
pub fn header(map: MapType, name: &str) -> Option<Bytes> {
    hostcalls::get_map_value_bytes(map, name).ok().flatten()
}

/// Replaces header `name` (all its values) with `value`.
pub fn set_header(map: MapType, name: &str, value: &str) -> bool {
    hostcalls::set_map_value(map, name, Some(value)).is_ok()
}

/// Removes header `name`.
pub fn remove_header(map: MapType, name: &str) {
    let _ = hostcalls::remove_map_value(map, name);
}

/// Up to `size` bytes of a buffer from its start.
pub fn buffer(kind: BufferType, size: usize) -> Option<Bytes> {
    if size == 0 {
        return None;
    }
    hostcalls::get_buffer(kind, 0, size).ok().flatten()
}

/// Defines a metric; `None` when the host refuses.
pub fn define(kind: MetricType, name: &str) -> Option<u32> {
    hostcalls::define_metric(kind, name).ok()
}

/// Adds one to a counter.
pub fn increment(metric: Option<u32>) {
    if let Some(id) = metric {
        let _ = hostcalls::increment_metric(id, 1);
    }
}

/// Records a histogram value.
pub fn record(metric: Option<u32>, value: u64) {
    if let Some(id) = metric {
        let _ = hostcalls::record_metric(id, value);
    }
}

/// Asks the host to pick the route again after a header change; a host without the foreign
/// function (or any error) is ignored: ABI 0.2.1 hosts re-pick the route anyway.
pub fn clear_route_cache() {
    let _ = hostcalls::call_foreign_function("clear_route_cache", None);
}

/// Reads shared data `key`.
pub fn shared_data(key: &str) -> Option<Bytes> {
    hostcalls::get_shared_data(key)
        .ok()
        .and_then(|(value, _)| value)
}

/// Writes shared data `key`; errors are ignored.
pub fn set_shared_data(key: &str, value: &[u8]) {
    let _ = hostcalls::set_shared_data(key, Some(value), None);
}

/// Dispatches an HTTP call; `Err` carries the host status name for counting and logging.
pub fn dispatch(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: Option<&[u8]>,
    timeout_ms: u32,
) -> Result<u32, String> {
    hostcalls::dispatch_http_call(
        cluster,
        headers,
        body,
        Vec::new(),
        Duration::from_millis(u64::from(timeout_ms)),
    )
    .map_err(|status| status_name(status).to_string())
}

fn status_name(status: proxy_wasm::types::Status) -> &'static str {
    use proxy_wasm::types::Status;
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
