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
