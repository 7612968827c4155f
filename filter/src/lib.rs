//! Rollgate proxy-wasm HTTP filter: the glue between the host and `rollgate-core`.
//!
//! Compiled to `rollgate_filter.wasm` for Envoy; the routing logic lives in `rollgate-core`.

#[cfg(target_arch = "wasm32")]
mod plugin;
