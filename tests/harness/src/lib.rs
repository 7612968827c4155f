//! Rollgate harness.
