//! Rewards from PromQL (pure): the per-arm queries rendered with the gates' template mechanism
//! ([`render_query`]), and their answers turned into Bernoulli [`ArmStats`].

use crate::gates::{render_query, QueryResult, QueryVars};
use rollgate_stats::bandit::ArmStats;
use serde::Serialize;

/// Built-in successes template: 2xx responses of the arm over the window (`rollgate_responses_total`).
pub const SUCCESSES_2XX: &str = r#"sum(increase(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}",class="2xx"}[{{interval}}]))"#;
/// Built-in trials template: every response of the arm over the window.
pub const TRIALS_ALL: &str = r#"sum(increase(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}"}[{{interval}}]))"#;

/// How an arm's reward is measured: two PromQL templates per arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardQueries {
    /// Rewarded units and units served (counts, e.g. `increase(...)`).
    Counts {
        /// Template of the rewarded units.
        successes: String,
        /// Template of the units served.
        trials: String,
    },
    /// Mean reward in [0, 1] (e.g. a conversion rate) and how many units it is over.
    MeanCount {
        /// Template of the mean reward.
        mean: String,
        /// Template of the number of units the mean is over.
        count: String,
    },
}

impl RewardQueries {
    /// The built-in `success_rate` reward: 2xx responses out of all responses.
    pub fn success_rate() -> Self {
        Self::Counts {
            successes: SUCCESSES_2XX.to_string(),
            trials: TRIALS_ALL.to_string(),
        }
    }

    /// The two templates, in the order [`arm_stats`] takes their answers.
    fn templates(&self) -> [&str; 2] {
        match self {
            Self::Counts { successes, trials } => [successes, trials],
            Self::MeanCount { mean, count } => [mean, count],
        }
    }
}

/// The two rendered queries of one arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmQueries {
    /// The arm (variant name).
    pub arm: String,
    /// Successes (or mean) query.
    pub first: String,
    /// Trials (or count) query.
    pub second: String,
}

/// Renders both templates for every arm (`{{variant}}` = the arm, `{{interval}}` = the
/// reward window); an error names the template.
pub fn render_arm_queries(
    reward: &RewardQueries,
    experiment: &str,
    namespace: &str,
    window: &str,
    arms: &[String],
) -> Result<Vec<ArmQueries>, String> {
    let [first, second] = reward.templates();
    arms.iter()
        .map(|arm| {
            let vars = QueryVars {
                experiment,
                variant: arm,
                namespace,
                interval: window,
            };
            let render = |template: &str, which: &str| {
                render_query(template, &vars).map_err(|e| format!("reward {which} query: {e}"))
            };
            Ok(ArmQueries {
                arm: arm.clone(),
                first: render(first, "first")?,
                second: render(second, "second")?,
            })
        })
        .collect()
}

/// Why a round's rewards cannot be used (the round pushes nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardError(pub String);

/// An answer as a non-negative number: no data is 0 (no traffic yet), a failed query or a
/// negative value is an error naming the arm and the query.
fn non_negative(arm: &str, what: &str, result: &QueryResult) -> Result<f64, RewardError> {
    match result {
        QueryResult::Value(v) if *v >= 0.0 => Ok(*v),
        QueryResult::Value(v) => Err(RewardError(format!(
            "arm {arm:?}: the {what} query returned {v}, expected a value >= 0"
        ))),
        QueryResult::Empty(_) => Ok(0.0),
        QueryResult::Failed(why) => Err(RewardError(format!(
            "arm {arm:?}: the {what} query failed: {why}"
        ))),
    }
}

/// Bernoulli counts of one arm from its two answers. Counts are rounded to whole units (a
/// windowed `increase()` is extrapolated) and successes capped at trials; a mean must lie in
/// [0, 1] and becomes round(mean × count) successes.
pub fn arm_stats(
    reward: &RewardQueries,
    arm: &str,
    first: &QueryResult,
    second: &QueryResult,
) -> Result<ArmStats, RewardError> {
    let (successes, total) = match reward {
        RewardQueries::Counts { .. } => {
            let trials = non_negative(arm, "trials", second)?.round();
            let successes = non_negative(arm, "successes", first)?.round().min(trials);
            (successes, trials)
        }
        RewardQueries::MeanCount { .. } => {
            let count = non_negative(arm, "count", second)?.round();
            let mean = non_negative(arm, "mean", first)?;
            if mean > 1.0 {
                return Err(RewardError(format!(
                    "arm {arm:?}: the mean query returned {mean}; bandit rewards are \
                     Bernoulli, so the mean must lie in [0, 1] (a rate, not a percentage)"
                )));
            }
            ((mean * count).round(), count)
        }
    };
    Ok(ArmStats {
        name: arm.to_string(),
        successes: successes as u64,
        total: total as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: f64) -> QueryResult {
        QueryResult::Value(v)
    }

    #[test]
    fn built_in_reward_renders_per_arm() {
        let arms = vec!["stable".to_string(), "canary".to_string()];
        let queries = render_arm_queries(
            &RewardQueries::success_rate(),
            "fraud-v2",
            "ml",
            "1m",
            &arms,
        )
        .expect("renders");
        assert_eq!(queries.len(), 2);
        assert_eq!(
            queries[1].first,
            r#"sum(increase(rollgate_responses_total{experiment="fraud-v2",variant="canary",class="2xx"}[1m]))"#
        );
        assert_eq!(
            queries[0].second,
            r#"sum(increase(rollgate_responses_total{experiment="fraud-v2",variant="stable"}[1m]))"#
        );
        let bad = RewardQueries::MeanCount {
            mean: "x{{region}}".into(),
            count: "y".into(),
        };
        let err = render_arm_queries(&bad, "e", "", "1m", &arms).expect_err("unknown placeholder");
        assert!(err.contains("{{region}}") && err.contains("first"), "{err}");
    }

    #[test]
    fn counts_are_rounded_and_capped() {
        let reward = RewardQueries::success_rate();
        let stats = arm_stats(&reward, "canary", &value(95.4), &value(120.6)).expect("stats");
        assert_eq!((stats.successes, stats.total), (95, 121));
        let capped = arm_stats(&reward, "canary", &value(121.2), &value(120.9)).expect("stats");
        assert_eq!((capped.successes, capped.total), (121, 121));
    }

    #[test]
    fn no_data_is_zero_and_failures_are_errors() {
        let reward = RewardQueries::success_rate();
        let empty = QueryResult::Empty("the query returned no series".into());
        let stats = arm_stats(&reward, "canary", &empty, &empty).expect("no data yet");
        assert_eq!((stats.successes, stats.total), (0, 0));
        let failed = QueryResult::Failed("Prometheus http://p unreachable".into());
        let err = arm_stats(&reward, "canary", &value(1.0), &failed).expect_err("failed");
        assert!(
            err.0.contains("canary") && err.0.contains("unreachable"),
            "{err:?}"
        );
        let negative = arm_stats(&reward, "stable", &value(-1.0), &value(3.0));
        assert!(negative.is_err());
    }

    #[test]
    fn mean_and_count_become_counts() {
        let reward = RewardQueries::MeanCount {
            mean: "m".into(),
            count: "c".into(),
        };
        let stats = arm_stats(&reward, "b", &value(0.125), &value(400.0)).expect("stats");
        assert_eq!((stats.successes, stats.total), (50, 400));
        let err = arm_stats(&reward, "b", &value(12.5), &value(400.0)).expect_err("percent");
        assert!(err.0.contains("[0, 1]"), "{err:?}");
    }
}
