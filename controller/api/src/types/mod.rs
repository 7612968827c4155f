//! Request and response bodies (with their OpenAPI schemas).

pub mod ab;
pub mod deploy;
pub mod events;
pub mod registry;
pub mod results;
