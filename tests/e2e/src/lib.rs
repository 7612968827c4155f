//! Rollgate end-to-end helpers.
