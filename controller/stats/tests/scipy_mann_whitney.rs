//! Mann-Whitney U against scipy 1.17.1 `mannwhitneyu(treatment, control, method=...)`:
//! exact for small samples without ties, asymptotic with continuity and tie correction otherwise.

#![allow(clippy::unwrap_used)]

mod common;
use common::assert_close;
use rollgate_stats::mann_whitney::{mann_whitney_u, MannWhitneyMethod};

const REL: f64 = 1e-9;
const F: &[f64] = &[2.0, 4.0, 6.0, 8.0];

const G_C: &[f64] = &[
    1., 15., 13., 8., 8., 17., 1., 13., 4., 1., 10., 19., 14., 15., 14., 15., 10., 2., 16., 9.,
    10., 7., 3., 18., 15., 12., 8., 16., 10., 8., 9., 4., 1., 11., 17., 1., 17., 16., 5., 12.,
];
const G_T: &[f64] = &[
    5., 17., 16., 9., 3., 21., 10., 19., 15., 17., 17., 5., 9., 11., 11., 2., 12., 5., 16., 15.,
    20., 16., 9., 21., 10., 8., 20., 9., 3., 11., 17., 5., 11., 4., 15.,
];
const H_C: &[f64] = &[
    -0.824, 0.651, 0.743, 0.543, -0.666, 0.232, 0.117, 0.219, 0.871, 0.224, 0.679, 0.068, 0.289,
    0.631, -1.457, -0.32, -0.47, -0.639, -0.275, 1.495, -0.866, 0.968, -1.683, -0.335, 0.163,
    0.586, 0.711, 0.793, -0.349, -0.462,
];
const H_T: &[f64] = &[1.1, 0.37, 2.05, -0.4, 1.73, 0.91];
const S_C: &[f64] = &[1.1, 3.4, 2.2, 5.6];
const S_T: &[f64] = &[4.5, 6.7, 7.8, 8.1, 9.0];
const I_C: &[f64] = &[
    0.3456, 0.8216, 0.3304, -1.3032, 0.9054, 0.4464, -0.537, 0.5811, 0.3646,
];
const I_T: &[f64] = &[
    0.7941, 0.5284, 1.0467, -0.2365, 0.3371, 0.0179, 1.0988, 0.5397, 0.2075, -0.2819, 0.2428,
    0.5081, 0.2244, 1.7941, 1.5067, -2.2112, -1.389, 0.3252, 0.0778, 0.7136, 0.7173, 2.6178,
    -0.612, 0.1224, 2.5428, 1.1467, 1.1631, -0.014, -1.1481, 0.6675,
];

/// `res = scipy.stats.mannwhitneyu(t, c, method=m)` → (statistic, pvalue, method used).
#[allow(clippy::type_complexity)]
const MWU_CASES: &[(
    &[f64],
    &[f64],
    MannWhitneyMethod,
    f64,
    f64,
    MannWhitneyMethod,
)] = &[
    // tiny, no ties: auto → exact
    (
        S_C,
        S_T,
        MannWhitneyMethod::Auto,
        19.0,
        0.031746031746031744,
        MannWhitneyMethod::Exact,
    ),
    (
        S_C,
        S_T,
        MannWhitneyMethod::Asymptotic,
        19.0,
        0.03733641592066288,
        MannWhitneyMethod::Asymptotic,
    ),
    // tiny with ties: auto → asymptotic with tie correction
    (
        &[1., 2., 2., 3.],
        &[2., 3., 3., 4., 5.],
        MannWhitneyMethod::Auto,
        17.0,
        0.09934224785346528,
        MannWhitneyMethod::Asymptotic,
    ),
    // many ties (numpy.random.default_rng(42) integers)
    (
        G_C,
        G_T,
        MannWhitneyMethod::Auto,
        824.5,
        0.1868931251188023,
        MannWhitneyMethod::Asymptotic,
    ),
    // equal samples
    (
        F,
        F,
        MannWhitneyMethod::Auto,
        8.0,
        1.0,
        MannWhitneyMethod::Asymptotic,
    ),
    // every value identical: scipy gives p = 1
    (
        &[3., 3., 3.],
        &[3., 3.],
        MannWhitneyMethod::Auto,
        3.0,
        1.0,
        MannWhitneyMethod::Asymptotic,
    ),
    // one sample <= 8, other 30, no ties: exact
    (
        H_C,
        H_T,
        MannWhitneyMethod::Auto,
        144.0,
        0.0202074964883314,
        MannWhitneyMethod::Exact,
    ),
    // both samples > 8: asymptotic
    (
        I_C,
        I_T,
        MannWhitneyMethod::Auto,
        143.0,
        0.8025873486341526,
        MannWhitneyMethod::Asymptotic,
    ),
    // one value each
    (
        &[2.0],
        &[1.0],
        MannWhitneyMethod::Auto,
        0.0,
        1.0,
        MannWhitneyMethod::Exact,
    ),
];

#[test]
fn mann_whitney_matches_scipy() {
    for (c, t, method, u, p, used) in MWU_CASES {
        let r = mann_whitney_u(c, t, *method, 0.05).unwrap();
        assert_close(r.statistic, *u, REL);
        assert_close(r.p_value, *p, REL);
        assert_eq!(r.method, *used);
    }
}

/// Exact test with one small and one large sample (no ties): the generating-function counts
/// stay accurate far into the tail.
#[test]
fn mann_whitney_exact_with_a_large_other_sample() {
    let c200: Vec<f64> = (0..200).map(f64::from).collect();
    let c1000: Vec<f64> = (0..1000).map(f64::from).collect();
    // c = [float(i) for i in range(200)]; scipy.stats.mannwhitneyu(t, c) for each t below
    let cases: [(&[f64], &[f64], f64, f64); 3] = [
        // t = [3.5, 17.5, 50.5, 120.5, 150.5, 180.5, 190.5, 199.5] -> (917.0, 0.4922886351258879)
        (
            &c200,
            &[3.5, 17.5, 50.5, 120.5, 150.5, 180.5, 190.5, 199.5],
            917.0,
            0.4922886351258879,
        ),
        // t = [150.5, 160.5, 170.5, 180.5, 185.5, 190.5, 195.5, 199.5] -> (1437.0, 1.8830794879700514e-05)
        (
            &c200,
            &[150.5, 160.5, 170.5, 180.5, 185.5, 190.5, 195.5, 199.5],
            1437.0,
            1.8830794879700514e-05,
        ),
        // c = range(1000), t = [990.5, 995.5, 998.5, 999.5, 997.5] -> (4984.0, 1.2034457497596927e-10)
        (
            &c1000,
            &[990.5, 995.5, 998.5, 999.5, 997.5],
            4984.0,
            1.2034457497596927e-10,
        ),
    ];
    for (c, t, u, p) in cases {
        let r = mann_whitney_u(c, t, MannWhitneyMethod::Auto, 0.05).unwrap();
        assert_eq!(r.method, MannWhitneyMethod::Exact);
        assert_close(r.statistic, u, REL);
        assert_close(r.p_value, p, REL);
    }
}

#[test]
fn mann_whitney_rejects_bad_input() {
    assert_eq!(
        mann_whitney_u(&[], &[1.0], MannWhitneyMethod::Auto, 0.05)
            .unwrap_err()
            .field(),
        "control.values"
    );
    assert_eq!(
        mann_whitney_u(&[1.0], &[f64::NAN], MannWhitneyMethod::Auto, 0.05)
            .unwrap_err()
            .field(),
        "treatment.values[0]"
    );
    let ties = mann_whitney_u(&[1.0, 2.0], &[2.0, 3.0], MannWhitneyMethod::Exact, 0.05);
    assert_eq!(ties.unwrap_err().field(), "method");
}
