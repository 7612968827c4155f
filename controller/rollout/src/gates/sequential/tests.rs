//! The sequential gate against simulated rollouts (seeded, pure, fast): checked at every
//! interval it keeps the false rollback rate of an A/A canary at or under α, where a fixed
//! threshold checked at every interval does not; it rolls a 3 % vs 1 % canary back and lets
//! a non-inferior canary advance early.

use super::*;

/// splitmix64: a tiny seeded generator, enough for Bernoulli draws in a simulation.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn binomial(&mut self, n: u64, p: f64) -> u64 {
        (0..n).map(|_| u64::from(self.uniform() < p)).sum()
    }
}

const ROLLOUTS: u64 = 1000;
const LOOKS: u64 = 20;
/// Responses per variant per check interval.
const PER_LOOK: u64 = 250;
const ALPHA: f64 = 0.05;

/// One simulated step checked every interval: per interval (stable errors, canary errors).
fn simulate(rng: &mut Rng, p_stable: f64, p_canary: f64) -> Vec<(u64, u64)> {
    (0..LOOKS)
        .map(|_| {
            (
                rng.binomial(PER_LOOK, p_stable),
                rng.binomial(PER_LOOK, p_canary),
            )
        })
        .collect()
}

fn settings(tolerance: f64) -> SequentialSettings {
    SequentialSettings {
        tolerance,
        confidence: 1.0 - ALPHA,
        n_star: (2 * PER_LOOK * LOOKS) as f64,
    }
}

/// The first conclusive decision of the sequential gate over the looks (cumulative counts).
fn sequential_run(looks: &[(u64, u64)], settings: &SequentialSettings) -> SequentialDecision {
    let (mut stable, mut canary) = (ProportionCounts::default(), ProportionCounts::default());
    for &(s, c) in looks {
        stable.merge(&ProportionCounts {
            successes: s,
            total: PER_LOOK,
        });
        canary.merge(&ProportionCounts {
            successes: c,
            total: PER_LOOK,
        });
        let check = sequential_check(stable, canary, settings);
        if check.decision != SequentialDecision::Continue {
            return check.decision;
        }
    }
    SequentialDecision::Continue
}

/// Flagger-style fixed threshold: canary − stable error rate over the last interval must stay
/// under `threshold`; one failed check rolls back.
fn threshold_rolls_back(looks: &[(u64, u64)], threshold: f64) -> bool {
    looks
        .iter()
        .any(|&(s, c)| (c as f64 - s as f64) / PER_LOOK as f64 >= threshold)
}

/// A fixed-horizon z-test (unpooled, one-sided "canary worse" at α/2) re-run on the
/// cumulative counts at every interval: peeking.
fn peeking_z_rolls_back(looks: &[(u64, u64)]) -> bool {
    let z_crit = rollgate_stats::dist::normal_isf(ALPHA / 2.0);
    let (mut s_err, mut c_err, mut n) = (0u64, 0u64, 0u64);
    looks.iter().any(|&(s, c)| {
        s_err += s;
        c_err += c;
        n += PER_LOOK;
        let (p_s, p_c) = (s_err as f64 / n as f64, c_err as f64 / n as f64);
        let se = (p_s * (1.0 - p_s) / n as f64 + p_c * (1.0 - p_c) / n as f64).sqrt();
        se > 0.0 && (p_c - p_s) / se > z_crit
    })
}

#[test]
fn a_a_false_rollbacks_stay_under_alpha_where_a_fixed_threshold_does_not() {
    let mut rng = Rng(14);
    let (mut sequential, mut threshold, mut peeking) = (0u64, 0u64, 0u64);
    let strict = settings(0.0);
    for _ in 0..ROLLOUTS {
        let looks = simulate(&mut rng, 0.01, 0.01);
        sequential += u64::from(sequential_run(&looks, &strict) == SequentialDecision::Rollback);
        threshold += u64::from(threshold_rolls_back(&looks, 0.005));
        peeking += u64::from(peeking_z_rolls_back(&looks));
    }
    let rate = |n: u64| n as f64 / ROLLOUTS as f64;
    eprintln!(
        "A/A 1% vs 1%, {ROLLOUTS} rollouts x {LOOKS} looks x {PER_LOOK}/variant: false rollbacks \
         sequential (tolerance 0) {:.3}, fixed threshold (diff >= 0.005, limit 1) {:.3}, \
         peeking z-test {:.3}",
        rate(sequential),
        rate(threshold),
        rate(peeking)
    );
    assert!(rate(sequential) <= ALPHA, "sequential {}", rate(sequential));
    assert!(
        rate(threshold) > ALPHA,
        "fixed threshold {}",
        rate(threshold)
    );
    assert!(rate(peeking) > ALPHA / 2.0, "peeking z {}", rate(peeking));
}

#[test]
fn a_three_percent_canary_is_rolled_back_against_one_percent() {
    let mut rng = Rng(3);
    let gate = settings(0.005);
    let rolled_back = (0..200)
        .filter(|_| {
            let looks = simulate(&mut rng, 0.01, 0.03);
            sequential_run(&looks, &gate) == SequentialDecision::Rollback
        })
        .count();
    eprintln!("3% vs 1% canary, tolerance 0.005: rolled back in {rolled_back}/200");
    assert!(rolled_back >= 190, "{rolled_back}/200");
}

#[test]
fn a_non_inferior_canary_advances_early_and_never_rolls_back() {
    let mut rng = Rng(7);
    let gate = settings(0.01);
    let (mut advanced, mut rolled_back) = (0, 0);
    for _ in 0..200 {
        match sequential_run(&simulate(&mut rng, 0.01, 0.01), &gate) {
            SequentialDecision::Advance => advanced += 1,
            SequentialDecision::Rollback => rolled_back += 1,
            SequentialDecision::Continue => {}
        }
    }
    eprintln!("A/A, tolerance 0.01: advanced early in {advanced}/200, rolled back {rolled_back}");
    assert!(advanced >= 180, "{advanced}/200");
    assert_eq!(rolled_back, 0);
}

#[test]
fn no_responses_or_no_errors_keep_collecting() {
    let s = settings(0.0);
    let none = ProportionCounts::default();
    let some = ProportionCounts {
        successes: 0,
        total: 100,
    };
    assert_eq!(
        sequential_check(none, some, &s).decision,
        SequentialDecision::Continue
    );
    let check = sequential_check(some, some, &s);
    assert_eq!(check.decision, SequentialDecision::Continue);
    assert!(check.detail.unwrap_or_default().contains("no variance"));
}

#[test]
fn verdicts_map_rollback_to_fail_non_inferiority_to_advance() {
    use crate::gates::{Condition, Gate, GateSource, NoDataPolicy};
    let s = settings(0.005);
    let gate = Gate {
        name: "seq".into(),
        source: GateSource::Sequential(s),
        condition: Condition::parse("< 0.005").expect("condition"),
        interval_ms: 1_000,
        window_ms: 0,
        min_samples: 0,
        samples_query: None,
        failure_limit: 1,
        no_data: NoDataPolicy::Inconclusive,
    };
    let results = |se: f64, st: f64, ce: f64, ct: f64| SequentialResults {
        stable_errors: QueryResult::Value(se),
        stable_total: QueryResult::Value(st),
        canary_errors: QueryResult::Value(ce),
        canary_total: QueryResult::Value(ct),
    };
    let v = evaluate_sequential(&gate, &s, &results(100.0, 10_000.0, 300.0, 10_000.0));
    assert_eq!(v.outcome, GateOutcome::Fail, "{v:?}");
    assert!((v.value.unwrap_or_default() - 0.02).abs() < 1e-12);
    let v = evaluate_sequential(&gate, &s, &results(100.0, 10_000.0, 100.0, 10_000.0));
    assert_eq!(v.outcome, GateOutcome::Advance, "{v:?}");
    let v = evaluate_sequential(&gate, &s, &results(1.0, 100.0, 2.0, 100.0));
    assert_eq!(v.outcome, GateOutcome::NoData, "{v:?}");
    assert!(v.detail.unwrap_or_default().starts_with("keep collecting"));
    let mut failed = results(1.0, 100.0, 2.0, 100.0);
    failed.canary_total = QueryResult::Failed("down".into());
    let v = evaluate_sequential(&gate, &s, &failed);
    assert!(v.query_failed && v.outcome == GateOutcome::NoData, "{v:?}");
}
