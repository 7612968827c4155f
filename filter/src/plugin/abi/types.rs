//! Enum values of the proxy-wasm ABI 0.2.1 (`abi-versions/v0.2.1/README.md`).

/// Log levels of `proxy_log`.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum LogLevel {
    /// Informational.
    Info = 2,
    /// Something went wrong but the filter keeps serving.
    Warn = 3,
    /// A refusal or failure that needs an operator.
    Error = 4,
}

/// Header maps of `proxy_get_header_map_*`.
#[allow(clippy::enum_variant_names)] // the spec's names
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum MapType {
    /// The request's headers.
    HttpRequestHeaders = 0,
    /// The response's headers.
    HttpResponseHeaders = 2,
    /// The headers of an http call's response.
    HttpCallResponseHeaders = 6,
}

/// Buffers of `proxy_get_buffer_bytes`.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum BufferType {
    /// The request body chunk being processed.
    HttpRequestBody = 0,
    /// The response body chunk being processed.
    HttpResponseBody = 1,
    /// The body of an http call's response.
    HttpCallResponseBody = 4,
    /// The plugin configuration.
    PluginConfiguration = 7,
}

/// Metric kinds of `proxy_define_metric`.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum MetricType {
    /// A monotonic counter.
    Counter = 0,
    /// A histogram.
    Histogram = 2,
}

/// What a stream callback tells the host to do next.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum Action {
    /// Continue processing the stream.
    Continue = 0,
}

/// A host call's status (`proxy_status_t`); 0 is OK.
pub type Status = u32;

/// The host call succeeded.
pub const STATUS_OK: Status = 0;
/// The key or value does not exist.
pub const STATUS_NOT_FOUND: Status = 1;

/// A readable name of a host status, for logs.
pub fn status_name(status: Status) -> &'static str {
    match status {
        0 => "OK",
        1 => "NOT_FOUND",
        2 => "BAD_ARGUMENT (unknown cluster or missing :method/:path/:authority)",
        3 => "SERIALIZATION_FAILURE",
        4 => "PARSE_FAILURE",
        7 => "EMPTY",
        8 => "CAS_MISMATCH",
        10 => "INTERNAL_FAILURE",
        _ => "UNKNOWN",
    }
}
