//! The routing core: a compiled [`RoutingTable`] and the per-request [`Decision`].
//!
//! No proxy-wasm types: the glue hands in a [`RequestView`] and applies the decision.

mod decide;
pub mod request;
mod table;

pub use decide::{Decision, DecisionReason, RandomSource, REQUEST_ID_HEADER};
pub use request::{authority_host, cookie_value, HeaderList, RequestView};
pub use table::{CompiledExperiment, CompiledVariant, RoutingTable};
