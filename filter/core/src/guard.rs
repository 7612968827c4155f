//! The in-filter guard: a sliding window of the last `window` responses of every non-first
//! variant; when at least `min_requests` are in the window and the 5xx rate exceeds
//! `max_error_rate`, the variant trips and its units go to the first variant until a new config.
//!
//! [`GuardSet`] is one VM's view (which variants are tripped). The counts themselves are
//! shared by every VM of one Envoy: the glue keeps a [`SharedGuardState`] per guarded variant
//! in proxy-wasm shared data under [`guard_key`] and updates it by compare-and-swap, so the
//! trip happens once, after `min_requests` responses across all workers. The key includes the
//! config generation, so a new config starts with no trip.

use crate::config::GuardConfig;
use crate::routing::RoutingTable;

/// The last `capacity` outcomes (error or not) as a ring of bits, and the number of errors
/// among them. Its byte form ([`SharedGuardState::encode`]) is what the VMs share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlidingWindow {
    capacity: usize,
    /// Index of the oldest outcome in `bits`.
    head: usize,
    len: usize,
    errors: usize,
    bits: Vec<u8>,
}

impl SlidingWindow {
    /// An empty window of `capacity` outcomes.
    pub fn new(capacity: usize) -> SlidingWindow {
        SlidingWindow {
            capacity,
            head: 0,
            len: 0,
            errors: 0,
            bits: vec![0; capacity.div_ceil(8)],
        }
    }

    fn bit(&self, index: usize) -> bool {
        self.bits
            .get(index / 8)
            .is_some_and(|byte| byte & (1 << (index % 8)) != 0)
    }

    fn set_bit(&mut self, index: usize, value: bool) {
        if let Some(byte) = self.bits.get_mut(index / 8) {
            if value {
                *byte |= 1 << (index % 8);
            } else {
                *byte &= !(1 << (index % 8));
            }
        }
    }

    /// Adds one outcome, dropping the oldest when full.
    pub fn record(&mut self, is_error: bool) {
        if self.capacity == 0 {
            return;
        }
        let slot = if self.len < self.capacity {
            self.len += 1;
            (self.head + self.len - 1) % self.capacity
        } else {
            let oldest = self.head;
            if self.bit(oldest) {
                self.errors = self.errors.saturating_sub(1);
            }
            self.head = (self.head + 1) % self.capacity;
            oldest
        };
        self.set_bit(slot, is_error);
        if is_error {
            self.errors += 1;
        }
    }

    /// Outcomes in the window.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Errors in the window.
    pub fn errors(&self) -> usize {
        self.errors
    }
}

/// Whether `errors` of `responses` trip a guard of `config`: at least `min_requests`
/// responses and an error rate above `max_error_rate`.
fn trips(config: &GuardConfig, errors: usize, responses: usize) -> bool {
    let enough = responses >= usize::try_from(config.min_requests).unwrap_or(usize::MAX);
    // errors / responses > rate, in floating point on small integers (exact enough)
    enough && (errors as f64) > config.max_error_rate * (responses as f64)
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
        state.window.record(is_server_error(status));
        let responses = state.window.len();
        let errors = state.window.errors();
        if trips(config, errors, responses) {
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

    /// The guard config of `experiment`, if it has one.
    pub fn config(&self, experiment: usize) -> Option<&GuardConfig> {
        self.experiments
            .get(experiment)?
            .as_ref()
            .map(|(config, _)| config)
    }
}

/// Whether an HTTP status counts as an error for the guard (5xx).
pub fn is_server_error(status: u32) -> bool {
    (500..600).contains(&status)
}

/// Shared-data key of the guard state of (experiment, variant) under config `generation`:
/// every VM of the plugin counts into it, and a new config (a new generation) starts afresh.
pub fn guard_key(generation: u64, experiment_id: &str, variant_name: &str) -> String {
    format!("rollgate.guard.{generation:016x}.{experiment_id}.{variant_name}")
}

/// Bytes of [`SharedGuardState::encode`] before the window's bits.
const HEADER_BYTES: usize = 1 + 4 * 4;

/// The guard state of one variant as every VM of the plugin shares it (one shared-data
/// value, updated by compare-and-swap): the sliding window of its last responses and whether
/// it tripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGuardState {
    /// Whether the variant is reverted (until a new config).
    pub tripped: bool,
    /// The last responses of the variant, across VMs.
    pub window: SlidingWindow,
}

impl SharedGuardState {
    /// A fresh state with an empty window of `capacity` responses.
    pub fn new(capacity: usize) -> SharedGuardState {
        SharedGuardState {
            tripped: false,
            window: SlidingWindow::new(capacity),
        }
    }

    /// Reads a shared value. A missing value, or one of another shape (another window size,
    /// cut short, inconsistent), reads as a fresh state of `capacity`.
    pub fn decode(bytes: Option<&[u8]>, capacity: usize) -> SharedGuardState {
        bytes
            .and_then(|bytes| Self::parse(bytes, capacity))
            .unwrap_or_else(|| SharedGuardState::new(capacity))
    }

    fn parse(bytes: &[u8], capacity: usize) -> Option<SharedGuardState> {
        let word = |i: usize| -> Option<usize> {
            let raw: [u8; 4] = bytes.get(1 + 4 * i..5 + 4 * i)?.try_into().ok()?;
            usize::try_from(u32::from_le_bytes(raw)).ok()
        };
        let tripped = *bytes.first()? != 0;
        let (stored, head, len, errors) = (word(0)?, word(1)?, word(2)?, word(3)?);
        let bits = bytes.get(HEADER_BYTES..)?;
        let consistent = stored == capacity
            && bits.len() == capacity.div_ceil(8)
            && len <= capacity
            && errors <= len
            && (capacity == 0 || head < capacity);
        if !consistent {
            return None;
        }
        let window = SlidingWindow {
            capacity,
            head,
            len,
            errors,
            bits: bits.to_vec(),
        };
        Some(SharedGuardState { tripped, window })
    }

    /// Whether a shared value says "tripped", without decoding the window.
    pub fn is_tripped_value(bytes: &[u8]) -> bool {
        bytes.first().is_some_and(|b| *b != 0)
    }

    /// The shared value of this state.
    pub fn encode(&self) -> Vec<u8> {
        let w = &self.window;
        let mut out = Vec::with_capacity(HEADER_BYTES + w.bits.len());
        out.push(u8::from(self.tripped));
        for value in [w.capacity, w.head, w.len, w.errors] {
            out.extend_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_le_bytes());
        }
        out.extend_from_slice(&w.bits);
        out
    }

    /// Counts one response of `status` under `config`. Returns `(errors, responses)` when
    /// this response trips the variant; a tripped state counts nothing more.
    pub fn record(&mut self, config: &GuardConfig, status: u32) -> Option<(usize, usize)> {
        if self.tripped {
            return None;
        }
        self.window.record(is_server_error(status));
        let (errors, responses) = (self.window.errors(), self.window.len());
        if trips(config, errors, responses) {
            self.tripped = true;
            return Some((errors, responses));
        }
        None
    }
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
        for _ in 0..3 {
            window.record(true);
        }
        assert_eq!((window.len(), window.errors()), (3, 3));
    }

    #[test]
    fn key_depends_on_generation() {
        assert_ne!(guard_key(1, "e", "v"), guard_key(2, "e", "v"));
        assert_eq!(
            guard_key(255, "e", "canary"),
            "rollgate.guard.00000000000000ff.e.canary"
        );
    }

    fn config(min_requests: u32, window: u32) -> GuardConfig {
        GuardConfig {
            max_error_rate: 0.2,
            min_requests,
            window,
        }
    }

    #[test]
    fn shared_state_round_trips_and_trips_once_across_writers() {
        let guard = config(5, 9);
        // Two writers (two VMs) alternate on the one shared value.
        let mut value: Option<Vec<u8>> = None;
        let mut trips = Vec::new();
        for i in 0..12 {
            let mut state = SharedGuardState::decode(value.as_deref(), 9);
            if let Some(trip) = state.record(&guard, if i % 2 == 0 { 500 } else { 200 }) {
                trips.push((i, trip));
            }
            value = Some(state.encode());
        }
        // Error, ok, error, ok, error: 3 of 5 > 0.2 at the 5th response (i = 4).
        assert_eq!(trips, vec![(4, (3, 5))]);
        let bytes = value.unwrap_or_default();
        assert!(SharedGuardState::is_tripped_value(&bytes));
        let state = SharedGuardState::decode(Some(&bytes), 9);
        assert!(state.tripped);
        assert_eq!((state.window.len(), state.window.errors()), (5, 3));
    }

    #[test]
    fn a_value_of_another_shape_reads_as_fresh() {
        let mut state = SharedGuardState::new(16);
        state.record(&config(1, 16), 200);
        let bytes = state.encode();
        assert_eq!(SharedGuardState::decode(Some(&bytes), 16), state);
        assert_eq!(
            SharedGuardState::decode(Some(&bytes), 8),
            SharedGuardState::new(8)
        );
        assert_eq!(
            SharedGuardState::decode(Some(&bytes[..5]), 16),
            SharedGuardState::new(16)
        );
        assert!(!SharedGuardState::is_tripped_value(&[]));
    }
}
