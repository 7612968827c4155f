//! `rollgate run --leader-elect`: two replicas on one WasmPlugin against a loopback fake of
//! the Kubernetes API with Lease semantics (the rollgate-kube-fake crate; no API server can run
//! here). Only the lease holder writes; after a SIGKILL of the leader the follower takes over
//! once the lease expires and resumes from the WasmPlugin's annotation without pushing a step
//! twice; a leader whose renewals fail stops before its lease could expire (exit 5).

mod run_support;

use rollgate_kube_fake::{lease_path, wasm_plugin_path, KubeFake, Request};
use run_support::*;
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Lease duration of the takeover test (its `--lease-duration`).
const LEASE: Duration = Duration::from_secs(2);
/// Lease duration of the fencing test: far above its renew deadline, so the margin between
/// "stopped" and "the lease could have expired" does not depend on scheduling.
const FENCING_LEASE: Duration = Duration::from_secs(5);
/// Renew deadline of both tests.
const RENEW_DEADLINE: Duration = Duration::from_secs(1);
const PLUGIN: &str = "fraud-detector-rollgate";

/// A rollout on WasmPlugin `ml/fraud-detector-rollgate` with steps of `pause`.
fn kubernetes_fixture(prometheus: &FakePrometheus, pause: &str) -> Fixture {
    let fx = fixture(
        &prometheus.url,
        &steps(pause),
        &error_rate_gate(1, "inconclusive"),
    );
    let text = std::fs::read_to_string(&fx.spec).expect("spec");
    let text = text
        .replace(
            "ecds_file: { path: out/ecds.yaml, name: rollgate }",
            &format!("kubernetes: {{ wasm_plugin: {PLUGIN} }}"),
        )
        .replace("  state_file: .rollgate/state.json\n", "");
    std::fs::write(&fx.spec, text).expect("write spec");
    fx
}

/// Starts replica `identity` with `lease` duration, a [`RENEW_DEADLINE`] renew deadline and a
/// 200 ms retry period.
fn spawn_replica(api: &KubeFake, fx: &Fixture, identity: &str, lease: Duration) -> Child {
    let lease = format!("{}ms", lease.as_millis());
    let renew_deadline = format!("{}ms", RENEW_DEADLINE.as_millis());
    rollgate(&[
        "run",
        fx.spec_arg(),
        "--tick",
        "50ms",
        "--leader-elect",
        "--leader-identity",
        identity,
        "--lease-duration",
        &lease,
        "--renew-deadline",
        &renew_deadline,
        "--retry-period",
        "200ms",
    ])
    .env("KUBECONFIG", api.kubeconfig(fx.dir.path(), identity))
    .env_remove("KUBERNETES_SERVICE_HOST")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn rollgate run --leader-elect")
}

fn lease_holder(api: &KubeFake) -> Option<String> {
    let lease = api.object(&lease_path("ml", &format!("rollgate-{PLUGIN}")))?;
    lease["spec"]["holderIdentity"].as_str().map(str::to_string)
}

/// The rollout state in the WasmPlugin's annotation.
fn plugin_state(api: &KubeFake) -> Option<Value> {
    let plugin = api.object(&wasm_plugin_path("ml", PLUGIN))?;
    serde_json::from_str(plugin["metadata"]["annotations"]["rollgate.dev/state"].as_str()?).ok()
}

/// A WasmPlugin write is a push when it carries the version its state is pushing.
fn push_of(entry: &Request) -> Option<(u64, u64)> {
    let annotations = &entry.body["metadata"]["annotations"];
    let state: Value = serde_json::from_str(annotations["rollgate.dev/state"].as_str()?).ok()?;
    let canary = state["pending_push"].as_u64()?;
    let version: u64 = annotations["rollgate.dev/config-version"]
        .as_str()?
        .parse()
        .ok()?;
    (version == state["config_version"].as_u64()?).then_some((version, canary))
}

fn plugin_writes(log: &[Request]) -> Vec<&Request> {
    log.iter()
        .filter(|e| e.is_wasm_plugin() && e.is_write())
        .collect()
}

#[test]
fn two_replicas_one_pushes_and_after_the_leader_is_killed_the_other_resumes_without_a_double_push()
{
    let api = KubeFake::start();
    let prometheus = FakePrometheus::rates(0.0, 0.0);
    let fx = kubernetes_fixture(&prometheus, "3s");

    let mut a = spawn_replica(&api, &fx, "a", LEASE);
    wait_for("replica a to hold the lease", || {
        lease_holder(&api).as_deref() == Some("a")
    });
    let b = spawn_replica(&api, &fx, "b", LEASE);
    wait_for("replica b to read the lease as a follower", || {
        api.log()
            .iter()
            .any(|e| e.user.as_deref() == Some("b") && e.is_lease())
    });
    wait_for("step 1 (10 %) to be pushed and confirmed", || {
        plugin_state(&api)
            .is_some_and(|s| s["applied_canary_bp"] == 1_000 && s["pending_push"].is_null())
    });
    assert_eq!(lease_holder(&api).as_deref(), Some("a"));
    a.kill().expect("SIGKILL the leader");
    a.wait().expect("reap the leader");
    let killed_at = Instant::now();

    let output = wait_with_deadline(b, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is held by a; waiting"),
        "the follower says whom it waits for: {stderr}"
    );
    assert_eq!(plugin_state(&api).expect("state")["phase"], "promoted");

    let log = api.log();
    // Only the lease holder writes the WasmPlugin, and the holders do not interleave.
    let writes = plugin_writes(&log);
    for write in &writes {
        assert_eq!(
            write.user, write.lease_holder,
            "WasmPlugin written by a replica that did not hold the lease: {write:?}"
        );
    }
    let writers: Vec<&str> = writes.iter().filter_map(|w| w.user.as_deref()).collect();
    let first_b = writers.iter().position(|w| *w == "b").expect("b wrote");
    assert!(writers[..first_b].iter().all(|w| *w == "a") && first_b > 0);
    assert!(writers[first_b..].iter().all(|w| *w == "b"), "{writers:?}");
    assert!(
        writes[first_b].at > killed_at,
        "the follower wrote only after the leader was gone"
    );
    // Each step pushed exactly once, versions 1, 2, 3, across the two replicas.
    let pushes: Vec<(u64, u64, &str)> = writes
        .iter()
        .filter_map(|w| push_of(w).map(|(v, bp)| (v, bp, w.user.as_deref().unwrap_or("?"))))
        .collect();
    assert_eq!(
        pushes,
        vec![(1, 1_000, "a"), (2, 5_000, "b"), (3, 10_000, "b")],
        "pushes (version, canary bp, replica)"
    );
    // Lease writes: resourceVersions increase, one transition a -> b, taken only after the
    // lease had not changed for a lease duration, then released by b at the end.
    let lease_writes: Vec<&Request> = log
        .iter()
        .filter(|e| e.is_lease() && e.is_write())
        .collect();
    let rvs: Vec<u64> = lease_writes.iter().filter_map(|e| e.written_rv).collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");
    let holders: Vec<&str> = lease_writes
        .iter()
        .map(|e| e.body["spec"]["holderIdentity"].as_str().unwrap_or(""))
        .collect();
    let takeover = holders
        .iter()
        .position(|h| *h == "b")
        .expect("b took the lease");
    assert!(holders[..takeover].iter().all(|h| *h == "a"), "{holders:?}");
    assert_eq!(
        holders.last(),
        Some(&""),
        "released at the end: {holders:?}"
    );
    assert!(
        holders[takeover..holders.len() - 1]
            .iter()
            .all(|h| *h == "b"),
        "{holders:?}"
    );
    let last_a = lease_writes[takeover - 1];
    let first_b_lease = lease_writes[takeover];
    assert!(
        first_b_lease.at.duration_since(last_a.at) >= LEASE,
        "taken over {:?} after a's last renewal, before the {LEASE:?} lease expired",
        first_b_lease.at.duration_since(last_a.at)
    );
    assert_eq!(first_b_lease.body["spec"]["leaseTransitions"], 1);
    assert_eq!(lease_writes[0].body["spec"]["leaseTransitions"], 0);
    assert_eq!(first_b_lease.body["spec"]["leaseDurationSeconds"], 2);
    // The follower only followed before: b's lease writes all come after the kill.
    assert!(lease_writes
        .iter()
        .filter(|e| e.user.as_deref() == Some("b"))
        .all(|e| e.at > killed_at));
}

#[test]
fn a_leader_whose_renewals_fail_stops_pushing_before_its_lease_could_expire() {
    let api = KubeFake::start();
    let prometheus = FakePrometheus::rates(0.0, 0.0);
    // Unfenced, the 1.5 s steps reach 100 % 3 s after step 1, within the 5 s lease; fenced,
    // the leader stops about RENEW_DEADLINE after its last renewal.
    let fx = kubernetes_fixture(&prometheus, "1500ms");
    let a = spawn_replica(&api, &fx, "a", FENCING_LEASE);
    wait_for("step 1 (10 %) to be pushed and confirmed", || {
        plugin_state(&api)
            .is_some_and(|s| s["applied_canary_bp"] == 1_000 && s["pending_push"].is_null())
    });
    api.set_lease_outage(true);
    let output = wait_with_deadline(a, Duration::from_secs(20));
    let exited_at = Instant::now();
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("leadership lost") && stderr.contains("renew deadline"),
        "{stderr}"
    );

    let log = api.log();
    let last_renewal = log
        .iter()
        .rev()
        .find(|e| e.is_lease() && e.is_write())
        .expect("a renewed before the outage")
        .at;
    let expiry = last_renewal + FENCING_LEASE;
    assert!(
        exited_at < expiry,
        "exited {:?} after its last renewal; the lease expires after {FENCING_LEASE:?}",
        exited_at.duration_since(last_renewal)
    );
    assert!(exited_at.duration_since(last_renewal) >= RENEW_DEADLINE - Duration::from_millis(250));
    for write in plugin_writes(&log) {
        assert!(
            write.at < expiry,
            "a WasmPlugin write after the lease could expire: {write:?}"
        );
    }
    // The fence stopped the rollout before the step an unfenced leader would have pushed
    // while the lease was still valid.
    let state = plugin_state(&api).expect("state");
    assert_ne!(state["applied_canary_bp"], 10_000, "{state}");
    assert_ne!(state["phase"], "promoted");
}
