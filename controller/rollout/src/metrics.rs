//! The controller's own metrics, in Prometheus text format (served by `rollgate run
//! --metrics-listen`).

use crate::engine::RolloutState;
use crate::spec::Rollout;
use std::fmt::Write as _;

/// Renders `rollgate_rollout_step`, `rollgate_rollout_canary_weight_bp`,
/// `rollgate_rollout_phase`, `rollgate_gate_value{gate}` and `rollgate_gate_failures_total{gate}`.
pub fn render_metrics(rollout: &Rollout, state: &RolloutState) -> String {
    let name = escape(&rollout.name);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP rollgate_rollout_step Index of the rollout's current step."
    );
    let _ = writeln!(out, "# TYPE rollgate_rollout_step gauge");
    let _ = writeln!(
        out,
        "rollgate_rollout_step{{rollout=\"{name}\"}} {}",
        state.step
    );
    let _ = writeln!(
        out,
        "# HELP rollgate_rollout_canary_weight_bp Canary weight the sink holds, in basis points."
    );
    let _ = writeln!(out, "# TYPE rollgate_rollout_canary_weight_bp gauge");
    let weight = state.applied_canary_bp.unwrap_or(0);
    let _ = writeln!(
        out,
        "rollgate_rollout_canary_weight_bp{{rollout=\"{name}\"}} {weight}"
    );
    let _ = writeln!(
        out,
        "# HELP rollgate_rollout_phase 1 for the rollout's current phase."
    );
    let _ = writeln!(out, "# TYPE rollgate_rollout_phase gauge");
    for phase in ["progressing", "paused", "rolled_back", "promoted"] {
        let value = u8::from(state.phase.name() == phase);
        let _ = writeln!(
            out,
            "rollgate_rollout_phase{{rollout=\"{name}\",phase=\"{phase}\"}} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP rollgate_gate_value Last value a gate measured."
    );
    let _ = writeln!(out, "# TYPE rollgate_gate_value gauge");
    for (gate, status) in &state.gates {
        if let Some(value) = status.last.as_ref().and_then(|v| v.value) {
            let _ = writeln!(
                out,
                "rollgate_gate_value{{rollout=\"{name}\",gate=\"{}\"}} {value}",
                escape(gate)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP rollgate_gate_failures_total Failed gate checks."
    );
    let _ = writeln!(out, "# TYPE rollgate_gate_failures_total counter");
    for gate in &rollout.plan.gates {
        let total = state.gates.get(&gate.name).map_or(0, |s| s.failures_total);
        let _ = writeln!(
            out,
            "rollgate_gate_failures_total{{rollout=\"{name}\",gate=\"{}\"}} {total}",
            escape(&gate.name)
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{GateStatus, RolloutState};
    use crate::gates::{GateOutcome, GateVerdict};

    #[test]
    fn renders_step_weight_and_gate_values() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("base.json"),
            r#"{"version":1,"experiments":[{"id":"e","kind":"canary","salt":"e","variants":[
              {"name":"stable","cluster":"s","weight":10000},{"name":"canary","cluster":"c","weight":0}]}]}"#,
        )
        .expect("base");
        let spec = "apiVersion: rollgate.dev/v1\nkind: Rollout\nmetadata: { name: r }\nspec:\n  experiment: e\n  stable: stable\n  canary: canary\n  base_config: base.json\n  sink: { stdout: {} }\n  prometheus: { url: http://127.0.0.1:9 }\n  state_file: s.json\n  gates:\n    - { name: err, template: error_rate, condition: '< 0.01' }\n";
        let rollout = crate::spec::parse_rollout(spec, dir.path()).expect("valid");
        let mut state = RolloutState::new("r", 0);
        state.step = 2;
        state.applied_canary_bp = Some(1_000);
        let verdict = GateVerdict {
            gate: "err".into(),
            outcome: GateOutcome::Fail,
            value: Some(0.25),
            condition: "< 0.01".into(),
            threshold: 0.01,
            detail: None,
            srm: None,
            samples: None,
            query_failed: false,
        };
        state.gates.insert(
            "err".into(),
            GateStatus {
                consecutive_failures: 1,
                failures_total: 3,
                last: Some(verdict),
                last_checked_ms: Some(0),
            },
        );
        let text = render_metrics(&rollout, &state);
        for line in [
            "rollgate_rollout_step{rollout=\"r\"} 2",
            "rollgate_rollout_canary_weight_bp{rollout=\"r\"} 1000",
            "rollgate_rollout_phase{rollout=\"r\",phase=\"progressing\"} 1",
            "rollgate_rollout_phase{rollout=\"r\",phase=\"promoted\"} 0",
            "rollgate_gate_value{rollout=\"r\",gate=\"err\"} 0.25",
            "rollgate_gate_failures_total{rollout=\"r\",gate=\"err\"} 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
