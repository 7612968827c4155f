//! The in-filter guard in real Envoy with two workers (two Wasm VMs): a 5xx burst on the canary
//! trips the revert for every worker within `min_requests` + a few canary responses, the trip
//! is counted once, and a new config resets it.

mod envoy_support;

use envoy_support::{expected_variant, users, Stack};
use rollgate_e2e::envoy::{Behavior, Request};
use rollgate_e2e::E2eError;
use serde_json::json;

const MIN_REQUESTS: u32 = 20;
/// Requests in flight at once: each may be decided before an earlier 5xx is counted.
const IN_FLIGHT: usize = 4;

fn config(window: u32) -> serde_json::Value {
    json!({
        "version": 1,
        "experiments": [{
            "id": "guarded", "kind": "canary", "salt": "guarded",
            "variants": [
                { "name": "stable", "cluster": "stable", "weight": 5_000 },
                { "name": "canary", "cluster": "canary", "weight": 5_000 }
            ],
            "guard": { "max_error_rate": 0.2, "min_requests": MIN_REQUESTS, "window": window }
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_trips_the_guard_on_every_worker() -> Result<(), E2eError> {
    let stack = Stack::start(&["stable", "canary"], &config(100)).await?;
    stack.upstream("canary").set_behavior(Behavior {
        status: 503,
        ..Behavior::default()
    });
    // Only users the formula puts in the canary: without the guard every request fails.
    let canary_users: Vec<String> = users("guard", 2_000)
        .into_iter()
        .filter(|u| expected_variant("guarded", u, &[5_000, 5_000]) == 1)
        .take(400)
        .collect();
    let requests: Vec<Request> = canary_users
        .iter()
        .map(|u| Request::get("/p").user(u))
        .collect();
    // Several connections: exact balance spreads them over both workers.
    let replies = stack.client.send_all(&requests, IN_FLIGHT).await?;
    let reached = stack.upstream("canary").count();
    eprintln!(
        "canary answered {reached} requests before the guard held (min_requests {MIN_REQUESTS})"
    );
    let limit = MIN_REQUESTS as usize + 2 * IN_FLIGHT;
    assert!(
        reached <= limit,
        "the canary got {reached} requests (> {limit}): the workers' guards do not share counts"
    );
    let tail = &replies[replies.len() - 100..];
    assert!(tail
        .iter()
        .all(|r| r.upstream() == Some("stable") && r.status == 200));
    let scrape = stack.envoy.prometheus().await?;
    let trips = scrape.sum("rollgate_guard_tripped_total", &[("experiment", "guarded")]);
    assert_eq!(trips, 1.0, "one trip, counted once across workers");

    // A new config resets the guard: canary users reach the (now healthy) canary again.
    stack.upstream("canary").set_behavior(Behavior::default());
    stack.upstream("canary").clear();
    stack.push(&config(101)).await?;
    let replies = stack.client.send_all(&requests[..100], IN_FLIGHT).await?;
    assert!(replies
        .iter()
        .all(|r| r.upstream() == Some("canary") && r.status == 200));
    Ok(())
}
