//! Deterministic bucketing: `bucket = (xxh3_64(salt ++ ":" ++ unit_key) * 10000) >> 64`.
//!
//! Every sidecar and the controller compute the same bucket for the same (salt, key) with no
//! coordination. Variants own contiguous bucket ranges in listed order, so growing the last
//! variant's weight only moves units into it (a monotone ramp).

use crate::config::TOTAL_WEIGHT;
use xxhash_rust::xxh3::Xxh3;

/// Number of buckets; equals the total weight in basis points.
pub const BUCKETS: u16 = 10_000;

/// The unit's bucket in `0..10000` for `salt`: xxh3-64 (seed 0) of `salt ++ ":" ++ unit_key`,
/// scaled by a 128-bit multiply so every bucket gets an equal share of hash values.
/// Streams the three parts into the hasher: no allocation.
pub fn bucket(salt: &str, unit_key: &[u8]) -> u16 {
    bucket_parts(&[salt.as_bytes(), b":", unit_key])
}

/// Like [`bucket`] with the salt given in pieces (e.g. `"shadow:"` and the experiment salt),
/// hashed as if concatenated.
pub fn bucket_parts(parts: &[&[u8]]) -> u16 {
    let mut hasher = Xxh3::new();
    for part in parts {
        hasher.update(part);
    }
    scale(hasher.digest())
}

/// Maps a 64-bit hash onto `0..10000` by `(hash * 10000) >> 64`.
pub fn scale(hash: u64) -> u16 {
    let scaled = (u128::from(hash) * u128::from(TOTAL_WEIGHT)) >> 64;
    // scaled < 10000 always, so it fits in u16.
    u16::try_from(scaled).unwrap_or(BUCKETS - 1)
}

/// A half-open range of buckets `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketRange {
    /// First bucket (inclusive).
    pub start: u16,
    /// End (exclusive).
    pub end: u16,
}

impl BucketRange {
    /// Whether `bucket` falls in the range.
    pub fn contains(&self, bucket: u16) -> bool {
        self.start <= bucket && bucket < self.end
    }

    /// Number of buckets in the range.
    pub fn len(&self) -> u16 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no bucket.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Contiguous ranges for `weights` (basis points) in listed order, starting at bucket 0.
/// Weights are clamped so that ranges never pass bucket 10000.
pub fn ranges_for(weights: impl IntoIterator<Item = u32>) -> Vec<BucketRange> {
    let mut start: u32 = 0;
    weights
        .into_iter()
        .map(|weight| {
            let end = start.saturating_add(weight).min(TOTAL_WEIGHT);
            let range = BucketRange {
                start: clamp16(start),
                end: clamp16(end),
            };
            start = end;
            range
        })
        .collect()
}

fn clamp16(value: u32) -> u16 {
    u16::try_from(value.min(TOTAL_WEIGHT)).unwrap_or(BUCKETS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_64;

    #[test]
    fn streaming_equals_one_shot_concatenation() {
        for (salt, key) in [("fraud-v2", "user-1"), ("", ""), ("a", "bc"), ("ab", "c")] {
            let joined = format!("{salt}:{key}");
            let expected = ((u128::from(xxh3_64(joined.as_bytes())) * 10_000) >> 64) as u16;
            assert_eq!(bucket(salt, key.as_bytes()), expected);
        }
    }

    #[test]
    fn separator_keeps_split_points_apart() {
        assert_ne!(bucket("ab", b"c"), bucket("a", b"bc"));
    }

    #[test]
    fn scale_covers_the_ends() {
        assert_eq!(scale(0), 0);
        assert_eq!(scale(u64::MAX), 9_999);
    }

    #[test]
    fn ranges_are_contiguous_in_order() {
        let ranges = ranges_for([9_500, 500]);
        assert_eq!(
            ranges,
            vec![
                BucketRange {
                    start: 0,
                    end: 9_500
                },
                BucketRange {
                    start: 9_500,
                    end: 10_000
                }
            ]
        );
        assert!(ranges[1].contains(9_999) && !ranges[1].contains(9_499));
        let zero = ranges_for([10_000, 0]);
        assert!(zero[1].is_empty());
    }
}
