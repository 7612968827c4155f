//! Safe wrappers over the proxy-wasm 0.2.1 host functions the filter imports. Each returns the
//! host status (or `None` for "no value"); none panics.

use super::types::{
    BufferType, LogLevel, MapType, MetricType, Status, STATUS_NOT_FOUND, STATUS_OK,
};
use rollgate_core::header_map::serialize_pairs;
use std::ptr::null_mut;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> Status;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> Status;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> Status;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> Status;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize)
        -> Status;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> Status;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> Status;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> Status;
    fn proxy_record_metric(metric_id: u32, value: u64) -> Status;
    fn proxy_call_foreign_function(
        function_name_data: *const u8,
        function_name_size: usize,
        arguments_data: *const u8,
        arguments_size: usize,
        results_data: *mut *mut u8,
        results_size: *mut usize,
    ) -> Status;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> Status;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> Status;
    #[allow(clippy::too_many_arguments)]
    fn proxy_http_call(
        upstream_data: *const u8,
        upstream_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        body_data: *const u8,
        body_size: usize,
        trailers_data: *const u8,
        trailers_size: usize,
        timeout_milliseconds: u32,
        return_token: *mut u32,
    ) -> Status;
}

/// Takes ownership of a buffer the host filled through `proxy_on_memory_allocate`.
fn take_host_buffer(data: *mut u8, size: usize) -> Option<Vec<u8>> {
    if data.is_null() {
        return None;
    }
    // SAFETY: the host allocated `data` with `proxy_on_memory_allocate(size)`, which leaks a
    // `Vec<u8>` of exactly capacity `size` (see `exports`); ownership passes back to us here,
    // once, and the host no longer touches it.
    Some(unsafe { Vec::from_raw_parts(data, size, size) })
}

/// Writes a log line.
pub fn log(level: LogLevel, message: &str) -> Status {
    // SAFETY: pointer and length of a live `str`.
    unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) }
}

/// Nanoseconds since the Unix epoch from the host clock.
pub fn current_time_ns() -> Option<u64> {
    let mut time = 0u64;
    // SAFETY: `time` outlives the call; the host writes one u64 there.
    let status = unsafe { proxy_get_current_time_nanoseconds(&mut time) };
    (status == STATUS_OK).then_some(time)
}

/// All pairs of a header map, as the host serialises them.
pub fn header_map_pairs(map: MapType) -> Option<Vec<u8>> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers to live locals; the returned buffer is taken once.
    let status = unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) };
    if status != STATUS_OK {
        return None;
    }
    take_host_buffer(data, size)
}

/// One header value (`None` when absent or on a host error).
pub fn header_map_value(map: MapType, name: &str) -> Option<Vec<u8>> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: as in `header_map_pairs`; `name` is live for the call.
    let status = unsafe {
        proxy_get_header_map_value(map as u32, name.as_ptr(), name.len(), &mut data, &mut size)
    };
    if status != STATUS_OK {
        return None;
    }
    take_host_buffer(data, size)
}

/// Replaces header `name` with `value`.
pub fn replace_header_map_value(map: MapType, name: &str, value: &str) -> Status {
    // SAFETY: pointers and lengths of live strs.
    unsafe {
        proxy_replace_header_map_value(
            map as u32,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    }
}

/// Removes header `name`.
pub fn remove_header_map_value(map: MapType, name: &str) -> Status {
    // SAFETY: pointer and length of a live str.
    unsafe { proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len()) }
}

/// Up to `max_size` bytes of a buffer from `start`.
pub fn buffer_bytes(kind: BufferType, start: usize, max_size: usize) -> Option<Vec<u8>> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers to live locals; the returned buffer is taken once.
    let status =
        unsafe { proxy_get_buffer_bytes(kind as u32, start, max_size, &mut data, &mut size) };
    if status != STATUS_OK {
        return None;
    }
    take_host_buffer(data, size)
}

/// Defines a metric and returns its id.
pub fn define_metric(kind: MetricType, name: &str) -> Option<u32> {
    let mut id = 0u32;
    // SAFETY: `name` and `id` are live for the call.
    let status = unsafe { proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id) };
    (status == STATUS_OK).then_some(id)
}

/// Adds `offset` to a counter.
pub fn increment_metric(id: u32, offset: i64) -> Status {
    // SAFETY: plain values.
    unsafe { proxy_increment_metric(id, offset) }
}

/// Records a histogram value.
pub fn record_metric(id: u32, value: u64) -> Status {
    // SAFETY: plain values.
    unsafe { proxy_record_metric(id, value) }
}

/// Calls host function `name` with no arguments; its result (if any) is dropped.
pub fn call_foreign_function(name: &str) -> Status {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: `name` and the out-pointers are live; a returned buffer is taken and freed.
    let status = unsafe {
        proxy_call_foreign_function(
            name.as_ptr(),
            name.len(),
            std::ptr::null(),
            0,
            &mut data,
            &mut size,
        )
    };
    drop(take_host_buffer(data, size));
    status
}

/// Reads shared data `key` (`None` when absent or on a host error).
pub fn shared_data(key: &str) -> Option<Vec<u8>> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: `key` and the out-pointers are live; the returned buffer is taken once.
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    if status == STATUS_NOT_FOUND || status != STATUS_OK {
        return None;
    }
    take_host_buffer(data, size)
}

/// Writes shared data `key` without a compare-and-swap check.
pub fn set_shared_data(key: &str, value: &[u8]) -> Status {
    // SAFETY: pointers and lengths of live slices.
    unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), 0) }
}

/// Dispatches an http call to `cluster`; returns the call token or the host status.
pub fn http_call(
    cluster: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout_ms: u32,
) -> Result<u32, Status> {
    let headers = serialize_pairs(headers);
    let trailers = serialize_pairs(&[]);
    let body_data = if body.is_empty() {
        std::ptr::null()
    } else {
        body.as_ptr()
    };
    let mut token = 0u32;
    // SAFETY: every pointer/length pair describes a live slice; `token` is a live out-pointer.
    let status = unsafe {
        proxy_http_call(
            cluster.as_ptr(),
            cluster.len(),
            headers.as_ptr(),
            headers.len(),
            body_data,
            body.len(),
            trailers.as_ptr(),
            trailers.len(),
            timeout_ms,
            &mut token,
        )
    };
    if status == STATUS_OK {
        Ok(token)
    } else {
        Err(status)
    }
}
