//! Rollgate routing core and proxy-wasm filter.
//!
//! The core (config, bucketing, variant choice, shadow sampling, response comparison, guard)
//! is plain Rust with no proxy-wasm types: it is compiled natively for tests, the controller and
//! the harness. The proxy-wasm glue in `plugin/` is compiled only for `wasm32`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bucket;
pub mod config;
/// Native only: the ECDS file (used by the controller's ecds_file sink and the dev proxy).
#[cfg(feature = "ecds")]
pub mod ecds;
pub mod guard;
pub mod header_map;
pub mod metrics;
pub mod routing;
pub mod shadow;

#[cfg(target_arch = "wasm32")]
mod plugin;

pub use bucket::{bucket, BucketRange};
pub use config::{ConfigError, FilterConfig};
pub use metrics::{parse_stat_name, stat_name};
pub use routing::{Decision, DecisionReason, HeaderList, RequestView, RoutingTable};
