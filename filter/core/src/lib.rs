//! Rollgate routing core.
//!
//! The core (config, bucketing, variant choice, shadow sampling, response comparison, guard,
//! metric names) is plain Rust with no proxy-wasm types: it is compiled natively for tests, the
//! controller and the harness, and linked into the proxy-wasm glue crate `rollgate-filter`.

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

pub use bucket::{bucket, BucketRange};
pub use config::{ConfigError, FilterConfig};
pub use metrics::{parse_stat_name, stat_name};
pub use routing::{Decision, DecisionReason, HeaderList, RequestView, RoutingTable};
