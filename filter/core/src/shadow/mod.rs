//! Shadow traffic in the core: who is sampled, bounded body copies, the root context's store of
//! pending comparisons, the comparison itself and its rate-limited log line.

pub mod body;
pub mod compare;
pub mod log_limit;
pub mod pending;

pub use body::{BodyCopy, CopyState, MemoryBudget};
pub use compare::{compare, extract, Comparison, JsonScalar};
pub use log_limit::{disagreement_line, LogLimiter};
pub use pending::{PendingComparisons, ReadyComparison};

use crate::bucket::bucket_parts;

/// Header added to every shadow copy.
pub const SHADOW_HEADER: &str = "x-rollgate-shadow";

/// Whether the unit with `unit_key` is shadowed for an experiment with `salt` at `sample` basis
/// points: its bucket under salt `"shadow:" ++ salt` is below `sample`. Growing `sample` only
/// adds units (monotone); the salt keeps the shadow choice independent of the variant choice.
pub fn is_shadowed(salt: &str, unit_key: &[u8], sample: u32) -> bool {
    u32::from(bucket_parts(&[b"shadow:", salt.as_bytes(), b":", unit_key])) < sample
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_bounds() {
        assert!(!is_shadowed("s", b"u", 0));
        assert!(is_shadowed("s", b"u", 10_000));
    }
}
