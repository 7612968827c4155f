//! The real-Envoy cost bench's results: per-round samples, medians over rounds, ratios to the
//! baselines (c), (c′) and (b), issue 12's targets, and the markdown tables. Pure.

use std::fmt::Write as _;

/// One case's measurement in one round.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// Median latency at the fixed rate, µs.
    pub p50_us: f64,
    /// 99th percentile latency at the fixed rate, µs.
    pub p99_us: f64,
    /// Throughput at 16 connections, requests/s.
    pub rps: f64,
    /// Envoy's CPU time per request over the throughput run, µs.
    pub cpu_us: f64,
    /// Envoy's CPU time over the throughput run's wall time (1.0: its core was all its own;
    /// less: other processes took the core, and throughput understates the proxy).
    pub busy: f64,
}

/// One case's rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// Key (`a` ... `f`).
    pub key: String,
    /// Label.
    pub label: String,
    /// One sample per round.
    pub rounds: Vec<Sample>,
    /// Envoy's resident memory after the last round, KiB.
    pub rss_kib: u64,
    /// Share of requests the variant_b cluster got (routing check; 0 for (a)).
    pub variant_b_share: f64,
}

/// The median as `numpy.median` computes it (mean of the two middle values); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The least-squares slope of `y` over `x`, as `numpy.polyfit(x, y, 1)[0]`.
pub fn slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

impl CaseResult {
    /// Medians over rounds, field by field.
    pub fn median(&self) -> Sample {
        let of = |f: fn(&Sample) -> f64| median(&self.rounds.iter().map(f).collect::<Vec<_>>());
        Sample {
            p50_us: of(|s| s.p50_us),
            p99_us: of(|s| s.p99_us),
            rps: of(|s| s.rps),
            cpu_us: of(|s| s.cpu_us),
            busy: of(|s| s.busy),
        }
    }

    fn range(&self, f: fn(&Sample) -> f64) -> (f64, f64) {
        let v: Vec<f64> = self.rounds.iter().map(f).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }
}

/// A target of issue 12 item 5 and whether the run met it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetCheck {
    /// What is required.
    pub target: String,
    /// What was measured.
    pub measured: String,
    /// Met or not.
    pub met: bool,
}

fn find<'a>(results: &'a [CaseResult], key: &str) -> Option<&'a CaseResult> {
    results.iter().find(|r| r.key == key)
}

/// A metric of a sample.
pub type Metric = fn(&Sample) -> f64;

/// The median over rounds of `metric(case) / metric(base)` within each round: paired, so both
/// sides of every ratio ran back to back under the same load of a shared machine.
pub fn paired_ratio(case: &CaseResult, base: &CaseResult, metric: Metric) -> f64 {
    let ratios: Vec<f64> = case
        .rounds
        .iter()
        .zip(&base.rounds)
        .map(|(c, b)| metric(c) / metric(b))
        .collect();
    median(&ratios)
}

/// The median over rounds of `metric(case) - metric(base)` within each round.
pub fn paired_delta(case: &CaseResult, base: &CaseResult, metric: Metric) -> f64 {
    let deltas: Vec<f64> = case
        .rounds
        .iter()
        .zip(&base.rounds)
        .map(|(c, b)| metric(c) - metric(b))
        .collect();
    median(&deltas)
}

const P50: Metric = |s| s.p50_us;
const P99: Metric = |s| s.p99_us;
const RPS: Metric = |s| s.rps;
const CPU: Metric = |s| s.cpu_us;

/// Issue 12's targets on paired ratios: (d) against (c) and (c′), (e) and (f) against (c).
pub fn target_checks(results: &[CaseResult]) -> Vec<TargetCheck> {
    let (Some(c), Some(c2), Some(d), Some(e), Some(f)) = (
        find(results, "c"),
        find(results, "c'"),
        find(results, "d"),
        find(results, "e"),
        find(results, "f"),
    ) else {
        return Vec::new();
    };
    // (target, case, base, metric, bound, at least (true) or at most (false))
    let ratios = [
        ("(d) throughput ≥ 0.95× (c)", d, c, RPS, 0.95, true),
        ("(d) CPU/request ≤ 1.06× (c)", d, c, CPU, 1.06, false),
        ("(d) CPU/request ≤ 1.02× (c′)", d, c2, CPU, 1.02, false),
        ("(e) throughput ≥ 0.92× (c)", e, c, RPS, 0.92, true),
        ("(f) throughput ≥ 0.92× (c)", f, c, RPS, 0.92, true),
    ];
    let mut checks: Vec<TargetCheck> = ratios
        .iter()
        .map(|(target, case, base, metric, bound, at_least)| {
            let value = paired_ratio(case, base, *metric);
            TargetCheck {
                target: target.to_string(),
                measured: format!("{value:.3}×"),
                met: if *at_least {
                    value >= *bound
                } else {
                    value <= *bound
                },
            }
        })
        .collect();
    let delta = paired_delta(d, c, P50);
    checks.insert(
        2,
        TargetCheck {
            target: "(d) median latency ≤ +5 µs vs (c)".to_string(),
            measured: format!("{delta:+.1} µs"),
            met: delta <= 5.0,
        },
    );
    checks
}

/// How the run was made, for the table's heading.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// Envoy version.
    pub envoy: String,
    /// UTC date and time of the run.
    pub date: String,
    /// Interleaved rounds.
    pub rounds: usize,
    /// Fixed request rate, requests/s.
    pub rate: u32,
    /// Seconds of each fixed-rate phase.
    pub open_secs: u64,
    /// Seconds of each throughput phase.
    pub wrk_secs: u64,
    /// Machine note (CPU model, cores, pinning).
    pub machine: String,
    /// Size of the Rollgate `.wasm` loaded, bytes.
    pub wasm_bytes: u64,
}

/// The markdown report: run note, absolute medians, ratios, targets.
pub fn markdown(info: &RunInfo, results: &[CaseResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Envoy {} · {} · {} interleaved rounds · latency open loop at {} req/s for {} s · \
         throughput `wrk` 16 connections for {} s · CPU from `/proc/<pid>/stat` over the \
         throughput run · medians over rounds · Rollgate .wasm {} bytes ({:.0} KiB)  \n{}\n",
        info.envoy,
        info.date,
        info.rounds,
        info.rate,
        info.open_secs,
        info.wrk_secs,
        info.wasm_bytes,
        info.wasm_bytes as f64 / 1024.0,
        info.machine
    );
    out.push_str("| case | p50 µs | p99 µs | req/s @16 conns (min–max) | CPU µs/req (min–max) | Envoy busy | RSS MiB | to variant_b |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let m = r.median();
        let (rlo, rhi) = r.range(|s| s.rps);
        let (clo, chi) = r.range(|s| s.cpu_us);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.0} ({:.0}–{:.0}) | {:.1} ({:.1}–{:.1}) | {:.0} % | {:.1} | {:.1} % |",
            r.label,
            m.p50_us,
            m.p99_us,
            m.rps,
            rlo,
            rhi,
            m.cpu_us,
            clo,
            chi,
            100.0 * m.busy,
            r.rss_kib as f64 / 1024.0,
            100.0 * r.variant_b_share
        );
    }
    let bases: Vec<Option<&CaseResult>> =
        ["c", "c'", "b"].iter().map(|k| find(results, k)).collect();
    out.push_str(
        "\nRatios to (c) · (c′) · (b), each the median over rounds of the ratio within the round \
         (latency and CPU: lower is better; throughput: higher is better)\n\n",
    );
    out.push_str("| case | p50 | p99 | throughput | CPU/request | p50 Δ vs (c) µs |\n|---|---|---|---|---|---:|\n");
    for r in results {
        let cell = |metric: Metric| {
            bases
                .iter()
                .map(|b| {
                    b.map_or("–".to_string(), |b| {
                        format!("{:.2}", paired_ratio(r, b, metric))
                    })
                })
                .collect::<Vec<_>>()
                .join(" · ")
        };
        let delta = bases[0].map_or(0.0, |c| paired_delta(r, c, P50));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:+.1} |",
            r.label,
            cell(P50),
            cell(P99),
            cell(RPS),
            cell(CPU),
            delta
        );
    }
    out.push_str("\n| issue 12 target | measured | met |\n|---|---:|---|\n");
    for t in target_checks(results) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            t.target,
            t.measured,
            if t.met { "yes" } else { "**no**" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(key: &str, rps: f64, cpu: f64, p50: f64) -> CaseResult {
        CaseResult {
            key: key.to_string(),
            label: format!("({key})"),
            rounds: vec![
                Sample {
                    p50_us: p50,
                    p99_us: 2.0 * p50,
                    rps,
                    cpu_us: cpu,
                    busy: 0.97,
                },
                Sample {
                    p50_us: p50 + 10.0,
                    p99_us: 2.0 * p50,
                    rps: rps * 0.5,
                    cpu_us: cpu * 3.0,
                    busy: 0.5,
                },
                Sample {
                    p50_us: p50 - 10.0,
                    p99_us: 2.0 * p50,
                    rps: rps * 1.1,
                    cpu_us: cpu,
                    busy: 0.99,
                },
            ],
            rss_kib: 2048,
            variant_b_share: 0.5,
        }
    }

    #[test]
    fn medians_are_numpys() {
        // numpy.median([3, 1, 2]) = 2.0; numpy.median([4, 1, 3, 2]) = 2.5
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn slope_is_numpys_polyfit() {
        // numpy.polyfit([1, 2, 4], [10, 13, 19], 1)[0] = 3.0;
        // numpy.polyfit([1, 2, 4], [50, 61, 80], 1)[0] = 9.928571428571429
        assert!((slope(&[1.0, 2.0, 4.0], &[10.0, 13.0, 19.0]) - 3.0).abs() < 1e-12);
        assert!((slope(&[1.0, 2.0, 4.0], &[50.0, 61.0, 80.0]) - 9.928571428571429).abs() < 1e-12);
    }

    #[test]
    fn ratios_pair_the_rounds() {
        let with = |rps: [f64; 3]| CaseResult {
            rounds: rps
                .iter()
                .map(|&rps| Sample {
                    rps,
                    p50_us: rps,
                    ..Sample::default()
                })
                .collect(),
            ..case("x", 1.0, 1.0, 1.0)
        };
        let (case, base) = (with([10.0, 20.0, 30.0]), with([10.0, 40.0, 15.0]));
        // per-round ratios 1.0, 0.5, 2.0: median 1.0 (the ratio of medians would be 20 / 15)
        assert_eq!(paired_ratio(&case, &base, RPS), 1.0);
        // per-round differences 0, -20, 15: median 0
        assert_eq!(paired_delta(&case, &base, P50), 0.0);
    }

    #[test]
    fn targets_compare_medians_over_rounds() {
        let results = vec![
            case("c", 10_000.0, 50.0, 100.0),
            case("c'", 9_800.0, 52.0, 102.0),
            case("d", 9_600.0, 53.0, 104.0),
            case("e", 9_000.0, 56.0, 108.0),
            case("f", 9_300.0, 55.0, 106.0),
        ];
        let checks = target_checks(&results);
        let met: Vec<bool> = checks.iter().map(|c| c.met).collect();
        // 0.96 ≥ 0.95; 1.06 ≤ 1.06; +4 ≤ 5; 53/52 = 1.019 ≤ 1.02; 0.90 < 0.92; 0.93 ≥ 0.92
        assert_eq!(met, [true, true, true, true, false, true]);
        assert_eq!(checks[2].measured, "+4.0 µs");
        let md = markdown(
            &RunInfo {
                envoy: "1.40.0".into(),
                date: "now".into(),
                rounds: 3,
                rate: 1000,
                open_secs: 3,
                wrk_secs: 3,
                machine: "2 cores".into(),
                wasm_bytes: 1024,
            },
            &results,
        );
        assert!(md.contains(
            "| (d) | 104 | 208 | 9600 (4800–10560) | 53.0 (53.0–159.0) | 97 % | 2.0 | 50.0 % |"
        ));
        assert!(md.contains("| (d) | 1.04 · 1.02 · – |"), "{md}");
        assert!(md.contains("| (e) throughput ≥ 0.92× (c) | 0.900× | **no** |"));
    }
}
