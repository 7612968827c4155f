//! Running a step's gates: render their queries, ask the [`QuerySource`], judge the results.

use crate::gates::{evaluate, GateQueries, GateVerdict, QueryResult};
use crate::prometheus::QuerySource;
use crate::spec::Rollout;

/// Checks the gates named `names` of `rollout` against `source`.
pub async fn check_gates<Q: QuerySource>(
    rollout: &Rollout,
    source: &Q,
    names: &[String],
) -> Vec<GateVerdict> {
    let mut verdicts = Vec::with_capacity(names.len());
    for gate in names.iter().filter_map(|name| rollout.plan.gate(name)) {
        let queries = match GateQueries::render(
            gate,
            &rollout.experiment,
            &rollout.namespace,
            &rollout.canary,
            &rollout.stable,
        ) {
            Ok(q) => q,
            Err(e) => {
                verdicts.push(evaluate(gate, &QueryResult::Failed(e), None));
                continue;
            }
        };
        let canary = source.query(&queries.canary).await;
        let stable = match &queries.stable {
            Some(q) => Some(source.query(q).await),
            None => None,
        };
        verdicts.push(evaluate(gate, &canary, stable.as_ref()));
    }
    verdicts
}
