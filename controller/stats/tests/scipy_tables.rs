//! Chi-squared, SRM, power / sample size and multiple-testing corrections against
//! scipy 1.17.1 / statsmodels 0.15.0 (the Python call is next to each expected value).

#![allow(clippy::unwrap_used)]
mod common;
use common::assert_close;
use rollgate_stats::chi_squared::chi_squared_contingency;
use rollgate_stats::multiple::{correct, Correction};
use rollgate_stats::nct::nct_cdf;
use rollgate_stats::power::{
    power, sample_size_for_proportions, solve_nobs1, PowerModel, SampleSizeQuery,
};
use rollgate_stats::srm::{srm_check, SRM_P_THRESHOLD};

const REL: f64 = 1e-9;

/// `res = scipy.stats.chi2_contingency(table, correction=False)` → (statistic, pvalue, dof).
#[test]
fn chi_squared_matches_scipy() {
    let cases: Vec<(Vec<Vec<u64>>, f64, f64, u64)> = vec![
        (
            vec![vec![120, 880], vec![150, 850]],
            3.8535645472061657,
            0.049640386865368834,
            1,
        ),
        (
            vec![vec![10, 20, 30], vec![25, 15, 20], vec![5, 5, 40]],
            31.245370370370374,
            2.7280681262782507e-06,
            4,
        ),
        // huge counts (10^9 per row)
        (
            vec![
                vec![500_000_000, 500_000_000],
                vec![499_990_000, 500_010_000],
            ],
            0.20000000002,
            0.6547208460024334,
            1,
        ),
        // tiny table
        (vec![vec![3, 1], vec![1, 3]], 2.0, 0.15729920705028105, 1),
    ];
    for (table, stat, p, dof) in cases {
        let r = chi_squared_contingency(&table).unwrap();
        // The 10^9 case sums squares of differences of ~1e9 numbers: 1e-9 relative is the
        // floating-point floor there too.
        assert_close(r.statistic, stat, REL);
        assert_close(r.p_value, p, REL);
        assert_eq!(r.dof, dof);
    }
}

#[test]
fn chi_squared_rejects_bad_tables() {
    assert_eq!(
        chi_squared_contingency(&[vec![1, 2]]).unwrap_err().field(),
        "table"
    );
    assert_eq!(
        chi_squared_contingency(&[vec![1, 2], vec![3]])
            .unwrap_err()
            .field(),
        "table[1]"
    );
    assert_eq!(
        chi_squared_contingency(&[vec![0, 0], vec![3, 4]])
            .unwrap_err()
            .field(),
        "table[0]"
    );
}

/// `scipy.stats.chisquare(obs, f_exp=[sum(obs) * w / sum(weights) for w in weights])`.
#[test]
fn srm_matches_scipy_chisquare() {
    let cases: Vec<(Vec<u64>, Vec<f64>, f64, f64)> = vec![
        (
            vec![5000, 5100],
            vec![5000.0, 5000.0],
            0.9900990099009901,
            0.3197181768128675,
        ),
        (
            vec![9500, 560],
            vec![9500.0, 500.0],
            6.79920477137177,
            0.009119848368741103,
        ),
        (
            vec![3300, 3350, 3280],
            vec![1.0, 1.0, 1.0],
            0.785498489425982,
            0.6751980358375484,
        ),
        (
            vec![1_000_000_000, 1_000_100_000],
            vec![5000.0, 5000.0],
            4.9997500124993755,
            0.02535098001463615,
        ),
        (
            vec![8021, 1979],
            vec![8000.0, 2000.0],
            0.275625,
            0.5995831909373917,
        ),
    ];
    for (observed, weights, stat, p) in cases {
        let r = srm_check(&observed, &weights, SRM_P_THRESHOLD).unwrap();
        assert_close(r.statistic, stat, REL);
        assert_close(r.p_value, p, REL);
        assert!(!r.mismatch);
    }
    // A real mismatch: 50/50 configured, 10000 vs 10500 observed.
    // scipy.stats.chisquare([10000, 10500]) -> statistic 12.195121951219512, pvalue 0.0004790...
    let r = srm_check(&[10_000, 10_500], &[5000.0, 5000.0], SRM_P_THRESHOLD).unwrap();
    assert_close(r.statistic, 12.195121951219512, REL);
    assert!(r.p_value < 0.001 && r.mismatch);
    assert_eq!(
        srm_check(&[10, 5], &[1.0, 0.0], 0.001).unwrap_err().field(),
        "observed[1]"
    );
    assert_eq!(
        srm_check(&[10, 5], &[1.0], 0.001).unwrap_err().field(),
        "weights"
    );
}

#[test]
fn noncentral_t_cdf_matches_scipy() {
    // scipy.stats.nct.cdf(t, df, nc)
    let cases = [
        (2.0, 10.0, 1.5, 0.6591540724421909),
        (-1.0, 5.0, 0.5, 0.08244409105672337),
        (1.96, 33000.0, 2.8, 0.2004568837902281),
        (0.5, 3.0, -1.0, 0.9242738812886191),
        (3.0, 20.0, 0.0, 0.9964620506043944),
        (10.0, 50.0, 8.0, 0.9171470417861304),
    ];
    for (t, df, nc, expected) in cases {
        // AS 243 with statrs' incomplete beta: ~1e-11 absolute.
        let got = nct_cdf(t, df, nc);
        assert!(
            (got - expected).abs() < 1e-10,
            "nct.cdf({t}, {df}, {nc}) = {got} vs {expected}"
        );
    }
}

#[test]
fn power_matches_statsmodels() {
    // statsmodels.stats.power.TTestIndPower().power(effect_size=0.3, nobs1=50, alpha=0.05, ratio=1.5)
    assert_close(
        power(PowerModel::StudentT, 0.3, 50.0, 0.05, 1.5),
        0.3710072133837509,
        1e-9,
    );
    // NormalIndPower().power(effect_size=0.3, nobs1=50, alpha=0.05, ratio=1.5)
    assert_close(
        power(PowerModel::Normal, 0.3, 50.0, 0.05, 1.5),
        0.3758562844732209,
        1e-12,
    );
}

#[test]
fn solve_power_matches_statsmodels() {
    // (model, effect_size, alpha, power, ratio, statsmodels solve_power(...) for nobs1)
    let cases = [
        // TTestIndPower().solve_power(effect_size=0.5, alpha=0.05, power=0.8, ratio=1.0)
        (PowerModel::StudentT, 0.5, 0.05, 0.8, 1.0, 63.76561058891169),
        // TTestIndPower().solve_power(effect_size=0.5, alpha=0.01, power=0.9, ratio=2.0)
        (PowerModel::StudentT, 0.5, 0.01, 0.9, 2.0, 90.38906060027665),
        // TTestIndPower().solve_power(effect_size=1.5, alpha=0.05, power=0.8, ratio=1.0) (tiny n)
        (PowerModel::StudentT, 1.5, 0.05, 0.8, 1.0, 8.060294283896704),
        // NormalIndPower().solve_power(effect_size=0.2, alpha=0.05, power=0.8, ratio=1.0)
        (PowerModel::Normal, 0.2, 0.05, 0.8, 1.0, 392.4430232577885),
        // NormalIndPower().solve_power(effect_size=0.1, alpha=0.05, power=0.9, ratio=0.5)
        (PowerModel::Normal, 0.1, 0.05, 0.9, 0.5, 3152.225822979987),
    ];
    for (model, es, alpha, pw, ratio, expected) in cases {
        let query = SampleSizeQuery::new(es, alpha, pw, ratio).unwrap();
        assert_close(solve_nobs1(model, &query).unwrap(), expected, 1e-6);
    }
}

#[test]
fn seed_004_sample_size() {
    // TTestIndPower().solve_power(effect_size=0.01/(0.12*0.88)**0.5, alpha=0.05, power=0.8,
    //                             ratio=1.0, alternative='two-sided') -> 16577.753814994274
    let plan = sample_size_for_proportions(0.12, 0.01, 0.05, 0.8, 1.0).unwrap();
    assert_close(plan.n_control_exact, 16577.753814994274, 1e-6);
    assert_eq!(plan.n_per_group, 16578);
    assert_eq!(plan.n_total, 2 * 16578);
    assert_eq!(
        sample_size_for_proportions(1.2, 0.01, 0.05, 0.8, 1.0)
            .unwrap_err()
            .field(),
        "baseline"
    );
    assert_eq!(
        sample_size_for_proportions(0.12, 0.0, 0.05, 0.8, 1.0)
            .unwrap_err()
            .field(),
        "mde"
    );
}

#[test]
fn corrections_match_statsmodels_multipletests() {
    let p = [0.01, 0.04, 0.03, 0.005, 0.5];
    // multipletests(p, alpha=0.05, method="bonferroni")
    //   -> reject [T, F, F, T, F], corrected [0.05, 0.2, 0.15, 0.025, 1.0]
    let r = correct(&p, 0.05, Correction::Bonferroni).unwrap();
    assert_eq!(r.reject, vec![true, false, false, true, false]);
    for (got, want) in r.p_values.iter().zip([0.05, 0.2, 0.15, 0.025, 1.0]) {
        assert_close(*got, want, 1e-12);
    }
    // multipletests(p, alpha=0.05, method="holm")
    //   -> reject [T, F, F, T, F], corrected [0.04, 0.09, 0.09, 0.025, 0.5]
    let r = correct(&p, 0.05, Correction::Holm).unwrap();
    assert_eq!(r.reject, vec![true, false, false, true, false]);
    for (got, want) in r.p_values.iter().zip([0.04, 0.09, 0.09, 0.025, 0.5]) {
        assert_close(*got, want, 1e-12);
    }
    assert_eq!(
        correct(&[0.2, 1.5], 0.05, Correction::Holm)
            .unwrap_err()
            .field(),
        "p_values[1]"
    );
}
