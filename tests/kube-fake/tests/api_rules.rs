//! The fake keeps the API server's rules the Rollgate tests rely on: server-side apply
//! checks, annotation merge, resourceVersion conflicts, 404s, the failure switch and the
//! caller identity in the log. Requests are raw HTTP/1.1 so nothing hides what is sent.

use rollgate_kube_fake::{lease_path, wasm_plugin_path, FailureScope, KubeFake, APPLY_PATCH};
use serde_json::{json, Value};
use std::io::{Read, Write};

/// Sends one request as `user`; returns the status and JSON body.
fn send(
    fake: &KubeFake,
    method: &str,
    uri: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Value) {
    let address = fake.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the fake");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    write!(
        stream,
        "{method} {uri} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\nImpersonate-User: tester\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let json = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (code, json)
}

/// The status of a JSON request.
fn code_of(fake: &KubeFake, method: &str, uri: &str, body: &Value) -> u16 {
    send(fake, method, uri, "application/json", body).0
}

fn plugin(annotations: Value, spec: Value) -> Value {
    json!({"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "p", "namespace": "ml", "annotations": annotations}, "spec": spec})
}

#[test]
fn server_side_apply_is_checked_and_merges_annotations() {
    let fake = KubeFake::start();
    let path = wasm_plugin_path("ml", "p");
    let apply = format!("{path}?&force=true&fieldManager=rollgate");
    let first = plugin(json!({"a": "1"}), json!({"x": 1}));
    assert_eq!(
        send(
            &fake,
            "PATCH",
            &apply,
            "application/merge-patch+json",
            &first
        )
        .0,
        415
    );
    assert_eq!(
        send(
            &fake,
            "PATCH",
            &format!("{path}?force=true"),
            APPLY_PATCH,
            &first
        )
        .0,
        400
    );
    let named_q = format!("{}?fieldManager=m", wasm_plugin_path("ml", "q"));
    let other = send(&fake, "PATCH", &named_q, APPLY_PATCH, &first);
    assert_eq!(other.0, 400, "the body names p, the URL q: {other:?}");
    assert_eq!(fake.object(&path), None, "refused applies store nothing");

    assert_eq!(send(&fake, "PATCH", &apply, APPLY_PATCH, &first).0, 200);
    let second = plugin(json!({"b": "2"}), Value::Null);
    let (code, merged) = send(&fake, "PATCH", &apply, APPLY_PATCH, &second);
    assert_eq!(code, 200);
    assert_eq!(
        merged["metadata"]["annotations"],
        json!({"a": "1", "b": "2"})
    );
    assert_eq!(merged["spec"], json!({"x": 1}), "spec kept when not sent");
    assert_eq!(merged["metadata"]["resourceVersion"], "2");
    assert_eq!(fake.object(&path), Some(merged));

    let log = fake.log();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|r| r.user.as_deref() == Some("tester")));
    assert_eq!(log[4].query_param("fieldManager"), Some("rollgate"));
    assert_eq!(log[4].content_type.as_deref(), Some(APPLY_PATCH));
    assert_eq!(log.iter().filter(|r| r.is_write()).count(), 2);
}

#[test]
fn leases_follow_resource_versions_and_the_failure_switch() {
    let fake = KubeFake::start();
    let collection = "/apis/coordination.k8s.io/v1/namespaces/ml/leases";
    let path = lease_path("ml", "l");
    let lease = |holder: &str, rv: Option<&str>| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "l", "namespace": "ml", "resourceVersion": rv},
            "spec": {"holderIdentity": holder}})
    };
    assert_eq!(code_of(&fake, "GET", &path, &Value::Null), 404);
    assert_eq!(code_of(&fake, "PUT", &path, &lease("a", Some("1"))), 404);
    let (code, created) = send(
        &fake,
        "POST",
        collection,
        "application/json",
        &lease("a", None),
    );
    assert_eq!(code, 201);
    let rv = created["metadata"]["resourceVersion"].as_str().expect("rv");
    let rv = rv.to_string();
    assert_eq!(code_of(&fake, "POST", collection, &lease("b", None)), 409);
    assert_eq!(code_of(&fake, "PUT", &path, &lease("b", None)), 409);
    assert_eq!(code_of(&fake, "PUT", &path, &lease("a", Some(&rv))), 200);
    let stale = code_of(&fake, "PUT", &path, &lease("b", Some(&rv)));
    assert_eq!(stale, 409, "a replace with a stale resourceVersion");
    let holder = fake.log().last().and_then(|r| r.lease_holder.clone());
    assert_eq!(holder.as_deref(), Some("a"));

    fake.set_lease_outage(true);
    assert_eq!(code_of(&fake, "GET", &path, &Value::Null), 500);
    let apply = format!("{}?fieldManager=m", wasm_plugin_path("ml", "p"));
    assert_eq!(
        send(
            &fake,
            "PATCH",
            &apply,
            APPLY_PATCH,
            &plugin(json!({}), Value::Null)
        )
        .0,
        200
    );
    fake.set_failure(Some((FailureScope::Everything, "etcd unavailable")));
    let (code, body) = send(
        &fake,
        "PATCH",
        &apply,
        APPLY_PATCH,
        &plugin(json!({}), Value::Null),
    );
    assert_eq!(
        (code, body["message"].as_str()),
        (500, Some("etcd unavailable"))
    );
    fake.set_failure(None);
    assert_eq!(code_of(&fake, "GET", &path, &Value::Null), 200);
}

#[test]
fn the_kubeconfig_points_at_the_fake_as_the_user() {
    let fake = KubeFake::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = fake.kubeconfig(dir.path(), "replica-a");
    let text = std::fs::read_to_string(path).expect("kubeconfig");
    assert!(
        text.contains(&format!("server: \"{}\"", fake.url)),
        "{text}"
    );
    assert!(
        text.contains("as: replica-a") && text.contains("namespace: ml"),
        "{text}"
    );
}
