//! Hot reload of the dev proxy's config file: new weights take effect without dropping
//! in-flight requests; a config the filter refuses (or that does not parse) keeps the old one.

mod serve_support;

use serve_support::{canary_config, Harness, Upstream};

fn canary_weight(dump: &serde_json::Value) -> Option<u64> {
    dump["config"]["experiments"][0]["variants"][1]["weight"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_weights_apply_while_in_flight_requests_finish() {
    let stable = Upstream::gated("stable", 0.5).await;
    let canary = Upstream::start("canary", 0.5).await;
    let h = Harness::stable_canary(&canary_config(0, None), &stable, &canary).await;
    // 20 requests held by the stable upstream, in flight across the reload.
    let in_flight: Vec<_> = (0..20)
        .map(|user| {
            let request = h
                .client
                .get(h.url("/predict"))
                .header("x-user-id", format!("u{user}"));
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    while stable.count() < 20 {
        tokio::task::yield_now().await;
    }
    let before = h.config_dump().await["version"].clone();
    h.write_config(&canary_config(10_000, None));
    let dump = h
        .wait_for_dump("the 100 % canary config", |d| {
            canary_weight(d) == Some(10_000)
        })
        .await;
    assert_ne!(dump["version"], before);
    assert_eq!(dump["reloads"], 1);
    for user in 0..20 {
        let response = h
            .client
            .get(h.url("/predict"))
            .header("x-user-id", format!("u{user}"))
            .send()
            .await
            .expect("answers");
        assert_eq!(
            response.json::<serde_json::Value>().await.expect("json")["upstream"],
            "canary"
        );
    }
    stable.release(20);
    for request in in_flight {
        let status = request
            .await
            .expect("task")
            .expect("an in-flight request was dropped");
        assert_eq!(status, 200);
    }
    assert_eq!((stable.count(), canary.count()), (20, 20));
    let done = h
        .wait_for_sample(
            "rollgate_responses_total",
            &[("variant", "stable"), ("class", "2xx")],
            20.0,
        )
        .await;
    assert_eq!(
        done, 20.0,
        "streams of the old config finished on their VMs and were counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_config_keeps_the_old_one_serving() {
    let stable = Upstream::start("stable", 0.5).await;
    let canary = Upstream::start("canary", 0.5).await;
    let h = Harness::stable_canary(&canary_config(10_000, None), &stable, &canary).await;
    let version = h.config_dump().await["version"].clone();

    // Weights summing to 9,999: the filter's on_configure refuses it.
    let bad = canary_config(10_000, None)
        .replace("\"weight\":0", "\"weight\":-1")
        .replace("10000", "9999");
    h.write_config(&bad);
    let dump = h
        .wait_for_dump("a rejection", |d| d["rejections"] == 1)
        .await;
    assert_eq!(dump["version"], version);
    assert_eq!(canary_weight(&dump), Some(10_000));
    let error = dump["last_rejection"]["error"]
        .as_str()
        .expect("error text");
    assert!(error.contains("refused"), "{error}");
    let rejected = h
        .wait_for_sample("rollgate_config_rejected_total", &[], 1.0)
        .await;
    assert_eq!(rejected, 1.0);

    // A file that is neither JSON nor an ECDS file.
    h.write_config("version_info: [");
    let dump = h
        .wait_for_dump("a second rejection", |d| d["rejections"] == 2)
        .await;
    assert!(
        dump["last_rejection"]["error"]
            .as_str()
            .expect("error")
            .contains("ECDS"),
        "{dump}"
    );

    let response = h
        .client
        .get(h.url("/predict"))
        .header("x-user-id", "u1")
        .send()
        .await
        .expect("answers");
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("json")["upstream"],
        "canary"
    );
    assert_eq!(stable.count(), 0);
}
