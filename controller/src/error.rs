//! The controller library's one error type.
//!
//! Each variant says what went wrong and where; messages end with what to do when that helps.
//! Add variants here (one per failure kind), never a second error enum.

use thiserror::Error;

/// Every error the controller library returns.
#[derive(Debug, Error)]
pub enum Error {
    /// A filter configuration the filter would refuse.
    #[error("invalid filter config: {0}")]
    FilterConfig(#[from] rollgate_filter::config::ConfigError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with the controller's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
