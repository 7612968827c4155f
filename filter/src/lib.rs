//! Rollgate routing core and proxy-wasm filter.
//!
//! The core (config, bucketing, variant choice, shadow sampling, response comparison) is plain
//! Rust with no proxy-wasm types: it is compiled natively for tests, the controller and the
//! harness. The proxy-wasm glue in `plugin/` is compiled only for `wasm32`.

pub mod bucket;
pub mod config;
#[cfg(feature = "ecds")]
pub mod ecds;
pub mod routing;

pub use bucket::{bucket, BucketRange};
pub use config::{ConfigError, FilterConfig};
pub use routing::{Decision, DecisionReason, RequestView, RoutingTable};
