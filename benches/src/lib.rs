//! Rollgate benches: shared fixtures (a realistic filter config and request) and the loading
//! of the real filter `.wasm` into the harness, for the routing bench and the soak.

pub mod fixtures;
pub mod wasm;
