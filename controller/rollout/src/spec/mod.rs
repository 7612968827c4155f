//! The Rollout spec (DESIGN.md "Rollout spec contract"): raw YAML, validation, the typed model.
//!
//! # Gates
//!
//! Each entry of `spec.gates` sets exactly one of `template` (a built-in on the filter's
//! metrics: `error_rate`, `success_rate`, `p99_latency_ms`), `query` (custom PromQL with
//! `{{experiment}}`, `{{variant}}`, `{{namespace}}`, `{{interval}}`) or `compare` (a built-in,
//! canary minus stable), plus `condition`, and optionally `interval` (default `1m`),
//! `failure_limit` (default 1) and `no_data` (`inconclusive` default, `fail`, `pass`).
//!
//! ## The `srm` gate (sample-ratio mismatch)
//!
//! ```yaml
//! gates:
//!   - name: srm
//!     template: srm
//!     interval: 1m          # check period (optional)
//!     no_data: inconclusive # fewer than 100 exposures, or Prometheus down (optional)
//! ```
//!
//! It reads `rollgate_exposures_total{experiment,variant}` of the stable and the canary
//! variant, `sum(increase(...[W]))` where `W` is the time since the current step's weight was
//! pushed or since the latest `rollgate resume` (whole seconds), and runs a chi-squared
//! goodness-of-fit test of the two counts against the weights pushed for the step. p < 0.001 makes the step invalid: the rollout
//! pauses with a `sample_ratio_mismatch` reason giving the observed counts, the expected
//! shares and the p-value, and no decision (advance, promotion, rollback) is taken on that
//! check; `rollgate resume` continues once the cause is fixed. Fewer than 100 exposures in
//! total is no data, judged by `no_data`. The gate has no `condition` (fixed: p >= 0.001) and
//! no `failure_limit` (it never rolls back); setting either is refused, naming the field.
//! Like every gate it runs at every step unless a step lists its own `gates`.

mod load;
mod model;
pub mod raw;
mod validate;

pub use load::{load_rollout, parse_rollout};
pub use model::{
    default_steps, Plan, PrometheusTarget, Rollout, SecretRef, SinkTarget, SourceAuth, Step,
};
pub use validate::{
    resolve, validate, API_VERSION, DEFAULT_SCRAPE_INTERVAL_MS, DEFAULT_WASM_FILENAME, KIND,
    MIN_WINDOW_SCRAPES, SRM_TEMPLATE,
};

#[cfg(test)]
mod tests;
