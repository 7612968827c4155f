//! Shadow calls, owned by root contexts.
//!
//! The proxy-wasm Rust SDK delivers an http call's response to the context that dispatched it
//! and drops it once that HTTP context is gone, so a stream never dispatches its own copy: it
//! hands the copy over ([`ShadowCalls::hand_off`]) and a root context dispatches it from one
//! of its own callbacks ([`ShadowCalls::dispatch_outbox`]), then receives the answer and
//! compares. This store is one per VM (all root contexts of the VM share it), so a copy made
//! by a stream of an old config is sent by whichever root runs next, and a comparison finds
//! its two halves whatever context each arrives on.
//!
//! Every dispatched call is owned by the root that sent it. When Envoy replaces a root (a
//! config push), the old root's `on_done` returns false while it owns calls in flight, so the
//! host keeps it (and delivers their answers) until it calls `proxy_done`; what it still owns
//! when it is finally deleted is counted `cancelled`.

use crate::active::Active;
use crate::host::{Buffer, Host, Map};
use crate::metric_ids::class_index;
use rollgate_core::metrics::status_class;
use rollgate_core::shadow::{
    compare, disagreement_line, extract, JsonScalar, LogLimiter, PendingComparisons,
    ReadyComparison, ShadowResult,
};
use std::collections::VecDeque;
use std::rc::Rc;

/// Shadow calls (and comparisons) a VM keeps track of at once; the oldest is evicted beyond.
pub const MAX_IN_FLIGHT: usize = 1024;

/// A copy a stream handed over, waiting for a root to dispatch it.
pub struct ShadowCopy {
    /// Id of the copy (keys its comparison).
    pub id: u64,
    /// The config the stream decided under.
    pub active: Rc<Active>,
    /// Experiment index in that config.
    pub experiment: usize,
    /// Headers of the copy.
    pub headers: Vec<(String, String)>,
    /// Body of the copy (may be empty).
    pub body: Vec<u8>,
}

/// A dispatched call waiting for its answer.
struct InFlight {
    token: u32,
    owner: u32,
    copy: u64,
    active: Rc<Active>,
    experiment: usize,
    started_ms: u64,
    deadline_ms: u64,
}

/// The VM's shadow copies: queued, in flight, and comparisons waiting for a half.
pub struct ShadowCalls {
    outbox: VecDeque<ShadowCopy>,
    in_flight: VecDeque<InFlight>,
    pending: PendingComparisons,
    log_limiter: LogLimiter,
    next_copy: u64,
}

impl Default for ShadowCalls {
    fn default() -> Self {
        ShadowCalls::new()
    }
}

impl ShadowCalls {
    /// Nothing queued or in flight.
    pub fn new() -> ShadowCalls {
        ShadowCalls {
            outbox: VecDeque::new(),
            in_flight: VecDeque::new(),
            pending: PendingComparisons::new(MAX_IN_FLIGHT),
            log_limiter: LogLimiter::new(10, 1_000),
            next_copy: 0,
        }
    }

    /// A fresh copy id.
    pub fn next_copy_id(&mut self) -> u64 {
        self.next_copy = self.next_copy.wrapping_add(1);
        self.next_copy
    }

    /// Queues a copy for a root to dispatch; a compared copy starts waiting for both values.
    /// Returns whether the outbox was empty, i.e. whether a root must be woken up.
    pub fn hand_off(&mut self, copy: ShadowCopy, compared: bool) -> bool {
        if compared {
            // A full store drops its oldest comparison (its call, if any, is still counted).
            let _ = self.pending.insert(copy.id, copy.experiment);
        }
        let was_empty = self.outbox.is_empty();
        self.outbox.push_back(copy);
        was_empty
    }

    /// Copies waiting for dispatch.
    pub fn queued(&self) -> usize {
        self.outbox.len()
    }

    /// Dispatches every queued copy from root `owner` (the context running now).
    pub fn dispatch_outbox(&mut self, host: &impl Host, owner: u32) {
        while let Some(copy) = self.outbox.pop_front() {
            self.dispatch(host, owner, copy);
        }
    }

    fn dispatch(&mut self, host: &impl Host, owner: u32, copy: ShadowCopy) {
        let Some(spec) = copy.active.shadow_spec(copy.experiment) else {
            self.pending.remove(copy.id);
            return;
        };
        copy.active
            .count_shadow(host, copy.experiment, ShadowResult::Sent);
        let headers: Vec<(&str, &str)> = copy
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        match host.dispatch(&spec.cluster, &headers, &copy.body, spec.timeout_ms) {
            Ok(token) => {
                if self.in_flight.len() >= MAX_IN_FLIGHT {
                    if let Some(old) = self.in_flight.pop_front() {
                        self.pending.remove(old.copy);
                        old.active
                            .count_shadow(host, old.experiment, ShadowResult::Evicted);
                    }
                }
                let started_ms = host.now_ms();
                self.in_flight.push_back(InFlight {
                    token,
                    owner,
                    copy: copy.id,
                    active: copy.active.clone(),
                    experiment: copy.experiment,
                    started_ms,
                    deadline_ms: started_ms.saturating_add(u64::from(spec.timeout_ms)),
                });
            }
            Err(status) => {
                self.pending.remove(copy.id);
                copy.active
                    .count_shadow(host, copy.experiment, ShadowResult::Failed);
                log::warn!(
                    "rollgate: shadow call to cluster {} failed: {status}",
                    spec.cluster
                );
            }
        }
    }

    /// Calls in flight owned by root `owner`.
    pub fn owned_by(&self, owner: u32) -> usize {
        self.in_flight.iter().filter(|c| c.owner == owner).count()
    }

    /// When the last call of `owner` times out at the latest (host clock, ms).
    pub fn latest_deadline_ms(&self, owner: u32) -> Option<u64> {
        self.in_flight
            .iter()
            .filter(|c| c.owner == owner)
            .map(|c| c.deadline_ms)
            .max()
    }

    /// Counts every call `owner` still owns as cancelled and forgets it (the host cancels
    /// them with no callback when it deletes the root). Returns how many.
    pub fn cancel_owned(&mut self, host: &impl Host, owner: u32) -> usize {
        let mut cancelled = 0;
        let pending = &mut self.pending;
        self.in_flight.retain(|call| {
            if call.owner != owner {
                return true;
            }
            pending.remove(call.copy);
            call.active
                .count_shadow(host, call.experiment, ShadowResult::Cancelled);
            cancelled += 1;
            false
        });
        cancelled
    }

    /// The answer of call `token` (read from the host's call-response maps): counted by
    /// class, timed, and compared when the primary's value is there. A token not in flight
    /// (evicted or cancelled) is ignored. A failed call (a reset: no headers) counts as a 5xx
    /// answer; its maps are not read (Envoy holds none then, and answers BAD_ARGUMENT).
    pub fn response(&mut self, host: &impl Host, token: u32, headers: usize, body_size: usize) {
        let Some(position) = self.in_flight.iter().position(|c| c.token == token) else {
            return;
        };
        let Some(call) = self.in_flight.remove(position) else {
            return;
        };
        let status = match headers {
            0 => 0,
            _ => host
                .header(Map::CallResponseHeaders, ":status")
                .and_then(|s| std::str::from_utf8(&s).ok()?.trim().parse::<u32>().ok())
                .unwrap_or(0),
        };
        if let Some(ids) = call.active.ids.get(call.experiment) {
            host.record(
                ids.shadow_duration,
                host.now_ms().saturating_sub(call.started_ms),
            );
            host.increment(
                ids.shadow_responses
                    .get(class_index(status_class(status)))
                    .copied()
                    .flatten(),
            );
        }
        if !self.pending.contains(call.copy) {
            return;
        }
        let pointer = call
            .active
            .compare_spec(call.experiment)
            .map(|c| c.json_pointer.as_str());
        let value = match (pointer, body_size) {
            (Some(pointer), 1..) => host
                .buffer(Buffer::CallResponseBody, body_size)
                .map_or(JsonScalar::Absent, |body| extract(&body, pointer)),
            _ => JsonScalar::Absent,
        };
        if let Some(ready) = self.pending.shadow_value(call.copy, value) {
            self.finish(host, &call.active, ready);
        }
    }

    /// The primary's value for the comparison of `copy` (from the stream, under `active`).
    pub fn primary_value(
        &mut self,
        host: &impl Host,
        active: &Active,
        copy: u64,
        value: JsonScalar,
    ) {
        if let Some(ready) = self.pending.primary_value(copy, value) {
            self.finish(host, active, ready);
        }
    }

    fn finish(&mut self, host: &impl Host, active: &Active, ready: ReadyComparison) {
        let Some(spec) = active.table.experiments().get(ready.experiment) else {
            return;
        };
        let tolerance = active
            .compare_spec(ready.experiment)
            .map_or(0.0, |c| c.tolerance);
        let outcome = compare(&ready.shadow, &ready.primary, tolerance);
        if let Some(ids) = active.ids.get(ready.experiment) {
            host.increment(ids.comparison(outcome));
        }
        if outcome == rollgate_core::shadow::Comparison::Disagree {
            if let Some(suppressed) = self.log_limiter.allow(host.now_ms()) {
                log::info!(
                    "{}",
                    disagreement_line(&spec.id, &ready.shadow, &ready.primary, suppressed)
                );
            }
        }
    }
}
