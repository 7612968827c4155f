//! Events → results on scripted datasets whose statistics are known (scipy / statsmodels), and
//! the auto-rollback monitor (pure decision, then one pass over the stored events).
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{pushed_weights, TestApp, ACME};
use rollgate_api::monitor::{check_all, decide, ArmWindow, MonitorDecision};
use rollgate_api::types::ab::AbTest;
use serde_json::{json, Value};

const CONTROL: [f64; 10] = [0.82, 0.75, 0.91, 0.68, 0.88, 0.79, 0.85, 0.73, 0.90, 0.77];
const TREATMENT: [f64; 10] = [0.86, 0.92, 0.81, 0.95, 0.89, 0.84, 0.93, 0.88, 0.90, 0.97];

fn close(actual: &Value, expected: f64, tol: f64) {
    let a = actual.as_f64().unwrap_or(f64::NAN);
    assert!(
        (a - expected).abs() <= tol * expected.abs().max(1e-12),
        "{a} vs {expected}"
    );
}

async fn scripted(
    app: &TestApp,
    metric: &str,
    control: &[f64],
    treatment: &[f64],
    extra: Value,
) -> String {
    let mut settings =
        json!({"treatment_fraction": 0.5, "primary_metric": metric, "min_sample_size": 10});
    if let (Some(m), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    let test = app.ab_test(ACME, settings).await;
    let id = test["experiment_id"].as_str().unwrap().to_string();
    let mut events: Vec<(&str, &str, f64)> =
        control.iter().map(|&v| ("control", metric, v)).collect();
    events.extend(treatment.iter().map(|&v| ("treatment", metric, v)));
    // in two batches, so the running statistics merge across transactions
    let half = events.len() / 2;
    for chunk in [&events[..half], &events[half..]] {
        let answer = app.events(ACME, &id, chunk).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.body["accepted"], chunk.len());
    }
    id
}

#[tokio::test]
async fn continuous_metric_matches_scipy_welch_student_and_mann_whitney() {
    let app = TestApp::new();
    let id = scripted(&app, "accuracy", &CONTROL, &TREATMENT, json!({})).await;
    let welch = app
        .get(&format!("/api/v1/ab-tests/{id}/results"), ACME)
        .await
        .body;
    assert_eq!(welch["test"], "welch_t");
    // scipy.stats.ttest_ind(TREATMENT, CONTROL, equal_var=False)
    //   → statistic 2.9976247027154774, pvalue 0.008820695749956028
    close(&welch["statistic"], 2.9976247027154774, 1e-9);
    close(&welch["p_value"], 0.008820695749956028, 1e-6);
    close(&welch["control"]["mean"], 0.808, 1e-12);
    close(&welch["treatment"]["mean"], 0.895, 1e-12);
    assert_eq!(welch["control"]["count"], 10);
    assert_eq!(welch["significant"], true);
    assert_eq!(welch["decision"], "promote");
    assert_eq!(welch["srm"]["mismatch"], false);

    let student = app
        .get(
            &format!("/api/v1/ab-tests/{id}/results?test=student_t"),
            ACME,
        )
        .await
        .body;
    // scipy.stats.ttest_ind(TREATMENT, CONTROL, equal_var=True) → 2.9976247027154774, 0.007725209251076891
    close(&student["statistic"], 2.9976247027154774, 1e-9);
    close(&student["p_value"], 0.007725209251076891, 1e-6);

    let mwu = app
        .get(
            &format!("/api/v1/ab-tests/{id}/results?test=mann_whitney_u"),
            ACME,
        )
        .await
        .body;
    // scipy.stats.mannwhitneyu(TREATMENT, CONTROL, method="asymptotic") → statistic 82.0, pvalue 0.01717366099606797
    assert_eq!(mwu["test"], "mann_whitney_u");
    close(&mwu["statistic"], 82.0, 1e-12);
    close(&mwu["p_value"], 0.01717366099606797, 1e-6);

    let bad = app
        .get(&format!("/api/v1/ab-tests/{id}/results?test=anova"), ACME)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["field"], "test");
}

#[tokio::test]
async fn binary_metric_matches_statsmodels_proportions_ztest() {
    let app = TestApp::new();
    let ones = |n: usize, total: usize| {
        (0..total)
            .map(|i| if i < n { 1.0 } else { 0.0 })
            .collect::<Vec<f64>>()
    };
    let id = scripted(
        &app,
        "conversion",
        &ones(120, 1000),
        &ones(150, 1000),
        json!({"min_sample_size": 1000}),
    )
    .await;
    let r = app
        .get(&format!("/api/v1/ab-tests/{id}/results"), ACME)
        .await
        .body;
    assert_eq!(r["test"], "two_proportion_z");
    // statsmodels.stats.proportion.proportions_ztest([150, 120], [1000, 1000])
    //   → (1.963049807622355, 0.04964038686536878)
    close(&r["statistic"], 1.963049807622355, 1e-9);
    close(&r["p_value"], 0.04964038686536878, 1e-6);
    close(&r["difference"], 0.03, 1e-9);
    close(&r["lift"], 0.25, 1e-9);
    assert_eq!(r["decision"], "promote");
}

#[tokio::test]
async fn too_little_data_continues_with_a_note() {
    let app = TestApp::new();
    let id = scripted(&app, "accuracy", &[0.5], &[0.7], json!({})).await;
    let r = app
        .get(&format!("/api/v1/ab-tests/{id}/results"), ACME)
        .await
        .body;
    assert_eq!(r["test"], Value::Null);
    assert_eq!(r["decision"], "continue");
    assert!(r["note"].as_str().is_some());
}

fn sample_test(threshold: f64, started_at: &str, max_hours: u32) -> AbTest {
    AbTest {
        experiment_id: "ab-1".into(),
        tenant_id: "acme".into(),
        name: "t".into(),
        control_model_id: "m".into(),
        control_version: "v1".into(),
        treatment_model_id: "m".into(),
        treatment_version: "v2".into(),
        treatment_fraction: 0.2,
        primary_metric: "accuracy".into(),
        minimum_improvement: 0.01,
        confidence_level: 0.95,
        max_duration_hours: max_hours,
        min_sample_size: 1000,
        auto_rollback_threshold: threshold,
        rollback_window_minutes: 15,
        status: rollgate_api::types::ab::AbStatus::Active,
        outcome: None,
        reason: None,
        started_at: started_at.into(),
        ended_at: None,
        version: 1,
        service: "m".into(),
        control_cluster: "c1".into(),
        treatment_cluster: "c2".into(),
        layer: None,
    }
}

#[test]
fn monitor_decision_is_pure_and_follows_seed_001() {
    let test = sample_test(0.05, "2026-01-01T00:00:00Z", 168);
    let now = rollgate_api::time::parse_rfc3339("2026-01-02T00:00:00Z").unwrap();
    let arm = |total, errors| ArmWindow { total, errors };
    // 12 % vs 2 %: degradation 0.10 > 0.05
    assert!(matches!(
        decide(&test, arm(100, 2.0), arm(100, 12.0), now),
        MonitorDecision::Rollback { .. }
    ));
    // exactly at the threshold is not above it (seed: degradation > threshold)
    assert_eq!(
        decide(&test, arm(100, 2.0), arm(100, 7.0), now),
        MonitorDecision::Keep
    );
    // treatment better: keep
    assert_eq!(
        decide(&test, arm(100, 12.0), arm(100, 2.0), now),
        MonitorDecision::Keep
    );
    // too few events in the window: keep
    assert_eq!(
        decide(&test, arm(10, 0.0), arm(10, 10.0), now),
        MonitorDecision::Keep
    );
    // past max_duration_hours: expire
    let late = rollgate_api::time::parse_rfc3339("2026-01-08T00:00:00Z").unwrap();
    assert_eq!(
        decide(&test, arm(0, 0.0), arm(0, 0.0), late),
        MonitorDecision::Expire
    );
}

#[tokio::test]
async fn monitor_pass_rolls_back_a_degrading_treatment_and_alerts() {
    let app = TestApp::new();
    let test = app
        .ab_test(ACME, json!({"auto_rollback_threshold": 0.05}))
        .await;
    let id = test["experiment_id"].as_str().unwrap().to_string();
    let healthy = app.ab_test_other_service().await;
    let mut events: Vec<(&str, &str, f64)> = Vec::new();
    for i in 0..50 {
        events.push(("control", "error", if i < 1 { 1.0 } else { 0.0 })); // 2 %
        events.push(("treatment", "error", if i < 10 { 1.0 } else { 0.0 })); // 20 %
    }
    assert_eq!(app.events(ACME, &id, &events).await.status, StatusCode::OK);
    let acted = check_all(&app.state, rollgate_api::time::now_ms())
        .await
        .unwrap();
    assert_eq!(acted.len(), 1, "{acted:?}");
    assert_eq!(acted[0].0, id);
    let after = app.get(&format!("/api/v1/ab-tests/{id}"), ACME).await.body;
    assert_eq!(after["status"], "rolled_back");
    assert!(
        after["reason"]
            .as_str()
            .unwrap()
            .contains("auto-rolled back"),
        "{after}"
    );
    assert_eq!(
        pushed_weights(&app.sink.latest("acme/fraud").unwrap()),
        vec![("control".into(), 10000), ("treatment".into(), 0)]
    );
    assert_eq!(app.state.metrics.auto_rollbacks(), 1);
    let metrics = app
        .send(axum::http::Method::GET, "/metrics", None, None)
        .await
        .text;
    assert!(metrics.contains("rollgate_api_auto_rollbacks_total 1"));
    // the other experiment is left alone
    let other = app
        .get(&format!("/api/v1/ab-tests/{healthy}"), ACME)
        .await
        .body;
    assert_eq!(other["status"], "active");
    // a rolled-back test is no longer watched: a second pass does nothing
    assert!(check_all(&app.state, rollgate_api::time::now_ms())
        .await
        .unwrap()
        .is_empty());
}

impl TestApp {
    async fn ab_test_other_service(&self) -> String {
        self.register(ACME, "ranker", "a").await;
        self.register(ACME, "ranker", "b").await;
        let answer = self
            .post(
                "/api/v1/ab-tests",
                ACME,
                json!({"name": "r", "control_model_id": "ranker", "control_version": "a",
                "treatment_model_id": "ranker", "treatment_version": "b"}),
            )
            .await;
        answer.body["experiment_id"].as_str().unwrap().to_string()
    }
}
