//! Two-group tests against scipy 1.17.1 / statsmodels 0.15.0 outputs (values pasted from the
//! Python calls written next to each case). Sign convention: treatment minus control, i.e.
//! scipy is called as `f(treatment, control)`.

#![allow(clippy::unwrap_used)]
mod common;
use common::assert_close;
use rollgate_stats::proportions::two_proportion_z;
use rollgate_stats::summary::{MeanSummary, ProportionCounts};
use rollgate_stats::ttest::{t_test, t_test_values, TTestKind};
use rollgate_stats::StatsError;

const REL: f64 = 1e-9;

fn pc(successes: u64, total: u64) -> ProportionCounts {
    ProportionCounts { successes, total }
}

/// (treatment, control, confidence, z, p, ci_low, ci_high) from
/// `z, p = statsmodels.stats.proportion.proportions_ztest([t_s, c_s], [t_n, c_n])` and
/// `confint_proportions_2indep(t_s, t_n, c_s, c_n, method="wald", compare="diff", alpha=1-conf)`.
#[allow(clippy::type_complexity)]
const Z_CASES: &[((u64, u64), (u64, u64), f64, f64, f64, f64, f64)] = &[
    (
        (130, 1000),
        (100, 1000),
        0.95,
        2.102740605622114,
        0.03548845046647471,
        0.0020679344393763656,
        0.057932065560623636,
    ),
    // tiny samples
    (
        (3, 7),
        (1, 9),
        0.9,
        1.454785934906616,
        0.1457285332020404,
        -0.03516560987553191,
        0.6700862447961669,
    ),
    // huge counts (10^9): p underflows to 0.0 in statsmodels too
    (
        (510_000_000, 1_000_000_000),
        (500_000_000, 1_000_000_000),
        0.99,
        447.2359578569241,
        0.0,
        0.009942408465805732,
        0.010057591534194285,
    ),
    // equal samples
    (
        (1200, 10000),
        (1200, 10000),
        0.95,
        0.0,
        1.0,
        -0.009007308715318907,
        0.009007308715318907,
    ),
    // treatment with zero successes
    (
        (0, 50),
        (2, 60),
        0.95,
        -1.3028932666176194,
        0.19261120304413637,
        -0.07875365546963443,
        0.012086988802967769,
    ),
];

#[test]
fn two_proportion_z_matches_statsmodels() {
    for &(t, c, conf, z, p, lo, hi) in Z_CASES {
        let r = two_proportion_z(pc(c.0, c.1), pc(t.0, t.1), conf).unwrap();
        assert_close(r.statistic, z, REL);
        assert_close(r.p_value, p, REL);
        assert_close(r.ci[0], lo, REL);
        assert_close(r.ci[1], hi, REL);
        assert_eq!(r.significant, p < 1.0 - conf);
    }
}

#[test]
fn two_proportion_z_lift_and_degenerate_cases() {
    let r = two_proportion_z(pc(100, 1000), pc(130, 1000), 0.95).unwrap();
    assert_close(r.lift.unwrap(), 0.3, 1e-12);
    // All failures in both groups: pooled variance 0; defined as z = 0, p = 1, never NaN.
    let r = two_proportion_z(pc(0, 500), pc(0, 400), 0.95).unwrap();
    assert_eq!((r.statistic, r.p_value, r.lift), (0.0, 1.0, None));
    assert!(r.ci.iter().all(|x| x.is_finite()));
    let err = two_proportion_z(pc(11, 10), pc(1, 10), 0.95).unwrap_err();
    assert_eq!(err.field(), "control.successes");
    let err = two_proportion_z(pc(1, 10), pc(1, 10), 1.0).unwrap_err();
    assert_eq!(err.field(), "confidence");
}

const A_C: &[f64] = &[12.1, 14.3, 11.8, 13.5, 12.9, 15.2, 13.3];
const A_T: &[f64] = &[14.2, 15.1, 13.9, 16.4, 15.5, 14.8];
const B_C: &[f64] = &[1.0, 2.0];
const B_T: &[f64] = &[3.0, 5.0];
const D_C: &[f64] = &[5.0, 5.0, 5.0, 5.0];
const D_T: &[f64] = &[4.0, 6.0, 5.5, 7.0];
const F: &[f64] = &[2.0, 4.0, 6.0, 8.0];

/// `res = scipy.stats.ttest_ind(t, c, equal_var=eq); ci = res.confidence_interval(conf)`
/// → (statistic, pvalue, df, ci.low, ci.high).
#[allow(clippy::type_complexity)]
const T_CASES: &[(&[f64], &[f64], TTestKind, f64, [f64; 5])] = &[
    (
        A_C,
        A_T,
        TTestKind::Welch,
        0.95,
        [
            2.889761099836281,
            0.014856680701552384,
            10.885946871584817,
            0.3995825148454597,
            2.967084151821204,
        ],
    ),
    (
        A_C,
        A_T,
        TTestKind::Welch,
        0.9,
        [
            2.889761099836281,
            0.014856680701552384,
            10.885946871584817,
            0.6361970269601498,
            2.730469639706514,
        ],
    ),
    (
        A_C,
        A_T,
        TTestKind::Student,
        0.95,
        [
            2.826119970948275,
            0.016486189919684004,
            11.0,
            0.37235159008090934,
            2.994315076585754,
        ],
    ),
    (
        A_C,
        A_T,
        TTestKind::Student,
        0.9,
        [
            2.826119970948275,
            0.016486189919684004,
            11.0,
            0.613643154137774,
            2.7530235125288893,
        ],
    ),
    // tiny samples (n = 2 per group)
    (
        B_C,
        B_T,
        TTestKind::Welch,
        0.95,
        [
            2.23606797749979,
            0.19872738893452602,
            1.4705882352941178,
            -4.418522830071064,
            9.418522830071064,
        ],
    ),
    (
        B_C,
        B_T,
        TTestKind::Student,
        0.9,
        [
            2.23606797749979,
            0.1548457452714834,
            2.0,
            -0.7646431254950534,
            5.764643125495051,
        ],
    ),
    // control with zero variance, treatment without
    (
        D_C,
        D_T,
        TTestKind::Welch,
        0.95,
        [
            1.0,
            0.3910022189557705,
            3.0,
            -1.3640289408023174,
            2.614028940802317,
        ],
    ),
    (
        D_C,
        D_T,
        TTestKind::Student,
        0.95,
        [
            1.0,
            0.3559176837495822,
            6.0,
            -0.9043199069656116,
            2.1543199069656116,
        ],
    ),
    // equal samples
    (
        F,
        F,
        TTestKind::Welch,
        0.95,
        [0.0, 1.0, 6.0, -4.467429390329427, 4.467429390329427],
    ),
    (
        F,
        F,
        TTestKind::Student,
        0.9,
        [0.0, 1.0, 6.0, -3.5477455764581642, 3.547745576458162],
    ),
];

#[test]
fn t_tests_match_scipy() {
    for (c, t, kind, conf, [stat, p, df, lo, hi]) in T_CASES {
        let r = t_test_values(c, t, *kind, *conf).unwrap();
        assert_close(r.statistic, *stat, REL);
        assert_close(r.p_value, *p, REL);
        assert_close(r.df, *df, REL);
        assert_close(r.ci[0], *lo, REL);
        assert_close(r.ci[1], *hi, REL);
    }
}

#[test]
fn t_test_huge_values() {
    // Values near 10^9 differing after the decimal point: ill-conditioned for both numpy and us
    // (scipy warns "catastrophic cancellation"), so compare to 1e-6.
    // c = [1e9 + x for x in [0.5, 1.5, 2.25, 0.75, 1.0]], t = [1e9 + x for x in [1.75, 2.5, 3.0, 2.0, 1.25]]
    // scipy.stats.ttest_ind(t, c, equal_var=False) -> (2.0784609140222368, 0.07131022537208057),
    // df 7.994315153668501
    let c: Vec<f64> = [0.5, 1.5, 2.25, 0.75, 1.0]
        .iter()
        .map(|x| 1e9 + x)
        .collect();
    let t: Vec<f64> = [1.75, 2.5, 3.0, 2.0, 1.25]
        .iter()
        .map(|x| 1e9 + x)
        .collect();
    let r = t_test_values(&c, &t, TTestKind::Welch, 0.95).unwrap();
    assert_close(r.statistic, 2.0784609140222368, 1e-6);
    assert_close(r.p_value, 0.07131022537208057, 1e-6);
    assert_close(r.df, 7.994315153668501, 1e-6);
}

#[test]
fn cohens_d_and_lift() {
    // numpy: sp = sqrt(((7-1)*c.var(ddof=1) + (6-1)*t.var(ddof=1)) / 11);
    // (t.mean() - c.mean()) / sp -> 1.5723080030605359; (t.mean()-c.mean())/c.mean() -> 0.12656641604010013
    let r = t_test_values(A_C, A_T, TTestKind::Welch, 0.95).unwrap();
    assert_close(r.cohens_d.unwrap(), 1.5723080030605359, REL);
    assert_close(r.lift.unwrap(), 0.12656641604010013, REL);
}

#[test]
fn t_test_zero_variance_and_empty_are_errors() {
    let err = t_test_values(&[5.0, 5.0], &[6.0, 6.0, 6.0], TTestKind::Welch, 0.95).unwrap_err();
    assert!(matches!(err, StatsError::ZeroVariance { .. }), "{err}");
    let err = t_test_values(&[], &[1.0, 2.0], TTestKind::Student, 0.95).unwrap_err();
    assert_eq!(err.field(), "control.values");
    let err = t_test_values(&[1.0, 2.0], &[3.0], TTestKind::Welch, 0.95).unwrap_err();
    assert_eq!(err.field(), "treatment.values");
}

#[test]
fn t_test_from_merged_summaries_equals_raw() {
    let mut c = MeanSummary::from_values(&A_C[..3]);
    c.merge(&MeanSummary::from_values(&A_C[3..]));
    let mut t = MeanSummary::default();
    A_T.iter().for_each(|x| t.push(*x));
    let r = t_test(&c, &t, TTestKind::Welch, 0.95).unwrap();
    assert_close(r.statistic, 2.889761099836281, 1e-12);
    assert_close(r.p_value, 0.014856680701552384, 1e-11);
}
