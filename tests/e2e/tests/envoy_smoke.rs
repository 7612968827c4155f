//! Smoke test of the Envoy fixture: real Envoy loads the `.wasm` through ECDS, routes users
//! by the bucket formula, applies a pushed config, refuses a bad one and exports metrics.

use rollgate_core::FilterConfig;
use rollgate_e2e::envoy::{Behavior, Cluster, Envoy, EnvoyOptions, PushOutcome, Request, Upstream};
use rollgate_e2e::E2eError;

fn config(canary: u32) -> Result<FilterConfig, E2eError> {
    let json = serde_json::json!({
        "version": 1,
        "experiments": [{
            "id": "smoke", "kind": "canary", "salt": "smoke",
            "variants": [
                { "name": "stable", "cluster": "stable", "weight": 10_000 - canary },
                { "name": "canary", "cluster": "canary", "weight": canary }
            ]
        }]
    });
    FilterConfig::from_json(json.to_string().as_bytes()).map_err(|err| E2eError::Protocol {
        what: "test config".into(),
        why: err.to_string(),
    })
}

/// The variant the documented formula gives `user` at `canary` basis points.
fn expected(user: &str, canary: u32) -> &'static str {
    if u32::from(rollgate_core::bucket("smoke", user.as_bytes())) < 10_000 - canary {
        "stable"
    } else {
        "canary"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_routes_pushes_and_refuses() -> Result<(), E2eError> {
    let stable = Upstream::start("stable", Behavior::default())?;
    let canary = Upstream::start("canary", Behavior::default())?;
    let options = EnvoyOptions::new(vec![
        Cluster::new("stable", stable.addr()),
        Cluster::new("canary", canary.addr()),
    ]);
    let envoy = Envoy::start(options, &config(5_000)?).await?;
    eprintln!("Envoy {} on {}", envoy.version(), envoy.listener());
    let client = envoy.client()?;

    let users: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
    let requests: Vec<Request> = users
        .iter()
        .map(|u| Request::get("/predict").user(u))
        .collect();
    let replies = client.send_all(&requests, 8).await?;
    for (user, reply) in users.iter().zip(&replies) {
        assert_eq!(reply.status, 200, "{user}: {reply:?}");
        assert_eq!(reply.upstream(), Some(expected(user, 5_000)), "{user}");
    }
    let seen = stable.recorded();
    let routed = seen
        .iter()
        .find(|r| r.header("x-rollgate-variant").is_some())
        .map(|r| {
            r.header("x-rollgate-cluster")
                .unwrap_or_default()
                .to_string()
        });
    assert_eq!(
        routed.as_deref(),
        Some("stable"),
        "the upstream sees the route header"
    );

    // A push moves everyone to the canary.
    assert_eq!(envoy.push(&config(10_000)?).await?, PushOutcome::Applied);
    let replies = client.send_all(&requests, 8).await?;
    assert!(replies.iter().all(|r| r.upstream() == Some("canary")));

    // A config the filter refuses is counted and leaves the last good one serving.
    let outcome = envoy
        .push_config_text(r#"{"version":1,"experiments":[{"id":"x","kind":"canary","salt":"x","variants":[{"name":"a","cluster":"stable","weight":1}]}]}"#)
        .await?;
    assert_eq!(outcome, PushOutcome::Rejected);
    let replies = client.send_all(&requests[..20], 4).await?;
    assert!(replies.iter().all(|r| r.upstream() == Some("canary")));

    let scrape = envoy.prometheus().await?;
    let requests_total = scrape.sum(
        "rollgate_requests_total",
        &[("experiment", "smoke"), ("variant", "canary")],
    );
    assert!(
        requests_total >= 200.0,
        "canary requests in Prometheus: {requests_total}"
    );
    Ok(())
}
