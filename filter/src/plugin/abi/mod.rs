//! A minimal hand-written proxy-wasm ABI 0.2.1 layer: the host imports the filter uses
//! ([`hostcalls`]), the exports the host calls ([`exports`]) and the enum values of the spec
//! ([`types`]). It replaces the proxy-wasm Rust SDK to keep the module small, and lets the root
//! context own every shadow call: the host delivers call responses to the root context id and
//! the exports hand them to the shared state whatever context dispatched them.
//!
//! All `unsafe` of the filter lives in this module: raw host calls and taking ownership of the
//! buffers the host allocated through `proxy_on_memory_allocate`.

mod exports;
pub mod hostcalls;
pub mod types;
