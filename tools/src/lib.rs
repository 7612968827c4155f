//! Rollgate's demo tools: the stand-ins `scripts/demo.sh` runs beside Envoy, and their pure
//! logic.
//!
//! Binaries (`cargo build -p rollgate-tools --bins`, in `target/debug/`):
//! - `model-server`: a fraud-model stand-in with a deterministic error schedule, latency and
//!   agreement with a reference model, changeable at run time (`POST /admin/error-rate`);
//! - `loadgen`: seeded load from N distinct users at a fixed rate, with a per-variant summary;
//! - `demo-tools`: the demo's live table (`watch`) and the report's timeline (`timeline`).
//!
//! Modules: [`model`] (what a model server answers), [`load`] (which user sends what, tallies),
//! [`timeline`] (the report timeline from controller events and Prometheus), [`envoy_admin`]
//! (what Envoy's admin `/config_dump` says the filter serves), [`duration`] and [`net`] (a tiny
//! loopback HTTP client, also used by the end-to-end tests).

pub mod duration;
pub mod envoy_admin;
pub mod load;
pub mod model;
pub mod net;
pub mod timeline;
