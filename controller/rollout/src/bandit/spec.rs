//! The Bandit spec (`kind: Bandit`, `rollgate.dev/v1`): which Rollout it drives (experiment,
//! base config, sink, Prometheus come from there, unchanged), which arms, and how an arm's
//! reward is queried. Errors name the field, like the Rollout spec's.

use super::reward::RewardQueries;
use crate::duration::{format_duration_ms, parse_duration_ms};
use crate::error::RolloutError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Reward window when the spec sets none.
pub const DEFAULT_WINDOW: &str = "10m";

/// A parsed Bandit spec.
#[derive(Debug, Clone, PartialEq)]
pub struct BanditSpec {
    /// `metadata.name`.
    pub name: String,
    /// `spec.rollout`: the Rollout spec file, resolved against the Bandit spec's directory.
    pub rollout: PathBuf,
    /// `spec.arms`: variant names; empty means every variant of the experiment.
    pub arms: Vec<String>,
    /// `spec.reward`: the per-arm queries.
    pub reward: RewardQueries,
    /// `spec.reward.window` in milliseconds (`{{interval}}` of the queries).
    pub window_ms: u64,
}

impl BanditSpec {
    /// The window as Prometheus duration text (`{{interval}}`).
    pub fn window(&self) -> String {
        format_duration_ms(self.window_ms)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBandit {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    metadata: RawMetadata,
    spec: RawSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    rollout: PathBuf,
    #[serde(default)]
    arms: Vec<String>,
    reward: RawReward,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReward {
    template: Option<String>,
    successes: Option<String>,
    trials: Option<String>,
    mean: Option<String>,
    count: Option<String>,
    window: Option<String>,
}

/// Reads and validates the Bandit spec at `path`.
pub fn load_bandit(path: &Path) -> Result<BanditSpec, RolloutError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RolloutError::io("reading the bandit spec", path, e))?;
    parse_bandit(&text, path.parent().unwrap_or_else(|| Path::new(".")))
}

/// Parses and validates Bandit spec text; `spec_dir` is where a relative `spec.rollout` starts.
pub fn parse_bandit(text: &str, spec_dir: &Path) -> Result<BanditSpec, RolloutError> {
    let raw: RawBandit = serde_yaml::from_str(text)
        .map_err(|e| RolloutError::spec("(bandit document)", e.to_string()))?;
    if raw.api_version != "rollgate.dev/v1" {
        return Err(RolloutError::spec(
            "apiVersion",
            format!("got {:?}; write rollgate.dev/v1", raw.api_version),
        ));
    }
    if raw.kind != "Bandit" {
        return Err(RolloutError::spec(
            "kind",
            format!("got {:?}; a bandit spec has kind: Bandit", raw.kind),
        ));
    }
    for (i, arm) in raw.spec.arms.iter().enumerate() {
        if raw.spec.arms[..i].contains(arm) {
            return Err(RolloutError::spec(
                format!("spec.arms[{i}]"),
                format!("arm {arm:?} is listed twice"),
            ));
        }
    }
    let reward = reward_queries(&raw.spec.reward)?;
    let window = raw.spec.reward.window.as_deref().unwrap_or(DEFAULT_WINDOW);
    let window_ms =
        parse_duration_ms(window).map_err(|e| RolloutError::spec("spec.reward.window", e))?;
    if window_ms == 0 {
        return Err(RolloutError::spec(
            "spec.reward.window",
            "must be longer than 0 (e.g. 10m)",
        ));
    }
    let rollout = if raw.spec.rollout.is_absolute() {
        raw.spec.rollout
    } else {
        spec_dir.join(raw.spec.rollout)
    };
    Ok(BanditSpec {
        name: raw.metadata.name,
        rollout,
        arms: raw.spec.arms,
        reward,
        window_ms,
    })
}

/// Exactly one of `template`, `successes` + `trials`, `mean` + `count`.
fn reward_queries(raw: &RawReward) -> Result<RewardQueries, RolloutError> {
    let pick = (
        raw.template.as_deref(),
        raw.successes.as_ref().zip(raw.trials.as_ref()),
        raw.mean.as_ref().zip(raw.count.as_ref()),
    );
    let set = [
        raw.template.is_some(),
        raw.successes.is_some() || raw.trials.is_some(),
        raw.mean.is_some() || raw.count.is_some(),
    ];
    let usage = "set exactly one of `template: success_rate`, `successes` + `trials`, or \
                 `mean` + `count` (PromQL templates with {{experiment}}, {{variant}}, \
                 {{namespace}}, {{interval}})";
    if set.iter().filter(|s| **s).count() != 1 {
        return Err(RolloutError::spec("spec.reward", usage));
    }
    match pick {
        (Some("success_rate"), _, _) => Ok(RewardQueries::success_rate()),
        (Some(other), _, _) => Err(RolloutError::spec(
            "spec.reward.template",
            format!("unknown reward template {other:?}; the built-in is success_rate"),
        )),
        (None, Some((successes, trials)), _) => Ok(RewardQueries::Counts {
            successes: successes.clone(),
            trials: trials.clone(),
        }),
        (None, None, Some((mean, count))) => Ok(RewardQueries::MeanCount {
            mean: mean.clone(),
            count: count.clone(),
        }),
        _ => Err(RolloutError::spec("spec.reward", usage)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<BanditSpec, RolloutError> {
        let text = format!(
            "apiVersion: rollgate.dev/v1\nkind: Bandit\nmetadata: {{ name: b }}\nspec:\n{spec}"
        );
        parse_bandit(&text, Path::new("/specs"))
    }

    #[test]
    fn built_in_reward_with_defaults() {
        let spec = parse("  rollout: rollout.yaml\n  reward: { template: success_rate }\n")
            .expect("valid");
        assert_eq!(spec.rollout, PathBuf::from("/specs/rollout.yaml"));
        assert!(spec.arms.is_empty());
        assert_eq!(spec.reward, RewardQueries::success_rate());
        assert_eq!(spec.window(), "10m");
    }

    #[test]
    fn custom_counts_and_mean_count() {
        let spec = parse(
            "  rollout: /r.yaml\n  arms: [a, b]\n  reward:\n    successes: s{{variant}}\n    \
             trials: t{{variant}}\n    window: 90s\n",
        )
        .expect("valid");
        assert_eq!(spec.window_ms, 90_000);
        assert!(matches!(spec.reward, RewardQueries::Counts { .. }));
        let spec = parse("  rollout: r.yaml\n  reward: { mean: m, count: c }\n").expect("valid");
        assert!(matches!(spec.reward, RewardQueries::MeanCount { .. }));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                "  rollout: r.yaml\n  reward: { successes: s }\n",
                "spec.reward",
            ),
            (
                "  rollout: r.yaml\n  reward: { template: success_rate, mean: m, count: c }\n",
                "spec.reward",
            ),
            (
                "  rollout: r.yaml\n  reward: { template: p99 }\n",
                "spec.reward.template",
            ),
            (
                "  rollout: r.yaml\n  reward: { template: success_rate, window: 5 }\n",
                "spec.reward.window",
            ),
            (
                "  rollout: r.yaml\n  arms: [a, a]\n  reward: { template: success_rate }\n",
                "spec.arms[1]",
            ),
        ];
        for (spec, field) in cases {
            match parse(spec) {
                Err(RolloutError::Spec { field: got, .. }) => assert_eq!(got, field, "{spec}"),
                other => panic!("{spec}: expected a spec error, got {other:?}"),
            }
        }
        let kind = parse_bandit(
            "apiVersion: rollgate.dev/v1\nkind: Rollout\nmetadata: { name: b }\nspec:\n  \
             rollout: r\n  reward: { template: success_rate }\n",
            Path::new("."),
        );
        assert!(matches!(kind, Err(RolloutError::Spec { field, .. }) if field == "kind"));
    }
}
