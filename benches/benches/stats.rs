//! Statistics benchmarks: Mann-Whitney U on 2 × 100,000 samples (plus Welch t on the same
//! data for scale). The data are reproducible outside Rust: splitmix64 uniforms turned into
//! exponential latencies floored to 0.1 ms (ties included), control mean 100 ms, treatment
//! 105 ms. The same data in Python:
//!
//! ```text
//! import numpy as np, time; from scipy import stats
//! def splitmix(seed, n):
//!     out = np.empty(n, np.uint64); s = np.uint64(seed)
//!     with np.errstate(over="ignore"):
//!         for i in range(n):
//!             s = s + np.uint64(0x9E3779B97F4A7C15); z = s
//!             z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
//!             z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
//!             out[i] = z ^ (z >> np.uint64(31))
//!     return ((out >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
//! c = np.floor(-np.log(splitmix(1, 100000)) * 1000.0) / 10.0
//! t = np.floor(-np.log(splitmix(2, 100000)) * 1050.0) / 10.0
//! stats.mannwhitneyu(t, c)  # timed with time.perf_counter over repeated runs
//! ```

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use rollgate_stats::mann_whitney::{mann_whitney_u, MannWhitneyMethod};
use rollgate_stats::ttest::{t_test_values, TTestKind};
use std::hint::black_box;

const N: usize = 100_000;

/// Uniforms in (0, 1) from splitmix64 (the 53 high bits, offset by half an ulp).
fn splitmix_uniforms(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        })
        .collect()
}

fn latencies(seed: u64, scale: f64) -> Vec<f64> {
    splitmix_uniforms(seed, N)
        .into_iter()
        .map(|u| (-u.ln() * scale).floor() / 10.0)
        .collect()
}

fn bench_stats(c: &mut Criterion) {
    let control = latencies(1, 1000.0);
    let treatment = latencies(2, 1050.0);
    if let Ok(r) = mann_whitney_u(&control, &treatment, MannWhitneyMethod::Auto, 0.05) {
        println!(
            "mann_whitney_u 2x{N}: U = {}, p = {:e}",
            r.statistic, r.p_value
        );
    }
    c.bench_function("mann_whitney_u_2x100k", |b| {
        b.iter(|| {
            mann_whitney_u(
                black_box(&control),
                black_box(&treatment),
                MannWhitneyMethod::Auto,
                0.05,
            )
        })
    });
    c.bench_function("welch_t_2x100k", |b| {
        b.iter(|| {
            t_test_values(
                black_box(&control),
                black_box(&treatment),
                TTestKind::Welch,
                0.95,
            )
        })
    });
}

criterion_group!(benches, bench_stats);
criterion_main!(benches);
