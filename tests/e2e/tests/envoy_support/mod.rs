//! Shared by the `envoy_*` tests: a stack of named loopback upstreams behind one real Envoy,
//! the documented bucket formula as the oracle, and chi-squared tests (rollgate-stats).

#![allow(dead_code)] // each test crate uses a part

use rollgate_e2e::envoy::{
    bucket, filter_config, Behavior, Client, Cluster, Envoy, EnvoyOptions, Recorded, Reply,
    Request, Upstream,
};
use rollgate_e2e::paths::workspace_root;
use rollgate_e2e::E2eError;
use rollgate_stats::chi_squared::chi_squared_contingency;
use rollgate_stats::srm::{srm_check, SRM_P_THRESHOLD};

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

/// An A/B experiment `id` (salt = id) whose two variants are `{prefix}a` on cluster `c0` and
/// `{prefix}b` on `c1` with `weights`, plus the fields of `extra` (match, layer, ...).
pub fn two_variant_experiment(
    id: &str,
    prefix: &str,
    weights: [u32; 2],
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut e = serde_json::json!({
        "id": id, "kind": "ab", "salt": id,
        "variants": [
            { "name": format!("{prefix}a"), "cluster": "c0", "weight": weights[0] },
            { "name": format!("{prefix}b"), "cluster": "c1", "weight": weights[1] }
        ]
    });
    if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
        e.extend(extra.clone());
    }
    e
}

/// A YAML file under `manifests/` as JSON (panics naming the file when unreadable).
pub fn manifest(relative: &str) -> serde_json::Value {
    let path = workspace_root().join("manifests").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// What requests of one experiment in a filter config need: its salt, the authority and path
/// prefix it matches, and the clusters its variants name (in order).
pub struct ExperimentTarget {
    /// The experiment's salt.
    pub salt: String,
    /// `match.authority`.
    pub authority: String,
    /// `match.path_prefix`.
    pub path: String,
    /// Each variant's `cluster`, in listed order.
    pub clusters: Vec<String>,
}

impl ExperimentTarget {
    /// Reads them from one experiment of a filter config (missing fields read as empty).
    pub fn of(experiment: &serde_json::Value) -> Self {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        Self {
            salt: text(&experiment["salt"]),
            authority: text(&experiment["match"]["authority"]),
            path: text(&experiment["match"]["path_prefix"]),
            clusters: experiment["variants"]
                .as_array()
                .map(|v| v.iter().map(|v| text(&v["cluster"])).collect())
                .unwrap_or_default(),
        }
    }

    /// Sends one request per user and asserts that each is answered 200 by the cluster of the
    /// variant the bucket formula gives it under `weights`; returns the users per variant.
    pub async fn assert_users_reach_their_variants(
        &self,
        stack: &Stack,
        users: &[String],
        weights: &[u32],
    ) -> Result<Vec<u32>, E2eError> {
        let requests: Vec<Request> = users
            .iter()
            .map(|u| Request::get(&self.path).authority(&self.authority).user(u))
            .collect();
        let replies = stack.send_all(&requests).await?;
        let mut per_variant = vec![0u32; weights.len()];
        for (user, reply) in users.iter().zip(&replies) {
            let want = expected_variant(&self.salt, user, weights);
            per_variant[want] += 1;
            assert_eq!(reply.status, 200, "{user}");
            assert_eq!(
                reply.upstream(),
                Some(self.clusters[want].as_str()),
                "{user}"
            );
        }
        Ok(per_variant)
    }
}

/// Pearson chi-squared goodness of fit of `observed` to `weights` (basis points):
/// `(statistic, p_value)`, like `scipy.stats.chisquare(observed, f_exp)`; rollgate-stats'
/// SRM check computes it.
pub fn chi_squared_fit(observed: &[u64], weights: &[u32]) -> (f64, f64) {
    let weights: Vec<f64> = weights.iter().map(|&w| f64::from(w)).collect();
    let fit = srm_check(observed, &weights, SRM_P_THRESHOLD)
        .unwrap_or_else(|e| panic!("chi-squared fit of {observed:?}: {e}"));
    (fit.statistic, fit.p_value)
}

/// Pearson chi-squared test of independence of a contingency table (no continuity
/// correction): `(statistic, p_value)`, like `scipy.stats.chi2_contingency(t, correction=False)`.
pub fn chi_squared_independence(table: &[Vec<u64>]) -> (f64, f64) {
    let test = chi_squared_contingency(table)
        .unwrap_or_else(|e| panic!("chi-squared independence of {table:?}: {e}"));
    (test.statistic, test.p_value)
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
