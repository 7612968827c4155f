//! Config pushes while shadow calls are in flight, in real Envoy: every copy sent is accounted
//! for (sent = answered + failed + cancelled + evicted) across a whole ramp of pushes.

mod envoy_support;

use envoy_support::{users, Stack};
use rollgate_e2e::envoy::{Behavior, Request};
use rollgate_e2e::E2eError;
use serde_json::json;
use std::time::Duration;

fn config(canary: u32) -> serde_json::Value {
    json!({
        "version": 1,
        "experiments": [{
            "id": "pushed", "kind": "canary", "salt": "pushed",
            "variants": [
                { "name": "stable", "cluster": "stable", "weight": 10_000 - canary },
                { "name": "canary", "cluster": "canary", "weight": canary }
            ],
            "shadow": { "cluster": "shadow", "authority": "shadow", "sample": 10_000, "timeout_ms": 1_500,
                        "compare": { "json_pointer": "/prediction" } }
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_in_flight_during_a_ramp_are_all_accounted_for() -> Result<(), E2eError> {
    let stack = Stack::start(&["stable", "canary", "shadow"], &config(100)).await?;
    // The shadow answers after 1 s: every push below lands while copies are pending.
    stack.upstream("shadow").set_behavior(Behavior {
        delay: Duration::from_secs(1),
        ..Behavior::default()
    });
    let users = users("push", 100);
    let mut sent_total = 0.0;
    for canary in [500u32, 1_000, 2_500, 5_000, 10_000] {
        let requests: Vec<Request> = users
            .iter()
            .map(|u| Request::post("/p", "{}").user(u))
            .collect();
        let replies = stack.send_all(&requests).await?;
        assert!(replies.iter().all(|r| r.status == 200));
        sent_total += users.len() as f64;
        stack.push(&config(canary)).await?;
    }
    let result = |s: &rollgate_e2e::envoy::PromScrape, r: &str| {
        s.sum(
            "rollgate_shadow_requests_total",
            &[("experiment", "pushed"), ("result", r)],
        )
    };
    let scrape = stack
        .envoy
        .wait_for(
            "every shadow copy accounted for",
            Duration::from_secs(15),
            || async {
                let s = stack.envoy.prometheus().await?;
                let answered = s.sum(
                    "rollgate_shadow_responses_total",
                    &[("experiment", "pushed")],
                );
                let done = answered
                    + result(&s, "failed")
                    + result(&s, "cancelled")
                    + result(&s, "evicted");
                Ok((result(&s, "sent") >= sent_total && done >= result(&s, "sent")).then_some(s))
            },
        )
        .await?;
    let answered = scrape.sum(
        "rollgate_shadow_responses_total",
        &[("experiment", "pushed")],
    );
    let (failed, cancelled, evicted) = (
        result(&scrape, "failed"),
        result(&scrape, "cancelled"),
        result(&scrape, "evicted"),
    );
    eprintln!("sent {sent_total}: answered {answered}, failed {failed}, cancelled {cancelled}, evicted {evicted}");
    assert_eq!(result(&scrape, "sent"), sent_total);
    assert_eq!(answered + failed + cancelled + evicted, sent_total);
    Ok(())
}
