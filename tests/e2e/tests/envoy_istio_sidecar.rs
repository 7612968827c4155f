//! The sidecar Istio path in real Envoy: the route istiod generates from the shipped
//! `manifests/istio/virtualservice.yaml` (a header match on `x-rollgate-variant` per http route
//! → the subset cluster `outbound|<port>|<subset>|<host>`, the last route the default), with
//! the filter of `manifests/istio/wasmplugin.yaml` in front: every user lands on the subset of
//! the variant the bucket formula gives it.

mod envoy_support;

use envoy_support::{manifest, users, ExperimentTarget, Stack};
use rollgate_e2e::envoy::Request;
use rollgate_e2e::E2eError;
use serde_json::{json, Value};

/// The route configuration istiod derives from a VirtualService: one Envoy route per http
/// route, its header matches as exact matches, its destination as the subset cluster.
fn routes_from_virtual_service(vs: &Value) -> (Value, Vec<String>) {
    let mut clusters = Vec::new();
    let mut routes = Vec::new();
    for http in vs["spec"]["http"].as_array().expect("spec.http") {
        let dest = &http["route"][0]["destination"];
        let cluster = format!(
            "outbound|{}|{}|{}",
            dest["port"]["number"].as_u64().expect("port"),
            dest["subset"].as_str().expect("subset"),
            dest["host"].as_str().expect("host")
        );
        if !clusters.contains(&cluster) {
            clusters.push(cluster.clone());
        }
        let headers: Vec<Value> = http["match"][0]["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(name, m)| json!({"name": name, "string_match": {"exact": m["exact"]}}))
                    .collect()
            })
            .unwrap_or_default();
        routes.push(json!({
            "name": http["name"],
            "match": {"prefix": "/", "headers": headers},
            "route": {"cluster": cluster, "timeout": "5s"}
        }));
    }
    let config = json!({
        "name": "80",
        "virtual_hosts": [{"name": "fraud-detector.ml.svc.cluster.local:80", "domains": ["*"], "routes": routes}]
    });
    (config, clusters)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_land_on_their_virtual_service_subset() -> Result<(), E2eError> {
    let (route_config, mut clusters) =
        routes_from_virtual_service(&manifest("istio/virtualservice.yaml"));
    let mut config = manifest("istio/wasmplugin.yaml")["spec"]["pluginConfig"].clone();
    let experiment = &mut config["experiments"][0];
    experiment["variants"][0]["weight"] = json!(6000);
    experiment["variants"][1]["weight"] = json!(4000);
    let target = ExperimentTarget::of(experiment);
    let shadow = experiment["shadow"]["cluster"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    clusters.push(shadow);
    // The subsets the VirtualService routes to are the clusters the filter config names.
    for c in &target.clusters {
        assert!(clusters.contains(c), "{c} not routed by the VirtualService");
    }
    let names: Vec<&str> = clusters.iter().map(String::as_str).collect();
    let stack = Stack::start_with(&names, &config, |mut o| {
        o.route_config = Some(route_config.clone());
        o
    })
    .await?;
    let users = users("sidecar", 600);
    let per_variant = target
        .assert_users_reach_their_variants(&stack, &users, &[6000, 4000])
        .await?;
    assert!(per_variant.iter().all(|&n| n > 100), "{per_variant:?}");
    // Without a user the filter sends the request to the first variant (missing_unit: stable).
    let reply = stack
        .send_all(&[Request::get(&target.path).authority(&target.authority)])
        .await?;
    assert_eq!(reply[0].upstream(), Some(target.clusters[0].as_str()));
    Ok(())
}
