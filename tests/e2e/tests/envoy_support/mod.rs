//! Shared by the `envoy_*` tests: a stack of named loopback upstreams behind one real Envoy,
//! the documented bucket formula as the oracle, and chi-squared tests (statrs).

#![allow(dead_code)] // each test crate uses a part

use rollgate_e2e::envoy::{
    bucket, filter_config, Behavior, Client, Cluster, Envoy, EnvoyOptions, Recorded, Reply,
    Request, Upstream,
};
use rollgate_e2e::E2eError;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Upstreams by name, the Envoy in front of them, and a client.
pub struct Stack {
    /// The upstreams, one cluster each (cluster name = upstream name).
    pub upstreams: Vec<Upstream>,
    /// The Envoy.
    pub envoy: Envoy,
    /// A keep-alive client of its listener.
    pub client: Client,
}

impl Stack {
    /// Starts one upstream per name (default behavior) and Envoy with `config`.
    pub async fn start(names: &[&str], config: &serde_json::Value) -> Result<Self, E2eError> {
        Self::start_with(names, config, |o| o).await
    }

    /// Like [`Stack::start`], with `tune` adjusting the Envoy options.
    pub async fn start_with(
        names: &[&str],
        config: &serde_json::Value,
        tune: impl FnOnce(EnvoyOptions) -> EnvoyOptions,
    ) -> Result<Self, E2eError> {
        let upstreams = names
            .iter()
            .map(|n| Upstream::start(n, Behavior::default()))
            .collect::<Result<Vec<_>, _>>()?;
        let clusters = upstreams
            .iter()
            .map(|u| Cluster::new(u.name(), u.addr()))
            .collect();
        let envoy =
            Envoy::start(tune(EnvoyOptions::new(clusters)), &filter_config(config)?).await?;
        let client = envoy.client()?;
        Ok(Self {
            upstreams,
            envoy,
            client,
        })
    }

    /// The upstream called `name`.
    pub fn upstream(&self, name: &str) -> &Upstream {
        self.upstreams
            .iter()
            .find(|u| u.name() == name)
            .unwrap_or_else(|| panic!("no upstream {name}"))
    }

    /// Sends `requests`, 16 at a time.
    pub async fn send_all(&self, requests: &[Request]) -> Result<Vec<Reply>, E2eError> {
        self.client.send_all(requests, 16).await
    }

    /// Sends `requests` (each tagged with an `x-test-id` header) and returns, per request, the
    /// reply and what the upstream that answered received (`None` when no upstream got it).
    pub async fn send_seen(&self, requests: &[Request]) -> Result<Vec<Seen>, E2eError> {
        let run = TAG_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tagged: Vec<Request> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| r.clone().header(TEST_ID, &format!("{run}-{i}")))
            .collect();
        let replies = self.send_all(&tagged).await?;
        let mut by_id = std::collections::HashMap::new();
        for upstream in &self.upstreams {
            for r in upstream.recorded() {
                if let Some(id) = r.header(TEST_ID) {
                    by_id.insert(id.to_string(), (upstream.name().to_string(), r.clone()));
                }
            }
        }
        Ok(replies
            .into_iter()
            .enumerate()
            .map(|(i, reply)| {
                let got = by_id.remove(&format!("{run}-{i}"));
                Seen {
                    reply,
                    upstream: got.as_ref().map(|(n, _)| n.clone()),
                    request: got.map(|(_, r)| r),
                }
            })
            .collect())
    }

    /// Pushes `config` and requires Envoy to apply it.
    pub async fn push(&self, config: &serde_json::Value) -> Result<(), E2eError> {
        let outcome = self.envoy.push(&filter_config(config)?).await?;
        assert_eq!(
            outcome,
            rollgate_e2e::envoy::PushOutcome::Applied,
            "push of {config}"
        );
        Ok(())
    }
}

/// Header tagging each request of [`Stack::send_seen`].
pub const TEST_ID: &str = "x-test-id";
static TAG_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A request's fate: Envoy's reply and what reached the upstream.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Envoy's reply.
    pub reply: Reply,
    /// The upstream (cluster) that received it.
    pub upstream: Option<String>,
    /// What that upstream received.
    pub request: Option<Recorded>,
}

impl Seen {
    /// The `x-rollgate-variant` header the upstream received.
    pub fn variant(&self) -> Option<&str> {
        self.request.as_ref()?.header("x-rollgate-variant")
    }

    /// The `x-request-id` the upstream received.
    pub fn request_id(&self) -> Option<&str> {
        self.request.as_ref()?.header("x-request-id")
    }
}

/// `n` user ids `"{prefix}-{i}"`.
pub fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Index of the variant the documented formula gives `unit`: bucket
/// `(xxh3_64(salt ++ ":" ++ unit) * 10000) >> 64`, variants on contiguous ranges in order.
pub fn expected_variant(salt: &str, unit: &str, weights: &[u32]) -> usize {
    let b = u32::from(bucket(salt, unit.as_bytes()));
    let mut end = 0;
    for (i, w) in weights.iter().enumerate() {
        end += w;
        if b < end {
            return i;
        }
    }
    weights.len() - 1
}

/// Pearson chi-squared goodness of fit of `observed` to `weights` (basis points):
/// `(statistic, p_value)`, like `scipy.stats.chisquare(observed, f_exp)`.
pub fn chi_squared_fit(observed: &[u64], weights: &[u32]) -> (f64, f64) {
    let n: u64 = observed.iter().sum();
    let stat: f64 = observed
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let e = n as f64 * f64::from(w) / 10_000.0;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    (stat, p_value(stat, observed.len() - 1))
}

/// Pearson chi-squared test of independence of a contingency table (no continuity
/// correction): `(statistic, p_value)`, like `scipy.stats.chi2_contingency(t, correction=False)`.
pub fn chi_squared_independence(table: &[Vec<u64>]) -> (f64, f64) {
    let rows: Vec<f64> = table.iter().map(|r| r.iter().sum::<u64>() as f64).collect();
    let cols: Vec<f64> = (0..table[0].len())
        .map(|j| table.iter().map(|r| r[j]).sum::<u64>() as f64)
        .collect();
    let n: f64 = rows.iter().sum();
    let mut stat = 0.0;
    for (i, row) in table.iter().enumerate() {
        for (j, &o) in row.iter().enumerate() {
            let e = rows[i] * cols[j] / n;
            stat += (o as f64 - e).powi(2) / e;
        }
    }
    let dof = (table.len() - 1) * (table[0].len() - 1);
    (stat, p_value(stat, dof))
}

fn p_value(stat: f64, dof: usize) -> f64 {
    ChiSquared::new(dof as f64).map_or(f64::NAN, |d| 1.0 - d.cdf(stat))
}

#[test]
fn chi_squared_matches_scipy() {
    // scipy.stats.chisquare([5150, 4850], [5000, 5000])
    //   -> statistic 9.0, pvalue 0.0026997960632601883
    let (stat, p) = chi_squared_fit(&[5_150, 4_850], &[5_000, 5_000]);
    assert!((stat - 9.0).abs() < 1e-12, "{stat}");
    assert!((p - 0.002_699_796_063_260_188_3).abs() < 1e-12, "{p}");
    // scipy.stats.chi2_contingency([[2600, 2400], [2500, 2500]], correction=False)
    //   -> statistic 4.001600640256102, pvalue 0.045457075445017044
    let (stat, p) = chi_squared_independence(&[vec![2_600, 2_400], vec![2_500, 2_500]]);
    assert!((stat - 4.001_600_640_256_102).abs() < 1e-9, "{stat}");
    assert!((p - 0.045_457_075_445_017_044).abs() < 1e-9, "{p}");
}
