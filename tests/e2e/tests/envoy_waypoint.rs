//! The Istio ambient path in real Envoy: a route configuration shaped like the one a waypoint
//! gets for the shipped `manifests/istio/ambient-httproute.yaml` (a header match on
//! `x-rollgate-variant` per rule → the per-version cluster
//! `inbound-vip|<port>|http|<service fqdn>`, the rule without matches the default), with the
//! filter of `manifests/istio/ambient-wasmplugin.yaml` in front: each user reaches the cluster
//! of the variant the bucket formula gives it, the cluster its pluginConfig names.

mod envoy_support;

use envoy_support::{expected_variant, manifest, users, ExperimentTarget, Stack};
use rollgate_e2e::envoy::Request;
use rollgate_e2e::E2eError;
use serde_json::{json, Value};

/// The waypoint's routes for an HTTPRoute in `namespace`: one Envoy route per rule.
fn routes_from_http_route(route: &Value, namespace: &str) -> (Value, Vec<String>) {
    let mut clusters = Vec::new();
    let mut routes = Vec::new();
    for (i, rule) in route["spec"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .enumerate()
    {
        let backend = &rule["backendRefs"][0];
        let cluster = format!(
            "inbound-vip|{}|http|{}.{namespace}.svc.cluster.local",
            backend["port"].as_u64().expect("port"),
            backend["name"].as_str().expect("name")
        );
        if !clusters.contains(&cluster) {
            clusters.push(cluster.clone());
        }
        let headers: Vec<Value> = rule["matches"][0]["headers"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|m| {
                        assert_eq!(m["type"], "Exact");
                        json!({"name": m["name"], "string_match": {"exact": m["value"]}})
                    })
                    .collect()
            })
            .unwrap_or_default();
        routes.push(json!({
            "name": format!("rule-{i}"),
            "match": {"prefix": "/", "headers": headers},
            "route": {"cluster": cluster, "timeout": "5s"}
        }));
    }
    let config = json!({
        "name": "waypoint",
        "virtual_hosts": [{"name": "fraud-detector", "domains": ["*"], "routes": routes}]
    });
    (config, clusters)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_reach_their_variants_waypoint_cluster() -> Result<(), E2eError> {
    let plugin = manifest("istio/ambient-wasmplugin.yaml");
    let namespace = plugin["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (route_config, clusters) =
        routes_from_http_route(&manifest("istio/ambient-httproute.yaml"), &namespace);
    let mut config = plugin["spec"]["pluginConfig"].clone();
    let experiment = &mut config["experiments"][0];
    experiment["variants"][0]["weight"] = json!(5000);
    experiment["variants"][1]["weight"] = json!(5000);
    let target = ExperimentTarget::of(experiment);
    // The filter config names the clusters the waypoint builds for the route's backends.
    assert_eq!(target.clusters, clusters);
    let names: Vec<&str> = clusters.iter().map(String::as_str).collect();
    let stack = Stack::start_with(&names, &config, |mut o| {
        o.route_config = Some(route_config.clone());
        o
    })
    .await?;
    let users = users("ambient", 600);
    let per_variant = target
        .assert_users_reach_their_variants(&stack, &users, &[5000, 5000])
        .await?;
    assert!(per_variant.iter().all(|&n| n > 200), "{per_variant:?}");
    // A client-set variant header is replaced by the filter's decision.
    let user = &users[0];
    let want = expected_variant(&target.salt, user, &[5000, 5000]);
    let spoofed = if want == 0 { "canary" } else { "stable" };
    let reply = stack
        .send_all(&[Request::get(&target.path)
            .authority(&target.authority)
            .user(user)
            .header("x-rollgate-variant", spoofed)])
        .await?;
    assert_eq!(reply[0].upstream(), Some(target.clusters[want].as_str()));
    Ok(())
}
