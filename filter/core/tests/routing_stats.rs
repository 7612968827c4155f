//! Statistical properties of bucketing and routing over many seeded random users.

mod common;

use common::{config_with, experiment, Req};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rollgate_core::routing::RoutingTable;
use rollgate_core::DecisionReason;
use rollgate_stats::chi_squared::chi_squared_contingency;
use rollgate_stats::srm::{srm_check, SRM_P_THRESHOLD};

fn users(seed: u64, n: usize) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| format!("user-{:016x}", rng.random::<u64>()))
        .collect()
}

fn table(experiments: Vec<serde_json::Value>) -> RoutingTable {
    RoutingTable::compile(&config_with(experiments)).unwrap_or_else(|e| panic!("{e}"))
}

fn variant_of(table: &RoutingTable, user: &str) -> usize {
    match table.decide(&Req::user(user), 0) {
        Some(d) => d.variant_index,
        None => panic!("no decision for {user}"),
    }
}

/// Pearson goodness-of-fit p-value of `observed` against `weights` (basis points): the
/// controller's SRM check (scipy `chisquare`).
fn gof_p(observed: &[u64], weights: &[u32]) -> f64 {
    let weights: Vec<f64> = weights.iter().map(|&w| f64::from(w)).collect();
    srm_check(observed, &weights, SRM_P_THRESHOLD)
        .unwrap_or_else(|e| panic!("{e}"))
        .p_value
}

/// Pearson chi-squared p-value of independence of a 2x2 table (scipy
/// `chi2_contingency(table, correction=False)`).
fn independence_p(table: [[u64; 2]; 2]) -> f64 {
    let rows: Vec<Vec<u64>> = table.iter().map(|r| r.to_vec()).collect();
    chi_squared_contingency(&rows)
        .unwrap_or_else(|e| panic!("{e}"))
        .p_value
}

#[test]
fn same_user_same_variant_across_tables() {
    let a = table(vec![experiment("e", "salt-1", &[5000, 5000])]);
    let b = table(vec![experiment("e", "salt-1", &[5000, 5000])]);
    for user in users(1, 2_000) {
        assert_eq!(variant_of(&a, &user), variant_of(&b, &user));
        assert_eq!(variant_of(&a, &user), variant_of(&a, &user));
    }
}

#[test]
fn uniform_split_over_100k_users() {
    let population = users(2, 100_000);
    for weights in [vec![5000, 5000], vec![9500, 500], vec![3400, 3300, 3300]] {
        let t = table(vec![experiment("e", "uniform", &weights)]);
        let mut counts = vec![0u64; weights.len()];
        for user in &population {
            counts[variant_of(&t, user)] += 1;
        }
        let p = gof_p(&counts, &weights);
        assert!(p > 0.001, "weights {weights:?}: counts {counts:?}, p = {p}");
    }
}

#[test]
fn chi_squared_helper_matches_scipy() {
    // scipy.stats.chisquare([5100, 4900], [5000, 5000]) -> statistic=4.0, pvalue=0.04550026389635857
    let p = gof_p(&[5100, 4900], &[5000, 5000]);
    assert!((p - 0.045_500_263_896_358_57).abs() < 1e-9, "{p}");
}

#[test]
fn monotone_ramp_keeps_canary_users_in_the_canary() {
    let population = users(3, 20_000);
    let mut previous: Option<Vec<usize>> = None;
    for percent in [1u32, 5, 10, 25, 50, 100] {
        let canary = percent * 100;
        let t = table(vec![experiment("e", "ramp", &[10_000 - canary, canary])]);
        let now: Vec<usize> = population.iter().map(|u| variant_of(&t, u)).collect();
        if let Some(before) = &previous {
            for (i, (b, n)) in before.iter().zip(&now).enumerate() {
                assert!(
                    !(*b == 1 && *n == 0),
                    "user {} left the canary at {percent} %",
                    population[i]
                );
            }
        }
        let share = now.iter().filter(|v| **v == 1).count() as f64 / now.len() as f64;
        assert!(
            (share - f64::from(percent) / 100.0).abs() < 0.02,
            "{percent} %: share {share}"
        );
        previous = Some(now);
    }
}

#[test]
fn two_salts_are_independent() {
    let a = table(vec![experiment("a", "salt-a", &[5000, 5000])]);
    let b = table(vec![experiment("b", "salt-b", &[3000, 7000])]);
    let mut table2x2 = [[0u64; 2]; 2];
    for user in users(4, 50_000) {
        table2x2[variant_of(&a, &user)][variant_of(&b, &user)] += 1;
    }
    let p = independence_p(table2x2);
    assert!(p > 0.001, "{table2x2:?}: p = {p}");
}

#[test]
fn layers_are_exclusive_and_shares_follow_ranges() {
    let mut e1 = experiment("l1", "s1", &[5000, 5000]);
    e1["layer"] = serde_json::json!({"name": "ranking", "from": 0, "to": 2000});
    let mut e2 = experiment("l2", "s2", &[5000, 5000]);
    e2["layer"] = serde_json::json!({"name": "ranking", "from": 2000, "to": 5000});
    let mut other = experiment("o", "s3", &[5000, 5000]);
    other["layer"] = serde_json::json!({"name": "pricing", "from": 0, "to": 5000});
    other["match"] = serde_json::json!({"path_prefix": "/price"});
    let t = table(vec![e1, e2, other]);
    let mut counts = [0u64; 3]; // l1, l2, none
    let mut pricing_vs_ranking = [[0u64; 2]; 2];
    for user in users(5, 40_000) {
        let decided = t.decide(&Req::new("svc", "/rank", &[("x-user-id", &user)]), 0);
        let slot = match decided.map(|d| d.experiment_id) {
            Some("l1") => 0,
            Some("l2") => 1,
            None => 2,
            Some(other) => panic!("unexpected {other}"),
        };
        counts[slot] += 1;
        let in_pricing = t
            .decide(&Req::new("svc", "/price", &[("x-user-id", &user)]), 0)
            .is_some_and(|d| d.experiment_id == "o");
        pricing_vs_ranking[usize::from(in_pricing)][usize::from(slot < 2)] += 1;
    }
    let p = gof_p(&counts, &[2000, 3000, 5000]);
    assert!(p > 0.001, "layer shares {counts:?}: p = {p}");
    // pricing layer membership independent of ranking membership (2x2 chi-squared)
    let p = independence_p(pricing_vs_ranking);
    assert!(
        p > 0.001,
        "layers not independent: {pricing_vs_ranking:?} p = {p}"
    );
}

#[test]
fn shadow_sample_rate_is_within_bounds_and_monotone() {
    let population = users(6, 20_000);
    let mut previous: Option<Vec<bool>> = None;
    for sample in [100u32, 1000, 2500, 5000, 10_000] {
        let mut e = experiment("e", "shadowed", &[5000, 5000]);
        e["shadow"] =
            serde_json::json!({"cluster": "shadow", "authority": "shadow-svc", "sample": sample});
        let t = table(vec![e]);
        let now: Vec<bool> = population
            .iter()
            .map(|u| t.decide(&Req::user(u), 0).is_some_and(|d| d.shadow))
            .collect();
        let shadowed = now.iter().filter(|s| **s).count() as u64;
        if sample < 10_000 {
            let p = gof_p(
                &[shadowed, population.len() as u64 - shadowed],
                &[sample, 10_000 - sample],
            );
            assert!(p > 0.001, "sample {sample}: {shadowed} shadowed, p = {p}");
        } else {
            assert_eq!(shadowed, population.len() as u64);
        }
        if let Some(before) = &previous {
            assert!(
                before.iter().zip(&now).all(|(b, n)| !*b || *n),
                "sample {sample} dropped a shadowed user"
            );
        }
        previous = Some(now);
    }
}

#[test]
fn request_units_spread_requests_of_one_user() {
    let mut e = experiment("e", "req", &[5000, 5000]);
    e["unit_kind"] = serde_json::json!("request");
    let t = table(vec![e]);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut counts = [0u64; 2];
    for _ in 0..10_000 {
        let id = format!("{:032x}", rng.random::<u128>());
        let d = t.decide(
            &Req::new(
                "svc",
                "/",
                &[("x-user-id", "same-user"), ("x-request-id", &id)],
            ),
            0,
        );
        let d = d.unwrap_or_else(|| panic!("no decision"));
        assert_eq!(d.reason, DecisionReason::Hashed);
        counts[d.variant_index] += 1;
    }
    let p = gof_p(&counts, &[5000, 5000]);
    assert!(p > 0.001, "{counts:?}: p = {p}");
    // without x-request-id the caller's random decides
    let mut seen = [false; 2];
    for random in 0..64u64 {
        let d = t.decide(
            &Req::user("same-user"),
            random.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        seen[d.map_or(0, |d| d.variant_index)] = true;
    }
    assert_eq!(seen, [true, true]);
}
