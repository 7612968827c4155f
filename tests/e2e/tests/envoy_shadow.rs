//! Shadow traffic in real Envoy (`--concurrency 2`): the sampled share of users is copied (body,
//! `:authority` rewrite, `x-rollgate-shadow: 1`), oversized bodies are skipped, answers are
//! compared (agree / disagree / incomparable), and a hanging or failing shadow never delays or
//! fails the primary.

mod envoy_support;

use envoy_support::{users, Stack};
use rollgate_e2e::envoy::{bucket, Behavior, PromScrape, Request};
use rollgate_e2e::E2eError;
use serde_json::json;
use std::time::Duration;

const SAMPLE: u32 = 3_000;
const MAX_BODY: u32 = 1_024;

fn config(sample: u32, timeout_ms: u32) -> serde_json::Value {
    json!({
        "version": 1,
        "experiments": [{
            "id": "shadowed", "kind": "canary", "salt": "shadowed",
            "variants": [
                { "name": "stable", "cluster": "stable", "weight": 10_000 },
                { "name": "canary", "cluster": "canary", "weight": 0 }
            ],
            "shadow": {
                "cluster": "shadow", "authority": "model-shadow", "sample": sample,
                "timeout_ms": timeout_ms, "max_body_bytes": MAX_BODY,
                "compare": { "json_pointer": "/prediction", "tolerance": 0.0 }
            }
        }]
    })
}

/// Whether the formula shadows `user`: bucket of `"shadow:" ++ salt` below the sample.
fn shadowed(user: &str, sample: u32) -> bool {
    u32::from(bucket("shadow:shadowed", user.as_bytes())) < sample
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

async fn counts(stack: &Stack, want_sent: f64) -> Result<PromScrape, E2eError> {
    stack
        .envoy
        .wait_for(
            "shadow comparisons in /stats/prometheus",
            Duration::from_secs(15),
            || async {
                let s = stack.envoy.prometheus().await?;
                let compared = s.sum(
                    "rollgate_shadow_comparisons_total",
                    &[("experiment", "shadowed")],
                );
                Ok((compared >= want_sent).then_some(s))
            },
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_copies_compare_and_never_touch_the_primary() -> Result<(), E2eError> {
    let stack = Stack::start(&["stable", "canary", "shadow"], &config(SAMPLE, 1_000)).await?;
    let shadow = stack.upstream("shadow");
    // The shadow's prediction comes from a header: 0.5 agrees with stable, 0.9 disagrees.
    shadow.set_behavior(Behavior {
        prediction_header: Some("x-answer".into()),
        ..Behavior::default()
    });
    let users = users("shadow", 2_000);
    let requests: Vec<Request> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let answer = if i % 4 == 0 { "0.9" } else { "0.5" };
            Request::post("/predict", format!("{{\"user\":\"{u}\",\"n\":{i}}}"))
                .user(u)
                .header("x-answer", answer)
        })
        .collect();
    let replies = stack.send_all(&requests).await?;
    assert!(replies
        .iter()
        .all(|r| r.status == 200 && r.upstream() == Some("stable")));
    let expected: Vec<usize> = (0..users.len())
        .filter(|&i| shadowed(&users[i], SAMPLE))
        .collect();
    let disagree = expected.iter().filter(|&&i| i % 4 == 0).count() as f64;
    let scrape = counts(&stack, expected.len() as f64).await?;
    let copies = shadow.recorded();
    assert_eq!(
        copies.len(),
        expected.len(),
        "copies of exactly the sampled users"
    );
    for copy in &copies {
        let user = copy.header("x-user-id").unwrap_or_default();
        let i: usize = user
            .trim_start_matches("shadow-")
            .parse()
            .unwrap_or(usize::MAX);
        assert!(shadowed(user, SAMPLE), "{user} was not sampled");
        assert_eq!(
            copy.header("host"),
            Some("model-shadow"),
            "authority rewritten"
        );
        assert_eq!(copy.header("x-rollgate-shadow"), Some("1"));
        assert_eq!(
            copy.body,
            format!("{{\"user\":\"{user}\",\"n\":{i}}}").as_bytes(),
            "body copied"
        );
    }
    let share = expected.len() as f64 / users.len() as f64;
    eprintln!(
        "shadow: {} of {} users copied ({share:.3}, sample 0.30)",
        expected.len(),
        users.len()
    );
    let result = |r: &str| {
        scrape.sum(
            "rollgate_shadow_comparisons_total",
            &[("experiment", "shadowed"), ("result", r)],
        )
    };
    assert_eq!(result("disagree"), disagree);
    assert_eq!(result("agree"), expected.len() as f64 - disagree);
    let sent = scrape.sum(
        "rollgate_shadow_requests_total",
        &[("experiment", "shadowed"), ("result", "sent")],
    );
    assert_eq!(sent, expected.len() as f64);

    // Incomparable: the shadow answers something that is not JSON.
    shadow.set_behavior(Behavior {
        not_json: true,
        ..Behavior::default()
    });
    let sampled: Vec<Request> = expected
        .iter()
        .take(50)
        .map(|&i| requests[i].clone())
        .collect();
    stack.send_all(&sampled).await?;
    let scrape = counts(&stack, expected.len() as f64 + 50.0).await?;
    assert_eq!(result_of(&scrape, "incomparable"), 50.0);

    // Oversized bodies are not copied, and the primary is served.
    shadow.clear();
    let big: Vec<Request> = expected
        .iter()
        .take(20)
        .map(|&i| Request::post("/predict", vec![b'x'; MAX_BODY as usize + 1]).user(&users[i]))
        .collect();
    assert!(stack.send_all(&big).await?.iter().all(|r| r.status == 200));
    let skipped = stack
        .envoy
        .wait_for("skipped_too_large", Duration::from_secs(10), || async {
            let s = stack.envoy.prometheus().await?;
            let n = s.sum(
                "rollgate_shadow_requests_total",
                &[("experiment", "shadowed"), ("result", "skipped_too_large")],
            );
            Ok((n >= 20.0).then_some(n))
        })
        .await?;
    assert_eq!(skipped, 20.0);
    assert_eq!(shadow.count(), 0, "no oversized copy sent");
    Ok(())
}

fn result_of(scrape: &PromScrape, result: &str) -> f64 {
    scrape.sum(
        "rollgate_shadow_comparisons_total",
        &[("experiment", "shadowed"), ("result", result)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_failing_shadow_never_delays_or_fails_the_primary() -> Result<(), E2eError> {
    // Phase 1 without shadow, phase 2 with every user copied to a shadow that hangs 2 s,
    // phase 3 with a shadow that fails: same Envoy, same users.
    let stack = Stack::start(&["stable", "canary", "shadow"], &config(0, 3_000)).await?;
    let users = users("latency", 400);
    let requests: Vec<Request> = users
        .iter()
        .map(|u| Request::post("/predict", "{}").user(u))
        .collect();
    let without = stack.send_all(&requests).await?;
    stack.upstream("shadow").set_behavior(Behavior {
        delay: Duration::from_secs(2),
        ..Behavior::default()
    });
    stack.push(&config(10_000, 3_000)).await?;
    let with = stack.send_all(&requests).await?;
    stack.upstream("shadow").set_behavior(Behavior {
        status: 503,
        ..Behavior::default()
    });
    let failing = stack.send_all(&requests).await?;
    for replies in [&without, &with, &failing] {
        assert!(replies
            .iter()
            .all(|r| r.status == 200 && r.upstream() == Some("stable")));
    }
    let (a, b, c) = (
        p99(without.iter().map(|r| r.elapsed).collect()),
        p99(with.iter().map(|r| r.elapsed).collect()),
        p99(failing.iter().map(|r| r.elapsed).collect()),
    );
    eprintln!("primary p99: no shadow {a:?}, 2 s shadow {b:?}, failing shadow {c:?}");
    // Generous: a delayed primary would wait the shadow's 2 s.
    assert!(
        b < a + Duration::from_millis(500),
        "a 2 s shadow delayed the primary: {a:?} -> {b:?}"
    );
    assert!(
        c < a + Duration::from_millis(500),
        "a failing shadow delayed the primary: {a:?} -> {c:?}"
    );
    assert!(
        stack.upstream("shadow").count() >= 2 * users.len(),
        "the copies were sent"
    );
    Ok(())
}
