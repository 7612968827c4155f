//! `manifests/envoy/envoy.yaml` runs as shipped: Envoy starts on exactly that file with only
//! its ports and paths substituted (text replacement), takes a pushed config, routes by it,
//! and its header mutation strips spoofed Rollgate headers from requests no experiment takes.

mod envoy_support;

use envoy_support::{expected_variant, users};
use rollgate_e2e::envoy::{
    filter_config, Behavior, Bootstrap, Envoy, PushOutcome, Request, Upstream,
};
use rollgate_e2e::paths::workspace_root;
use rollgate_e2e::E2eError;
use serde_json::json;

fn config(canary: u32) -> serde_json::Value {
    json!({
        "version": 1,
        "experiments": [{
            "id": "fraud-v2", "kind": "canary", "salt": "fraud-v2",
            "match": { "authority": "fraud-detector", "path_prefix": "/predict" },
            "variants": [
                { "name": "stable", "cluster": "fraud-detector-stable", "weight": 10_000 - canary },
                { "name": "canary", "cluster": "fraud-detector-canary", "weight": canary }
            ]
        }]
    })
}

/// Replaces `from` (which must occur exactly `count` times) by `to`.
fn substitute(text: &str, from: &str, to: &str, count: usize) -> String {
    assert_eq!(
        text.matches(from).count(),
        count,
        "{from:?} in manifests/envoy/envoy.yaml"
    );
    text.replace(from, to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_bootstrap_routes_a_pushed_config() -> Result<(), E2eError> {
    let path = workspace_root().join("manifests/envoy/envoy.yaml");
    let shipped = std::fs::read_to_string(&path).map_err(|source| E2eError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    let stable = Upstream::start("fraud-detector-stable", Behavior::default())?;
    let canary = Upstream::start("fraud-detector-canary", Behavior::default())?;
    let shadow = Upstream::start("fraud-detector-shadow", Behavior::default())?;
    let ports = [
        stable.addr().port(),
        canary.addr().port(),
        shadow.addr().port(),
    ];
    let text = move |ecds_file: &std::path::Path| {
        let dir = ecds_file
            .parent()
            .unwrap_or(ecds_file)
            .display()
            .to_string();
        let mut t = substitute(&shipped, "port_value: 9901", "port_value: 0", 1);
        t = substitute(&t, "port_value: 10000", "port_value: 0", 1);
        for (from, to) in ["port_value: 8081", "port_value: 8082", "port_value: 8083"]
            .iter()
            .zip(ports)
        {
            t = substitute(&t, from, &format!("port_value: {to}"), 1);
        }
        t = substitute(
            &t,
            "/var/run/rollgate/ecds.yaml",
            &ecds_file.display().to_string(),
            2,
        );
        substitute(
            &t,
            "path: /var/run/rollgate\n",
            &format!("path: {dir}\n"),
            1,
        )
    };
    let bootstrap = Bootstrap::Given {
        text: Box::new(text),
        listener: "fraud_detector_ingress".to_string(),
        concurrency: 2,
        wasm: None,
    };
    let envoy = Envoy::start_bootstrap(bootstrap, &filter_config(&config(0))?).await?;
    let client = envoy.client()?;
    assert_eq!(
        envoy.push(&filter_config(&config(2_500))?).await?,
        PushOutcome::Applied
    );
    let users = users("manifest", 1_000);
    let requests: Vec<Request> = users
        .iter()
        .map(|u| Request::get("/predict").authority("fraud-detector").user(u))
        .collect();
    for (u, reply) in users.iter().zip(client.send_all(&requests, 8).await?) {
        let want = ["fraud-detector-stable", "fraud-detector-canary"]
            [expected_variant("fraud-v2", u, &[7_500, 2_500])];
        assert_eq!(reply.upstream(), Some(want), "{u}");
    }
    // No experiment takes this request: the manifest's header mutation drops the spoofed
    // route header, so the default route (stable) serves it.
    let spoofed = Request::get("/other")
        .authority("fraud-detector")
        .user("u")
        .header("x-rollgate-cluster", "fraud-detector-canary");
    let reply = client.send(&spoofed).await?;
    assert_eq!(reply.upstream(), Some("fraud-detector-stable"));
    Ok(())
}
