//! Rollgate progressive rollouts.
//!
//! - [`spec`]: the Rollout YAML contract (`rollgate.dev/v1`, DESIGN.md), validated with errors
//!   naming the field ([`spec::load_rollout`]).
//! - [`engine`]: the pure state machine [`engine::step`]`(plan, state, input, now) -> (state,
//!   actions)` over a serde [`engine::RolloutState`].
//! - [`gates`] (pure evaluation, PromQL templates) and [`prometheus`] (the HTTP adapter).
//! - [`sinks`]: ECDS file, Istio WasmPlugin (server-side apply), stdout; state persistence and
//!   control requests.
//! - [`leader`]: leader election on a Kubernetes Lease (`rollgate run --leader-elect`).
//! - [`bandit`]: bandits fed by Prometheus (rewards from templated PromQL, weights pushed
//!   through a sink).
//! - [`runner`]: the reconcile loop `rollgate run` drives; [`metrics`]: the controller's own
//!   metrics.

pub mod bandit;
pub mod checks;
pub mod duration;
pub mod engine;
pub mod error;
pub mod gates;
pub mod leader;
pub mod metrics;
pub mod prometheus;
pub mod runner;
pub mod sinks;
pub mod spec;
pub mod weights;

pub use error::RolloutError;
