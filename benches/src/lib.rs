//! Rollgate benches: shared fixtures (a realistic filter config and request), the loading of
//! the real filter `.wasm` into the harness, and the parts of the real-Envoy benches (Envoy
//! processes, cases and bootstraps, an open-loop client, `wrk`, the result tables).

pub mod cost_cases;
pub mod cost_table;
pub mod envoy_proc;
pub mod fixtures;
pub mod openloop;
pub mod wasm;
pub mod wrk;
