//! `rollgate serve` as a real process: SIGKILL it during a burst of event writes, restart it on
//! the same database, and check that every acknowledged write is there (and that the running
//! statistics agree with the raw events, since both are written in one transaction).
#![allow(clippy::unwrap_used)]

mod run_support;

use run_support::serve::{serve_command, spawn, write_tokens, Serve};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "kill-test-token";
const BATCH: usize = 50;

fn start(dir: &Path) -> Serve {
    spawn(serve_command(dir, "memory"))
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
) -> Result<(u16, Value), reqwest::Error> {
    let response = client
        .post(url)
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_event_burst_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    write_tokens(dir.path(), TOKEN);
    let mut server = start(dir.path());
    let client = reqwest::Client::new();
    for version in ["v1", "v2"] {
        let (status, body) = post(
            &client,
            &format!("{}/api/v1/models/fraud/versions", server.base),
            &json!({"version": version, "cluster": format!("c-{version}")}),
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let (status, test) = post(&client, &format!("{}/api/v1/ab-tests", server.base), &json!({"name": "k", "control_model_id": "fraud",
        "control_version": "v1", "treatment_model_id": "fraud", "treatment_version": "v2", "treatment_fraction": 0.5})).await.unwrap();
    assert_eq!(status, 201, "{test}");
    let id = test["experiment_id"].as_str().unwrap().to_string();

    // Four writers send batches until the server dies; each records the batches acknowledged.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let url = format!("{}/api/v1/ab-tests/{id}/events", server.base);
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (client, url, acknowledged) = (client.clone(), url.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for batch in 0..10_000 {
                let tag = format!("w{writer}-b{batch}");
                let events: Vec<Value> = (0..BATCH)
                    .map(|i| json!({"unit": format!("{tag}-{i}"), "variant": if i % 2 == 0 {"control"} else {"treatment"},
                        "metric": "latency_ms", "value": (i * 7 % 13) as f64}))
                    .collect();
                match post(&client, &url, &Value::Array(events)).await {
                    Ok((200, _)) => acknowledged.lock().unwrap().push(tag),
                    Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    // Kill once a good number of batches were acknowledged (bounded wait, no fixed sleep).
    for _ in 0..2_000 {
        if acknowledged.lock().unwrap().len() >= 40 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL"); // std: SIGKILL on unix
    server.child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 40,
        "only {} batches acknowledged",
        acknowledged.len()
    );

    let mut server = start(dir.path());
    let results: Value = client
        .get(format!(
            "{}/api/v1/ab-tests/{id}/results?metric=latency_ms",
            server.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = results["control"]["count"].as_u64().unwrap()
        + results["treatment"]["count"].as_u64().unwrap();
    assert!(
        stored >= (acknowledged.len() * BATCH) as u64,
        "{stored} stored < {} acknowledged",
        acknowledged.len() * BATCH
    );

    // Every acknowledged event, one by one, in the raw table.
    let db = rusqlite::Connection::open(dir.path().join("rollgate.db")).unwrap();
    let mut present = db
        .prepare("SELECT COUNT(*) FROM events WHERE unit LIKE ?1")
        .unwrap();
    for tag in &acknowledged {
        let n: i64 = present
            .query_row([format!("{tag}-%")], |r| r.get(0))
            .unwrap();
        assert_eq!(
            n as usize, BATCH,
            "batch {tag} acknowledged but {n} of {BATCH} events stored"
        );
    }
    // Running statistics and raw rows were committed together: they agree exactly.
    let raw: i64 = db
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    let summed: i64 = db
        .query_row("SELECT SUM(count) FROM event_stats", [], |r| r.get(0))
        .unwrap();
    assert_eq!(raw, summed);
    assert_eq!(raw as u64, stored);
    assert_eq!(raw as usize % BATCH, 0, "no partial batch");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn serve_refuses_a_bad_tokens_file_with_the_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tokens.yaml"),
        "tenants:\n- name: acme\n  token_sha256: not-hex\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(dir.path().join("db"))
        .arg("--tokens")
        .arg(dir.path().join("tokens.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tenants[0].token_sha256"), "{stderr}");
}
