//! The in-filter guard: a sliding window of the last `window` responses of every non-first
//! variant; when at least `min_requests` are in the window and the 5xx rate exceeds
//! `max_error_rate`, the variant trips and its units go to the first variant until a new config.
//!
//! Trips are shared between the VMs of one Envoy through a key ([`trip_key`]) the glue writes
//! to proxy-wasm shared data; the key includes the config generation, so a new config starts
//! with no trip.

use crate::config::GuardConfig;
use crate::routing::RoutingTable;
use std::collections::VecDeque;

/// The last `capacity` outcomes (error or not) and the number of errors among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlidingWindow {
    capacity: usize,
    outcomes: VecDeque<bool>,
    errors: usize,
}

impl SlidingWindow {
    /// An empty window of `capacity` outcomes.
    pub fn new(capacity: usize) -> SlidingWindow {
        SlidingWindow {
            capacity,
            outcomes: VecDeque::new(),
            errors: 0,
        }
    }

    /// Adds one outcome, dropping the oldest when full.
    pub fn record(&mut self, is_error: bool) {
        if self.capacity == 0 {
            return;
        }
        if self.outcomes.len() >= self.capacity && self.outcomes.pop_front() == Some(true) {
            self.errors = self.errors.saturating_sub(1);
        }
        self.outcomes.push_back(is_error);
        if is_error {
            self.errors += 1;
        }
    }

    /// Outcomes in the window.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// Errors in the window.
    pub fn errors(&self) -> usize {
        self.errors
    }
}

/// A trip that just happened.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardTrip {
    /// Experiment index.
    pub experiment: usize,
    /// Variant index (never 0).
    pub variant: usize,
    /// 5xx responses in the window.
    pub errors: usize,
    /// Responses in the window.
    pub responses: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct VariantGuard {
    window: SlidingWindow,
    tripped: bool,
}

/// Guard state of one VM for one routing table.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardSet {
    /// Per experiment: its guard config and one state per variant (index 0 never trips).
    experiments: Vec<Option<(GuardConfig, Vec<VariantGuard>)>>,
}

impl GuardSet {
    /// Fresh (untripped) state for every guarded experiment of `table`.
    pub fn new(table: &RoutingTable) -> GuardSet {
        let experiments = table
            .experiments()
            .iter()
            .map(|experiment| {
                let guard = experiment.guard.clone()?;
                let capacity = usize::try_from(guard.window).unwrap_or(0);
                let states = experiment
                    .variants
                    .iter()
                    .map(|_| VariantGuard {
                        window: SlidingWindow::new(capacity),
                        tripped: false,
                    })
                    .collect();
                Some((guard, states))
            })
            .collect();
        GuardSet { experiments }
    }

    /// Records a response of `status` for (experiment, variant). Returns the trip when this
    /// response trips the variant (once; later calls return `None`).
    pub fn record(&mut self, experiment: usize, variant: usize, status: u32) -> Option<GuardTrip> {
        if variant == 0 {
            return None;
        }
        let (config, states) = self.experiments.get_mut(experiment)?.as_mut()?;
        let state = states.get_mut(variant)?;
        if state.tripped {
            return None;
        }
        state.window.record((500..600).contains(&status));
        let responses = state.window.len();
        let errors = state.window.errors();
        let enough = responses >= usize::try_from(config.min_requests).unwrap_or(usize::MAX);
        // errors / responses > rate, in floating point on small integers (exact enough)
        if enough && (errors as f64) > config.max_error_rate * (responses as f64) {
            state.tripped = true;
            return Some(GuardTrip {
                experiment,
                variant,
                errors,
                responses,
            });
        }
        None
    }

    /// Marks (experiment, variant) tripped, e.g. because another VM shared the trip.
    pub fn mark_tripped(&mut self, experiment: usize, variant: usize) {
        if variant == 0 {
            return;
        }
        if let Some(Some((_, states))) = self.experiments.get_mut(experiment) {
            if let Some(state) = states.get_mut(variant) {
                state.tripped = true;
            }
        }
    }

    /// Whether (experiment, variant) is tripped in this VM.
    pub fn is_tripped(&self, experiment: usize, variant: usize) -> bool {
        matches!(
            self.experiments.get(experiment),
            Some(Some((_, states))) if states.get(variant).is_some_and(|s| s.tripped)
        )
    }

    /// Whether `experiment` has a guard.
    pub fn is_guarded(&self, experiment: usize) -> bool {
        matches!(self.experiments.get(experiment), Some(Some(_)))
    }
}

/// Shared-data key announcing a trip of (experiment, variant) under config `generation`.
pub fn trip_key(generation: u64, experiment_id: &str, variant_name: &str) -> String {
    format!("rollgate.guard.{generation:016x}.{experiment_id}.{variant_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_slides() {
        let mut window = SlidingWindow::new(3);
        for outcome in [true, true, false, false] {
            window.record(outcome);
        }
        assert_eq!((window.len(), window.errors()), (3, 1));
    }

    #[test]
    fn key_depends_on_generation() {
        assert_ne!(trip_key(1, "e", "v"), trip_key(2, "e", "v"));
        assert_eq!(
            trip_key(255, "e", "canary"),
            "rollgate.guard.00000000000000ff.e.canary"
        );
    }
}
