//! The proxy-wasm glue (wasm32 only): a thin layer that reads the host's headers and bodies,
//! asks the pure core for a decision and applies it. Every host call goes through
//! [`host`], whose wrappers turn host errors into `None`/`false`: nothing here unwraps.

#[allow(unsafe_code)]
mod abi;
mod host;
mod http;
mod metric_ids;
mod root;
mod state;
