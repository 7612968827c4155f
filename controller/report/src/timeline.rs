//! The report's input: what happened during a rollout, sample by sample (`timeline.json`).
//!
//! Times are seconds since the start of the run (`t_s`), so a demo compressed to seconds and
//! a production rollout of days use the same file. Whoever drives the rollout (the demo script,
//! `rollgate run`) appends as it goes:
//! - one [`VariantSample`] per variant per gate check: requests and 5xx errors counted in the
//!   interval that ends at `t_s`, and the p99 latency of that interval;
//! - one [`WeightPoint`] whenever the canary weight the sink holds changes;
//! - one [`Decision`] per promote / rollback / pause / resume (and, optionally, per step);
//! - one [`ShadowSample`] per interval with the shadow comparison counts;
//! - the gate thresholds ([`GateThreshold`]) drawn on the plots, and an optional A/B summary.
//!
//! Example (abridged):
//! ```json
//! {"title": "fraud-detector canary", "experiment": "fraud-v2", "stable": "stable", "canary": "canary",
//!  "samples": [{"t_s": 5, "variant": "canary", "requests": 120, "errors": 10, "p99_ms": 41.0}],
//!  "weights": [{"t_s": 0, "canary_percent": 1}],
//!  "gates": [{"name": "error-rate", "metric": "error_rate", "threshold": 0.05}],
//!  "decisions": [{"t_s": 12, "action": "rollback", "canary_percent": 0, "reason": "error-rate 0.08 >= 0.05"}],
//!  "shadow": [{"t_s": 5, "agree": 97, "disagree": 3}]}
//! ```

use crate::error::ReportError;
use serde::{Deserialize, Serialize};

/// Everything the report shows about one run (one or more rollouts of one experiment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    /// Heading of the report.
    pub title: String,
    /// Experiment id in the filter config.
    pub experiment: String,
    /// Name of the baseline variant.
    pub stable: String,
    /// Name of the variant whose weight the rollout moves.
    pub canary: String,
    /// Where the numbers came from (e.g. "Prometheus 2.42 at 127.0.0.1:9090").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_source: Option<String>,
    /// Wall-clock time of `t_s = 0`, shown as given (RFC 3339 recommended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Per-variant measurements over time.
    pub samples: Vec<VariantSample>,
    /// Canary weight over time: each point holds until the next one.
    pub weights: Vec<WeightPoint>,
    /// Gate thresholds drawn on the plots and used to find breaches.
    #[serde(default)]
    pub gates: Vec<GateThreshold>,
    /// What the controller decided, in time order.
    #[serde(default)]
    pub decisions: Vec<Decision>,
    /// Shadow comparison counts over time.
    #[serde(default)]
    pub shadow: Vec<ShadowSample>,
    /// Result of the A/B test, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<AbSummary>,
}

/// One variant's traffic in the interval that ends at `t_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSample {
    /// End of the interval, seconds since the start.
    pub t_s: f64,
    /// Variant name.
    pub variant: String,
    /// Responses counted in the interval.
    pub requests: u64,
    /// 5xx responses among them.
    pub errors: u64,
    /// 99th percentile latency of the interval in milliseconds; absent without traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
}

impl VariantSample {
    /// Share of 5xx responses, `None` when the interval had no traffic.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }
}

/// The canary weight from `t_s` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightPoint {
    /// Seconds since the start.
    pub t_s: f64,
    /// Share of traffic on the canary, 0 to 100.
    pub canary_percent: f64,
}

/// What a gate threshold bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateMetric {
    /// Share of 5xx responses (must stay below the threshold).
    ErrorRate,
    /// p99 latency in milliseconds (must stay below the threshold).
    P99LatencyMs,
    /// Shadow agreement share, 0 to 1 (must stay above the threshold).
    ShadowAgreement,
}

impl GateMetric {
    /// Whether `value` breaks a gate on this metric with this threshold.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            GateMetric::ErrorRate | GateMetric::P99LatencyMs => value > threshold,
            GateMetric::ShadowAgreement => value < threshold,
        }
    }
}

/// A gate's threshold, drawn as a dashed line on the plot of its metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateThreshold {
    /// Gate name from the rollout spec.
    pub name: String,
    /// The metric it bounds.
    pub metric: GateMetric,
    /// The bound (error share, milliseconds, or agreement share).
    pub threshold: f64,
}

/// Kinds of controller decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    /// Moved to the next step's weight.
    Step,
    /// Canary to 100 %: the rollout succeeded.
    Promote,
    /// Canary to 0 % after a failed gate (or an abort).
    Rollback,
    /// Held at the current weight (inconclusive gate or manual pause).
    Pause,
    /// Continued after a pause.
    Resume,
}

impl DecisionAction {
    /// Lower-case name, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            DecisionAction::Step => "step",
            DecisionAction::Promote => "promote",
            DecisionAction::Rollback => "rollback",
            DecisionAction::Pause => "pause",
            DecisionAction::Resume => "resume",
        }
    }
}

/// One controller decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// When it was applied, seconds since the start.
    pub t_s: f64,
    /// What was decided.
    pub action: DecisionAction,
    /// Canary weight after the decision, 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_percent: Option<f64>,
    /// Why (gate verdicts, operator action).
    #[serde(default)]
    pub reason: String,
    /// When the breach that caused a rollback started, if the controller knows it; otherwise
    /// the report finds it in the samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach_t_s: Option<f64>,
}

/// Shadow comparisons in the interval that ends at `t_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowSample {
    /// End of the interval, seconds since the start.
    pub t_s: f64,
    /// Shadow answers equal to the served one.
    pub agree: u64,
    /// Shadow answers that differ.
    pub disagree: u64,
    /// Answers that could not be compared (missing field, not JSON).
    #[serde(default)]
    pub incomparable: u64,
}

impl ShadowSample {
    /// `agree / (agree + disagree)`, `None` without comparable answers.
    pub fn agreement(&self) -> Option<f64> {
        let compared = self.agree + self.disagree;
        (compared > 0).then(|| self.agree as f64 / compared as f64)
    }
}

/// One arm of the A/B test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbArm {
    /// Variant name.
    pub name: String,
    /// Conversions (successes).
    pub successes: u64,
    /// Units exposed.
    pub total: u64,
}

/// The A/B result, as `rollgate analyze` reports it (treatment minus control).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbSummary {
    /// Test used (e.g. `two_proportion_z`).
    pub test: String,
    /// Control arm.
    pub control: AbArm,
    /// Treatment arm.
    pub treatment: AbArm,
    /// Test statistic.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Confidence interval of the difference of rates.
    pub ci: [f64; 2],
    /// Relative lift of the treatment rate over the control rate.
    pub lift: f64,
    /// Whether the difference is significant at `confidence`.
    pub significant: bool,
    /// Confidence level of the interval, e.g. 0.95.
    pub confidence: f64,
}

impl Timeline {
    /// Parses `timeline.json` and checks it.
    pub fn from_json(text: &str) -> Result<Timeline, ReportError> {
        let timeline: Timeline = serde_json::from_str(text).map_err(|err| ReportError::Parse {
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
        })?;
        timeline.validate()?;
        Ok(timeline)
    }

    /// Checks what serde cannot: finite non-negative times, errors within requests,
    /// percentages in 0..=100, distinct stable and canary.
    pub fn validate(&self) -> Result<(), ReportError> {
        if self.stable == self.canary {
            return Err(invalid("canary", "must differ from `stable`"));
        }
        if self.samples.is_empty() {
            return Err(invalid("samples", "needs at least one sample to plot"));
        }
        for (i, s) in self.samples.iter().enumerate() {
            check_time(&format!("samples[{i}].t_s"), s.t_s)?;
            if s.variant.is_empty() {
                return Err(invalid(
                    format!("samples[{i}].variant"),
                    "must not be empty",
                ));
            }
            if s.errors > s.requests {
                return Err(invalid(
                    format!("samples[{i}].errors"),
                    format!("{} errors out of {} requests", s.errors, s.requests),
                ));
            }
            if let Some(p99) = s.p99_ms {
                check_non_negative(&format!("samples[{i}].p99_ms"), p99)?;
            }
        }
        for (i, w) in self.weights.iter().enumerate() {
            check_time(&format!("weights[{i}].t_s"), w.t_s)?;
            check_percent(&format!("weights[{i}].canary_percent"), w.canary_percent)?;
        }
        for (i, g) in self.gates.iter().enumerate() {
            check_non_negative(&format!("gates[{i}].threshold"), g.threshold)?;
        }
        for (i, d) in self.decisions.iter().enumerate() {
            check_time(&format!("decisions[{i}].t_s"), d.t_s)?;
            if let Some(p) = d.canary_percent {
                check_percent(&format!("decisions[{i}].canary_percent"), p)?;
            }
            if let Some(b) = d.breach_t_s {
                check_time(&format!("decisions[{i}].breach_t_s"), b)?;
                if b > d.t_s {
                    return Err(invalid(
                        format!("decisions[{i}].breach_t_s"),
                        "a breach cannot start after the decision it caused",
                    ));
                }
            }
        }
        for (i, s) in self.shadow.iter().enumerate() {
            check_time(&format!("shadow[{i}].t_s"), s.t_s)?;
        }
        Ok(())
    }

    /// Variant names in display order: stable, canary, then any other in order of appearance.
    pub fn variants(&self) -> Vec<String> {
        let mut names = vec![self.stable.clone(), self.canary.clone()];
        for sample in &self.samples {
            if !names.contains(&sample.variant) {
                names.push(sample.variant.clone());
            }
        }
        names
    }

    /// The last time anything happened (at least 1 s, so axes never collapse).
    pub fn end_s(&self) -> f64 {
        let times = self
            .samples
            .iter()
            .map(|s| s.t_s)
            .chain(self.weights.iter().map(|w| w.t_s))
            .chain(self.decisions.iter().map(|d| d.t_s))
            .chain(self.shadow.iter().map(|s| s.t_s));
        times.fold(1.0, f64::max)
    }
}

fn invalid(path: impl Into<String>, rule: impl Into<String>) -> ReportError {
    ReportError::Invalid {
        path: path.into(),
        rule: rule.into(),
    }
}

fn check_time(path: &str, t: f64) -> Result<(), ReportError> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!("must be seconds since the start (>= 0), found {t}"),
        ))
    }
}

fn check_non_negative(path: &str, value: f64) -> Result<(), ReportError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!("must be a finite number >= 0, found {value}"),
        ))
    }
}

fn check_percent(path: &str, value: f64) -> Result<(), ReportError> {
    if (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!("must be a percentage in 0..=100, found {value}"),
        ))
    }
}
