//! Bad configs pushed through ECDS to real Envoy: Envoy counts each refusal, the last good
//! config keeps routing, and the filter's log names the offending field.

mod envoy_support;

use envoy_support::{expected_variant, users, Stack};
use rollgate_e2e::envoy::{PushOutcome, Request};
use rollgate_e2e::E2eError;
use serde_json::json;

const GOOD: &str = r#"{"version":1,"experiments":[{"id":"fraud-v2","kind":"canary","salt":"fraud-v2","variants":[{"name":"stable","cluster":"stable","weight":7000},{"name":"canary","cluster":"canary","weight":3000}]}]}"#;

/// `(what, config text, a word the filter's log must name)`.
fn bad_configs() -> Vec<(&'static str, String, &'static str)> {
    let with = |from: &str, to: &str| GOOD.replacen(from, to, 1);
    vec![
        ("not JSON", "{\"version\":1,".to_string(), "line"),
        ("weights not 10000", with("\"weight\":3000", "\"weight\":2000"), "weight"),
        ("unknown field", with("\"version\":1", "\"version\":1,\"colour\":\"red\""), "colour"),
        ("duplicate experiment ids", GOOD.replace("]}]}", "]},{\"id\":\"fraud-v2\",\"kind\":\"ab\",\"salt\":\"s\",\"variants\":[{\"name\":\"a\",\"cluster\":\"stable\",\"weight\":10000}]}]}"), "fraud-v2"),
        ("duplicate variant names", with("\"name\":\"canary\"", "\"name\":\"stable\""), "name"),
        ("unsupported version", with("\"version\":1", "\"version\":2"), "version"),
        ("missing salt", with("\"salt\":\"fraud-v2\",", ""), "salt"),
        ("weight of the wrong type", with("\"weight\":3000", "\"weight\":\"3000\""), "weight"),
        ("shadow sample over 10000", with("\"salt\":\"fraud-v2\",", "\"salt\":\"fraud-v2\",\"shadow\":{\"cluster\":\"canary\",\"authority\":\"x\",\"sample\":20000},"), "sample"),
        ("guard rate over 1", with("\"salt\":\"fraud-v2\",", "\"salt\":\"fraud-v2\",\"guard\":{\"max_error_rate\":1.5,\"min_requests\":10,\"window\":100},"), "max_error_rate"),
        ("unknown missing_unit", with("\"version\":1", "\"version\":1,\"unit\":{\"missing_unit\":\"maybe\"}"), "missing_unit"),
        ("layer past 10000", with("\"salt\":\"fraud-v2\",", "\"salt\":\"fraud-v2\",\"layer\":{\"name\":\"l\",\"from\":0,\"to\":20000},"), "layer"),
        ("canary with one variant", json!({"version":1,"experiments":[{"id":"e","kind":"canary","salt":"e","variants":[{"name":"stable","cluster":"stable","weight":10000}]}]}).to_string(), "variants"),
        ("not an object", "[1,2,3]".to_string(), "expected an object"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configs_are_refused_and_the_last_good_one_keeps_routing() -> Result<(), E2eError> {
    let good: serde_json::Value = serde_json::from_str(GOOD).map_err(|e| E2eError::Protocol {
        what: "GOOD".into(),
        why: e.to_string(),
    })?;
    let stack = Stack::start(&["stable", "canary"], &good).await?;
    let users = users("bad-config", 200);
    let requests: Vec<Request> = users
        .iter()
        .map(|u| Request::get("/predict").user(u))
        .collect();
    let cases = bad_configs();
    assert!(cases.len() >= 10);
    for (i, (what, text, field)) in cases.iter().enumerate() {
        let log_before = stack.envoy.log().len();
        let before = stack.envoy.ecds_counters().await?;
        let outcome = stack.envoy.push_config_text(text).await?;
        assert_eq!(outcome, PushOutcome::Rejected, "{what}: {text}");
        let after = stack.envoy.ecds_counters().await?;
        assert_eq!(
            after.rejected,
            before.rejected + 1,
            "{what}: Envoy counts the refusal"
        );
        assert_eq!(after.rejected, i as u64 + 1);
        let log = stack.envoy.log();
        let new = log.get(log_before..).unwrap_or_default();
        let line = new
            .lines()
            .find(|l| l.contains("rejected") && l.contains("rollgate"))
            .unwrap_or_else(|| panic!("{what}: no rejection logged in\n{new}"));
        assert!(
            line.contains(field),
            "{what}: the log names {field:?}: {line}"
        );
        eprintln!(
            "{what:>26}: {}",
            line.split("rollgate: ").last().unwrap_or(line)
        );
        // The last good config still routes every user.
        for (user, reply) in users.iter().zip(stack.send_all(&requests).await?) {
            let want = ["stable", "canary"][expected_variant("fraud-v2", user, &[7_000, 3_000])];
            assert_eq!(reply.upstream(), Some(want), "after {what}: {user}");
        }
    }
    // A broken ECDS file (not the filter's config) is refused too.
    let outcome = stack.envoy.push_file("version_info: [").await?;
    assert_eq!(outcome, PushOutcome::Rejected);
    // And a good push still applies afterwards.
    stack.push(&good).await?;
    Ok(())
}
