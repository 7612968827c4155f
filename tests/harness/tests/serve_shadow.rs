//! Shadow traffic through the dev proxy with the real filter: a failed dispatch never fails the
//! primary, a hanging shadow never delays it, and late shadow responses are compared.

mod serve_support;

use std::time::{Duration, Instant};

use serve_support::{canary_config, cluster, Harness, Upstream};

fn shadow(cluster_name: &str, timeout_ms: u32) -> serde_json::Value {
    serde_json::json!({
        "cluster": cluster_name,
        "authority": "model-shadow",
        "sample": 10_000,
        "timeout_ms": timeout_ms,
        "compare": {"json_pointer": "/prediction", "tolerance": 0.0},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_shadow_cluster_fails_the_copy_not_the_primary() {
    let stable = Upstream::start("stable", 0.5).await;
    let config = canary_config(0, Some(shadow("outbound|80|nowhere|model", 1000)));
    let h = Harness::start(&config, &[(&cluster("stable"), stable.addr)]).await;
    let response = h
        .client
        .post(h.url("/predict"))
        .header("x-user-id", "u1")
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let failed = h
        .wait_for_sample(
            "rollgate_shadow_requests_total",
            &[("experiment", "fraud-v2"), ("result", "failed")],
            1.0,
        )
        .await;
    assert_eq!(failed, 1.0);
    assert_eq!(
        h.sample("rollgate_shadow_requests_total", &[("result", "sent")])
            .await,
        0.0
    );
}

/// Median time of `n` sequential primary requests.
async fn median_latency(h: &Harness, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for user in 0..n {
        let started = Instant::now();
        let response = h
            .client
            .post(h.url("/predict"))
            .header("x-user-id", format!("u{user}"))
            .body("{}")
            .send()
            .await;
        assert_eq!(response.expect("answers").status(), 200);
        times.push(started.elapsed());
    }
    times.sort();
    times[n / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_shadow_never_delays_the_primary() {
    let stable = Upstream::start("stable", 0.5).await;
    let hanging = Upstream::gated("shadow", 0.5).await; // never released
    let clusters = [
        (cluster("stable"), stable.addr),
        (cluster("shadow"), hanging.addr),
    ];
    let clusters: Vec<(&str, _)> = clusters.iter().map(|(n, a)| (n.as_str(), *a)).collect();

    let without = Harness::start(&canary_config(0, None), &clusters).await;
    let baseline = median_latency(&without, 9).await;
    // The shadow hangs far past the primary; its timeout (5 s) is long after the test is done.
    let with = Harness::start(
        &canary_config(0, Some(shadow(&cluster("shadow"), 5_000))),
        &clusters,
    )
    .await;
    let shadowed = median_latency(&with, 9).await;
    assert_eq!(
        hanging.wait_for_count(9).await,
        9,
        "every primary had its copy in flight"
    );
    assert_eq!(
        with.sample("rollgate_shadow_requests_total", &[("result", "sent")])
            .await,
        9.0
    );
    // Generous bound: a primary that waited for its shadow would take the full 5 s.
    assert!(
        shadowed < baseline + Duration::from_millis(500),
        "primary median {shadowed:?} vs {baseline:?} without shadow"
    );
    assert_eq!(
        with.sample("rollgate_shadow_comparisons_total", &[]).await,
        0.0,
        "no shadow answer yet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_shadow_responses_are_compared_and_counted() {
    let stable = Upstream::start("stable", 0.5).await;
    let late = Upstream::gated("shadow", 0.5).await;
    let config = canary_config(0, Some(shadow(&cluster("shadow"), 10_000)));
    let h = Harness::start(
        &config,
        &[
            (&cluster("stable"), stable.addr),
            (&cluster("shadow"), late.addr),
        ],
    )
    .await;
    let response = h
        .client
        .post(h.url("/predict"))
        .header("x-user-id", "u1")
        .body("{\"x\":1}")
        .send()
        .await
        .expect("answers");
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("json")["upstream"],
        "stable"
    );
    while late.count() < 1 {
        tokio::task::yield_now().await;
    }
    let copy = late.seen.lock().expect("seen")[0].clone();
    assert_eq!(
        copy.headers.get("host").map(String::as_str),
        Some("model-shadow")
    );
    assert_eq!(
        copy.headers.get("x-rollgate-shadow").map(String::as_str),
        Some("1")
    );
    assert_eq!(copy.body, b"{\"x\":1}");
    // The primary stream is over; only now does the shadow answer.
    h.wait_for_sample("rollgate_responses_total", &[("class", "2xx")], 1.0)
        .await;
    late.release(1);
    let agree = h
        .wait_for_sample(
            "rollgate_shadow_comparisons_total",
            &[("result", "agree")],
            1.0,
        )
        .await;
    assert_eq!(agree, 1.0);
    assert_eq!(
        h.sample("rollgate_shadow_responses_total", &[("class", "2xx")])
            .await,
        1.0
    );
}
