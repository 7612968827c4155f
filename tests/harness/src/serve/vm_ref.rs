//! Running work on one VM of a generation, and everything that follows each callback: the
//! plugin's log lines go to the proxy's log, and the http calls it dispatched are performed in
//! the background, their responses delivered back to the root context whenever they arrive
//! (possibly after the stream that caused them ended). The primary stream never waits on them.

use std::sync::Arc;

use super::pool::{lock_vm, Generation, SharedVm};
use super::upstream::Upstreams;
use super::vm::{DispatchedCall, FilterVm};

/// One VM, the generation that owns it (kept alive while work is pending) and the upstreams
/// its calls go to.
#[derive(Clone)]
pub struct VmRef {
    /// Held, never read: keeps the generation alive (and its metrics unfolded) while work on
    /// its VM is pending.
    _generation: Arc<Generation>,
    vm: SharedVm,
    upstreams: Arc<Upstreams>,
}

impl VmRef {
    /// The next VM of `generation`, or `None` when it has no filter.
    pub fn pick(generation: Arc<Generation>, upstreams: Arc<Upstreams>) -> Option<Self> {
        let vm = generation.pick()?;
        Some(Self {
            _generation: generation,
            vm,
            upstreams,
        })
    }

    /// Every VM of `generation` (for the host-event driver).
    pub fn all(generation: &Arc<Generation>, upstreams: &Arc<Upstreams>) -> Vec<Self> {
        generation
            .vms()
            .iter()
            .map(|vm| Self {
                _generation: Arc::clone(generation),
                vm: Arc::clone(vm),
                upstreams: Arc::clone(upstreams),
            })
            .collect()
    }

    /// Runs `work` on the VM (locked), then the host events it may have caused (queue
    /// notifications, a due tick), then logs what the plugin logged and starts the calls it
    /// dispatched.
    pub fn run<R>(&self, work: impl FnOnce(&mut dyn FilterVm) -> R) -> R {
        let (result, calls, logs) = {
            let mut vm = lock_vm(&self.vm);
            let result = work(vm.as_mut());
            if let Err(err) = vm.run_host_events() {
                tracing::warn!(%err, "a queue or tick callback of the filter failed");
            }
            (result, vm.take_dispatched_calls(), vm.take_logs())
        };
        emit_plugin_logs(logs);
        for call in calls {
            self.spawn_call(call);
        }
        result
    }

    fn spawn_call(&self, call: DispatchedCall) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(cluster = %call.cluster, "no runtime to perform an http call; dropped");
            return;
        };
        let vm = self.clone();
        runtime.spawn(async move {
            let response = vm.upstreams.call(&call).await;
            vm.run(|filter| {
                if let Err(err) = filter.deliver_call_response(call.token, response) {
                    tracing::warn!(cluster = %call.cluster, token = call.token, %err, "delivering an http call response failed");
                }
            });
        });
    }
}

/// How often idle VMs get their host events (due ticks, queue notifications).
pub const HOST_EVENT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

/// Gives the serving generation's VMs their host events even when no request comes, like an
/// Envoy worker's timer; runs until the task is aborted.
pub async fn drive_host_events(pool: Arc<super::pool::FilterPool>, upstreams: Arc<Upstreams>) {
    let mut ticker = tokio::time::interval(HOST_EVENT_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        for vm in VmRef::all(&pool.current(), &upstreams) {
            vm.run(|_| ());
        }
    }
}

/// Writes the plugin's `(level, message)` log lines to the proxy's log.
fn emit_plugin_logs(logs: Vec<(String, String)>) {
    for (level, message) in logs {
        match level.as_str() {
            "trace" => tracing::trace!(target: "filter", "{message}"),
            "debug" => tracing::debug!(target: "filter", "{message}"),
            "info" => tracing::info!(target: "filter", "{message}"),
            "warn" => tracing::warn!(target: "filter", "{message}"),
            _ => tracing::error!(target: "filter", "{message}"),
        }
    }
}
