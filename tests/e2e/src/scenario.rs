//! A whole canary scenario on loopback, built by [`CanaryScenario::builder`]: stable and canary
//! `model-server`s, real Envoy (the fixture [`crate::envoy`]) with the real `.wasm` as its ECDS
//! filter, `loadgen`, a real Prometheus scraping Envoy's admin `/stats/prometheus` every second,
//! a watcher of the canary weight the filter serves, and the Rollout spec the controller runs:
//! its `ecds_file` sink writes the very file Envoy watches.
//!
//! ```no_run
//! use rollgate_e2e::controller::{exit, GateSpec};
//! use rollgate_e2e::scenario::CanaryScenario;
//! use rollgate_e2e::stack::ModelBehaviour;
//! # fn main() -> Result<(), rollgate_e2e::E2eError> {
//! let scenario = CanaryScenario::builder("my_test")
//!     .canary(ModelBehaviour { error_rate: 0.3, ..ModelBehaviour::healthy("v2") })
//!     .steps(&[(10.0, "4s"), (100.0, "")])
//!     .gate(GateSpec::template("error-rate", "error_rate", "< 0.02", "4s"))
//!     .start()?; // a missing Prometheus is an error, never a skip
//! let mut controller = scenario.controller()?; // `rollgate run` on the written spec
//! let (code, _result) = controller.wait_result(std::time::Duration::from_secs(30))?;
//! assert_eq!(code, exit::ROLLED_BACK);
//! # Ok(()) }
//! ```
//!
//! Every gate the builder gets has `min_samples` set to [`MIN_SAMPLES`] unless the gate sets
//! its own, so the short steps of a test have enough responses; the spec's Prometheus
//! `scrape_interval` is [`SCRAPE`]. Envoy runs with a 1 s stats flush so histogram gates (p99)
//! see fresh data within a step.

use crate::controller::{rollout_yaml, Controller, GateSpec, RolloutPaths};
use crate::envoy::{Cluster, Envoy, EnvoyOptions};
use crate::process::Spawned;
use crate::prometheus::{find_or_install_prometheus, Prometheus, ScrapeTarget};
use crate::stack::{
    canary_filter_config, cluster, write_file, Binaries, ModelBehaviour, ModelServer, WeightWatcher,
};
use crate::E2eError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Experiment id used by the scenarios.
pub const EXPERIMENT: &str = "fraud-v2";
/// Prometheus scrape interval of the scenarios (and the spec's `prometheus.scrape_interval`).
pub const SCRAPE: Duration = Duration::from_secs(1);
/// `min_samples` the builder gives gates that do not set it.
pub const MIN_SAMPLES: u64 = 20;

/// The Prometheus binary (installed from Debian's package when missing); an error naming
/// `test` and the fix when it cannot be had: `make test` installs it, so a scenario never
/// skips.
pub fn prometheus_binary(test: &str) -> Result<PathBuf, E2eError> {
    find_or_install_prometheus().map_err(|why| E2eError::Missing {
        what: format!("Prometheus for {test} ({why})"),
        fix: "run `make prometheus` (Debian's `prometheus` package); make test installs it"
            .to_string(),
    })
}

/// What a scenario runs; [`CanaryScenario::builder`] makes one, [`Self::start`] runs it.
#[derive(Debug, Clone)]
pub struct ScenarioBuilder {
    test: String,
    canary: ModelBehaviour,
    rps: f64,
    shadow_sample: Option<u32>,
    steps: Vec<(f64, String)>,
    gates: Vec<GateSpec>,
}

impl ScenarioBuilder {
    /// The canary model's behaviour at start (default: healthy `v2`).
    pub fn canary(mut self, behaviour: ModelBehaviour) -> Self {
        self.canary = behaviour;
        self
    }

    /// Load in requests per second from 10,000 users (default 200).
    pub fn rps(mut self, rps: f64) -> Self {
        self.rps = rps;
        self
    }

    /// Also shadow `sample` basis points of users to a third model (healthy `v3`), compared on
    /// `/prediction` (default: no shadow).
    pub fn shadow(mut self, sample: u32) -> Self {
        self.shadow_sample = Some(sample);
        self
    }

    /// The rollout's steps: `(canary percent, pause)`, an empty pause for none.
    pub fn steps(mut self, steps: &[(f64, &str)]) -> Self {
        self.steps = steps.iter().map(|(w, p)| (*w, p.to_string())).collect();
        self
    }

    /// Adds a gate (its `min_samples` defaults to [`MIN_SAMPLES`]).
    pub fn gate(mut self, mut gate: GateSpec) -> Self {
        gate.min_samples = gate.min_samples.or(Some(MIN_SAMPLES));
        self.gates.push(gate);
        self
    }

    /// Starts everything and writes the spec; returns once Prometheus has scraped traffic of
    /// the stable variant. A missing Prometheus is an error ([`prometheus_binary`]).
    pub fn start(self) -> Result<CanaryScenario, E2eError> {
        let prometheus_bin = prometheus_binary(&self.test)?;
        let bins = Binaries::locate()?;
        CanaryScenario::start_with(&bins, &prometheus_bin, self)
    }
}

/// Everything a canary scenario runs, torn down (processes killed) when dropped.
pub struct CanaryScenario {
    /// Watches the canary weight the filter serves (declared first: stops first).
    pub watcher: WeightWatcher,
    /// The load generator.
    pub loadgen: Spawned,
    /// Prometheus.
    pub prometheus: Prometheus,
    /// Envoy with the filter as its ECDS filter.
    pub envoy: Envoy,
    /// Stable model (v1).
    pub stable: ModelServer,
    /// Canary model (v2).
    pub canary: ModelServer,
    /// Shadow model (v3), when the builder asked for a shadow.
    pub shadow: Option<ModelServer>,
    /// Programs.
    pub bins: Binaries,
    /// Base filter config (canary at 0).
    pub base_config: PathBuf,
    /// ECDS file the controller writes and Envoy watches.
    pub ecds: PathBuf,
    /// Rollout state file.
    pub state: PathBuf,
    /// The Rollout spec the builder wrote.
    pub spec: PathBuf,
    /// The runtime Envoy's fixture was started on (its admin client lives there).
    pub runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl CanaryScenario {
    /// A builder for the scenario of test `test` (named in skip banners): healthy canary,
    /// 200 requests/s, no shadow, no steps or gates yet.
    pub fn builder(test: &str) -> ScenarioBuilder {
        ScenarioBuilder {
            test: test.to_string(),
            canary: ModelBehaviour::healthy("v2"),
            rps: 200.0,
            shadow_sample: None,
            steps: Vec::new(),
            gates: Vec::new(),
        }
    }

    fn start_with(
        bins: &Binaries,
        prometheus_bin: &Path,
        plan: ScenarioBuilder,
    ) -> Result<Self, E2eError> {
        let dir = tempfile::tempdir().map_err(|source| E2eError::Io {
            what: "creating the scenario tempdir".into(),
            source,
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| E2eError::Io {
                what: "starting a tokio runtime for Envoy's fixture".into(),
                source,
            })?;
        let stable = ModelServer::start(&bins.model_server, &ModelBehaviour::healthy("v1"))?;
        let canary = ModelServer::start(&bins.model_server, &plan.canary)?;
        let shadow = match plan.shadow_sample {
            Some(_) => Some(ModelServer::start(
                &bins.model_server,
                &ModelBehaviour::healthy("v3"),
            )?),
            None => None,
        };
        let config = canary_filter_config(EXPERIMENT, 0, plan.shadow_sample);
        let config_text = serde_json::to_string_pretty(&config).unwrap_or_default();
        let base_config = dir.path().join("filter-config.json");
        write_file(&base_config, &config_text)?;
        let initial = rollgate_core::config::FilterConfig::from_json(config_text.as_bytes())
            .map_err(|err| E2eError::Protocol {
                what: "the scenario's filter config".into(),
                why: err.to_string(),
            })?;
        let mut clusters = vec![
            Cluster::new(cluster::STABLE, stable.addr),
            Cluster::new(cluster::CANARY, canary.addr),
        ];
        if let Some(shadow) = &shadow {
            clusters.push(Cluster::new(cluster::SHADOW, shadow.addr));
        }
        let mut options = EnvoyOptions::new(clusters);
        options.wasm = Some(bins.wasm.clone());
        // Histograms reach /stats/prometheus at each stats flush (default 5 s): 1 s here.
        options.extra_args = vec![
            "--config-yaml".to_string(),
            "stats_flush_interval: 1s".to_string(),
        ];
        let envoy = runtime.block_on(Envoy::start(options, &initial))?;
        let ecds = envoy.ecds_file().to_path_buf();
        let prometheus = Prometheus::start(
            prometheus_bin,
            &[ScrapeTarget {
                job: "envoy".into(),
                addr: envoy.admin(),
                metrics_path: "/stats/prometheus".into(),
            }],
            SCRAPE,
        )?;
        let mut command = Command::new(&bins.loadgen);
        command
            .arg("--target")
            .arg(envoy.listener().to_string())
            .args(["--users", "10000", "--seed", "42", "--duration", "10m"])
            .arg(format!("--rps={}", plan.rps))
            .arg("--quiet");
        let loadgen = Spawned::spawn("loadgen", command)?;
        let watcher = WeightWatcher::start(envoy.admin(), EXPERIMENT, "canary");
        let state = dir.path().join("state.json");
        let spec = dir.path().join("rollout.yaml");
        let steps: Vec<(f64, &str)> = plan.steps.iter().map(|(w, p)| (*w, p.as_str())).collect();
        let yaml = rollout_yaml(
            "e2e",
            EXPERIMENT,
            &RolloutPaths {
                base_config: &base_config,
                ecds: &ecds,
                state: &state,
                wasm: &bins.wasm,
            },
            &prometheus.url(),
            &steps,
            &plan.gates,
        );
        write_file(&spec, &yaml)?;
        let scenario = Self {
            watcher,
            loadgen,
            prometheus,
            envoy,
            stable,
            canary,
            shadow,
            bins: bins.clone(),
            base_config,
            ecds,
            state,
            spec,
            runtime,
            dir,
        };
        let traffic = format!(
            "sum(rate(rollgate_requests_total{{experiment=\"{EXPERIMENT}\",variant=\"stable\"}}[5s]))"
        );
        scenario
            .prometheus
            .wait_for_value(&traffic, Duration::from_secs(30), |v| v > 0.0)
            .map_err(|err| E2eError::Protocol {
                what: "waiting for scraped traffic".into(),
                why: format!("{err}\n{}", scenario.diagnostics()),
            })?;
        Ok(scenario)
    }

    /// Starts `rollgate run` on the scenario's spec.
    pub fn controller(&self) -> Result<Controller, E2eError> {
        Controller::start(&self.bins, &self.spec)
    }

    /// Waits up to `timeout` for `controller` to end and checks it exited with `want`; a
    /// mismatch panics with the result line, the controller's stderr and [`Self::diagnostics`].
    /// Returns the result line.
    pub fn expect_exit(
        &self,
        controller: &mut Controller,
        want: i32,
        timeout: Duration,
    ) -> Result<serde_json::Value, E2eError> {
        let (code, result) = controller.wait_result(timeout)?;
        assert_eq!(
            code,
            want,
            "result {result}\n--- rollgate (stderr tail) ---\n{}\n{}",
            controller.process.stderr_tail(30),
            self.diagnostics()
        );
        Ok(result)
    }

    /// The scenario's temp dir (spec, base config, state).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The canary weight the filter serves in Envoy now (basis points).
    pub fn served_canary_weight(&self) -> Result<Option<u64>, E2eError> {
        crate::stack::served_canary_weight(self.envoy.admin(), EXPERIMENT)
    }

    /// Diagnostics for a failed assertion: Envoy's log tail and the other processes' stderr.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- envoy {} (log tail) ---\n{}\n--- loadgen ---\n{}\n--- canary ---\n{}",
            self.envoy.version(),
            self.envoy.log_tail(15),
            self.loadgen.stderr_tail(5),
            self.canary.process.stderr_tail(5)
        )
    }
}
