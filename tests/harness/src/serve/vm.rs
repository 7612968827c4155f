//! What the dev proxy needs from "a filter VM": one loaded plugin in its own wasmtime `Store`,
//! driven through the proxy-wasm stream callbacks the way an Envoy worker drives it.
//!
//! The proxy only talks to this trait, so its HTTP machinery is independent of how the VM is
//! hosted; [`super::wasm_vm`] implements it on the harness's proxy-wasm host.

use std::time::Duration;

use super::metrics::MetricSnapshot;

/// Headers as proxy-wasm sees them: lower-case names (pseudo-headers included), byte values.
pub type HeaderList = Vec<(String, Vec<u8>)>;

/// Identifies one HTTP stream (an HTTP context) inside one VM.
pub type StreamId = u32;

/// Which way a message flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → upstream.
    Request,
    /// Upstream → client.
    Response,
}

/// What a stream callback asked the host to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterVerdict {
    /// Let the headers or body go on.
    Continue,
    /// Stop iteration (the dev proxy does not hold headers back; it goes on).
    Pause,
    /// The filter answered the request itself (`proxy_send_local_response`).
    LocalResponse(LocalResponse),
}

/// A response the filter produced itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status code.
    pub status: u16,
    /// Extra response headers.
    pub headers: HeaderList,
    /// Response body.
    pub body: Vec<u8>,
}

/// An HTTP call the filter dispatched (`proxy_dispatch_http_call`) that the host must perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchedCall {
    /// Token the response must be delivered with.
    pub token: u32,
    /// Cluster the call goes to (known to exist: the VM refused unknown ones).
    pub cluster: String,
    /// Request headers, pseudo-headers `:method`, `:path`, `:authority` included.
    pub headers: HeaderList,
    /// Request body.
    pub body: Vec<u8>,
    /// Timeout the filter asked for.
    pub timeout: Duration,
}

/// The answer to a [`DispatchedCall`]; `None` in [`FilterVm::deliver_call_response`] means the
/// call failed (timeout, reset, connect error) and the filter sees no headers, like in Envoy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResponse {
    /// Response headers, `:status` included.
    pub headers: HeaderList,
    /// Response body.
    pub body: Vec<u8>,
}

/// Why a VM operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmFailure {
    /// The plugin's `on_configure` returned false; `logs` holds what it logged (the reason).
    #[error("the filter refused the configuration: {logs}")]
    ConfigRefused {
        /// The plugin's log lines, joined.
        logs: String,
    },
    /// The module trapped or misbehaved; the VM should not be used for this stream any more.
    #[error("the filter VM failed: {0}")]
    Trapped(String),
}

/// One plugin instance (own `Store`), driven by one proxy worker at a time.
pub trait FilterVm: Send {
    /// Creates an HTTP context for a new stream.
    fn create_stream(&mut self) -> Result<StreamId, VmFailure>;
    /// `on_http_request_headers` or `on_http_response_headers` (`:status` included); the
    /// filter may edit `headers` in place.
    fn headers(
        &mut self,
        stream: StreamId,
        direction: Direction,
        headers: &mut HeaderList,
        end_of_stream: bool,
    ) -> Result<FilterVerdict, VmFailure>;
    /// `on_http_request_body` or `on_http_response_body` with the next chunk; returns the bytes
    /// released to the next hop (the filter's buffer on `Continue`, nothing while it buffers).
    fn body(
        &mut self,
        stream: StreamId,
        direction: Direction,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<Vec<u8>, VmFailure>;
    /// Ends the stream: `on_log`, `on_done`, `on_delete`, in Envoy's order.
    fn finish_stream(&mut self, stream: StreamId);
    /// HTTP calls dispatched since the last time this was asked.
    fn take_dispatched_calls(&mut self) -> Vec<DispatchedCall>;
    /// Delivers a call's response (or its failure) to the root context.
    fn deliver_call_response(
        &mut self,
        token: u32,
        response: Option<CallResponse>,
    ) -> Result<(), VmFailure>;
    /// Log lines the plugin wrote since the last time this was asked, as `(level, message)`.
    fn take_logs(&mut self) -> Vec<(String, String)>;
    /// What an Envoy worker's dispatcher runs between callbacks: pending `on_queue_ready`
    /// notifications and `on_tick` when the plugin's tick period has passed.
    fn run_host_events(&mut self) -> Result<(), VmFailure>;
}

/// Makes configured VMs of one plugin (module compiled once, metrics shared by all its VMs
/// like Envoy's stats store, including VMs of earlier configs and refused clones).
pub trait VmFactory: Send + Sync {
    /// A fresh VM (new `Store`), started and configured with `config`.
    fn instantiate(&self, config: &[u8]) -> Result<Box<dyn FilterVm>, VmFailure>;
    /// The plugin's metrics over every VM it made.
    fn metrics(&self) -> MetricSnapshot;
}
