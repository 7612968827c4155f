//! `rollgate serve --leader-elect`: two replicas on one SQLite file and the loopback fake of
//! the Kubernetes API (run_support::kube_api; no API server can run here). Only the lease
//! holder pushes; the follower's pushing write answers 503 naming the leader; after a SIGKILL
//! of the leader the follower takes over and its driver finishes the canary from the
//! database, no config version pushed twice.
#![allow(clippy::unwrap_used)]

mod run_support;

use run_support::kube_api::{lease_path, KubeApi, Logged};
use run_support::serve::{serve_command, spawn, write_tokens};
use run_support::wait_for;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Child;

const TOKEN: &str = "serve-leader-token";

fn spawn_replica(api: &KubeApi, dir: &Path, identity: &str) -> (Child, String) {
    write_tokens(dir, TOKEN);
    let mut command = serve_command(dir, "kubernetes");
    command
        .args(["--canary-period-s", "1", "--leader-elect"])
        .args(["--leader-identity", identity, "--lease-duration", "2s"])
        .args(["--renew-deadline", "1s", "--retry-period", "200ms"])
        .env("KUBECONFIG", api.kubeconfig(dir, identity));
    let server = spawn(command);
    (server.child, server.base)
}

/// Sends `request` and reads the JSON answer (a fresh runtime: the test itself is blocking).
fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let answer = request.bearer_auth(TOKEN).send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    })
}

fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    send(
        reqwest::Client::new()
            .post(format!("{base}/api/v1{path}"))
            .json(&body),
    )
}

fn get(base: &str, path: &str) -> Value {
    send(reqwest::Client::new().get(format!("{base}/api/v1{path}"))).1
}

fn lease_holder(api: &KubeApi) -> Option<String> {
    let lease = api.object(&lease_path("default", "rollgate-serve"))?;
    lease["spec"]["holderIdentity"].as_str().map(str::to_string)
}

/// (caller, config version, canary weight) of each WasmPlugin push.
fn pushes(log: &[Logged]) -> Vec<(String, String, u64, Option<String>)> {
    log.iter()
        .filter(|e| e.is_wasm_plugin() && e.is_write())
        .map(|e| {
            let version = e.body["metadata"]["annotations"]["rollgate.dev/config-version"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let weight = e.body["spec"]["pluginConfig"]["experiments"][0]["variants"][1]["weight"]
                .as_u64()
                .unwrap_or(0);
            (
                e.user.clone().unwrap_or_default(),
                version,
                weight,
                e.lease_holder.clone(),
            )
        })
        .collect()
}

#[test]
fn only_the_leader_pushes_and_after_it_is_killed_the_follower_finishes_the_canary() {
    let api = KubeApi::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, base_a) = spawn_replica(&api, dir.path(), "a");
    wait_for("replica a to hold the lease", || {
        lease_holder(&api).as_deref() == Some("a")
    });
    let (b, base_b) = spawn_replica(&api, dir.path(), "b");
    let mut b = b;
    wait_for("replica b to read the lease as a follower", || {
        api.log()
            .iter()
            .any(|e| e.user.as_deref() == Some("b") && e.is_lease())
    });
    for model in ["scorer", "other"] {
        for version in ["v1", "v2"] {
            let (status, body) = post(
                &base_a,
                &format!("/models/{model}/versions"),
                json!({"version": version, "cluster": format!("cluster-{model}-{version}")}),
            );
            assert_eq!(status, 201, "{body}");
        }
    }
    let (status, body) = post(
        &base_a,
        "/canary",
        json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2",
               "steps": [{"weight": 10, "pause": "1s"}, {"weight": 50, "pause": "3s"}, {"weight": 100}]}),
    );
    assert_eq!(status, 201, "{body}");
    let id = body["canary_id"].as_str().unwrap().to_string();

    // The follower serves reads from the shared database, and refuses writes that push.
    assert_eq!(
        get(&base_b, &format!("/canary/{id}/status"))["canary_id"],
        id.as_str()
    );
    let (status, problem) = post(
        &base_b,
        "/canary",
        json!({"model_id": "other", "stable_version": "v1", "canary_version": "v2",
               "steps": [{"weight": 10, "pause": "1h"}, {"weight": 100}]}),
    );
    assert_eq!(status, 503, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("(a)") && detail.contains("default/rollgate-serve"),
        "{detail}"
    );

    wait_for("the leader's driver to commit step 2 (50 %)", || {
        get(&base_a, &format!("/canary/{id}/status"))["weight_percent"] == 50.0
    });
    a.kill().expect("SIGKILL the leader");
    a.wait().expect("reap the leader");
    wait_for("the follower to take the lease", || {
        lease_holder(&api).as_deref() == Some("b")
    });
    wait_for("the follower's driver to finish the canary", || {
        get(&base_b, &format!("/canary/{id}/status"))["weight_percent"] == 100.0
    });
    let _ = b.kill();
    let _ = b.wait();

    let pushes = pushes(&api.log());
    for (user, version, weight, holder) in &pushes {
        assert_eq!(
            holder.as_deref(),
            Some(user.as_str()),
            "push {version} ({weight}) by a non-holder"
        );
    }
    let callers: Vec<(&str, u64)> = pushes.iter().map(|p| (p.0.as_str(), p.2)).collect();
    assert_eq!(
        callers,
        vec![("a", 1_000), ("a", 5_000), ("b", 10_000)],
        "{pushes:?}"
    );
    let versions: BTreeSet<&str> = pushes.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(
        versions.len(),
        pushes.len(),
        "a version was pushed twice: {pushes:?}"
    );
}
