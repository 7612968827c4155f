//! The root context's logic: loads configs (keeping the last good one on a refusal), owns the
//! config its streams decide under, dispatches the VM's queued shadow copies, receives their
//! answers, and drains its calls when the host shuts it down.

use crate::active::Active;
use crate::host::{Buffer, Host, MetricKind};
use crate::vm::VmHandle;
use rollgate_core::metrics::{stat_name, CONFIG_REJECTED_TOTAL};
use rollgate_core::routing::RoutingTable;
use std::rc::Rc;

/// Tick period of a root draining its calls after `on_done` returned false.
pub const DRAIN_TICK_MS: u32 = 100;
/// Time past the last call's own timeout after which a draining root gives up on it (the
/// host times every call out itself; this only bounds a host that would not).
pub const DRAIN_GRACE_MS: u64 = 2_000;

/// Where the root is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// `on_done` returned false; waits for its calls until the deadline (host clock, ms).
    Draining {
        deadline_ms: u64,
    },
    /// `proxy_done` was called: the host deletes the root after this callback.
    Done,
}

/// One root context.
pub struct RootLogic {
    id: u32,
    vm: VmHandle,
    active: Option<Rc<Active>>,
    config_rejected: Option<u32>,
    phase: Phase,
}

impl RootLogic {
    /// A root context with no config yet.
    pub fn new(id: u32, vm: VmHandle) -> RootLogic {
        RootLogic {
            id,
            vm,
            active: None,
            config_rejected: None,
            phase: Phase::Serving,
        }
    }

    /// The config new streams decide under.
    pub fn active(&self) -> Option<Rc<Active>> {
        self.active.clone()
    }

    /// The VM state this root shares.
    pub fn vm(&self) -> &VmHandle {
        &self.vm
    }

    /// VM start: defines the config-rejection counter.
    pub fn on_vm_start(&mut self, host: &impl Host) -> bool {
        self.config_rejected = define_rejected_counter(host);
        true
    }

    /// Loads a plugin configuration; a refused one keeps the previous one serving.
    pub fn on_configure(&mut self, host: &impl Host, size: usize) -> bool {
        let Some(bytes) = host.buffer(Buffer::PluginConfiguration, size) else {
            return self.reject(
                host,
                "the plugin configuration is empty; give the filter config JSON",
            );
        };
        match RoutingTable::from_json(&bytes) {
            Ok(table) => {
                let experiments = table.experiments().len();
                let shadows = table.experiments().iter().any(|e| e.shadow.is_some());
                self.active = Some(Rc::new(Active::new(host, table)));
                let mut vm = self.vm.borrow_mut();
                vm.take_queue(host, shadows);
                vm.shadow.dispatch_outbox(host, self.id);
                log::info!(
                    "rollgate: configuration loaded ({experiments} experiments, root context {})",
                    self.id
                );
                true
            }
            Err(err) => self.reject(host, &err.to_string()),
        }
    }

    fn reject(&mut self, host: &impl Host, reason: &str) -> bool {
        log::error!("rollgate: plugin configuration rejected: {reason}; the previous configuration keeps serving");
        if self.config_rejected.is_none() {
            self.config_rejected = define_rejected_counter(host);
        }
        host.increment(self.config_rejected);
        false
    }

    /// The wake-up queue has an item: take it and dispatch what streams queued.
    pub fn on_queue_ready(&mut self, host: &impl Host, queue: u32) {
        let _ = host.dequeue(queue);
        self.dispatch(host);
    }

    fn dispatch(&self, host: &impl Host) {
        // A root on its way out takes no new calls: the queue's owner (the newest root) does.
        if self.phase == Phase::Serving {
            self.vm.borrow_mut().shadow.dispatch_outbox(host, self.id);
        }
    }

    /// A shadow call's answer (the SDK delivers it to the root that dispatched it).
    pub fn on_http_call_response(
        &mut self,
        host: &impl Host,
        token: u32,
        headers: usize,
        body_size: usize,
    ) {
        self.vm
            .borrow_mut()
            .shadow
            .response(host, token, headers, body_size);
        self.dispatch(host);
        self.finish_if_drained(host);
    }

    /// The host shuts the root down (a new config replaced it, or Envoy stops). It sends what
    /// its last streams queued, then answers true at once when it owns no call in flight;
    /// otherwise false, and it calls `proxy_done` when the last answer came (or, at the
    /// latest, [`DRAIN_GRACE_MS`] after the last call's timeout).
    pub fn on_done(&mut self, host: &impl Host) -> bool {
        self.dispatch(host);
        let vm = self.vm.borrow();
        let Some(last) = vm.shadow.latest_deadline_ms(self.id) else {
            self.phase = Phase::Done;
            return true;
        };
        drop(vm);
        self.phase = Phase::Draining {
            deadline_ms: last.saturating_add(DRAIN_GRACE_MS),
        };
        host.set_tick_period_ms(DRAIN_TICK_MS);
        false
    }

    /// A tick (only while draining): gives up on calls past the deadline.
    pub fn on_tick(&mut self, host: &impl Host) {
        let Phase::Draining { deadline_ms } = self.phase else {
            return;
        };
        if host.now_ms() >= deadline_ms {
            let cancelled = self.vm.borrow_mut().shadow.cancel_owned(host, self.id);
            log::warn!(
                "rollgate: root context {} shut down with {cancelled} shadow calls unanswered past their timeout; counted as cancelled",
                self.id
            );
        }
        self.finish_if_drained(host);
    }

    fn finish_if_drained(&mut self, host: &impl Host) {
        if matches!(self.phase, Phase::Draining { .. })
            && self.vm.borrow().shadow.owned_by(self.id) == 0
        {
            self.phase = Phase::Done;
            host.set_tick_period_ms(0);
            host.done();
        }
    }

    /// The host deletes the root: the calls it still owns are cancelled with no callback.
    pub fn on_delete(&mut self, host: &impl Host) {
        self.vm.borrow_mut().shadow.cancel_owned(host, self.id);
    }
}

/// Defines `rollgate_config_rejected_total` (no labels).
fn define_rejected_counter(host: &impl Host) -> Option<u32> {
    host.define_metric(MetricKind::Counter, &stat_name(CONFIG_REJECTED_TOTAL, &[]))
}
