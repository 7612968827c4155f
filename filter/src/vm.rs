//! State one VM shares between all its root and HTTP contexts (single-threaded, so
//! `Rc<RefCell<…>>`): the body-copy budget, the per-request counter for randomness, the shadow
//! calls, and the VM's wake-up queue.
//!
//! # Waking a root: a shared queue, not a tick
//!
//! A stream hands its shadow copy to the VM's outbox, and a root context must run to dispatch
//! it. The filter registers one shared queue per VM (a random name: queues are keyed by
//! vm_id and name, which every worker VM shares) and, when the outbox goes from empty to
//! non-empty, enqueues one byte: the host calls `on_queue_ready` on the queue's owner (the
//! newest root, which re-registers on every configure) on the same worker right after the
//! current callback, and that root dispatches everything queued by then. Compared with a tick
//! it adds no latency (a tick delays a copy by up to its period) and costs nothing while no
//! request is sampled (a tick wakes every VM all the time); under load one wake-up carries
//! every copy queued before it ran, so it costs at most one enqueue, one dequeue and one
//! callback per batch. Roots also dispatch the outbox on their other callbacks (answers,
//! `on_done`), so a wake-up lost with a deleted root delays nothing for long.

use crate::host::Host;
use crate::shadow_calls::{ShadowCalls, ShadowCopy};
use rollgate_core::shadow::MemoryBudget;
use std::cell::RefCell;
use std::rc::Rc;

/// Bytes of body copies a VM may hold at once.
pub const BODY_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// The item enqueued to wake the queue's owner (its content is not read).
const WAKE_UP: &[u8] = b"1";

/// The VM-wide state.
pub struct VmState {
    /// Budget of all body copies of the VM.
    pub budget: MemoryBudget,
    /// Shadow copies queued and in flight, comparisons pending.
    pub shadow: ShadowCalls,
    request_counter: u64,
    queue_name: String,
    queue: Option<u32>,
}

/// Handle shared by every context of the VM.
pub type VmHandle = Rc<RefCell<VmState>>;

impl VmState {
    /// Empty state; `queue_name` must be unique to this VM among the plugin's VMs.
    pub fn new(queue_name: String) -> VmState {
        VmState {
            budget: MemoryBudget::new(BODY_BUDGET_BYTES),
            shadow: ShadowCalls::new(),
            request_counter: 0,
            queue_name,
            queue: None,
        }
    }

    /// A new handle on fresh state.
    pub fn handle(queue_name: String) -> VmHandle {
        Rc::new(RefCell::new(VmState::new(queue_name)))
    }

    /// The next value of the VM's request counter.
    pub fn next_request(&mut self) -> u64 {
        self.request_counter = self.request_counter.wrapping_add(1);
        self.request_counter
    }

    /// Makes the current root context the owner of the VM's wake-up queue. The queue is
    /// registered for the first config with a shadow experiment (a host keeps every queue
    /// for the process's life, and Envoy tries each config on a throw-away VM first); once
    /// registered, every new root takes it over, so copies of older streams still reach a
    /// live root.
    pub fn take_queue(&mut self, host: &impl Host, config_shadows: bool) {
        if self.queue.is_none() && !config_shadows {
            return;
        }
        self.queue = host.register_queue(&self.queue_name).or(self.queue);
    }

    /// Hands a copy over and wakes the queue's owner when the outbox was empty.
    pub fn hand_off(&mut self, host: &impl Host, copy: ShadowCopy, compared: bool) {
        if self.shadow.hand_off(copy, compared) {
            if let Some(queue) = self.queue {
                host.enqueue(queue, WAKE_UP);
            }
        }
    }
}
