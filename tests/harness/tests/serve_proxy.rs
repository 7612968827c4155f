//! `rollgate-harness serve` with the real filter: routing per variant to separate loopback
//! upstreams, Prometheus exposition, 1,000 concurrent requests, unknown clusters, the CLI.

mod serve_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serve_support::{canary_config, cluster, sample, Harness, Upstream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_each_variant_to_its_own_upstream_and_exports_metrics() {
    let stable = Upstream::start("stable", 0.5).await;
    let canary = Upstream::start("canary", 0.5).await;
    let h = Harness::stable_canary(&canary_config(5_000, None), &stable, &canary).await;
    let mut first_pick = std::collections::HashMap::new();
    for round in 0..2 {
        for user in 0..100 {
            let response = h
                .client
                .post(h.url("/predict"))
                .header("x-user-id", format!("user-{user}"))
                .header("x-rollgate-cluster", cluster("canary")) // spoofing attempt: stripped
                .body(format!("{{\"features\":[{user}]}}"))
                .send()
                .await
                .expect("proxy answers");
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.expect("json");
            let upstream = body["upstream"]
                .as_str()
                .expect("upstream name")
                .to_string();
            let previous = first_pick.entry(user).or_insert_with(|| upstream.clone());
            assert_eq!(
                *previous, upstream,
                "user-{user} changed variant in round {round}"
            );
        }
    }
    // Every upstream saw only its own variant, with the filter's headers and the body intact.
    for (name, upstream) in [("stable", &stable), ("canary", &canary)] {
        let seen = upstream.seen.lock().expect("seen").clone();
        assert!(!seen.is_empty(), "{name} got no traffic at 50/50");
        for request in &seen {
            assert_eq!(
                request
                    .headers
                    .get("x-rollgate-variant")
                    .map(String::as_str),
                Some(name)
            );
            assert_eq!(
                request.headers.get("x-rollgate-cluster"),
                Some(&cluster(name))
            );
            assert!(
                request.body.starts_with(b"{\"features\":["),
                "body forwarded intact"
            );
        }
    }
    // The force header pins a variant.
    let forced = h
        .client
        .get(h.url("/predict"))
        .header("x-user-id", "user-0")
        .header("x-rollgate-force", "canary");
    let forced: serde_json::Value = forced
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(forced["upstream"], "canary");

    let (to_stable, to_canary) = (stable.count() as f64, canary.count() as f64);
    assert_eq!(to_stable + to_canary, 201.0);
    let total = h
        .wait_for_sample(
            "rollgate_responses_total",
            &[("experiment", "fraud-v2"), ("class", "2xx")],
            201.0,
        )
        .await;
    assert_eq!(total, 201.0);
    let scrape = h.scrape().await;
    let requests = |variant| {
        sample(
            &scrape,
            "rollgate_requests_total",
            &[("experiment", "fraud-v2"), ("variant", variant)],
        )
    };
    assert_eq!(
        (requests("stable"), requests("canary")),
        (to_stable, to_canary)
    );
    let exposures = sample(
        &scrape,
        "rollgate_exposures_total",
        &[("experiment", "fraud-v2"), ("variant", "canary")],
    );
    assert_eq!(exposures, to_canary);
    let durations = sample(
        &scrape,
        "rollgate_request_duration_ms",
        &[("experiment", "fraud-v2"), ("variant", "stable")],
    );
    assert_eq!(
        durations, to_stable,
        "histogram count (+Inf bucket) = stable requests"
    );
    let upstream_rq = |name: &str| {
        sample(
            &scrape,
            "envoy_cluster_upstream_rq_total",
            &[("envoy_cluster_name", &cluster(name))],
        )
    };
    assert_eq!(
        (upstream_rq("stable"), upstream_rq("canary")),
        (to_stable, to_canary)
    );
    assert_eq!(
        sample(
            &scrape,
            "envoy_cluster_upstream_rq_time",
            &[("envoy_cluster_name", &cluster("stable"))]
        ),
        to_stable
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_all_answered_none_lost() {
    let stable = Upstream::start("stable", 0.5).await;
    let canary = Upstream::start("canary", 0.5).await;
    let h = Harness::stable_canary(&canary_config(2_000, None), &stable, &canary).await;
    let requests = (0..1000).map(|user| {
        let request = h
            .client
            .get(h.url("/predict"))
            .header("x-user-id", format!("u{user}"));
        async move {
            let response = request.send().await.expect("no transport error");
            let status = response.status();
            let body: serde_json::Value = response.json().await.expect("json body");
            (status, body)
        }
    });
    let answers = futures::future::join_all(requests).await;
    assert_eq!(answers.len(), 1000);
    assert!(answers
        .iter()
        .all(|(status, body)| status.as_u16() == 200 && body["prediction"] == 0.5));
    assert_eq!(
        stable.count() + canary.count(),
        1000,
        "every request reached exactly one upstream"
    );
    let decided = h
        .wait_for_sample("rollgate_responses_total", &[("class", "2xx")], 1000.0)
        .await;
    assert_eq!(decided, 1000.0);
    assert_eq!(
        h.sample("rollgate_requests_total", &[("experiment", "fraud-v2")])
            .await,
        1000.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variant_cluster_missing_from_the_clusters_file_is_a_503_naming_it() {
    let stable = Upstream::start("stable", 0.5).await;
    // Only stable exists; the config sends everyone to canary.
    let h = Harness::start(
        &canary_config(10_000, None),
        &[(&cluster("stable"), stable.addr)],
    )
    .await;
    let response = h
        .client
        .get(h.url("/predict"))
        .header("x-user-id", "u1")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 503);
    let body = response.text().await.expect("body");
    assert!(
        body.contains(&cluster("canary")) && body.contains("clusters file"),
        "{body}"
    );
    assert_eq!(stable.count(), 0);
    let five_xx = h
        .wait_for_sample(
            "rollgate_responses_total",
            &[("variant", "canary"), ("class", "5xx")],
            1.0,
        )
        .await;
    assert_eq!(
        five_xx, 1.0,
        "the filter sees the proxy's 503 like an Envoy local reply"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_bound_addresses_and_serves() {
    let stable = Upstream::start("stable", 0.5).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let clusters = dir.path().join("clusters.yaml");
    std::fs::write(
        &clusters,
        format!(
            "default_cluster: stable\nclusters:\n  - {{name: stable, endpoints: [\"{}\"]}}\n",
            stable.addr
        ),
    )
    .expect("write");
    let config = dir.path().join("filter.json");
    std::fs::write(&config, r#"{"version":1,"experiments":[]}"#).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate-harness"))
        .arg("serve")
        .arg("--wasm")
        .arg(serve_support::filter_wasm())
        .arg("--config")
        .arg(&config)
        .arg("--clusters")
        .arg(&clusters)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--workers",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(2)
            .map(|line| line.expect("utf-8 line"))
            .collect()
    })
    .await
    .expect("reader");
    let listen = lines[0]
        .strip_prefix("listening on 127.0.0.1:")
        .expect("listening line");
    let admin = lines[1]
        .strip_prefix("admin on 127.0.0.1:")
        .expect("admin line");
    assert!(listen.parse::<u16>().expect("port") > 0 && admin.parse::<u16>().expect("port") > 0);
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("http://127.0.0.1:{admin}/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    let proxied = client
        .get(format!("http://127.0.0.1:{listen}/x"))
        .send()
        .await
        .expect("proxied");
    assert_eq!(
        proxied.json::<serde_json::Value>().await.expect("json")["upstream"],
        "stable"
    );
    child.kill().expect("kill");
    let _ = child.wait();
}
