//! Rollgate proxy-wasm HTTP filter: the glue between the proxy-wasm SDK and `rollgate-core`.
//!
//! Compiled to `rollgate_filter.wasm` for Envoy. The routing logic lives in `rollgate-core`;
//! this crate holds what the contexts do with it, written against the [`host::Host`] trait so
//! it is unit-tested natively, and (on wasm32 only) the SDK glue that implements the trait
//! with the SDK's hostcalls and forwards the SDK's callbacks.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod active;
pub mod host;
pub mod metric_ids;
pub mod root;
pub mod shadow_calls;
pub mod stream;
pub mod vm;

#[cfg(target_arch = "wasm32")]
mod sdk;

#[cfg(test)]
mod fake_host;
#[cfg(test)]
mod tests;
