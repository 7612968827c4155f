//! Filter configuration: the wire schema and its validation.

mod error;
pub mod schema;

pub use error::ConfigError;
pub use schema::*;
