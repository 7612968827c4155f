//! Behavioural tests where no library gives a reference number: sequential testing under
//! peeking (seeded A/A simulation), bootstrap, the seed 001 decision table and the bandits.

#![allow(clippy::unwrap_used)]
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rollgate_stats::bandit::{allocate, ArmStats, BanditAlgorithm, DEFAULT_MIN_WEIGHT_BP};
use rollgate_stats::bootstrap::{bootstrap_difference, BootstrapStatistic};
use rollgate_stats::decision::{decide, Decision, DecisionCriteria, Direction, Evidence};
use rollgate_stats::proportions::two_proportion_z;
use rollgate_stats::sequential::{
    sequential_means, sequential_proportions, SequentialMonitor, DEFAULT_N_STAR,
};
use rollgate_stats::summary::{MeanSummary, ProportionCounts};
use rollgate_stats::ttest::{t_test_values, TTestKind};

/// A/A test, conversion 10 %, users split by a fair coin, a peek every 100 users up to 5000.
/// Stopping at the first peek with p < 0.05: the naive fixed-horizon z-test's false-positive
/// rate balloons far above 5 %, the mSPRT's stays below 5 %.
#[test]
fn sequential_test_survives_peeking_where_naive_test_does_not() {
    const SIMS: usize = 200;
    const USERS: usize = 5000;
    const PEEK_EVERY: usize = 100;
    const ALPHA: f64 = 0.05;
    let mut rng = ChaCha8Rng::seed_from_u64(20261123);
    let (mut naive_hits, mut sequential_hits) = (0, 0);
    for _ in 0..SIMS {
        let mut control = ProportionCounts::default();
        let mut treatment = ProportionCounts::default();
        let (mut naive_hit, mut sequential_hit) = (false, false);
        let mut monitor = SequentialMonitor::default();
        for user in 1..=USERS {
            let converted = rng.random_bool(0.1);
            if rng.random_bool(0.5) {
                treatment.push(converted);
            } else {
                control.push(converted);
            }
            if user % PEEK_EVERY != 0 || control.total == 0 || treatment.total == 0 {
                continue;
            }
            if let Ok(z) = two_proportion_z(control, treatment, 1.0 - ALPHA) {
                naive_hit |= z.p_value < ALPHA;
            }
            // Zero variance (no conversion yet) is an error: nothing to conclude at that peek.
            if let Ok(look) =
                sequential_proportions(control, treatment, 1.0 - ALPHA, DEFAULT_N_STAR)
            {
                sequential_hit |= monitor.observe(&look) < ALPHA;
            }
        }
        naive_hits += usize::from(naive_hit);
        sequential_hits += usize::from(sequential_hit);
    }
    let naive_rate = naive_hits as f64 / SIMS as f64;
    let sequential_rate = sequential_hits as f64 / SIMS as f64;
    eprintln!("A/A with peeking: naive FPR {naive_rate}, sequential FPR {sequential_rate}");
    assert!(sequential_rate <= ALPHA, "sequential FPR {sequential_rate}");
    assert!(
        naive_rate > 2.0 * ALPHA,
        "naive FPR {naive_rate} should be inflated by peeking"
    );
}

#[test]
fn sequential_detects_a_real_effect_and_interval_matches_p_value() {
    let control = ProportionCounts {
        successes: 1000,
        total: 10_000,
    };
    let treatment = ProportionCounts {
        successes: 1300,
        total: 10_000,
    };
    let r = sequential_proportions(control, treatment, 0.95, DEFAULT_N_STAR).unwrap();
    assert!(r.significant && r.p_value < 0.05 && r.ci[0] > 0.0);
    // The confidence sequence is wider than the fixed-horizon Wald interval.
    let fixed = two_proportion_z(control, treatment, 0.95).unwrap();
    assert!(r.ci[1] - r.ci[0] > fixed.ci[1] - fixed.ci[0]);
    // Interval excludes 0 exactly when p < alpha, across a sweep of effects.
    for s in (1000..1200).step_by(7) {
        let t = ProportionCounts {
            successes: s,
            total: 10_000,
        };
        let r = sequential_proportions(control, t, 0.95, DEFAULT_N_STAR).unwrap();
        assert_eq!(r.p_value < 0.05, r.ci[0] > 0.0 || r.ci[1] < 0.0, "s = {s}");
    }
    let c = MeanSummary::from_values(&[1.0, 2.0, 3.0, 4.0]);
    let t = MeanSummary::from_values(&[1.5, 2.5, 3.5, 4.5]);
    let r = sequential_means(&c, &t, 0.95, DEFAULT_N_STAR).unwrap();
    assert!(r.p_value.is_finite() && !r.significant);
    let none = ProportionCounts {
        successes: 0,
        total: 100,
    };
    assert!(sequential_proportions(none, none, 0.95, DEFAULT_N_STAR).is_err());
}

fn normal_sample(rng: &mut ChaCha8Rng, n: usize, mean: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(1e-12);
            let u2: f64 = rng.random();
            mean + (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

#[test]
fn bootstrap_is_seeded_and_agrees_with_welch_for_normal_data() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let control = normal_sample(&mut rng, 400, 10.0);
    let treatment = normal_sample(&mut rng, 400, 10.3);
    let a = bootstrap_difference(
        &control,
        &treatment,
        BootstrapStatistic::Mean,
        2000,
        0.95,
        9,
    )
    .unwrap();
    let b = bootstrap_difference(
        &control,
        &treatment,
        BootstrapStatistic::Mean,
        2000,
        0.95,
        9,
    )
    .unwrap();
    assert_eq!(a, b);
    let welch = t_test_values(&control, &treatment, TTestKind::Welch, 0.95).unwrap();
    assert!((a.difference - welch.difference).abs() < 1e-12);
    for i in 0..2 {
        assert!(
            (a.ci[i] - welch.ci[i]).abs() < 0.05,
            "{:?} vs {:?}",
            a.ci,
            welch.ci
        );
    }
}

#[test]
fn bootstrap_p99_of_skewed_latency() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    // Log-normal latencies; treatment 30 % slower across the board.
    let control: Vec<f64> = normal_sample(&mut rng, 3000, 0.0)
        .iter()
        .map(|z| 50.0 * (0.5 * z).exp())
        .collect();
    let treatment: Vec<f64> = normal_sample(&mut rng, 3000, 0.0)
        .iter()
        .map(|z| 65.0 * (0.5 * z).exp())
        .collect();
    let r = bootstrap_difference(
        &control,
        &treatment,
        BootstrapStatistic::Quantile(0.99),
        500,
        0.95,
        1,
    )
    .unwrap();
    // True p99 difference: 15 * exp(0.5 * 2.3263) = 48.0
    assert!(r.ci[0] < 48.0 && 48.0 < r.ci[1], "{:?}", r.ci);
    assert!(r.significant && r.ci[0] > 0.0);
    let same = bootstrap_difference(
        &control,
        &control,
        BootstrapStatistic::Quantile(0.99),
        500,
        0.95,
        1,
    )
    .unwrap();
    assert!(same.ci[0] <= 0.0 && same.ci[1] >= 0.0 && !same.significant);
}

fn evidence(p_value: f64, lift: f64, n: u64) -> Evidence {
    Evidence {
        p_value,
        lift: Some(lift),
        difference: lift,
        sample_size: n,
        srm_mismatch: false,
    }
}

#[test]
fn seed_001_decision_table() {
    let c = DecisionCriteria::default();
    assert_eq!(decide(&evidence(0.01, 0.05, 5000), &c), Decision::Promote);
    assert_eq!(decide(&evidence(0.01, 0.05, 10), &c), Decision::Promote);
    assert_eq!(
        decide(&evidence(0.01, -0.05, 5000), &c),
        Decision::KeepControl
    );
    assert_eq!(decide(&evidence(0.30, 0.05, 500), &c), Decision::Continue);
    assert_eq!(
        decide(&evidence(0.30, 0.05, 5000), &c),
        Decision::NoDifference
    );
    // significant but below the minimum improvement
    assert_eq!(
        decide(&evidence(0.01, 0.005, 5000), &c),
        Decision::NoDifference
    );
    assert_eq!(decide(&evidence(0.01, 0.005, 50), &c), Decision::Continue);
    // p exactly at alpha is not significant
    assert_eq!(
        decide(&evidence(0.05, 0.5, 5000), &c),
        Decision::NoDifference
    );
    // SRM overrides everything
    let srm = Evidence {
        srm_mismatch: true,
        ..evidence(0.001, 0.5, 5000)
    };
    assert_eq!(decide(&srm, &c), Decision::InvalidSrm);
    // lower is better: a drop in error rate is an improvement
    let lower = DecisionCriteria {
        direction: Direction::LowerIsBetter,
        ..c
    };
    assert_eq!(
        decide(&evidence(0.01, -0.2, 5000), &lower),
        Decision::Promote
    );
    assert_eq!(
        decide(&evidence(0.01, 0.2, 5000), &lower),
        Decision::KeepControl
    );
}

fn arms(data: &[(u64, u64)]) -> Vec<ArmStats> {
    data.iter()
        .enumerate()
        .map(|(i, &(successes, total))| ArmStats {
            name: format!("arm{i}"),
            successes,
            total,
        })
        .collect()
}

#[test]
fn thompson_probability_of_best_matches_integral() {
    // P(Beta(16, 86) > Beta(11, 91)) = ∫ f_B(x) F_A(x) dx; scipy.integrate.quad(lambda x:
    // stats.beta(16, 86).pdf(x) * stats.beta(11, 91).cdf(x), 0, 1) -> 0.8532837899339664
    let a = allocate(
        &arms(&[(10, 100), (15, 100)]),
        BanditAlgorithm::Thompson {
            draws: 20_000,
            seed: 3,
        },
        DEFAULT_MIN_WEIGHT_BP,
    )
    .unwrap();
    assert!(
        (a.probabilities[1] - 0.8532837899339664).abs() < 0.015,
        "{:?}",
        a.probabilities
    );
    assert_eq!(a.weights_bp.iter().sum::<u32>(), 10_000);
    let again = allocate(
        &arms(&[(10, 100), (15, 100)]),
        BanditAlgorithm::Thompson {
            draws: 20_000,
            seed: 3,
        },
        DEFAULT_MIN_WEIGHT_BP,
    )
    .unwrap();
    assert_eq!(a, again);
}

#[test]
fn bandits_respect_floor_and_pick_the_best_arm() {
    let data = arms(&[(50, 1000), (80, 1000), (10, 1000)]);
    let thompson = allocate(
        &data,
        BanditAlgorithm::Thompson {
            draws: 5000,
            seed: 1,
        },
        100,
    )
    .unwrap();
    // P(arm0 best) is about 0.2 %, P(arm2 best) about 0: floor for arm2, most traffic to arm1.
    assert!(
        thompson.weights_bp[1] > 9700 && thompson.weights_bp[2] == 100,
        "{:?}",
        thompson.weights_bp
    );
    let ucb = allocate(&data, BanditAlgorithm::Ucb1, 100).unwrap();
    assert_eq!(ucb.weights_bp, vec![100, 9800, 100]);
    let eps = allocate(&data, BanditAlgorithm::EpsilonGreedy { epsilon: 0.1 }, 100).unwrap();
    // 0.1/3 each + 0.9 to the best, of the 9700 bp left after floors: 323.33 / 9053.33 / 323.33
    assert_eq!(eps.weights_bp, vec![423, 9154, 423]);
    for a in [&thompson, &ucb, &eps] {
        assert_eq!(a.weights_bp.iter().sum::<u32>(), 10_000);
    }
    // UCB1 explores arms never served first; a small sample gets a big bonus.
    let ucb = allocate(&arms(&[(90, 100), (0, 0)]), BanditAlgorithm::Ucb1, 100).unwrap();
    assert_eq!(ucb.weights_bp, vec![100, 9900]);
    let ucb = allocate(&arms(&[(60, 100), (1, 3)]), BanditAlgorithm::Ucb1, 100).unwrap();
    assert_eq!(ucb.weights_bp, vec![100, 9900]);
    // errors name the field
    let bad = allocate(&arms(&[(5, 4), (1, 2)]), BanditAlgorithm::Ucb1, 100).unwrap_err();
    assert_eq!(bad.field(), "arms[0].successes");
    let bad = allocate(&arms(&[(1, 4), (1, 2)]), BanditAlgorithm::Ucb1, 6000).unwrap_err();
    assert_eq!(bad.field(), "min_weight_bp");
}
