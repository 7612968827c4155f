//! Real Envoy for tests: the fixture every `tests/envoy_*.rs` builds on.
//!
//! - [`Envoy::start`] runs the Envoy of [`envoy_binary`] (`$ENVOY`, else the pinned build
//!   `make envoy` installs; missing is an error saying to run `make envoy`, never a skip) on a
//!   bootstrap generated from [`EnvoyOptions`]: one listener on an OS-chosen loopback port,
//!   the Rollgate `.wasm` as an ECDS filter (`config_discovery` over a `path_config_source`
//!   with a `watched_directory`), `cluster_header` routing, one static cluster per
//!   [`Upstream`], `--concurrency 2` by default, a unique `--base-id`.
//! - [`Envoy::push`] delivers a new filter config exactly as the controller's `ecds_file` sink
//!   does (its own code: render, write a temp file, rename) and waits until Envoy applied or
//!   refused it ([`PushOutcome`], from the ECDS `update_success` / `update_rejected` /
//!   `config_fail` counters, and `config_reload` once every worker has it).
//! - [`Envoy::stats`], [`Envoy::prometheus`] read the admin stats; the log goes to a file whose
//!   tail is printed when a test fails while the instance is alive, and Envoy is killed on drop.
//! - [`Upstream`]: a loopback server that names itself in every answer, with a settable status,
//!   delay and prediction, and records what it got (shadow copies included).
//! - [`Client`]: a keep-alive client sending many requests concurrently.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rollgate_e2e::E2eError> {
//! use rollgate_e2e::envoy::{Behavior, Cluster, Envoy, EnvoyOptions, Request, Upstream};
//! let stable = Upstream::start("stable", Behavior::default())?;
//! let options = EnvoyOptions::new(vec![Cluster::new("stable", stable.addr())]);
//! let config = rollgate_e2e::envoy::filter_config(&serde_json::json!({ "version": 1 }))?;
//! let envoy = Envoy::start(options, &config).await?;
//! let reply = envoy.client()?.send(&Request::get("/").user("u1")).await?;
//! assert_eq!(reply.upstream(), Some("stable"));
//! # Ok(()) }
//! ```

pub mod binary;
pub mod bootstrap;
pub mod client;
pub mod instance;
pub mod istio;
pub mod stats;
pub mod upstream;

pub use binary::{envoy_binary, envoy_version, COMPAT_VERSION, PINNED_VERSION};
pub use bootstrap::{Cluster, EnvoyOptions, StatsPipeline};
pub use client::{Client, Reply, Request};
pub use instance::{Bootstrap, EcdsCounters, Envoy, PushOutcome};
pub use stats::{PromScrape, Series, Stats};
pub use upstream::{Behavior, Recorded, Upstream};

/// The routing core's config type and bucket formula, re-exported so the tests name the core
/// crate in one place.
pub use rollgate_core::{bucket, FilterConfig};

/// Parses a filter config given as JSON (with the filter's own parser and validation).
pub fn filter_config(value: &serde_json::Value) -> Result<FilterConfig, crate::E2eError> {
    FilterConfig::from_json(value.to_string().as_bytes()).map_err(|err| crate::E2eError::Protocol {
        what: "parsing a test filter config".to_string(),
        why: err.to_string(),
    })
}
