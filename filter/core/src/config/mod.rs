//! Filter configuration: the wire schema and its validation.

mod error;
mod json;
mod names;
pub mod schema;
pub mod validate;

pub use error::ConfigError;
pub use schema::*;
pub use validate::MAX_SHADOW_BODY_BYTES;
