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

/// What became of a shadow copy: the `result` label of `rollgate_shadow_requests_total`.
///
/// A copy the stream could not take (`SkippedTooLarge`) is never sent. Every `Sent` copy ends
/// exactly once: answered (`rollgate_shadow_responses_total`, Envoy's local 503/504 replies
/// included), `Failed` (the host refused the call), `Cancelled` (the root context that owned
/// the call shut down before the answer) or `Evicted` (dropped from the bounded store). So
/// `sent = answered + failed + cancelled + evicted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowResult {
    /// Handed to the host for dispatch.
    Sent = 0,
    /// Body over `max_body_bytes` (or the VM's copy budget): not sent.
    SkippedTooLarge = 1,
    /// The host refused the call (unknown cluster, missing `:method`/`:path`/`:authority`).
    Failed = 2,
    /// Dropped from the bounded store of calls in flight before its answer.
    Evicted = 3,
    /// Its root context shut down (a config push) before the answer came.
    Cancelled = 4,
}

impl ShadowResult {
    /// Every result, in label order (index = the enum value).
    pub const ALL: [ShadowResult; 5] = [
        ShadowResult::Sent,
        ShadowResult::SkippedTooLarge,
        ShadowResult::Failed,
        ShadowResult::Evicted,
        ShadowResult::Cancelled,
    ];

    /// The `result` label.
    pub fn label(self) -> &'static str {
        match self {
            ShadowResult::Sent => "sent",
            ShadowResult::SkippedTooLarge => "skipped_too_large",
            ShadowResult::Failed => "failed",
            ShadowResult::Evicted => "evicted",
            ShadowResult::Cancelled => "cancelled",
        }
    }
}

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
