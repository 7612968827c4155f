//! Rollgate controller library: the pieces behind the `rollgate` binary.
//!
//! - [`engine`]: the rollout state machine, a pure `step(state, verdicts, now)`.
//! - [`spec`]: the Rollout YAML contract, validated with errors naming the field.
//! - [`gates`] and [`prometheus`]: gate evaluation and its Prometheus adapter.
//! - [`sinks`]: where filter configs go (Kubernetes WasmPlugin, ECDS file, stdout).
//! - [`stats`] and [`bandit`]: A/B statistics matching scipy/statsmodels, bandit weights.
//! - [`api`] and [`store`]: the REST API of `rollgate serve` and its SQLite state.
//! - [`report`]: the HTML report with SVG plots.

pub mod api;
pub mod bandit;
pub mod engine;
pub mod error;
pub mod gates;
pub mod prometheus;
pub mod report;
pub mod sinks;
pub mod spec;
pub mod stats;
pub mod store;

pub use error::Error;
