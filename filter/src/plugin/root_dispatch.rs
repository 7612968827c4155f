//! Shadow calls made as the root context, so their responses reach the root context even after
//! the request's HTTP context is gone.
//!
//! In Envoy a call belongs to the root context and its response arrives on the root context id,
//! but the Rust SDK (0.2.5) routes a response to the context that was active when the call was
//! dispatched, and silently drops it when that HTTP context has been deleted. So the HTTP
//! context leaves the call in the shared state as a [`DispatchJob`] and re-enters the SDK's own
//! `proxy_on_configure` export for the root context id: the SDK marks the root context active
//! and calls [`super::root::RollgateRoot::on_configure`], which sees the job, dispatches it and
//! returns. The SDK then files the call under the root context. Only the root context map is
//! borrowed by that re-entry (the HTTP context map is the one in use), so it is sound.

/// A shadow call waiting to be dispatched by the root context.
pub struct DispatchJob {
    pub cluster: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u32,
}

extern "C" {
    /// The SDK's export (defined in proxy-wasm's dispatcher; resolved at link time, not imported).
    fn proxy_on_configure(context_id: u32, plugin_configuration_size: usize) -> bool;
}

/// Runs the pending job as root context `root_context_id`. Returns whether the root ran.
#[allow(unsafe_code)]
pub fn run_as_root(root_context_id: u32) -> bool {
    // SAFETY: `proxy_on_configure` is the SDK's own `extern "C" fn(u32, usize) -> bool`, called
    // with a root context id the SDK created; it borrows only the SDK's root map, which is not
    // borrowed while an HTTP callback runs.
    unsafe { proxy_on_configure(root_context_id, 0) }
}
