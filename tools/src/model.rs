//! What the model-server stand-in answers: a pure function of the request count (errors) and
//! of the request body (predictions), so every run with the same load is the same.

/// Parts per million in one: error rates are kept as integers so that the schedule is exact.
const PPM: u64 = 1_000_000;

/// Converts a fraction in `0.0..=1.0` to parts per million (clamped, NaN → 0).
pub fn fraction_to_ppm(fraction: f64) -> u64 {
    if fraction.is_nan() || fraction <= 0.0 {
        0
    } else if fraction >= 1.0 {
        PPM
    } else {
        (fraction * PPM as f64).round() as u64
    }
}

/// Whether request number `count` (0-based, offset by `seed`) fails, for an error rate of
/// `rate_ppm` parts per million.
///
/// Errors are spread evenly: in any run of `n` consecutive requests the number of errors is
/// within one of `n * rate`, so a short gate window still sees the configured rate.
pub fn is_error(count: u64, seed: u64, rate_ppm: u64) -> bool {
    let n = count.wrapping_add(seed % PPM);
    let rate = rate_ppm.min(PPM) as u128;
    let before = (n as u128 * rate) / PPM as u128;
    let after = ((n as u128 + 1) * rate) / PPM as u128;
    after > before
}

/// splitmix64 finaliser: a cheap, well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the bytes, then mixed with the seed.
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h ^ mix(seed))
}

/// A model's answer to one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The class label (1 = fraud, 0 = legitimate); what shadow comparison looks at.
    pub label: u8,
    /// A score in `[0, 1)` consistent with the label.
    pub score: f64,
}

/// The prediction for `body`: the same `seed` gives the same answer for the same body, except
/// that a fraction `1 - agree_ppm / 1e6` of bodies (chosen by hash) get the label flipped.
///
/// Two servers with the same seed, one with `agree_ppm = 1_000_000` and one with `970_000`,
/// agree on about 97 % of inputs.
pub fn predict(seed: u64, agree_ppm: u64, body: &[u8]) -> Prediction {
    let h = hash_bytes(seed, body);
    let base_fraud = h % 1000 < 100;
    let flip = mix(h ^ 0xA5A5_A5A5_5A5A_5A5A) % PPM >= agree_ppm.min(PPM);
    let label = u8::from(base_fraud != flip);
    let raw = ((h >> 11) % 1000) as f64 / 2000.0; // in [0, 0.5)
    let score = if label == 1 { 0.5 + raw } else { raw };
    Prediction { label, score }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_schedule_is_exact_over_any_window() {
        let ppm = fraction_to_ppm(0.05);
        for start in [0_u64, 7, 1234] {
            let errors = (start..start + 1000)
                .filter(|n| is_error(*n, 3, ppm))
                .count();
            assert_eq!(errors, 50, "window starting at {start}");
        }
        let short = (0..40_u64).filter(|n| is_error(*n, 0, ppm)).count();
        assert_eq!(short, 2);
    }

    #[test]
    fn error_rate_bounds() {
        assert!(!(0..10_000_u64).any(|n| is_error(n, 1, 0)));
        assert!((0..10_000_u64).all(|n| is_error(n, 1, PPM)));
        assert_eq!(fraction_to_ppm(f64::NAN), 0);
        assert_eq!(fraction_to_ppm(2.0), PPM);
        assert_eq!(fraction_to_ppm(0.08), 80_000);
    }

    #[test]
    fn predictions_are_pure_and_agree_at_the_configured_rate() {
        let bodies: Vec<String> = (0..20_000)
            .map(|i| format!("{{\"user\":\"user-{i}\",\"amount\":{}}}", i * 7 % 913))
            .collect();
        let mut agree = 0;
        let mut fraud = 0;
        for body in &bodies {
            let v1 = predict(42, PPM, body.as_bytes());
            assert_eq!(v1, predict(42, PPM, body.as_bytes()));
            let v3 = predict(42, 970_000, body.as_bytes());
            if v1.label == v3.label {
                agree += 1;
            }
            fraud += usize::from(v1.label);
            assert!((0.0..1.0).contains(&v1.score));
        }
        // 20,000 Bernoulli(0.97) draws: sd = sqrt(20000*0.97*0.03) ≈ 24; allow 5 sd.
        assert!((19_280..=19_520).contains(&agree), "agree = {agree}");
        // Base fraud rate 10 %: sd ≈ 42, allow 5 sd.
        assert!((1_790..=2_210).contains(&fraud), "fraud = {fraud}");
    }
}
