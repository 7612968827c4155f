//! The stand-ins themselves: model-server answers, error schedule and admin endpoint; loadgen's
//! bounded run and summary.

use rollgate_e2e::net::{http_get, http_post};
use rollgate_e2e::paths::debug_binary;
use rollgate_e2e::process::Spawned;
use rollgate_e2e::stack::{ModelBehaviour, ModelServer};
use rollgate_e2e::E2eError;
use rollgate_tools::load::LoadSummary;
use rollgate_tools::model::predict;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// `rollgate-tools`' `model-server`.
fn model_server() -> Result<PathBuf, E2eError> {
    debug_binary("model-server")
}

/// `rollgate-tools`' `loadgen`.
fn loadgen() -> Result<PathBuf, E2eError> {
    debug_binary("loadgen")
}

fn run_loadgen(target: std::net::SocketAddr, requests: u64) -> Result<LoadSummary, E2eError> {
    let mut command = Command::new(loadgen()?);
    command
        .arg("--target")
        .arg(target.to_string())
        .args(["--rps", "2000", "--duration", "20s", "--quiet"])
        .arg(format!("--max-requests={requests}"));
    let mut loadgen = Spawned::spawn("loadgen", command)?;
    let status = loadgen.wait_exit(Duration::from_secs(30))?;
    assert!(status.success(), "loadgen: {}", loadgen.stderr_tail(10));
    let line = loadgen.stdout_tail(1);
    serde_json::from_str(&line).map_err(|err| E2eError::Protocol {
        what: "loadgen summary".into(),
        why: format!("{err}: {line}"),
    })
}

#[test]
fn model_server_fails_exactly_its_error_rate_and_loadgen_counts_it() -> Result<(), E2eError> {
    let server = ModelServer::start(
        &model_server()?,
        &ModelBehaviour {
            error_rate: 0.1,
            ..ModelBehaviour::healthy("v1")
        },
    )?;
    let summary = run_loadgen(server.addr, 300)?;
    assert_eq!(summary.sent, 300);
    assert_eq!(summary.completed, 300);
    assert_eq!(summary.transport_errors, 0);
    // Errors are spread evenly over the request count: exactly 10 % of 300.
    assert_eq!(summary.by_status.get(&503), Some(&30));
    assert_eq!(summary.by_status.get(&200), Some(&270));
    // No proxy in between: nobody named a variant.
    assert_eq!(summary.by_variant.get("-").map(|c| c.total), Some(300));

    server.set_error_rate(0.0)?;
    let after = run_loadgen(server.addr, 100)?;
    assert_eq!(after.by_status.get(&200), Some(&100));
    let stats: serde_json::Value =
        serde_json::from_str(&http_get(server.addr, "/admin/stats")?.body).unwrap_or_default();
    assert_eq!(stats["requests"], 400);
    assert_eq!(stats["errors"], 30);
    assert_eq!(
        http_post(server.addr, "/admin/error-rate", "1.5")?.status,
        400
    );
    assert_eq!(
        http_post(server.addr, "/admin/error-rate", "\"x\"")?.status,
        400
    );
    Ok(())
}

#[test]
fn model_server_predictions_are_the_pure_function() -> Result<(), E2eError> {
    let v3 = ModelServer::start(
        &model_server()?,
        &ModelBehaviour {
            agree_rate: 0.97,
            ..ModelBehaviour::healthy("v3")
        },
    )?;
    for i in 0..20 {
        let body = format!("{{\"user\":\"user-{i}\",\"amount\":{i}}}");
        let reply = http_post(v3.addr, "/predict", &body)?;
        assert_eq!(reply.status, 200);
        let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
        let expected = predict(42, 970_000, body.as_bytes());
        assert_eq!(answer["prediction"], u64::from(expected.label), "{body}");
        assert_eq!(answer["model"], "v3");
    }
    Ok(())
}

#[test]
fn stand_ins_refuse_non_loopback_addresses() -> Result<(), E2eError> {
    let mut server = Spawned::spawn("model-server", {
        let mut c = Command::new(model_server()?);
        c.args(["--listen", "0.0.0.0:0"]);
        c
    })?;
    assert!(!server.wait_exit(Duration::from_secs(10))?.success());
    assert!(server.stderr_tail(200).contains("not a loopback address"));
    let mut loadgen = Spawned::spawn("loadgen", {
        let mut c = Command::new(loadgen()?);
        c.args(["--target", "10.0.0.1:80", "--duration", "1s"]);
        c
    })?;
    assert!(!loadgen.wait_exit(Duration::from_secs(10))?.success());
    assert!(loadgen.stderr_tail(200).contains("not loopback"));
    Ok(())
}
