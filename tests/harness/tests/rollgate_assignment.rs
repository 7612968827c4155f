//! The real `rollgate_filter.wasm` in the harness: deterministic, uniform, monotone and
//! independent assignment (issue 2, item 5).

mod common;

use common::{chi_squared_gof_p, experiment, filter_config, rollgate_plugin, variant_of};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

fn users(seed: u64, n: usize) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| format!("user-{:016x}", rng.random::<u64>()))
        .collect()
}

#[test]
fn chi_squared_helper_matches_scipy() {
    // scipy.stats.chisquare([30, 20], [25, 25]) -> statistic=2.0, pvalue=0.15729920705028105
    let p = chi_squared_gof_p(&[30, 20], &[25.0, 25.0]);
    assert!((p - 0.157_299_207_050_281_05).abs() < 1e-12, "{p}");
    // scipy.stats.chisquare([50, 30, 20], [40, 30, 30]) -> statistic=5.833333333333333, pvalue=0.05411376622282158
    let p = chi_squared_gof_p(&[50, 30, 20], &[40.0, 30.0, 30.0]);
    assert!((p - 0.054_113_766_222_821_58).abs() < 1e-12, "{p}");
}

#[test]
fn same_user_gets_the_same_variant_across_fresh_vms_and_matches_the_native_core() {
    let config = filter_config(vec![experiment(
        "exp",
        "ab",
        "salt-a",
        &[("control", 5000), ("treatment", 5000)],
    )]);
    let plugin = rollgate_plugin();
    let ids = users(1, 300);
    let mut first: Vec<Option<String>> = Vec::new();
    for round in 0..3 {
        let mut vm = plugin.start_vm(&config).expect("config accepted");
        let seen: Vec<_> = ids
            .iter()
            .map(|u| variant_of(&mut vm, "/predict", u))
            .collect();
        if round == 0 {
            first = seen;
        } else {
            assert_eq!(seen, first, "fresh VM {round} assigns identically");
        }
    }
    let ranges = rollgate_core::bucket::ranges_for([5000, 5000]);
    for (user, variant) in ids.iter().zip(&first) {
        let bucket = rollgate_core::bucket::bucket("salt-a", user.as_bytes());
        let expected = if ranges[0].contains(bucket) {
            "control"
        } else {
            "treatment"
        };
        assert_eq!(
            variant.as_deref(),
            Some(expected),
            "user {user} bucket {bucket}"
        );
    }
}

fn split(weights: &[(&str, u32)], seed: u64) -> (Vec<u64>, Vec<f64>) {
    let config = filter_config(vec![experiment("exp", "ab", "uniform", weights)]);
    let mut vm = rollgate_plugin()
        .start_vm(&config)
        .expect("config accepted");
    let n = 100_000usize;
    let mut counts: HashMap<String, u64> = HashMap::new();
    for user in users(seed, n) {
        let variant = variant_of(&mut vm, "/", &user).expect("every user is routed");
        *counts.entry(variant).or_default() += 1;
    }
    let observed = weights
        .iter()
        .map(|(name, _)| counts.get(*name).copied().unwrap_or(0))
        .collect();
    let expected = weights
        .iter()
        .map(|(_, w)| n as f64 * *w as f64 / 10_000.0)
        .collect();
    (observed, expected)
}

#[test]
fn uniform_50_50_over_100k_users() {
    let (observed, expected) = split(&[("control", 5000), ("treatment", 5000)], 50);
    let p = chi_squared_gof_p(&observed, &expected);
    assert!(p > 0.001, "observed {observed:?}, p = {p}");
}

#[test]
fn uniform_95_5_over_100k_users() {
    let (observed, expected) = split(&[("stable", 9500), ("canary", 500)], 95);
    let p = chi_squared_gof_p(&observed, &expected);
    assert!(p > 0.001, "observed {observed:?}, p = {p}");
}

#[test]
fn uniform_34_33_33_over_100k_users() {
    let (observed, expected) = split(&[("a", 3400), ("b", 3300), ("c", 3300)], 34);
    let p = chi_squared_gof_p(&observed, &expected);
    assert!(p > 0.001, "observed {observed:?}, p = {p}");
}

#[test]
fn ramping_the_canary_only_moves_users_into_it() {
    let plugin = rollgate_plugin();
    let ids = users(7, 5_000);
    let mut previous: Option<Vec<bool>> = None;
    let mut vm = plugin
        .start_vm(&filter_config(vec![experiment(
            "ramp",
            "canary",
            "ramp",
            &[("stable", 10_000), ("canary", 0)],
        )]))
        .or_else(|_| {
            plugin.start_vm(&filter_config(vec![experiment(
                "ramp",
                "canary",
                "ramp",
                &[("stable", 9_999), ("canary", 1)],
            )]))
        })
        .expect("a starting config");
    for percent in [1u32, 5, 10, 25, 50, 100] {
        let canary = percent * 100;
        let config = filter_config(vec![experiment(
            "ramp",
            "canary",
            "ramp",
            &[("stable", 10_000 - canary), ("canary", canary)],
        )]);
        vm.reconfigure(&config).expect("step accepted");
        let in_canary: Vec<bool> = ids
            .iter()
            .map(|u| variant_of(&mut vm, "/", u).as_deref() == Some("canary"))
            .collect();
        let share = in_canary.iter().filter(|c| **c).count() as f64 / ids.len() as f64;
        assert!(
            (share - percent as f64 / 100.0).abs() < 0.03,
            "{percent}%: share {share}"
        );
        if let Some(before) = &previous {
            for (i, (was, is)) in before.iter().zip(&in_canary).enumerate() {
                assert!(!was || *is, "user {} left the canary at {percent}%", ids[i]);
            }
        }
        previous = Some(in_canary);
    }
}

#[test]
fn experiments_with_different_salts_are_independent() {
    let mut a = experiment("exp-a", "ab", "salt-a", &[("a0", 5000), ("a1", 5000)]);
    a["match"] = serde_json::json!({"path_prefix": "/a"});
    let mut b = experiment("exp-b", "ab", "salt-b", &[("b0", 5000), ("b1", 5000)]);
    b["match"] = serde_json::json!({"path_prefix": "/b"});
    let mut vm = rollgate_plugin()
        .start_vm(&filter_config(vec![a, b]))
        .expect("accepted");
    let mut table = [[0u64; 2]; 2];
    for user in users(11, 20_000) {
        let va = variant_of(&mut vm, "/a", &user).expect("routed in a");
        let vb = variant_of(&mut vm, "/b", &user).expect("routed in b");
        table[(va == "a1") as usize][(vb == "b1") as usize] += 1;
    }
    // Pearson chi-squared test of independence, no continuity correction, df = 1
    // (as scipy.stats.chi2_contingency(table, correction=False)).
    let rows: Vec<Vec<u64>> = table.iter().map(|r| r.to_vec()).collect();
    let p = rollgate_stats::chi_squared::chi_squared_contingency(&rows)
        .expect("a 2x2 table with no empty row or column")
        .p_value;
    assert!(p > 0.001, "table {table:?}, p = {p}");
}
