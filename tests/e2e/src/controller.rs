//! The controller side of a scenario: the Rollout spec it reads and the `rollgate run` process,
//! whose `--output json` lines (one per event, then a result object) are parsed as they come.

use crate::process::Spawned;
use crate::stack::Binaries;
use crate::E2eError;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `rollgate run` exit codes (DESIGN.md contract).
pub mod exit {
    /// Promoted to 100 %.
    pub const PROMOTED: i32 = 0;
    /// Invalid spec.
    pub const INVALID: i32 = 2;
    /// Rolled back.
    pub const ROLLED_BACK: i32 = 3;
    /// Stopped paused.
    pub const PAUSED: i32 = 4;
}

/// One gate of the spec, with the template-based fields the scenarios use.
#[derive(Debug, Clone)]
pub struct GateSpec {
    /// Gate name.
    pub name: String,
    /// Built-in template (`error_rate`, `p99_latency_ms`, `success_rate`).
    pub template: String,
    /// `true`: compare canary minus stable instead of the canary alone.
    pub compare: bool,
    /// Condition, e.g. `< 0.02`.
    pub condition: String,
    /// Query range and check period.
    pub interval: String,
    /// Consecutive failures before rollback.
    pub failure_limit: u32,
    /// `fail`, `pass` or `inconclusive`.
    pub no_data: String,
    /// Responses per measured variant a check needs (`None`: the controller's default, 100).
    pub min_samples: Option<u64>,
}

impl GateSpec {
    /// A template gate on the canary with `failure_limit: 1` and `no_data: inconclusive`.
    pub fn template(name: &str, template: &str, condition: &str, interval: &str) -> Self {
        Self {
            name: name.to_string(),
            template: template.to_string(),
            compare: false,
            condition: condition.to_string(),
            interval: interval.to_string(),
            failure_limit: 1,
            no_data: "inconclusive".to_string(),
            min_samples: None,
        }
    }

    /// The built-in `error_rate` template gate, named `error-rate`.
    pub fn error_rate(condition: &str, interval: &str) -> Self {
        Self::template("error-rate", "error_rate", condition, interval)
    }

    /// The same gate comparing canary minus stable (`compare:` instead of `template:`).
    pub fn compared(mut self) -> Self {
        self.compare = true;
        self
    }

    fn to_json(&self) -> Value {
        let source = if self.compare { "compare" } else { "template" };
        let mut gate = json!({
            "name": self.name,
            source: self.template,
            "condition": self.condition,
            "interval": self.interval,
            "failure_limit": self.failure_limit,
            "no_data": self.no_data,
        });
        if let Some(n) = self.min_samples {
            gate["min_samples"] = json!(n);
        }
        gate
    }
}

/// Where a rollout's files live.
#[derive(Debug, Clone)]
pub struct RolloutPaths<'a> {
    /// Filter config whose experiment the rollout edits.
    pub base_config: &'a Path,
    /// ECDS file Envoy watches (the `ecds_file` sink's path).
    pub ecds: &'a Path,
    /// The `.wasm` the ECDS resource names (`vm_config.code.local.filename`).
    pub wasm: &'a Path,
    /// Rollout state file.
    pub state: &'a Path,
}

/// A `rollgate.dev/v1` Rollout spec (YAML) for experiment `experiment` with variants
/// `stable`/`canary`, the given steps (`(percent, pause)`) and gates.
pub fn rollout_yaml(
    name: &str,
    experiment: &str,
    paths: &RolloutPaths<'_>,
    prometheus_url: &str,
    steps: &[(f64, &str)],
    gates: &[GateSpec],
) -> String {
    let steps: Vec<Value> = steps
        .iter()
        .map(|(weight, pause)| {
            if pause.is_empty() {
                json!({ "weight": weight })
            } else {
                json!({ "weight": weight, "pause": pause })
            }
        })
        .collect();
    let spec = json!({
        "apiVersion": "rollgate.dev/v1",
        "kind": "Rollout",
        "metadata": { "name": name, "namespace": "ml" },
        "spec": {
            "experiment": experiment,
            "stable": "stable",
            "canary": "canary",
            "base_config": paths.base_config.display().to_string(),
            "sink": { "ecds_file": {
                "path": paths.ecds.display().to_string(),
                "name": "rollgate",
                "wasm_filename": paths.wasm.display().to_string(),
            } },
            "prometheus": { "url": prometheus_url, "timeout": "2s", "scrape_interval": "1s" },
            "state_file": paths.state.display().to_string(),
            "steps": steps,
            "gates": gates.iter().map(GateSpec::to_json).collect::<Vec<_>>(),
        }
    });
    serde_yaml::to_string(&spec).unwrap_or_default()
}

/// A running `rollgate run --output json`.
pub struct Controller {
    /// The process.
    pub process: Spawned,
}

impl Controller {
    /// Starts `rollgate run SPEC --output json --tick 100ms`.
    pub fn start(bins: &Binaries, spec: &Path) -> Result<Self, E2eError> {
        let mut command = Command::new(&bins.rollgate);
        command
            .arg("run")
            .arg(spec)
            .args(["--output", "json", "--tick", "100ms"]);
        Ok(Self {
            process: Spawned::spawn("rollgate run", command)?,
        })
    }

    /// Every JSON line printed so far (events and the final result).
    pub fn lines(&self) -> Vec<Value> {
        self.process
            .stdout_lines()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The `event` objects so far (`{"event": "pushed", "canary_bp": 500, ...}`).
    pub fn events(&self) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter_map(|line| line.get("event").cloned())
            .collect()
    }

    /// Waits for an event `accept` likes.
    pub fn wait_event(
        &mut self,
        what: &str,
        timeout: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Result<Value, E2eError> {
        self.process.wait_for_stdout(what, timeout, |line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.get("event").cloned())
                .filter(&accept)
        })
    }

    /// Waits for the process to end; returns its exit code and its result line.
    pub fn wait_result(&mut self, timeout: Duration) -> Result<(i32, Value), E2eError> {
        let status = self.process.wait_exit(timeout)?;
        let code = status.code().unwrap_or(-1);
        let result = self
            .lines()
            .into_iter()
            .rev()
            .find(|line| line.get("result").is_some())
            .unwrap_or(Value::Null);
        Ok((code, result))
    }
}

/// `true` for a `pushed` event carrying `canary_bp`.
pub fn is_pushed(event: &Value, canary_bp: u64) -> bool {
    event["event"] == "pushed" && event["canary_bp"].as_u64() == Some(canary_bp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_has_the_contract_fields() {
        let paths = RolloutPaths {
            base_config: Path::new("/tmp/base.json"),
            ecds: Path::new("/tmp/ecds.yaml"),
            state: Path::new("/tmp/state.json"),
            wasm: Path::new("/tmp/rollgate_filter.wasm"),
        };
        let mut compare = GateSpec::template("vs-stable", "error_rate", "< 0.05", "5s");
        compare.compare = true;
        let yaml = rollout_yaml(
            "r",
            "fraud-v2",
            &paths,
            "http://127.0.0.1:9090",
            &[(10.0, "5s"), (100.0, "")],
            &[
                GateSpec::template("errors", "error_rate", "< 0.02", "5s"),
                compare,
            ],
        );
        let v: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap_or_default();
        assert_eq!(v["apiVersion"].as_str(), Some("rollgate.dev/v1"));
        assert_eq!(
            v["spec"]["sink"]["ecds_file"]["path"].as_str(),
            Some("/tmp/ecds.yaml")
        );
        assert_eq!(
            v["spec"]["sink"]["ecds_file"]["wasm_filename"].as_str(),
            Some("/tmp/rollgate_filter.wasm")
        );
        assert_eq!(v["spec"]["steps"][0]["pause"].as_str(), Some("5s"));
        assert!(v["spec"]["steps"][1].get("pause").is_none());
        assert_eq!(
            v["spec"]["gates"][0]["template"].as_str(),
            Some("error_rate")
        );
        assert_eq!(
            v["spec"]["gates"][1]["compare"].as_str(),
            Some("error_rate")
        );
        assert_eq!(
            v["spec"]["gates"][1]["no_data"].as_str(),
            Some("inconclusive")
        );
    }
}
