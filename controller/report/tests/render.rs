//! The report of the demo-like fixture (`tests/fixtures/timeline.json`, made by
//! `tests/fixtures/gen_timeline.py`): well-formed XML, every plot present with the gate
//! thresholds and decision markers drawn, the summary numbers right, nothing fetched from outside.

use rollgate_report::{render_html, ReportError, Timeline, PLOT_IDS};

fn fixture() -> Timeline {
    let text = include_str!("fixtures/timeline.json");
    Timeline::from_json(text).expect("the fixture is a valid timeline")
}

fn render() -> String {
    render_html(&fixture()).expect("renders")
}

#[test]
fn report_is_well_formed_xml_with_every_plot() {
    let html = render();
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|err| panic!("report is not well-formed: {err}"));
    for id in PLOT_IDS {
        let figure = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no element with id {id}"));
        let svg = figure
            .children()
            .find(|n| n.tag_name().name() == "svg")
            .unwrap_or_else(|| panic!("{id} holds no <svg>"));
        assert_eq!(
            svg.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg"),
            "{id}"
        );
        let lines = svg
            .descendants()
            .filter(|n| n.tag_name().name() == "polyline")
            .count();
        assert!(
            lines >= 3,
            "{id}: expected drawn series, found {lines} polylines"
        );
    }
}

#[test]
fn thresholds_and_decisions_are_drawn() {
    let html = render();
    // legends name each gate on its plot
    for legend in [
        "gate error-rate: &lt; 5%",
        "gate p99: &lt; 250 ms",
        "gate shadow: &gt; 90%",
    ] {
        assert!(html.contains(legend), "missing legend {legend}");
    }
    // threshold lines are the dashed red segments: many short lines of the threshold color
    assert!(
        html.matches("stroke=\"#DC2626\"").count() > 20,
        "dashed threshold lines missing"
    );
    // decision labels on the weight plot
    // (left of their line near the right edge, right of it elsewhere)
    for label in ["rollback", "promote", "pause", "resume"] {
        let drawn = [format!(" {label}\n</text>"), format!("{label} \n</text>")];
        assert!(
            drawn.iter().any(|d| html.contains(d.as_str())),
            "missing marker label {label:?}"
        );
    }
}

#[test]
fn summary_reports_breach_to_rollback_and_outcome() {
    let html = render();
    // canary breaches from t=22 (6 of 100 are 5xx), rollback at t=27: 5.0 s
    assert!(
        html.contains("<b>5.0 s</b>"),
        "breach to rollback time missing"
    );
    assert!(html.contains(">Promoted<"), "outcome missing");
    assert!(
        html.contains("two_proportion_z: statistic 2.304, p-value 0.0212"),
        "A/B line missing"
    );
    for table in ["rollbacks", "decisions", "variants", "gates", "ab"] {
        assert!(
            html.contains(&format!("<table id=\"{table}\">")),
            "table {table} missing"
        );
    }
}

#[test]
fn report_is_self_contained() {
    let html = render();
    for outside in ["<script", "<link", "<img", "src=", "@import", "url("] {
        assert!(
            !html.contains(outside),
            "report refers to something outside: {outside}"
        );
    }
    let external = html
        .match_indices("http")
        .map(|(i, _)| &html[i..(i + 40).min(html.len())])
        .filter(|s| !s.starts_with("http://www.w3.org/"))
        .count();
    assert_eq!(external, 0, "only XML namespaces may name a URL");
}

#[test]
fn timeline_without_shadow_says_so() {
    let mut timeline = fixture();
    timeline.shadow.clear();
    let html = render_html(&timeline).expect("renders");
    assert!(html.contains("No shadow traffic in this timeline."));
}

#[test]
fn invalid_timelines_name_the_field() {
    let mut timeline = fixture();
    timeline.samples[3].errors = timeline.samples[3].requests + 1;
    let err = render_html(&timeline).expect_err("refused");
    assert!(err.to_string().contains("samples[3].errors"), "{err}");

    let err = Timeline::from_json(r#"{"title": "x"}"#).expect_err("refused");
    assert!(matches!(err, ReportError::Parse { .. }), "{err}");

    let text = include_str!("fixtures/timeline.json").replacen("\"t_s\": 0,", "\"t_s\": -1,", 1);
    let err = Timeline::from_json(&text).expect_err("negative time refused");
    assert!(err.to_string().contains("t_s"), "{err}");
}

#[test]
fn text_is_escaped() {
    let mut timeline = fixture();
    timeline.title = "a <b> & \"c\"".into();
    timeline.decisions[3].reason = "error <rate> & more".into();
    let html = render_html(&timeline).expect("renders");
    assert!(html.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
    roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("still well-formed");
}
