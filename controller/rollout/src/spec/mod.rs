//! The Rollout spec (DESIGN.md "Rollout spec contract"): raw YAML, validation, the typed model.

mod load;
mod model;
pub mod raw;
mod validate;

pub use load::{load_rollout, parse_rollout};
pub use model::{default_steps, Plan, PrometheusTarget, Rollout, SinkTarget, Step};
pub use validate::{resolve, validate, API_VERSION, DEFAULT_WASM_FILENAME, KIND};

#[cfg(test)]
mod tests;
