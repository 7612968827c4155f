//! Adapter from stored aggregates to the statistics crate: picks the test, runs it, checks the
//! sample ratio and applies seed 001's decision table. No statistics are computed here.

use crate::store::events::RunningStats;
use crate::types::ab::AbTest;
use crate::types::results::{AbResults, ArmSummary, SrmSummary};
use rollgate_stats::cuped::{cuped, CupedGroup};
use rollgate_stats::decision::{decide, Decision, DecisionCriteria, Direction, Evidence};
use rollgate_stats::mann_whitney::{mann_whitney_u, MannWhitneyMethod};
use rollgate_stats::proportions::two_proportion_z;
use rollgate_stats::ratio::{ratio_delta, RatioGroup};
use rollgate_stats::srm::srm_check;
use rollgate_stats::summary::ProportionCounts;
use rollgate_stats::ttest::{t_test, TTestKind};
use rollgate_stats::StatsError;

/// p-value below which the split counts as mismatched.
pub const SRM_THRESHOLD: f64 = 0.001;

/// Which test to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKind {
    /// Binary metric: pooled two-proportion z-test.
    TwoProportionZ,
    /// Continuous metric, unequal variances (default).
    WelchT,
    /// Continuous metric, equal variances.
    StudentT,
    /// Rank test on the raw values.
    MannWhitneyU,
    /// Welch on CUPED-adjusted per-unit sums (query `covariate` = the pre-experiment metric).
    Cuped,
    /// Delta-method z-test of Σmetric / Σdenominator per arm (query `denominator`).
    RatioDelta,
}

/// One unit's `(Σ metric, Σ second metric, events of metric)`.
pub type UnitPair = (f64, f64, u64);

/// Per-unit data some tests need beyond the running statistics, loaded by the route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawData {
    /// Raw values per arm (rank tests).
    pub values: Option<(Vec<f64>, Vec<f64>)>,
    /// Per-unit `(Σ metric, Σ second metric, events of metric)` per arm (control, treatment):
    /// the second metric is the covariate for CUPED, the denominator for ratio_delta.
    pub pairs: Option<(Vec<UnitPair>, Vec<UnitPair>)>,
}

impl TestKind {
    /// Parses the `test` query parameter.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "two_proportion_z" => TestKind::TwoProportionZ,
            "welch_t" => TestKind::WelchT,
            "student_t" => TestKind::StudentT,
            "mann_whitney_u" => TestKind::MannWhitneyU,
            "cuped" => TestKind::Cuped,
            "ratio_delta" => TestKind::RatioDelta,
            _ => return None,
        })
    }

    /// The name in answers.
    pub fn name(self) -> &'static str {
        match self {
            TestKind::TwoProportionZ => "two_proportion_z",
            TestKind::WelchT => "welch_t",
            TestKind::StudentT => "student_t",
            TestKind::MannWhitneyU => "mann_whitney_u",
            TestKind::Cuped => "cuped",
            TestKind::RatioDelta => "ratio_delta",
        }
    }

    /// The default test for a metric: z for 0/1 values, Welch otherwise.
    pub fn default_for(control: &RunningStats, treatment: &RunningStats) -> Self {
        if control.is_binary() && treatment.is_binary() {
            TestKind::TwoProportionZ
        } else {
            TestKind::WelchT
        }
    }
}

/// Whether smaller values of `metric` are better (error rates, latencies, losses).
pub fn direction_of(metric: &str) -> Direction {
    let lower = metric.to_ascii_lowercase();
    if ["error", "latency", "loss", "fail"]
        .iter()
        .any(|w| lower.contains(w))
    {
        Direction::LowerIsBetter
    } else {
        Direction::HigherIsBetter
    }
}

fn arm(stats: &RunningStats) -> ArmSummary {
    ArmSummary {
        count: stats.summary.count,
        mean: stats.summary.mean,
        std_dev: stats.summary.variance().max(0.0).sqrt(),
    }
}

struct TestOutcome {
    statistic: f64,
    p_value: f64,
    ci: Option<[f64; 2]>,
    difference: f64,
    lift: Option<f64>,
    effect_size: Option<f64>,
    significant: bool,
    extra: Extra,
}

/// Outputs only CUPED or ratio_delta have.
#[derive(Default)]
struct Extra {
    theta: Option<f64>,
    variance_reduction: Option<f64>,
    control_ratio: Option<f64>,
    treatment_ratio: Option<f64>,
    se: Option<f64>,
}

fn pairs(raw: Option<&RawData>) -> Result<&(Vec<UnitPair>, Vec<UnitPair>), StatsError> {
    raw.and_then(|r| r.pairs.as_ref())
        .ok_or_else(|| StatsError::invalid("test", "per-unit values were not loaded"))
}

fn cuped_outcome(raw: Option<&RawData>, confidence: f64) -> Result<TestOutcome, StatsError> {
    let (c, t) = pairs(raw)?;
    // Units with the metric observed; a unit without pre-experiment events has covariate 0.
    let split = |rows: &[UnitPair]| -> (Vec<f64>, Vec<f64>) {
        rows.iter().filter(|r| r.2 > 0).map(|r| (r.0, r.1)).unzip()
    };
    let ((c_y, c_x), (t_y, t_x)) = (split(c), split(t));
    let r = cuped(
        CupedGroup {
            values: &c_y,
            covariate: &c_x,
        },
        CupedGroup {
            values: &t_y,
            covariate: &t_x,
        },
        confidence,
    )?;
    Ok(TestOutcome {
        statistic: r.statistic,
        p_value: r.p_value,
        ci: Some(r.ci),
        difference: r.effect,
        lift: (r.control_mean != 0.0).then(|| r.effect / r.control_mean),
        effect_size: None,
        significant: r.significant,
        extra: Extra {
            theta: Some(r.theta),
            variance_reduction: Some(r.variance_reduction),
            ..Extra::default()
        },
    })
}

fn ratio_outcome(raw: Option<&RawData>, confidence: f64) -> Result<TestOutcome, StatsError> {
    let (c, t) = pairs(raw)?;
    let split =
        |rows: &[UnitPair]| -> (Vec<f64>, Vec<f64>) { rows.iter().map(|r| (r.0, r.1)).unzip() };
    let ((c_n, c_d), (t_n, t_d)) = (split(c), split(t));
    let r = ratio_delta(
        RatioGroup {
            numerator: &c_n,
            denominator: &c_d,
        },
        RatioGroup {
            numerator: &t_n,
            denominator: &t_d,
        },
        confidence,
    )?;
    Ok(TestOutcome {
        statistic: r.statistic,
        p_value: r.p_value,
        ci: Some(r.ci),
        difference: r.difference,
        lift: r.lift,
        effect_size: None,
        significant: r.significant,
        extra: Extra {
            control_ratio: Some(r.control_ratio),
            treatment_ratio: Some(r.treatment_ratio),
            se: Some(r.se),
            ..Extra::default()
        },
    })
}

fn run_test(
    kind: TestKind,
    control: &RunningStats,
    treatment: &RunningStats,
    raw: Option<&RawData>,
    confidence: f64,
) -> Result<TestOutcome, StatsError> {
    match kind {
        TestKind::TwoProportionZ => {
            let counts = |s: &RunningStats, field: &str| {
                let successes = s.sum.round().max(0.0) as u64;
                ProportionCounts::new(successes, s.summary.count, field)
            };
            let r = two_proportion_z(
                counts(control, "control")?,
                counts(treatment, "treatment")?,
                confidence,
            )?;
            Ok(TestOutcome {
                statistic: r.statistic,
                p_value: r.p_value,
                ci: Some(r.ci),
                difference: r.difference,
                lift: r.lift,
                effect_size: None,
                significant: r.significant,
                extra: Extra::default(),
            })
        }
        TestKind::WelchT | TestKind::StudentT => {
            let variant = if kind == TestKind::WelchT {
                TTestKind::Welch
            } else {
                TTestKind::Student
            };
            let r = t_test(&control.summary, &treatment.summary, variant, confidence)?;
            Ok(TestOutcome {
                statistic: r.statistic,
                p_value: r.p_value,
                ci: Some(r.ci),
                difference: r.difference,
                lift: r.lift,
                effect_size: r.cohens_d,
                significant: r.significant,
                extra: Extra::default(),
            })
        }
        TestKind::MannWhitneyU => {
            let (c, t) = raw
                .and_then(|r| r.values.as_ref())
                .ok_or_else(|| StatsError::invalid("test", "raw values were not loaded"))?;
            let r = mann_whitney_u(c, t, MannWhitneyMethod::Asymptotic, 1.0 - confidence)?;
            let difference = treatment.summary.mean - control.summary.mean;
            Ok(TestOutcome {
                statistic: r.statistic,
                p_value: r.p_value,
                ci: None,
                difference,
                lift: (control.summary.mean != 0.0).then(|| difference / control.summary.mean),
                effect_size: Some(r.rank_biserial),
                significant: r.significant,
                extra: Extra::default(),
            })
        }
        TestKind::Cuped => cuped_outcome(raw, confidence),
        TestKind::RatioDelta => ratio_outcome(raw, confidence),
    }
}

/// Results of `test` on `metric` from the two arms' aggregates (`raw`: values for rank tests,
/// per-unit pairs for CUPED and ratio_delta).
pub fn analyze(
    test: &AbTest,
    metric: &str,
    control: &RunningStats,
    treatment: &RunningStats,
    kind: TestKind,
    raw: Option<&RawData>,
) -> AbResults {
    let direction = direction_of(metric);
    let srm = srm_check(
        &[control.summary.count, treatment.summary.count],
        &[1.0 - test.treatment_fraction, test.treatment_fraction],
        SRM_THRESHOLD,
    )
    .ok()
    .filter(|_| control.summary.count > 0 && treatment.summary.count > 0)
    .map(|r| SrmSummary {
        statistic: r.statistic,
        p_value: r.p_value,
        mismatch: r.mismatch,
    });
    let outcome = run_test(kind, control, treatment, raw, test.confidence_level);
    let criteria = DecisionCriteria {
        alpha: 1.0 - test.confidence_level,
        minimum_improvement: test.minimum_improvement,
        min_sample_size: test.min_sample_size,
        direction,
    };
    let sample_size = control.summary.count.min(treatment.summary.count);
    let srm_mismatch = srm.is_some_and(|s| s.mismatch);
    let (decision, note) = match &outcome {
        Ok(o) => (
            decide(
                &Evidence {
                    p_value: o.p_value,
                    lift: o.lift,
                    difference: o.difference,
                    sample_size,
                    srm_mismatch,
                },
                &criteria,
            ),
            None,
        ),
        Err(e) => (
            if srm_mismatch {
                Decision::InvalidSrm
            } else {
                Decision::Continue
            },
            Some(e.to_string()),
        ),
    };
    let outcome = outcome.ok();
    AbResults {
        experiment_id: test.experiment_id.clone(),
        status: test.status.as_str().to_string(),
        metric: metric.to_string(),
        direction: match direction {
            Direction::HigherIsBetter => "higher_is_better",
            Direction::LowerIsBetter => "lower_is_better",
        }
        .to_string(),
        test: outcome.as_ref().map(|_| kind.name().to_string()),
        control: arm(control),
        treatment: arm(treatment),
        statistic: outcome.as_ref().map(|o| o.statistic),
        p_value: outcome.as_ref().map(|o| o.p_value),
        ci: outcome.as_ref().and_then(|o| o.ci),
        difference: outcome.as_ref().map(|o| o.difference),
        lift: outcome.as_ref().and_then(|o| o.lift),
        effect_size: outcome.as_ref().and_then(|o| o.effect_size),
        significant: outcome.as_ref().is_some_and(|o| o.significant),
        theta: outcome.as_ref().and_then(|o| o.extra.theta),
        variance_reduction: outcome.as_ref().and_then(|o| o.extra.variance_reduction),
        control_ratio: outcome.as_ref().and_then(|o| o.extra.control_ratio),
        treatment_ratio: outcome.as_ref().and_then(|o| o.extra.treatment_ratio),
        se: outcome.as_ref().and_then(|o| o.extra.se),
        srm,
        decision: serde_json::to_value(decision)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        note,
    }
}
