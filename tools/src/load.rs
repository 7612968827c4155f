//! The load generator's pure parts: which user sends what, and the running tally.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One request the load generator sends.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRequest {
    /// The user key, sent in the unit header (`user-<n>`).
    pub user: String,
    /// The JSON body.
    pub body: String,
}

/// Draws the next request: a user uniformly among `users`, and a small fraud-scoring body.
pub fn plan_request(rng: &mut ChaCha8Rng, users: u64) -> PlannedRequest {
    let user = format!("user-{}", rng.random_range(0..users.max(1)));
    let amount = rng.random_range(1..500_000) as f64 / 100.0;
    let merchant = rng.random_range(0..200);
    let body =
        serde_json::json!({ "user": user, "amount": amount, "merchant": format!("m-{merchant}") })
            .to_string();
    PlannedRequest { user, body }
}

/// Counts for one variant (as echoed back in `x-rollgate-variant`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantCounts {
    /// Responses received.
    pub total: u64,
    /// 2xx responses.
    pub ok: u64,
    /// 5xx responses.
    pub errors: u64,
}

/// What the load generator saw; printed as JSON at the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Target address.
    pub target: String,
    /// Seconds since the start.
    pub elapsed_s: f64,
    /// Requests sent.
    pub sent: u64,
    /// Responses received (any status).
    pub completed: u64,
    /// Requests that got no HTTP response (connect error, reset, timeout).
    pub transport_errors: u64,
    /// Responses by status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Responses by variant (`-` when the response did not name one).
    pub by_variant: BTreeMap<String, VariantCounts>,
}

impl LoadSummary {
    /// Records one response.
    pub fn record(&mut self, status: u16, variant: Option<&str>) {
        self.completed += 1;
        *self.by_status.entry(status).or_default() += 1;
        let counts = self
            .by_variant
            .entry(variant.unwrap_or("-").to_string())
            .or_default();
        counts.total += 1;
        if (200..300).contains(&status) {
            counts.ok += 1;
        } else if status >= 500 {
            counts.errors += 1;
        }
    }

    /// A one-line progress view: counts and per-variant error rates.
    pub fn progress_line(&self) -> String {
        let mut line = format!(
            "loadgen t={:.1}s sent={} done={} transport_errors={}",
            self.elapsed_s, self.sent, self.completed, self.transport_errors
        );
        for (name, counts) in &self.by_variant {
            let rate = if counts.total == 0 {
                0.0
            } else {
                counts.errors as f64 / counts.total as f64
            };
            line.push_str(&format!(
                " {name}={} ({:.1}% 5xx)",
                counts.total,
                rate * 100.0
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn same_seed_same_requests() {
        let mut a = ChaCha8Rng::seed_from_u64(42);
        let mut b = ChaCha8Rng::seed_from_u64(42);
        for _ in 0..100 {
            assert_eq!(plan_request(&mut a, 10_000), plan_request(&mut b, 10_000));
        }
    }

    #[test]
    fn users_cover_the_population() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let r = plan_request(&mut rng, 100);
            let parsed: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            assert_eq!(parsed["user"], r.user.as_str());
            seen.insert(r.user);
        }
        // 2,000 draws over 100 users: P(some user unseen) = 100 * 0.99^2000 ≈ 2e-7.
        assert_eq!(seen.len(), 100);
    }

    #[test]
    fn tally_by_status_and_variant() {
        let mut s = LoadSummary::default();
        s.record(200, Some("stable"));
        s.record(503, Some("canary"));
        s.record(200, Some("canary"));
        s.record(404, None);
        assert_eq!(s.completed, 4);
        assert_eq!(s.by_status.get(&200), Some(&2));
        assert_eq!(
            s.by_variant.get("canary"),
            Some(&VariantCounts {
                total: 2,
                ok: 1,
                errors: 1
            })
        );
        assert_eq!(s.by_variant.get("-").map(|c| c.total), Some(1));
        assert!(s.progress_line().contains("canary=2 (50.0% 5xx)"));
    }
}

#[cfg(test)]
mod agreement_tests {
    use super::plan_request;
    use crate::model::predict;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shadow_v3_agrees_97_percent_on_the_loadgen_bodies() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let n = 20_000;
        let agree = (0..n)
            .filter(|_| {
                let body = plan_request(&mut rng, 10_000).body;
                predict(42, 1_000_000, body.as_bytes()).label
                    == predict(42, 970_000, body.as_bytes()).label
            })
            .count();
        // Bernoulli(0.97) over 20,000 bodies: sd ≈ 24; allow 5 sd.
        assert!((19_280..=19_520).contains(&agree), "agree = {agree}");
    }
}
