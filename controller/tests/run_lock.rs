//! One rollout per state: a second `rollgate run` on the same state file is refused while the
//! first runs, and a killed controller leaves no stale lock (the OS releases it).

mod run_support;

use run_support::*;
use std::time::Duration;

#[test]
fn a_second_run_is_refused_and_a_killed_runs_lock_is_recovered() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "30s", 1);
    let spec = fx.spec_arg();
    let mut first = spawn_run(&fx);
    wait_for_applied(&fx, 1_000);

    let second = run_to_end(&["run", spec, "--tick", "50ms"]);
    assert_eq!(second.status.code(), Some(1), "{}", describe(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("in use by process")
            && stderr.contains(&first.id().to_string())
            && stderr.contains("state.json"),
        "the error names the state and the holder: {stderr}"
    );
    assert_eq!(
        ecds_canary(&fx.ecds).map(|(w, _)| w),
        Some(1_000),
        "the refused run pushed nothing"
    );

    // SIGKILL: no cleanup runs, yet the lock goes with the process.
    first.kill().expect("kill the first run");
    first.wait().expect("reap");
    assert_eq!(run_to_end(&["abort", spec]).status.code(), Some(0));
    let resumed = wait_with_deadline(
        rollgate(&["run", spec, "--tick", "50ms"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn"),
        Duration::from_secs(20),
    );
    assert_eq!(resumed.status.code(), Some(3), "{}", describe(&resumed));
    assert_eq!(ecds_canary(&fx.ecds).map(|(w, _)| w), Some(0));
}
