//! State one VM shares between its root context and its HTTP contexts (single-threaded, so
//! `Rc<RefCell<…>>`): the active routing table with its metric ids and guard, the shadow calls
//! in flight and the pending comparisons. The root context owns it; HTTP contexts hold a clone.

use super::abi::types::{BufferType, LogLevel, MapType};
use super::host;
use super::metric_ids::{class_index, define_all, ExperimentIds, ShadowResult};
use rollgate_core::guard::{trip_key, GuardSet, GuardTrip};
use rollgate_core::metrics::status_class;
use rollgate_core::routing::RoutingTable;
use rollgate_core::shadow::{
    compare, disagreement_line, extract, JsonScalar, LogLimiter, MemoryBudget, PendingComparisons,
};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Shadow calls (and comparisons) a VM keeps track of at once; the oldest is evicted beyond.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Bytes of body copies a VM may hold at once.
pub const BODY_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// One loaded config: the table, its metric ids and its guard state.
pub struct Active {
    pub table: RoutingTable,
    pub ids: Vec<ExperimentIds>,
    pub guards: RefCell<GuardSet>,
}

impl Active {
    /// Compiles nothing: wraps a compiled table and defines its metrics.
    pub fn new(table: RoutingTable) -> Active {
        let ids = define_all(&table);
        let guards = RefCell::new(GuardSet::new(&table));
        Active { table, ids, guards }
    }

    /// Counts a shadow result of `experiment`.
    pub fn count_shadow(&self, experiment: usize, result: ShadowResult) {
        if let Some(ids) = self.ids.get(experiment) {
            host::increment(ids.shadow_requests.get(result as usize).copied().flatten());
        }
    }

    /// Whether (experiment, variant) is reverted, here or (through shared data) in another VM.
    pub fn is_tripped(&self, experiment: usize, variant: usize) -> bool {
        if self.guards.borrow().is_tripped(experiment, variant) {
            return true;
        }
        let Some((exp, var)) = self.names(experiment, variant) else {
            return false;
        };
        let shared = host::shared_data(&trip_key(self.table.generation(), exp, var))
            .is_some_and(|v| !v.is_empty());
        if shared {
            self.guards.borrow_mut().mark_tripped(experiment, variant);
        }
        shared
    }

    /// Feeds a response to the guard; on a trip: count, log, share.
    pub fn guard_response(&self, experiment: usize, variant: usize, status: u32) {
        let trip = self.guards.borrow_mut().record(experiment, variant, status);
        if let Some(GuardTrip {
            errors, responses, ..
        }) = trip
        {
            let Some((exp, var)) = self.names(experiment, variant) else {
                return;
            };
            host::increment(
                self.ids
                    .get(experiment)
                    .and_then(|e| e.variants.get(variant))
                    .and_then(|v| v.guard_tripped),
            );
            host::log(
                LogLevel::Warn,
                &format!(
                    "rollgate guard tripped: experiment={exp} variant={var}: {errors} of the last {responses} responses were 5xx; its users go to the first variant until a new config"
                ),
            );
            host::set_shared_data(&trip_key(self.table.generation(), exp, var), b"1");
        }
    }

    fn names(&self, experiment: usize, variant: usize) -> Option<(&str, &str)> {
        let exp = self.table.experiments().get(experiment)?;
        Some((exp.id.as_str(), exp.variants.get(variant)?.name.as_str()))
    }
}

/// A shadow call in flight.
struct InFlight {
    token: u32,
    active: Rc<Active>,
    experiment: usize,
    started_ms: u64,
}

/// The VM-wide state.
pub struct Shared {
    pub active: Option<Rc<Active>>,
    pub budget: MemoryBudget,
    pending: PendingComparisons,
    in_flight: VecDeque<InFlight>,
    log_limiter: LogLimiter,
    pub config_rejected: Option<u32>,
    pub request_counter: u64,
}

/// Handle shared by the root and HTTP contexts.
pub type SharedState = Rc<RefCell<Shared>>;

impl Shared {
    /// Empty state: no config yet.
    pub fn new() -> Shared {
        Shared {
            active: None,
            budget: MemoryBudget::new(BODY_BUDGET_BYTES),
            pending: PendingComparisons::new(MAX_IN_FLIGHT),
            in_flight: VecDeque::new(),
            log_limiter: LogLimiter::new(10, 1_000),
            config_rejected: None,
            request_counter: 0,
        }
    }

    /// Tracks a dispatched shadow call; evicts (and counts) the oldest when full.
    pub fn track_call(
        &mut self,
        token: u32,
        active: Rc<Active>,
        experiment: usize,
        compared: bool,
    ) {
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            if let Some(old) = self.in_flight.pop_front() {
                self.pending.remove(old.token);
                old.active
                    .count_shadow(old.experiment, ShadowResult::Evicted);
            }
        }
        if compared {
            if let Some(evicted) = self.pending.insert(token, experiment) {
                // only reachable if the two stores disagree; count it all the same
                active.count_shadow(evicted, ShadowResult::Evicted);
            }
        }
        self.in_flight.push_back(InFlight {
            token,
            active,
            experiment,
            started_ms: host::now_ms(),
        });
    }

    /// The primary's value for the comparison of call `token`.
    pub fn primary_value(&mut self, token: u32, value: JsonScalar) {
        if let Some(ready) = self.pending.primary_value(token, value) {
            let active = self
                .in_flight
                .iter()
                .find(|c| c.token == token)
                .map(|c| c.active.clone());
            if let Some(active) = active {
                self.finish_comparison(&active, ready.experiment, &ready.shadow, &ready.primary);
            }
            self.in_flight.retain(|c| c.token != token);
        }
    }

    /// Handles the response of shadow call `token` (whichever context it arrived on).
    pub fn shadow_response(&mut self, token: u32, body_size: usize) {
        let Some(position) = self.in_flight.iter().position(|c| c.token == token) else {
            return;
        };
        let Some(call) = self.in_flight.get(position) else {
            return;
        };
        let active = call.active.clone();
        let experiment = call.experiment;
        let elapsed = host::now_ms().saturating_sub(call.started_ms);
        let status = host::header(MapType::HttpCallResponseHeaders, ":status")
            .and_then(|s| {
                std::str::from_utf8(&s)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok())
            })
            .unwrap_or(0);
        if let Some(ids) = active.ids.get(experiment) {
            host::record(ids.shadow_duration, elapsed);
            host::increment(
                ids.shadow_responses
                    .get(class_index(status_class(status)))
                    .copied()
                    .flatten(),
            );
        }
        let compare_config = active
            .table
            .experiments()
            .get(experiment)
            .and_then(|e| e.shadow.as_ref())
            .and_then(|s| s.compare.clone());
        let Some(compare_config) = compare_config else {
            self.in_flight.remove(position);
            return;
        };
        let body = host::buffer(BufferType::HttpCallResponseBody, body_size).unwrap_or_default();
        let value = extract(&body, &compare_config.json_pointer);
        match self.pending.shadow_value(token, value) {
            Some(ready) => {
                self.finish_comparison(&active, ready.experiment, &ready.shadow, &ready.primary);
                self.in_flight.retain(|c| c.token != token);
            }
            None if !self.pending.contains(token) => {
                self.in_flight.retain(|c| c.token != token);
            }
            None => {} // waits for the primary's value
        }
    }

    fn finish_comparison(
        &mut self,
        active: &Active,
        experiment: usize,
        shadow: &JsonScalar,
        primary: &JsonScalar,
    ) {
        let Some(spec) = active.table.experiments().get(experiment) else {
            return;
        };
        let tolerance = spec
            .shadow
            .as_ref()
            .and_then(|s| s.compare.as_ref())
            .map_or(0.0, |c| c.tolerance);
        let outcome = compare(shadow, primary, tolerance);
        let index = match outcome {
            rollgate_core::shadow::Comparison::Agree => 0,
            rollgate_core::shadow::Comparison::Disagree => 1,
            rollgate_core::shadow::Comparison::Incomparable => 2,
        };
        if let Some(ids) = active.ids.get(experiment) {
            host::increment(ids.comparisons.get(index).copied().flatten());
        }
        if outcome == rollgate_core::shadow::Comparison::Disagree {
            if let Some(suppressed) = self.log_limiter.allow(host::now_ms()) {
                host::log(
                    LogLevel::Info,
                    &disagreement_line(&spec.id, shadow, primary, suppressed),
                );
            }
        }
    }
}
