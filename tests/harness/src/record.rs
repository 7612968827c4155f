//! What a filter did, as the harness records it: logs, dispatched http calls, local responses,
//! metric operations, foreign-function calls, and a per-stream record of callbacks.

use crate::headers::HeaderMap;
use crate::types::{Action, Callback, LogLevel, MetricKind, Status, StreamType};
use serde::Serialize;

/// One `proxy_log` call (or a line written to stdout/stderr through WASI `fd_write`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Level the guest logged at (stdout → info, stderr → error, as in Envoy).
    pub level: LogLevel,
    /// The message (invalid UTF-8 replaced).
    pub message: String,
    /// The context the guest was running in (effective context if set).
    pub context_id: u32,
}

/// A `proxy_http_call` the host accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCall {
    /// Token returned to the guest; answer with `Vm::deliver_http_call_response`.
    pub token: u32,
    /// Upstream cluster name.
    pub cluster: String,
    /// Request headers (including `:method`, `:path`, `:authority`).
    pub headers: HeaderMap,
    /// Request body.
    #[serde(serialize_with = "lossy_bytes")]
    pub body: Vec<u8>,
    /// Request trailers.
    pub trailers: HeaderMap,
    /// Timeout in milliseconds (0 = none).
    pub timeout_ms: u32,
    /// The context whose callback dispatched the call.
    pub origin_context_id: u32,
    /// The root context the call belongs to (the root of `origin_context_id`, as in cpp-host):
    /// its response is delivered there, and the call is cancelled with no callback when that
    /// root is deleted.
    pub root_context_id: u32,
}

/// A `proxy_http_call` the host refused (unknown cluster, missing pseudo-header, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedHttpCall {
    /// Upstream cluster name asked for.
    pub cluster: String,
    /// Request headers given.
    pub headers: HeaderMap,
    /// Status returned to the guest.
    pub status: Status,
}

/// The answer to an http call, handed to the guest through `proxy_on_http_call_response`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCallResponse {
    /// Response headers (`:status` included).
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// Response trailers.
    pub trailers: HeaderMap,
}

impl HttpCallResponse {
    /// A local reply of Envoy's router as its async client delivers it: `:status`,
    /// `content-length`, `content-type: text/plain` and the text body.
    pub fn local_reply(status: u16, body: &str) -> Self {
        Self {
            headers: HeaderMap::from_pairs([
                (":status", status.to_string()),
                ("content-length", body.len().to_string()),
                ("content-type", "text/plain".to_string()),
            ]),
            body: body.as_bytes().to_vec(),
            trailers: HeaderMap::new(),
        }
    }

    /// A response with `:status` set and the given body.
    pub fn with_status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            headers: HeaderMap::from_pairs([(":status", status.to_string())]),
            body: body.into(),
            trailers: HeaderMap::new(),
        }
    }
}

/// A `proxy_send_local_response`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalResponse {
    /// HTTP status code.
    pub status: u32,
    /// Response code details.
    pub details: String,
    /// Body.
    #[serde(serialize_with = "lossy_bytes")]
    pub body: Vec<u8>,
    /// Additional response headers.
    pub headers: HeaderMap,
    /// gRPC status (-1 = none).
    pub grpc_status: i32,
}

/// A `proxy_call_foreign_function`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignCall {
    /// Function name (e.g. `clear_route_cache`).
    pub name: String,
    /// Argument bytes.
    pub args: Vec<u8>,
    /// Status returned to the guest.
    pub status: Status,
}

/// One metric operation the guest performed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MetricOp {
    /// `proxy_define_metric`.
    Define {
        /// Metric name as the guest wrote it.
        name: String,
        /// Kind.
        kind: MetricKind,
    },
    /// `proxy_increment_metric`.
    Increment {
        /// Metric name.
        name: String,
        /// Offset.
        offset: i64,
    },
    /// `proxy_record_metric`.
    Record {
        /// Metric name.
        name: String,
        /// Value.
        value: u64,
    },
}

/// One callback the driver invoked on a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackRecord {
    /// Which callback.
    pub callback: Callback,
    /// What it returned (after a local response, Envoy treats the stream as stopped).
    pub action: Action,
    /// For header and trailer callbacks: that map as it was after the callback.
    pub headers_after: Option<HeaderMap>,
}

/// Everything recorded for one HTTP stream (one HTTP context).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamRecord {
    /// The stream's context id.
    pub context_id: u32,
    /// Request headers as the router sees them (after the filter).
    pub request_headers: HeaderMap,
    /// Request trailers, if any.
    pub request_trailers: Option<HeaderMap>,
    /// Response headers as the client sees them, if the response phase ran.
    pub response_headers: Option<HeaderMap>,
    /// Response trailers, if any.
    pub response_trailers: Option<HeaderMap>,
    /// Request body bytes released upstream so far.
    #[serde(serialize_with = "lossy_bytes")]
    pub request_body: Vec<u8>,
    /// Response body bytes released downstream so far.
    #[serde(serialize_with = "lossy_bytes")]
    pub response_body: Vec<u8>,
    /// Callbacks in the order they ran.
    pub callbacks: Vec<CallbackRecord>,
    /// The local response the filter sent, if any.
    pub local_response: Option<LocalResponse>,
    /// Http calls dispatched while this stream's callbacks ran.
    pub http_calls: Vec<HttpCall>,
    /// Http calls refused while this stream's callbacks ran.
    pub refused_http_calls: Vec<RefusedHttpCall>,
    /// Metric operations performed while this stream's callbacks ran.
    pub metric_ops: Vec<MetricOp>,
    /// Logs written while this stream's callbacks ran.
    pub logs: Vec<LogEntry>,
    /// Foreign functions called.
    pub foreign_calls: Vec<ForeignCall>,
    /// How often Envoy would clear the route cache (request-header change or the
    /// `clear_route_cache` foreign function).
    pub route_cache_clears: u32,
    /// `proxy_continue_stream` calls.
    pub continued: Vec<StreamType>,
    /// `proxy_close_stream` calls.
    pub closed: Vec<StreamType>,
}

impl StreamRecord {
    /// The last action a callback returned, if any ran.
    pub fn last_action(&self, callback: Callback) -> Option<Action> {
        self.callbacks
            .iter()
            .rev()
            .find(|c| c.callback == callback)
            .map(|c| c.action)
    }
}

fn lossy_bytes<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(bytes))
}
