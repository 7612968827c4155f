//! `rollgate bandit --spec` through real Envoy and real Prometheus: two arms, the stable model
//! failing 40 % of its requests and the canary healthy. Each round reads both arms' 2xx and
//! total responses from Prometheus (the built-in `success_rate` reward), allocates with seeded
//! Thompson sampling and pushes the weights into the ECDS file Envoy watches. The canary starts
//! at 0 bp; after a few 2 s rounds it holds all but the stable arm's 100 bp floor, the filter
//! serves that, and Envoy routes about 99 % of requests to it.

use rollgate_e2e::process::Spawned;
use rollgate_e2e::scenario::{CanaryScenario, EXPERIMENT};
use rollgate_e2e::stack::write_file;
use rollgate_e2e::E2eError;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const ROUNDS: u64 = 6;
const FLOOR_BP: u64 = 100;

#[test]
fn the_better_arm_gains_weight_from_prometheus_rewards() -> Result<(), E2eError> {
    // The steps are the Rollout's (for `rollgate run`); the bandit uses its experiment, base
    // config, sink and Prometheus source only.
    let scenario = CanaryScenario::builder("bandit_prometheus")
        .steps(&[(100.0, "")])
        .start()?;
    scenario.stable.set_error_rate(0.4)?;
    let bandit = scenario.dir().join("bandit.yaml");
    write_file(
        &bandit,
        &format!(
            "apiVersion: rollgate.dev/v1\nkind: Bandit\nmetadata: {{ name: e2e-bandit }}\n\
             spec:\n  rollout: {}\n  arms: [stable, canary]\n  \
             reward: {{ template: success_rate, window: 6s }}\n",
            scenario.spec.display()
        ),
    )?;
    let mut command = Command::new(&scenario.bins.rollgate);
    command.arg("bandit").arg("--spec").arg(&bandit).args([
        "--interval",
        "2s",
        "--rounds",
        &ROUNDS.to_string(),
        "--seed",
        "11",
        "--min-weight-bp",
        &FLOOR_BP.to_string(),
    ]);
    let mut controller = Spawned::spawn("rollgate bandit", command)?;
    let status = controller.wait_exit(Duration::from_secs(40))?;
    let rounds: Vec<Value> = controller
        .stdout_lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("round").is_some())
        .collect();
    let context = format!(
        "rounds {rounds:#?}\n--- rollgate bandit (stderr) ---\n{}\n{}",
        controller.stderr_tail(20),
        scenario.diagnostics()
    );
    assert!(status.success(), "exit {status}\n{context}");
    assert_eq!(rounds.len() as u64, ROUNDS, "{context}");
    let canary_bp = |round: &Value| round["weights"]["canary"].as_u64();
    let pushed: Vec<Option<u64>> = rounds.iter().map(canary_bp).collect();
    eprintln!("canary weight pushed per round (bp): {pushed:?}");
    for round in &rounds {
        eprintln!("round {}: rewards {}", round["round"], round["rewards"]);
    }
    for round in &rounds {
        assert!(round.get("skipped").is_none(), "a round failed\n{context}");
        let stable = round["weights"]["stable"].as_u64().unwrap_or(0);
        assert_eq!(stable + canary_bp(round).unwrap_or(0), 10_000, "{context}");
        assert!(stable >= FLOOR_BP, "the floor holds\n{context}");
    }
    let first = canary_bp(&rounds[0]).unwrap_or(0);
    let last_round = &rounds[rounds.len() - 1];
    let last = canary_bp(last_round).unwrap_or(0);
    assert!(
        first < 9_000,
        "round 1 has no canary data yet: {first}\n{context}"
    );
    assert_eq!(
        last,
        10_000 - FLOOR_BP,
        "the healthy canary wins\n{context}"
    );
    let stable_trials = last_round["rewards"]["stable"]["trials"]
        .as_u64()
        .unwrap_or(0);
    let canary_trials = last_round["rewards"]["canary"]["trials"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        stable_trials > 0 && canary_trials > 0,
        "both arms measured\n{context}"
    );
    // The versions increase by one per push, from what the ECDS file held.
    let versions: Vec<u64> = rounds
        .iter()
        .filter_map(|r| r["version"].as_u64())
        .collect();
    assert!(
        versions.windows(2).all(|w| w[1] == w[0] + 1),
        "{versions:?}"
    );

    let served = scenario.watcher.wait_for(
        "the filter serving the last pushed weight",
        Duration::from_secs(5),
        |w| w.canary_bp == last,
    )?;
    assert_eq!(served.canary_bp, last);
    let share = format!(
        "sum(rate(rollgate_requests_total{{experiment=\"{EXPERIMENT}\",variant=\"canary\"}}[3s])) \
         / sum(rate(rollgate_requests_total{{experiment=\"{EXPERIMENT}\"}}[3s]))"
    );
    let routed = scenario
        .prometheus
        .wait_for_value(&share, Duration::from_secs(15), |v| v > 0.97)
        .map_err(|err| E2eError::Protocol {
            what: "Envoy routing per the pushed weights".into(),
            why: format!("{err}\n{context}"),
        })?;
    eprintln!("canary share of requests routed by Envoy: {routed:.4}");
    Ok(())
}
