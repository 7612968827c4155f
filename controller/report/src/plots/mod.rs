//! The report's four plots, built from a [`Timeline`]: canary weight, error rate per variant,
//! p99 latency per variant, shadow agreement. Every plot shares the time axis and the decision
//! markers; gate thresholds are drawn on the plot of their metric.

mod chart;

use crate::error::ReportError;
use crate::summary::Rollback;
use crate::timeline::{DecisionAction, GateMetric, Timeline, VariantSample};
use chart::{draw, Band, Marker, Series, Threshold, TimeChart};
use plotters::chart::SeriesLabelPosition;
use plotters::style::RGBColor;

pub(crate) use chart::clock;

/// Colors of the variants in display order (stable, canary, others).
const VARIANT_COLORS: [RGBColor; 5] = [
    RGBColor(0x25, 0x63, 0xeb),
    RGBColor(0xf9, 0x73, 0x16),
    RGBColor(0x8b, 0x5c, 0xf6),
    RGBColor(0x0e, 0xa5, 0xe9),
    RGBColor(0x64, 0x74, 0x8b),
];
const SHADOW_COLOR: RGBColor = RGBColor(0x05, 0x96, 0x69);

/// Color of a decision's marker; steps get none (the weight plot shows them).
pub(crate) fn decision_color(action: DecisionAction) -> Option<RGBColor> {
    match action {
        DecisionAction::Step => None,
        DecisionAction::Promote => Some(RGBColor(0x16, 0xa3, 0x4a)),
        DecisionAction::Rollback => Some(chart::THRESHOLD),
        DecisionAction::Pause => Some(RGBColor(0xd9, 0x77, 0x06)),
        DecisionAction::Resume => Some(chart::MUTED),
    }
}

/// The rendered plots, each an `<svg>` element; `shadow` is `None` without shadow samples.
pub(crate) struct Plots {
    pub weight: String,
    pub error_rate: String,
    pub p99: String,
    pub shadow: Option<String>,
}

/// Draws every plot of the timeline; `rollbacks` shade each breach-to-rollback span.
pub(crate) fn draw_all(timeline: &Timeline, rollbacks: &[Rollback]) -> Result<Plots, ReportError> {
    let x_end = timeline.end_s() * 1.02;
    let bands: Vec<Band> = rollbacks
        .iter()
        .filter_map(|r| {
            r.breach_s.map(|from_s| Band {
                from_s,
                to_s: r.at_s,
                color: chart::THRESHOLD,
            })
        })
        .collect();
    let markers: Vec<Marker> = timeline
        .decisions
        .iter()
        .filter_map(|d| {
            decision_color(d.action).map(|color| Marker {
                t_s: d.t_s,
                label: d.action.name().to_string(),
                color,
            })
        })
        .collect();
    let thresholds = |metric: GateMetric, scale: f64| -> Vec<Threshold> {
        timeline
            .gates
            .iter()
            .filter(|g| g.metric == metric)
            .map(|g| Threshold {
                label: format!("gate {}: {}", g.name, threshold_text(metric, g.threshold)),
                value: g.threshold * scale,
            })
            .collect()
    };
    let percent = |v: f64| format!("{v:.0}%");

    let weight = draw(&TimeChart {
        plot: "weight",
        title: "Canary weight",
        y_label: "share of traffic on the canary",
        x_end,
        y_range: 0.0..108.0,
        y_format: &percent,
        series: vec![Series {
            label: format!("{} weight", timeline.canary),
            color: VARIANT_COLORS[1],
            points: weight_steps(timeline, x_end),
            filled: true,
        }],
        thresholds: Vec::new(),
        markers: &markers,
        marker_labels: true,
        bands: &bands,
        legend: None,
    })?;

    let error_thresholds = thresholds(GateMetric::ErrorRate, 100.0);
    let error_series = variant_series(timeline, |s| s.error_rate().map(|r| r * 100.0));
    let error_top = top(&error_series, &error_thresholds, 1.0);
    let error_format = |v: f64| {
        if error_top <= 5.0 {
            format!("{v:.1}%")
        } else {
            format!("{v:.0}%")
        }
    };
    let error_rate = draw(&TimeChart {
        plot: "error rate",
        title: "Error rate (5xx) per variant",
        y_label: "5xx responses",
        x_end,
        y_range: 0.0..error_top,
        y_format: &error_format,
        series: error_series,
        thresholds: error_thresholds,
        markers: &markers,
        marker_labels: false,
        bands: &bands,
        legend: Some(SeriesLabelPosition::UpperRight),
    })?;

    let p99_thresholds = thresholds(GateMetric::P99LatencyMs, 1.0);
    let p99_series = variant_series(timeline, |s| s.p99_ms);
    let p99_top = top(&p99_series, &p99_thresholds, 10.0);
    let p99 = draw(&TimeChart {
        plot: "p99",
        title: "p99 latency per variant",
        y_label: "milliseconds",
        x_end,
        y_range: 0.0..p99_top,
        y_format: &|v| format!("{v:.0} ms"),
        series: p99_series,
        thresholds: p99_thresholds,
        markers: &markers,
        marker_labels: false,
        bands: &bands,
        legend: Some(SeriesLabelPosition::UpperRight),
    })?;

    let shadow = if timeline.shadow.is_empty() {
        None
    } else {
        let mut samples: Vec<_> = timeline.shadow.iter().collect();
        samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        let points: Vec<(f64, Option<f64>)> = samples
            .iter()
            .map(|s| (s.t_s, s.agreement().map(|a| a * 100.0)))
            .collect();
        let agreement_thresholds = thresholds(GateMetric::ShadowAgreement, 100.0);
        let lowest = points
            .iter()
            .filter_map(|p| p.1)
            .chain(agreement_thresholds.iter().map(|t| t.value))
            .fold(100.0, f64::min);
        let bottom = ((lowest - 12.0) / 5.0).floor().max(0.0) * 5.0;
        Some(draw(&TimeChart {
            plot: "shadow",
            title: "Shadow agreement with the served answer",
            y_label: "answers that agree",
            x_end,
            y_range: bottom..101.0,
            y_format: &percent,
            series: vec![Series {
                label: "shadow agreement".to_string(),
                color: SHADOW_COLOR,
                points,
                filled: false,
            }],
            thresholds: agreement_thresholds,
            markers: &markers,
            marker_labels: false,
            bands: &[],
            legend: Some(SeriesLabelPosition::LowerRight),
        })?)
    };
    Ok(Plots {
        weight,
        error_rate,
        p99,
        shadow,
    })
}

/// How a threshold reads in a legend or table.
pub(crate) fn threshold_text(metric: GateMetric, threshold: f64) -> String {
    match metric {
        GateMetric::ErrorRate => format!("< {}%", trim(threshold * 100.0)),
        GateMetric::P99LatencyMs => format!("< {} ms", trim(threshold)),
        GateMetric::ShadowAgreement => format!("> {}%", trim(threshold * 100.0)),
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The canary weight as a step line that holds each value until the next change.
fn weight_steps(timeline: &Timeline, x_end: f64) -> Vec<(f64, Option<f64>)> {
    let mut changes: Vec<(f64, f64)> = timeline
        .weights
        .iter()
        .map(|w| (w.t_s, w.canary_percent))
        .collect();
    changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut points = Vec::new();
    let mut current: Option<f64> = None;
    for (t, percent) in changes {
        if let Some(previous) = current {
            points.push((t, Some(previous)));
        } else if t > 0.0 {
            points.push((0.0, Some(0.0)));
            points.push((t, Some(0.0)));
        }
        points.push((t, Some(percent)));
        current = Some(percent);
    }
    points.push((x_end, Some(current.unwrap_or(0.0))));
    points
}

/// One series per variant, in display order, from a per-sample value.
fn variant_series(
    timeline: &Timeline,
    value: impl Fn(&VariantSample) -> Option<f64>,
) -> Vec<Series> {
    timeline
        .variants()
        .into_iter()
        .enumerate()
        .filter_map(|(index, variant)| {
            let mut samples: Vec<&VariantSample> = timeline
                .samples
                .iter()
                .filter(|s| s.variant == variant)
                .collect();
            if samples.is_empty() {
                return None;
            }
            samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
            Some(Series {
                label: variant,
                color: VARIANT_COLORS[index.min(VARIANT_COLORS.len() - 1)],
                points: samples.iter().map(|s| (s.t_s, value(s))).collect(),
                filled: false,
            })
        })
        .collect()
}

/// Top of a y axis: the highest value or threshold plus headroom for the legend.
fn top(series: &[Series], thresholds: &[Threshold], minimum: f64) -> f64 {
    let highest = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .chain(thresholds.iter().map(|t| t.value))
        .fold(0.0, f64::max);
    (highest * 1.35).max(minimum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::WeightPoint;

    #[test]
    fn weight_steps_hold_each_value_until_the_next_change() {
        let timeline = Timeline {
            title: String::new(),
            experiment: String::new(),
            stable: "s".into(),
            canary: "c".into(),
            metric_source: None,
            started_at: None,
            samples: Vec::new(),
            weights: vec![
                WeightPoint {
                    t_s: 2.0,
                    canary_percent: 1.0,
                },
                WeightPoint {
                    t_s: 5.0,
                    canary_percent: 10.0,
                },
            ],
            gates: Vec::new(),
            decisions: Vec::new(),
            shadow: Vec::new(),
            ab: None,
        };
        let points: Vec<(f64, f64)> = weight_steps(&timeline, 8.0)
            .into_iter()
            .map(|(t, v)| (t, v.unwrap_or(-1.0)))
            .collect();
        assert_eq!(
            points,
            vec![
                (0.0, 0.0),
                (2.0, 0.0),
                (2.0, 1.0),
                (5.0, 1.0),
                (5.0, 10.0),
                (8.0, 10.0)
            ]
        );
    }

    #[test]
    fn thresholds_read_naturally() {
        assert_eq!(threshold_text(GateMetric::ErrorRate, 0.05), "< 5%");
        assert_eq!(threshold_text(GateMetric::P99LatencyMs, 250.0), "< 250 ms");
        assert_eq!(
            threshold_text(GateMetric::ShadowAgreement, 0.925),
            "> 92.5%"
        );
    }
}
