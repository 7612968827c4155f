//! A whole canary scenario on loopback: stable and canary model servers, the dev proxy with the
//! real `.wasm` watching the ECDS file, a load generator, a real Prometheus scraping the dev
//! proxy every second, and a watcher of the weight the filter serves. The controller is started
//! by the test, with a spec from [`CanaryScenario::write_spec`].

use crate::controller::{rollout_yaml, GateSpec, RolloutPaths};
use crate::process::Spawned;
use crate::prometheus::{find_or_install_prometheus, loud_skip, Prometheus, ScrapeTarget};
use crate::stack::{
    canary_filter_config, cluster, clusters_yaml, write_file, Binaries, DevProxy, ModelBehaviour,
    ModelServer, WeightWatcher,
};
use crate::E2eError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Experiment id used by the scenarios.
pub const EXPERIMENT: &str = "fraud-v2";
/// Prometheus scrape interval of the scenarios.
pub const SCRAPE: Duration = Duration::from_secs(1);

/// The Prometheus binary, or `None` after printing a loud skip banner naming `test`.
pub fn prometheus_or_skip(test: &str) -> Option<PathBuf> {
    match find_or_install_prometheus() {
        Ok(path) => Some(path),
        Err(why) => {
            loud_skip(test, &why);
            None
        }
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
    /// The dev proxy.
    pub proxy: DevProxy,
    /// Stable model (v1).
    pub stable: ModelServer,
    /// Canary model (v2).
    pub canary: ModelServer,
    /// Programs.
    pub bins: Binaries,
    /// Base filter config (canary at 0).
    pub base_config: PathBuf,
    /// ECDS file the controller writes and the dev proxy watches.
    pub ecds: PathBuf,
    /// Rollout state file.
    pub state: PathBuf,
    dir: tempfile::TempDir,
}

impl CanaryScenario {
    /// Starts everything; returns once Prometheus has scraped traffic of the stable variant.
    pub fn start(
        bins: &Binaries,
        prometheus_bin: &Path,
        canary: ModelBehaviour,
        rps: f64,
    ) -> Result<Self, E2eError> {
        let dir = tempfile::tempdir().map_err(|source| E2eError::Io {
            what: "creating the scenario tempdir".into(),
            source,
        })?;
        let stable = ModelServer::start(&bins.model_server, &ModelBehaviour::healthy("v1"))?;
        let canary = ModelServer::start(&bins.model_server, &canary)?;
        let base_config = dir.path().join("filter-config.json");
        let config_text = serde_json::to_string_pretty(&canary_filter_config(EXPERIMENT, 0, None))
            .unwrap_or_default();
        write_file(&base_config, &config_text)?;
        // The dev proxy starts on the plain base config; the controller then replaces the
        // same file with the ECDS resource (the dev proxy reads both formats).
        let ecds = dir.path().join("ecds.yaml");
        write_file(&ecds, &config_text)?;
        let clusters = dir.path().join("clusters.yaml");
        write_file(
            &clusters,
            &clusters_yaml(
                cluster::STABLE,
                &[
                    (cluster::STABLE, stable.addr),
                    (cluster::CANARY, canary.addr),
                ],
            ),
        )?;
        let proxy = DevProxy::start(bins, &ecds, &clusters)?;
        let prometheus = Prometheus::start(
            prometheus_bin,
            &[ScrapeTarget {
                job: "rollgate-dev-proxy".into(),
                addr: proxy.admin,
                metrics_path: "/stats/prometheus".into(),
            }],
            SCRAPE,
        )?;
        let mut command = Command::new(&bins.loadgen);
        command
            .arg("--target")
            .arg(proxy.listen.to_string())
            .args(["--users", "10000", "--seed", "42", "--duration", "10m"])
            .arg(format!("--rps={rps}"))
            .arg("--quiet");
        let loadgen = Spawned::spawn("loadgen", command)?;
        let watcher = WeightWatcher::start(proxy.admin, EXPERIMENT, "canary");
        let scenario = Self {
            watcher,
            loadgen,
            prometheus,
            proxy,
            stable,
            canary,
            bins: bins.clone(),
            base_config,
            ecds,
            state: dir.path().join("state.json"),
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
                why: format!(
                    "{err}\n--- dev proxy stderr ---\n{}\n--- loadgen stderr ---\n{}",
                    scenario.proxy.process.stderr_tail(20),
                    scenario.loadgen.stderr_tail(20)
                ),
            })?;
        Ok(scenario)
    }

    /// Writes the Rollout spec (`rollout.yaml` in the scenario dir) and returns its path.
    pub fn write_spec(
        &self,
        steps: &[(f64, &str)],
        gates: &[GateSpec],
    ) -> Result<PathBuf, E2eError> {
        let spec = self.dir.path().join("rollout.yaml");
        let paths = RolloutPaths {
            base_config: &self.base_config,
            ecds: &self.ecds,
            state: &self.state,
        };
        let yaml = rollout_yaml(
            "e2e",
            EXPERIMENT,
            &paths,
            &self.prometheus.url(),
            steps,
            gates,
        );
        write_file(&spec, &yaml)?;
        Ok(spec)
    }

    /// Diagnostics for a failed assertion: the tails of every process's stderr.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- dev proxy ---\n{}\n--- loadgen ---\n{}\n--- canary ---\n{}",
            self.proxy.process.stderr_tail(15),
            self.loadgen.stderr_tail(5),
            self.canary.process.stderr_tail(5)
        )
    }
}
