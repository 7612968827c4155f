//! One loaded config: the routing table, its metric ids, and its guard, whose counts every VM
//! of the plugin shares through shared data.

use crate::host::{CasMismatch, Host};
use crate::metric_ids::{define_all, ExperimentIds, VariantIds};
use rollgate_core::config::{CompareConfig, ShadowConfig};
use rollgate_core::guard::{guard_key, GuardSet, SharedGuardState};
use rollgate_core::routing::RoutingTable;
use rollgate_core::shadow::ShadowResult;
use std::cell::RefCell;

/// Compare-and-swap attempts on a guard's shared state before a response is left uncounted
/// (each retry means another VM wrote in between; a handful is already unusual).
pub const GUARD_CAS_ATTEMPTS: usize = 16;

/// A loaded config.
pub struct Active {
    /// The compiled routing table.
    pub table: RoutingTable,
    /// Metric ids, by experiment.
    pub ids: Vec<ExperimentIds>,
    /// Which variants this VM knows to be tripped.
    guards: RefCell<GuardSet>,
    /// Shared-data keys of the guard states, by experiment and variant (empty when unguarded),
    /// built once so requests do not format them.
    guard_keys: Vec<Vec<String>>,
}

impl Active {
    /// Wraps a compiled table, defines its metrics, and makes sure every guarded variant has
    /// its shared state (a missing key would let two VMs' first writes race).
    pub fn new(host: &impl Host, table: RoutingTable) -> Active {
        let ids = define_all(host, &table);
        let guards = RefCell::new(GuardSet::new(&table));
        let guard_keys = table
            .experiments()
            .iter()
            .map(|e| match e.guard {
                Some(_) => e
                    .variants
                    .iter()
                    .map(|v| guard_key(table.generation(), &e.id, &v.name))
                    .collect(),
                None => Vec::new(),
            })
            .collect();
        let active = Active {
            table,
            ids,
            guards,
            guard_keys,
        };
        active.create_guard_states(host);
        active
    }

    fn create_guard_states(&self, host: &impl Host) {
        for (e, experiment) in self.table.experiments().iter().enumerate() {
            let Some(config) = experiment.guard.as_ref() else {
                continue;
            };
            let capacity = usize::try_from(config.window).unwrap_or(0);
            for v in 1..experiment.variants.len() {
                if let Some(key) = self.key(e, v) {
                    if host.shared_data(key).0.is_none() {
                        let fresh = SharedGuardState::new(capacity).encode();
                        let _ = host.set_shared_data(key, &fresh, None);
                    }
                }
            }
        }
    }

    /// Ids of (experiment, variant).
    pub fn variant_ids(&self, experiment: usize, variant: usize) -> Option<&VariantIds> {
        self.ids.get(experiment)?.variants.get(variant)
    }

    /// The shadow settings of `experiment` (`None`: not shadowed).
    pub fn shadow_spec(&self, experiment: usize) -> Option<&ShadowConfig> {
        self.table.experiments().get(experiment)?.shadow.as_ref()
    }

    /// How `experiment`'s shadow answers are compared (`None`: they are not).
    pub fn compare_spec(&self, experiment: usize) -> Option<&CompareConfig> {
        self.shadow_spec(experiment)?.compare.as_ref()
    }

    /// Counts a shadow result of `experiment`.
    pub fn count_shadow(&self, host: &impl Host, experiment: usize, result: ShadowResult) {
        if let Some(ids) = self.ids.get(experiment) {
            host.increment(ids.shadow_result(result));
        }
    }

    /// Whether (experiment, variant) is reverted, here or (through shared data) by another VM.
    /// Reads shared data only for a guarded, non-first variant not yet known to be tripped.
    pub fn is_tripped(&self, host: &impl Host, experiment: usize, variant: usize) -> bool {
        let guards = self.guards.borrow();
        if variant == 0 || !guards.is_guarded(experiment) {
            return false;
        }
        if guards.is_tripped(experiment, variant) {
            return true;
        }
        drop(guards);
        let Some(key) = self.key(experiment, variant) else {
            return false;
        };
        let tripped = host
            .shared_data(key)
            .0
            .is_some_and(|value| SharedGuardState::is_tripped_value(&value));
        if tripped {
            self.guards.borrow_mut().mark_tripped(experiment, variant);
        }
        tripped
    }

    /// Counts a response of (experiment, variant) into the shared guard state. The VM whose
    /// write trips the variant counts and logs the trip: once across all VMs.
    pub fn guard_response(&self, host: &impl Host, experiment: usize, variant: usize, status: u32) {
        let config = {
            let guards = self.guards.borrow();
            if variant == 0 || guards.is_tripped(experiment, variant) {
                return;
            }
            match guards.config(experiment) {
                Some(config) => config.clone(),
                None => return,
            }
        };
        let Some(key) = self.key(experiment, variant) else {
            return;
        };
        let capacity = usize::try_from(config.window).unwrap_or(0);
        for _ in 0..GUARD_CAS_ATTEMPTS {
            let (value, cas) = host.shared_data(key);
            let mut state = SharedGuardState::decode(value.as_deref(), capacity);
            if state.tripped {
                self.guards.borrow_mut().mark_tripped(experiment, variant);
                return;
            }
            let trip = state.record(&config, status);
            match host.set_shared_data(key, &state.encode(), cas) {
                Ok(()) => {
                    if let Some((errors, responses)) = trip {
                        self.guards.borrow_mut().mark_tripped(experiment, variant);
                        self.announce_trip(host, experiment, variant, errors, responses);
                    }
                    return;
                }
                Err(CasMismatch) => continue,
            }
        }
        log::warn!(
            "rollgate guard: experiment {} variant {variant}: {GUARD_CAS_ATTEMPTS} compare-and-swap attempts lost to other workers; this response is not counted",
            self.table.experiments().get(experiment).map_or("?", |e| e.id.as_str())
        );
    }

    fn announce_trip(
        &self,
        host: &impl Host,
        experiment: usize,
        variant: usize,
        errors: usize,
        responses: usize,
    ) {
        host.increment(
            self.variant_ids(experiment, variant)
                .and_then(|v| v.guard_tripped),
        );
        if let Some((exp, var)) = self.names(experiment, variant) {
            log::warn!(
                "rollgate guard tripped: experiment={exp} variant={var}: {errors} of the last {responses} responses were 5xx; its users go to the first variant until a new config"
            );
        }
    }

    fn key(&self, experiment: usize, variant: usize) -> Option<&str> {
        self.guard_keys
            .get(experiment)?
            .get(variant)
            .map(String::as_str)
    }

    fn names(&self, experiment: usize, variant: usize) -> Option<(&str, &str)> {
        let exp = self.table.experiments().get(experiment)?;
        Some((exp.id.as_str(), exp.variants.get(variant)?.name.as_str()))
    }
}
