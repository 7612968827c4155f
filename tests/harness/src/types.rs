//! proxy-wasm 0.2.1 ABI enums (status codes, map/buffer/metric types, log levels, actions)
//! with the numeric values Envoy and the proxy-wasm spec use.

use serde::Serialize;

/// Result code of a host call (`WasmResult` in Envoy / proxy-wasm-cpp-host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[repr(u32)]
pub enum Status {
    /// The call succeeded.
    Ok = 0,
    /// The key, map, queue, property or function does not exist.
    NotFound = 1,
    /// An argument is invalid (unknown cluster, missing pseudo-header, map not available, ...).
    BadArgument = 2,
    /// A value could not be serialized.
    SerializationFailure = 3,
    /// A value could not be parsed.
    ParseFailure = 4,
    /// A guest pointer/length pair is outside the guest's linear memory.
    InvalidMemoryAccess = 6,
    /// The queue is empty.
    Empty = 7,
    /// Shared-data compare-and-swap value did not match.
    CasMismatch = 8,
    /// The host failed internally.
    InternalFailure = 10,
    /// The host does not implement the call in this context.
    Unimplemented = 12,
}

impl Status {
    /// The value written to the guest.
    pub fn code(self) -> i32 {
        self as u32 as i32
    }
}

/// Which header map a host call addresses (`proxy_*_header_map_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MapType {
    /// Request headers of the current stream.
    RequestHeaders,
    /// Request trailers of the current stream.
    RequestTrailers,
    /// Response headers of the current stream.
    ResponseHeaders,
    /// Response trailers of the current stream.
    ResponseTrailers,
    /// gRPC initial metadata (not supported: no gRPC services).
    GrpcReceiveInitialMetadata,
    /// gRPC trailing metadata (not supported).
    GrpcReceiveTrailingMetadata,
    /// Headers of the http call response being delivered.
    HttpCallResponseHeaders,
    /// Trailers of the http call response being delivered.
    HttpCallResponseTrailers,
}

impl MapType {
    /// Decodes the ABI value; `None` for values above the known range (→ BAD_ARGUMENT).
    pub fn from_abi(value: i32) -> Option<Self> {
        Some(match value {
            0 => Self::RequestHeaders,
            1 => Self::RequestTrailers,
            2 => Self::ResponseHeaders,
            3 => Self::ResponseTrailers,
            4 => Self::GrpcReceiveInitialMetadata,
            5 => Self::GrpcReceiveTrailingMetadata,
            6 => Self::HttpCallResponseHeaders,
            7 => Self::HttpCallResponseTrailers,
            _ => return None,
        })
    }
}

/// Which buffer a host call addresses (`proxy_get_buffer_bytes` / `proxy_set_buffer_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum BufferType {
    /// Current request body (chunk, or everything buffered so far).
    HttpRequestBody,
    /// Current response body.
    HttpResponseBody,
    /// TCP downstream data (not used by HTTP filters).
    DownstreamData,
    /// TCP upstream data (not used by HTTP filters).
    UpstreamData,
    /// Body of the http call response being delivered.
    HttpCallResponseBody,
    /// gRPC message (not supported).
    GrpcReceiveBuffer,
    /// VM configuration, during `proxy_on_vm_start`.
    VmConfiguration,
    /// Plugin configuration, during `proxy_on_configure`.
    PluginConfiguration,
    /// Foreign-function call data.
    CallData,
}

impl BufferType {
    /// Decodes the ABI value; `None` for unknown values (→ BAD_ARGUMENT).
    pub fn from_abi(value: i32) -> Option<Self> {
        Some(match value {
            0 => Self::HttpRequestBody,
            1 => Self::HttpResponseBody,
            2 => Self::DownstreamData,
            3 => Self::UpstreamData,
            4 => Self::HttpCallResponseBody,
            5 => Self::GrpcReceiveBuffer,
            6 => Self::VmConfiguration,
            7 => Self::PluginConfiguration,
            8 => Self::CallData,
            _ => return None,
        })
    }
}

/// Log level of `proxy_log` (0 trace … 5 critical).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// 0
    Trace,
    /// 1
    Debug,
    /// 2
    Info,
    /// 3
    Warn,
    /// 4
    Error,
    /// 5
    Critical,
}

impl LogLevel {
    /// Decodes the ABI value; `None` above `Critical` (→ BAD_ARGUMENT).
    pub fn from_abi(value: i32) -> Option<Self> {
        Some(match value {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            _ => return None,
        })
    }

    /// The ABI value.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Lower-case name as Envoy prints it (`"info"`, `"warn"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

/// Kind of a metric defined with `proxy_define_metric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Monotonic counter (0).
    Counter,
    /// Gauge (1).
    Gauge,
    /// Histogram (2).
    Histogram,
}

impl MetricKind {
    /// Decodes the ABI value; `None` for unknown kinds (→ BAD_ARGUMENT).
    pub fn from_abi(value: i32) -> Option<Self> {
        Some(match value {
            0 => Self::Counter,
            1 => Self::Gauge,
            2 => Self::Histogram,
            _ => return None,
        })
    }
}

/// What a header/body/trailer callback returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 0: continue the filter chain.
    Continue,
    /// 1: stop iteration (headers) / stop and buffer (body).
    Pause,
    /// 2: stop iteration with watermark (body only).
    StopIterationAndWatermark,
    /// 3: stop iteration, do not buffer (body only).
    StopIterationNoBuffer,
    /// Any other value the guest returned.
    Other(i32),
}

impl Action {
    /// Decodes the value a guest callback returned.
    pub fn from_abi(value: i32) -> Self {
        match value {
            0 => Self::Continue,
            1 => Self::Pause,
            2 => Self::StopIterationAndWatermark,
            3 => Self::StopIterationNoBuffer,
            other => Self::Other(other),
        }
    }
}

/// Stream direction of `proxy_continue_stream` / `proxy_close_stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamType {
    /// 0
    Request,
    /// 1
    Response,
    /// 2
    Downstream,
    /// 3
    Upstream,
}

impl StreamType {
    /// Decodes the ABI value; `None` above `Upstream` (→ BAD_ARGUMENT).
    pub fn from_abi(value: i32) -> Option<Self> {
        Some(match value {
            0 => Self::Request,
            1 => Self::Response,
            2 => Self::Downstream,
            3 => Self::Upstream,
            _ => return None,
        })
    }
}

/// The stream callbacks the driver invokes, in Envoy's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Callback {
    /// `proxy_on_request_headers`
    RequestHeaders,
    /// `proxy_on_request_body`
    RequestBody,
    /// `proxy_on_request_trailers`
    RequestTrailers,
    /// `proxy_on_response_headers`
    ResponseHeaders,
    /// `proxy_on_response_body`
    ResponseBody,
    /// `proxy_on_response_trailers`
    ResponseTrailers,
}

impl Callback {
    /// The guest export Envoy calls for this callback.
    pub fn export_name(self) -> &'static str {
        match self {
            Self::RequestHeaders => "proxy_on_request_headers",
            Self::RequestBody => "proxy_on_request_body",
            Self::RequestTrailers => "proxy_on_request_trailers",
            Self::ResponseHeaders => "proxy_on_response_headers",
            Self::ResponseBody => "proxy_on_response_body",
            Self::ResponseTrailers => "proxy_on_response_trailers",
        }
    }
}

/// The proxy-wasm ABI version a module declares (its `proxy_abi_version_*` export); the host
/// registers some imports only for some versions, as proxy-wasm-cpp-host does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Abi {
    /// `proxy_abi_version_0_2_0`
    V0_2_0,
    /// `proxy_abi_version_0_2_1`
    V0_2_1,
}

impl Abi {
    /// The marker export that declares this version.
    pub fn marker(self) -> &'static str {
        match self {
            Self::V0_2_0 => "proxy_abi_version_0_2_0",
            Self::V0_2_1 => "proxy_abi_version_0_2_1",
        }
    }
}
