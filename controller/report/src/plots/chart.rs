//! One time-series chart drawn with plotters' SVG backend: lines per series (gaps where a
//! value is missing), dashed threshold lines, and vertical markers for decisions.

use crate::error::ReportError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

/// Size of every chart, in SVG user units (the HTML scales it to the page width).
pub(crate) const SIZE: (u32, u32) = (1100, 300);

pub(crate) const INK: RGBColor = RGBColor(0x1f, 0x29, 0x37);
pub(crate) const MUTED: RGBColor = RGBColor(0x6b, 0x72, 0x80);
const GRID: RGBColor = RGBColor(0xee, 0xf0, 0xf3);
const GRID_BOLD: RGBColor = RGBColor(0xd9, 0xdd, 0xe3);
pub(crate) const THRESHOLD: RGBColor = RGBColor(0xdc, 0x26, 0x26);

/// A line of points over time; `None` breaks the line (no data in that interval).
pub(crate) struct Series {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, Option<f64>)>,
    /// Fill the area under the line (used for the weight step chart).
    pub filled: bool,
}

/// A horizontal dashed line: a gate threshold.
pub(crate) struct Threshold {
    pub label: String,
    pub value: f64,
}

/// A vertical line at a decision time.
pub(crate) struct Marker {
    pub t_s: f64,
    pub label: String,
    pub color: RGBColor,
}

/// Everything one chart shows.
pub(crate) struct TimeChart<'a> {
    pub plot: &'static str,
    pub title: &'a str,
    pub y_label: &'a str,
    pub x_end: f64,
    pub y_range: Range<f64>,
    pub y_format: &'a dyn Fn(f64) -> String,
    pub series: Vec<Series>,
    pub thresholds: Vec<Threshold>,
    pub markers: &'a [Marker],
    /// Write the markers' labels at the top of the plot area (only on the first chart).
    pub marker_labels: bool,
    /// Shaded time spans (breach to rollback), drawn under everything else.
    pub bands: &'a [Band],
    /// Where the legend goes; `None` draws no legend.
    pub legend: Option<SeriesLabelPosition>,
}

/// A shaded span of time.
pub(crate) struct Band {
    pub from_s: f64,
    pub to_s: f64,
    pub color: RGBColor,
}

/// Formats seconds since the start for the time axis: `42s`, `3:05`, `2:03:05`.
pub(crate) fn clock(t_s: f64, x_end: f64) -> String {
    let total = t_s.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if x_end < 120.0 {
        format!("{total}s")
    } else if h == 0 {
        format!("{m}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}")
    }
}

fn draw_error(plot: &'static str) -> impl Fn(String) -> ReportError {
    move |message| ReportError::Draw { plot, message }
}

/// Draws the chart and returns the `<svg>` element as text.
pub(crate) fn draw(chart: &TimeChart<'_>) -> Result<String, ReportError> {
    let mut svg = String::new();
    draw_into(chart, &mut svg).map_err(draw_error(chart.plot))?;
    Ok(svg)
}

fn draw_into(spec: &TimeChart<'_>, svg: &mut String) -> Result<(), String> {
    let e = |err: &dyn std::fmt::Display| err.to_string();
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let (y0, y1) = (spec.y_range.start, spec.y_range.end);
    let mut chart = ChartBuilder::on(&root)
        .margin_top(12)
        .margin_right(28)
        .margin_left(10)
        .margin_bottom(8)
        .caption(spec.title, ("sans-serif", 23).into_font().color(&INK))
        .x_label_area_size(40)
        .y_label_area_size(78)
        .build_cartesian_2d(0f64..spec.x_end, spec.y_range.clone())
        .map_err(|x| e(&x))?;
    let x_end = spec.x_end;
    let x_format = move |x: &f64| clock(*x, x_end);
    let y_format = |y: &f64| (spec.y_format)(*y);
    chart
        .configure_mesh()
        .light_line_style(GRID)
        .bold_line_style(GRID_BOLD)
        .max_light_lines(2)
        .axis_style(MUTED)
        .x_labels(12)
        .y_labels(6)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .x_desc("time since start")
        .y_desc(spec.y_label)
        .label_style(("sans-serif", 16).into_font().color(&MUTED))
        .axis_desc_style(("sans-serif", 16).into_font().color(&MUTED))
        .draw()
        .map_err(|x| e(&x))?;

    for band in spec.bands {
        let area = Rectangle::new(
            [(band.from_s, y0), (band.to_s, y1)],
            band.color.mix(0.12).filled(),
        );
        chart
            .draw_series(std::iter::once(area))
            .map_err(|x| e(&x))?;
    }

    for (index, marker) in spec.markers.iter().enumerate() {
        let style = marker.color.mix(0.75).stroke_width(2);
        chart
            .draw_series(LineSeries::new([(marker.t_s, y0), (marker.t_s, y1)], style))
            .map_err(|x| e(&x))?;
        if spec.marker_labels {
            // Stagger labels on three rows so close decisions stay readable.
            let row = (index % 3) as f64;
            let y = y1 - (y1 - y0) * (0.012 + 0.08 * row);
            // Labels near the right edge go left of their line so they are not cut off.
            let near_end = marker.t_s > spec.x_end * 0.88;
            let (h_pos, label) = if near_end {
                (HPos::Right, format!("{} ", marker.label))
            } else {
                (HPos::Left, format!(" {}", marker.label))
            };
            let font = ("sans-serif", 16, FontStyle::Bold)
                .into_font()
                .color(&marker.color)
                .pos(Pos::new(h_pos, VPos::Top));
            let text = Text::new(label, (marker.t_s, y), font);
            chart
                .draw_series(std::iter::once(text))
                .map_err(|x| e(&x))?;
        }
    }

    for threshold in &spec.thresholds {
        let style = THRESHOLD.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, threshold.value), (spec.x_end, threshold.value)],
                9,
                6,
                style,
            ))
            .map_err(|x| e(&x))?
            .label(threshold.label.clone())
            .legend(move |(x, y)| {
                plotters::element::DashedPathElement::new(
                    [(x, y), (x + 20, y)],
                    5,
                    3,
                    THRESHOLD.stroke_width(2),
                )
            });
    }

    for series in &spec.series {
        let color = series.color;
        let mut labelled = false;
        for segment in segments(&series.points) {
            if series.filled {
                chart
                    .draw_series(AreaSeries::new(
                        segment.iter().copied(),
                        y0,
                        color.mix(0.18),
                    ))
                    .map_err(|x| e(&x))?;
            }
            let drawn = chart
                .draw_series(LineSeries::new(
                    segment.iter().copied(),
                    color.stroke_width(3),
                ))
                .map_err(|x| e(&x))?;
            if !labelled {
                drawn.label(series.label.clone()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
                });
                labelled = true;
            }
            if !series.filled && segment.len() <= 80 {
                chart
                    .draw_series(segment.iter().map(|p| Circle::new(*p, 3, color.filled())))
                    .map_err(|x| e(&x))?;
            }
        }
    }

    if let Some(position) = &spec.legend {
        chart
            .configure_series_labels()
            .position(position.clone())
            .background_style(WHITE.mix(0.92))
            .border_style(GRID_BOLD)
            .label_font(("sans-serif", 16).into_font().color(&INK))
            .draw()
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// Splits points at missing values into drawable runs.
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for (t, value) in points {
        match value {
            Some(v) => current.push((*t, *v)),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats_by_scale() {
        assert_eq!(clock(42.4, 60.0), "42s");
        assert_eq!(clock(185.0, 600.0), "3:05");
        assert_eq!(clock(7385.0, 9000.0), "2:03:05");
    }

    #[test]
    fn segments_break_at_gaps() {
        let runs = segments(&[
            (0.0, Some(1.0)),
            (1.0, None),
            (2.0, Some(2.0)),
            (3.0, Some(3.0)),
        ]);
        assert_eq!(runs, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }
}
