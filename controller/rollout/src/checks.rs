//! Running a step's gates: render their queries, ask the [`QuerySource`], judge the results.

use crate::engine::{RolloutState, UnixMillis};
use crate::gates::{
    evaluate, evaluate_srm, srm_window_ms, Gate, GateQueries, GateSource, GateVerdict, QueryResult,
};
use crate::prometheus::QuerySource;
use crate::spec::Rollout;

/// Checks the gates named `names` of `rollout` against `source`. `state` and `now` give the
/// `srm` gate the weight the sink holds and how long it has held it.
pub async fn check_gates<Q: QuerySource>(
    rollout: &Rollout,
    source: &Q,
    names: &[String],
    state: &RolloutState,
    now: UnixMillis,
) -> Vec<GateVerdict> {
    let mut verdicts = Vec::with_capacity(names.len());
    for gate in names.iter().filter_map(|name| rollout.plan.gate(name)) {
        let verdict = match gate.source {
            GateSource::Srm => check_srm(rollout, source, gate, state, now).await,
            _ => check_one(rollout, source, gate).await,
        };
        verdicts.push(verdict);
    }
    verdicts
}

async fn check_one<Q: QuerySource>(rollout: &Rollout, source: &Q, gate: &Gate) -> GateVerdict {
    let queries = match GateQueries::render(
        gate,
        &rollout.experiment,
        &rollout.namespace,
        &rollout.canary,
        &rollout.stable,
    ) {
        Ok(q) => q,
        Err(e) => return evaluate(gate, &QueryResult::Failed(e), None),
    };
    let canary = source.query(&queries.canary).await;
    let stable = match &queries.stable {
        Some(q) => Some(source.query(q).await),
        None => None,
    };
    evaluate(gate, &canary, stable.as_ref())
}

/// Exposures of both variants since the current weight was pushed, against that weight.
async fn check_srm<Q: QuerySource>(
    rollout: &Rollout,
    source: &Q,
    gate: &Gate,
    state: &RolloutState,
    now: UnixMillis,
) -> GateVerdict {
    let no_data = |why: String| {
        let missing = QueryResult::Empty(why);
        evaluate_srm(gate, &missing, &missing, 0)
    };
    let Some(canary_bp) = state.applied_canary_bp else {
        return no_data("no weight has been pushed yet".to_string());
    };
    let Some(window_ms) = srm_window_ms(state.applied_at_ms(), now, gate.interval_ms) else {
        return no_data("the step's weight was pushed less than 1s ago".to_string());
    };
    let queries = GateQueries::render_over(
        gate,
        window_ms,
        &rollout.experiment,
        &rollout.namespace,
        &rollout.canary,
        &rollout.stable,
    );
    let (canary_query, stable_query) = match queries {
        Ok(GateQueries {
            canary,
            stable: Some(stable),
        }) => (canary, stable),
        Ok(_) => return no_data("no stable query rendered".to_string()),
        Err(e) => return no_data(e),
    };
    let canary = source.query(&canary_query).await;
    let stable = source.query(&stable_query).await;
    evaluate_srm(gate, &stable, &canary, canary_bp)
}
