//! `GET /ab-tests/{id}/results?test=cuped|ratio_delta`: per-unit sums of two metrics from the
//! stored events, analysed by rollgate-stats, on datasets whose numbers numpy / scipy give
//! (the same datasets as `controller/tests/analyze_cli.rs`, calls in comments there and here).
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{TestApp, ACME};
use serde_json::{json, Value};

fn close(actual: &Value, expected: f64, tol: f64) {
    let a = actual.as_f64().unwrap_or(f64::NAN);
    assert!(
        (a - expected).abs() <= tol * expected.abs().max(1e-12),
        "{a} vs {expected}"
    );
}

async fn test_with(app: &TestApp, metric: &str) -> String {
    let settings =
        json!({"treatment_fraction": 0.5, "primary_metric": metric, "min_sample_size": 5});
    let test = app.ab_test(ACME, settings).await;
    test["experiment_id"].as_str().unwrap().to_string()
}

async fn post(app: &TestApp, id: &str, events: Vec<Value>) {
    let answer = app
        .post(
            &format!("/api/v1/ab-tests/{id}/events"),
            ACME,
            Value::Array(events),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

fn event(unit: &str, variant: &str, metric: &str, value: f64) -> Value {
    json!({"unit": unit, "variant": variant, "metric": metric, "value": value})
}

#[tokio::test]
async fn cuped_from_per_unit_events_matches_scipy() {
    let app = TestApp::new();
    let id = test_with(&app, "revenue").await;
    let yc = [12.1, 14.3, 11.8, 13.5, 12.9, 15.2, 13.3, 12.4, 14.0, 13.1];
    let xc = [11.0, 13.9, 11.2, 12.8, 12.0, 14.1, 12.9, 11.5, 13.2, 12.6];
    let yt = [14.2, 15.1, 13.9, 16.4, 15.5, 14.8, 13.7, 15.9];
    let xt = [12.1, 13.8, 12.9, 14.6, 13.7, 13.0, 12.2, 14.1];
    let mut events = Vec::new();
    for (variant, ys, xs) in [
        ("control", &yc[..], &xc[..]),
        ("treatment", &yt[..], &xt[..]),
    ] {
        for (i, (y, x)) in ys.iter().zip(xs).enumerate() {
            let unit = format!("{variant}-{i}");
            // a unit's metric in two events (halving is exact): the route sums per unit
            events.push(event(&unit, variant, "revenue", y / 2.0));
            events.push(event(&unit, variant, "revenue", y / 2.0));
            events.push(event(&unit, variant, "pre_revenue", *x));
        }
    }
    // a unit with a pre-experiment value but no outcome is not in the analysis
    events.push(event("control-pre-only", "control", "pre_revenue", 50.0));
    post(&app, &id, events).await;
    let out = app
        .get(
            &format!("/api/v1/ab-tests/{id}/results?test=cuped&covariate=pre_revenue"),
            ACME,
        )
        .await
        .body;
    assert_eq!(out["test"], "cuped", "{out}");
    // np.cov(X, Y)[0, 1] / np.var(X, ddof=1) -> 1.1342198581560279
    close(&out["theta"], 1.1342198581560279, 1e-9);
    // adj_t.mean() - adj_c.mean() -> 0.7928085106382969
    close(&out["difference"], 0.7928085106382969, 1e-9);
    // scipy.stats.ttest_ind(adj_t, adj_c, equal_var=False) -> 4.750096858550939, p 0.0002933688756046219
    close(&out["statistic"], 4.750096858550939, 1e-9);
    close(&out["p_value"], 0.0002933688756046219, 1e-9);
    // .confidence_interval(0.95) -> (0.4355312324131001, 1.1500857888634939)
    close(&out["ci"][0], 0.4355312324131001, 1e-9);
    close(&out["ci"][1], 1.1500857888634939, 1e-9);
    // 1 - np.var(adj, ddof=1) / np.var(Y, ddof=1) -> 0.8365898609786244
    close(&out["variance_reduction"], 0.8365898609786244, 1e-9);
    assert_eq!(out["significant"], true);

    let missing = app
        .get(&format!("/api/v1/ab-tests/{id}/results?test=cuped"), ACME)
        .await;
    assert_eq!(
        missing.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        missing.text
    );
    assert!(missing.text.contains("covariate"), "{}", missing.text);
}

#[tokio::test]
async fn ratio_delta_from_per_unit_events_matches_scipy() {
    let app = TestApp::new();
    let id = test_with(&app, "clicks").await;
    let nc = [3., 5., 2., 8., 4., 6., 1., 7., 5., 3., 4., 6.];
    let dc = [2., 3., 2., 5., 3., 4., 1., 4., 3., 2., 3., 4.];
    let nt = [4., 6., 3., 9., 5., 8., 2., 7., 6., 5., 4.];
    let dt = [2., 3., 2., 5., 3., 4., 1., 4., 3., 3., 2.];
    let mut events = Vec::new();
    for (variant, ns, ds) in [
        ("control", &nc[..], &dc[..]),
        ("treatment", &nt[..], &dt[..]),
    ] {
        for (i, (n, d)) in ns.iter().zip(ds).enumerate() {
            let unit = format!("{variant}-{i}");
            events.push(event(&unit, variant, "clicks", *n));
            events.push(event(&unit, variant, "sessions", *d));
        }
    }
    post(&app, &id, events).await;
    let out = app
        .get(
            &format!("/api/v1/ab-tests/{id}/results?test=ratio_delta&denominator=sessions"),
            ACME,
        )
        .await
        .body;
    assert_eq!(out["test"], "ratio_delta", "{out}");
    // n.sum() / d.sum() per arm -> 1.5 and 1.84375
    close(&out["control_ratio"], 1.5, 1e-12);
    close(&out["treatment_ratio"], 1.84375, 1e-12);
    close(&out["difference"], 0.34375, 1e-12);
    // np.sqrt(Var_t + Var_c), Var = (c[0,0]/md**2 - 2*mn*c[0,1]/md**3 + mn**2*c[1,1]/md**4)/n
    //   with c = np.cov(n, d, ddof=1) -> 0.07341931094117658
    close(&out["se"], 0.07341931094117658, 1e-9);
    close(&out["statistic"], 4.682010707992232, 1e-9);
    // 2 * scipy.stats.norm.sf(abs(z)) -> 2.8407463812795185e-06
    close(&out["p_value"], 2.8407463812795185e-06, 1e-9);
    // difference -/+ scipy.stats.norm.ppf(0.975) * se
    close(&out["ci"][0], 0.19985079478554635, 1e-9);
    close(&out["ci"][1], 0.48764920521445365, 1e-9);
    close(&out["lift"], 0.22916666666666666, 1e-9);
    assert_eq!(out["significant"], true);
}
