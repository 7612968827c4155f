//! What the filter asks of its proxy: the host calls behind one trait, so the logic of the
//! root and HTTP contexts runs natively in unit tests against a fake host, and in the `.wasm`
//! against the proxy-wasm SDK's hostcalls (`sdk`). Implementations never panic: host errors
//! become `None` / `false` / `Err`.

/// A header map of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    /// The request's headers.
    RequestHeaders,
    /// The response's headers.
    ResponseHeaders,
    /// The headers of an http call's response.
    CallResponseHeaders,
}

/// A buffer of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffer {
    /// The request body chunk being processed.
    RequestBody,
    /// The response body chunk being processed.
    ResponseBody,
    /// The body of an http call's response.
    CallResponseBody,
    /// The plugin configuration.
    PluginConfiguration,
}

/// A metric kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonic counter.
    Counter,
    /// A histogram.
    Histogram,
}

/// A compare-and-swap write lost the race: another VM wrote the key since it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CasMismatch;

/// The host calls the filter makes.
pub trait Host {
    /// Nanoseconds since the Unix epoch (0 when unavailable).
    fn now_ns(&self) -> u64;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64 {
        self.now_ns() / 1_000_000
    }
    /// The first value of header `name` of `map`.
    fn header(&self, map: Map, name: &str) -> Option<Vec<u8>>;
    /// Every pair of `map`.
    fn headers(&self, map: Map) -> Vec<(String, Vec<u8>)>;
    /// Replaces header `name` of `map` (all its values) with `value`.
    fn set_header(&self, map: Map, name: &str, value: &str);
    /// Removes header `name` of `map`.
    fn remove_header(&self, map: Map, name: &str);
    /// Up to `size` bytes of a buffer from its start (`None` when empty or unavailable).
    fn buffer(&self, buffer: Buffer, size: usize) -> Option<Vec<u8>>;
    /// Asks the host to pick the route again after a header change.
    fn clear_route_cache(&self);
    /// Defines a metric; `None` when the host refuses.
    fn define_metric(&self, kind: MetricKind, name: &str) -> Option<u32>;
    /// Adds one to a counter.
    fn increment(&self, metric: Option<u32>);
    /// Records a histogram value.
    fn record(&self, metric: Option<u32>, value: u64);
    /// Dispatches an http call from the current (root) context; `Err` names the host status.
    fn dispatch(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout_ms: u32,
    ) -> Result<u32, &'static str>;
    /// Shared data `key` with its CAS token (`None` when absent).
    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    /// Writes shared data `key`; with `cas`, only if the key's token is still `cas`.
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>)
        -> Result<(), CasMismatch>;
    /// Registers (or takes over) shared queue `name` for the current root context.
    fn register_queue(&self, name: &str) -> Option<u32>;
    /// Appends `value` to queue `queue`; the host then calls `on_queue_ready` on its owner.
    fn enqueue(&self, queue: u32, value: &[u8]) -> bool;
    /// Pops one item of queue `queue`.
    fn dequeue(&self, queue: u32) -> Option<Vec<u8>>;
    /// Sets the current root context's tick period (0 stops it).
    fn set_tick_period_ms(&self, period_ms: u32);
    /// Tells the host the current root context finished after `on_done` returned false.
    fn done(&self);
}
