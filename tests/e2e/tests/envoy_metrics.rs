//! The filter's metrics in Envoy's Prometheus output, through (a) the `stats_tags` of
//! `manifests/envoy/envoy.yaml` and (b) Istio's sidecar stats pipeline (stats_matcher
//! inclusion list + extraStatTags regexes as Istio's bootstrap writes them for
//! `manifests/istio/mesh-config.yaml`): every selector of every built-in gate query finds its
//! series with the expected labels and values.

mod envoy_support;

use envoy_support::{expected_variant, users, Stack};
use rollgate_e2e::envoy::{Behavior, PromScrape, Request, StatsPipeline};
use rollgate_e2e::E2eError;
use rollgate_rollout::gates::{render_query, BuiltinTemplate, QueryVars};
use serde_json::json;

/// The `name{label="value",...}` selectors of a PromQL query (equality matchers).
fn selectors(query: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut found = Vec::new();
    let mut rest = query;
    while let Some(open) = rest.find('{') {
        let name: String = rest[..open]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let labels = rest[open + 1..close]
            .split(',')
            .filter_map(|m| {
                let (k, v) = m.split_once('=')?;
                Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            })
            .collect();
        found.push((name, labels));
        rest = &rest[close..];
    }
    found
}

async fn check(pipeline: StatsPipeline) -> Result<(), E2eError> {
    let config = json!({
        "version": 1,
        "experiments": [{
            "id": "fraud-v2", "kind": "canary", "salt": "fraud-v2",
            "variants": [
                { "name": "stable", "cluster": "stable", "weight": 5_000 },
                { "name": "canary", "cluster": "canary", "weight": 5_000 }
            ]
        }]
    });
    let label = format!("{pipeline:?}");
    let stack = Stack::start_with(&["stable", "canary"], &config, |mut o| {
        o.stats = pipeline;
        o
    })
    .await?;
    stack.upstream("canary").set_behavior(Behavior {
        status: 500,
        ..Behavior::default()
    });
    let users = users("metrics", 1_000);
    let requests: Vec<Request> = users
        .iter()
        .map(|u| Request::get("/predict").user(u))
        .collect();
    stack.send_all(&requests).await?;
    let canary = users
        .iter()
        .filter(|u| expected_variant("fraud-v2", u, &[5_000, 5_000]) == 1)
        .count() as f64;
    let stable = users.len() as f64 - canary;
    // Envoy flushes stats to the admin sinks periodically; wait for the counts to arrive.
    let scrape: PromScrape = stack
        .envoy
        .wait_for(
            "rollgate series in /stats/prometheus",
            std::time::Duration::from_secs(15),
            || async {
                let scrape = stack.envoy.prometheus().await?;
                let total = scrape.sum("rollgate_responses_total", &[("experiment", "fraud-v2")]);
                // Histograms reach the admin output at Envoy's stats flush (5 s by default).
                let histogram = scrape.sum(
                    "rollgate_request_duration_ms_bucket",
                    &[("experiment", "fraud-v2"), ("le", "+Inf")],
                );
                let n = users.len() as f64;
                Ok((total >= n && histogram >= n).then_some(scrape))
            },
        )
        .await?;
    let class = |variant: &str, class: &str| {
        scrape.sum(
            "rollgate_responses_total",
            &[
                ("experiment", "fraud-v2"),
                ("variant", variant),
                ("class", class),
            ],
        )
    };
    assert_eq!(class("canary", "5xx"), canary, "{label}");
    assert_eq!(class("stable", "2xx"), stable, "{label}");
    for template in BuiltinTemplate::ALL {
        for variant in ["stable", "canary"] {
            let vars = QueryVars {
                experiment: "fraud-v2",
                variant,
                namespace: "",
                interval: "1m",
            };
            let query =
                render_query(template.query(), &vars).map_err(|why| E2eError::Protocol {
                    what: "rendering a gate query".into(),
                    why,
                })?;
            for (name, labels) in selectors(&query) {
                let selector: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let series: Vec<_> = scrape.select(&name, &selector).collect();
                assert!(
                    !series.is_empty(),
                    "{label}: no series for {name}{labels:?} of `{query}`"
                );
                let total: f64 = series.iter().map(|s| s.value).sum();
                // Stable never failed and the canary always did: those series exist (a rate
                // of 0, not missing data) with value 0; every other selector counts traffic.
                let never = if variant == "stable" { "5xx" } else { "2xx" };
                if selector.contains(&("class", never)) {
                    assert_eq!(total, 0.0, "{label}: {variant} {never}");
                } else {
                    assert!(total > 0.0, "{label}: {name}{labels:?} is all zero");
                }
            }
        }
    }
    let buckets = scrape.sum(
        "rollgate_request_duration_ms_bucket",
        &[
            ("experiment", "fraud-v2"),
            ("variant", "canary"),
            ("le", "+Inf"),
        ],
    );
    assert_eq!(buckets, canary, "{label}: histogram count");
    eprintln!("{label}: every built-in gate selector found its series");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_queries_find_their_series_with_the_manifest_stats_tags() -> Result<(), E2eError> {
    check(StatsPipeline::Manifest).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_queries_find_their_series_through_istios_stats_pipeline() -> Result<(), E2eError> {
    check(StatsPipeline::Istio).await
}

#[test]
fn selectors_are_read_from_queries() {
    let s = selectors(r#"sum(rate(a_total{x="1",y="b"}[1m])) / sum(rate(b{z="c"}[1m]))"#);
    assert_eq!(s[0].0, "a_total");
    assert_eq!(
        s[0].1,
        vec![("x".into(), "1".into()), ("y".into(), "b".into())]
    );
    assert_eq!(s[1].0, "b");
}
