//! Rollgate benches.
