//! Host calls that never panic on a host error: failures become `None` / `false`.

use super::abi::hostcalls;
use super::abi::types::{status_name, BufferType, LogLevel, MapType, MetricType};

/// Bytes as the host hands them over.
pub type Bytes = Vec<u8>;

/// Logs at `level`; a failing log call is ignored.
pub fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Milliseconds since the Unix epoch, from the host clock (0 when unavailable).
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// Nanoseconds since the Unix epoch (0 when unavailable).
pub fn now_ns() -> u64 {
    hostcalls::current_time_ns().unwrap_or(0)
}

/// All pairs of a header map.
pub fn headers(map: MapType) -> Vec<(String, Bytes)> {
    hostcalls::header_map_pairs(map)
        .map(|bytes| rollgate_core::header_map::deserialize_pairs(&bytes))
        .unwrap_or_default()
}

/// One header value.
pub fn header(map: MapType, name: &str) -> Option<Bytes> {
    hostcalls::header_map_value(map, name)
}

/// Replaces header `name` (all its values) with `value`.
pub fn set_header(map: MapType, name: &str, value: &str) -> bool {
    hostcalls::replace_header_map_value(map, name, value) == 0
}

/// Removes header `name`.
pub fn remove_header(map: MapType, name: &str) {
    let _ = hostcalls::remove_header_map_value(map, name);
}

/// Up to `size` bytes of a buffer from its start.
pub fn buffer(kind: BufferType, size: usize) -> Option<Bytes> {
    if size == 0 {
        return None;
    }
    hostcalls::buffer_bytes(kind, 0, size)
}

/// Defines a metric; `None` when the host refuses.
pub fn define(kind: MetricType, name: &str) -> Option<u32> {
    hostcalls::define_metric(kind, name)
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
    let _ = hostcalls::call_foreign_function("clear_route_cache");
}

/// Reads shared data `key`.
pub fn shared_data(key: &str) -> Option<Bytes> {
    hostcalls::shared_data(key)
}

/// Writes shared data `key`; errors are ignored.
pub fn set_shared_data(key: &str, value: &[u8]) {
    let _ = hostcalls::set_shared_data(key, value);
}

/// Dispatches an HTTP call (an empty `body` sends none); `Err` carries the host status name
/// for counting and logging.
pub fn dispatch(
    cluster: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout_ms: u32,
) -> Result<u32, String> {
    hostcalls::http_call(cluster, headers, body, timeout_ms)
        .map_err(|status| status_name(status).to_string())
}
