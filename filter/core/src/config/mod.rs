//! Filter configuration: the wire schema and its validation.

mod error;
mod names;
mod parse;
pub mod schema;
pub mod validate;

pub use error::ConfigError;
pub use schema::*;
pub use validate::MAX_SHADOW_BODY_BYTES;
