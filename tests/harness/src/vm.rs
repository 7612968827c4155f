//! One VM (one wasmtime `Store`), like one Envoy worker's VM: lifecycle, configuration swap,
//! time and ticks, http call responses, queues. Stream callbacks are in `stream.rs`.

use crate::error::HarnessError;
use crate::host::{HostState, RootState};
use crate::metrics::MetricsSnapshot;
use crate::options::ClockMode;
use crate::plugin::Plugin;
use crate::record::{HttpCall, HttpCallResponse, LogEntry, StreamRecord};
use std::collections::BTreeMap;
use std::time::Duration;
use wasmtime::{Instance, Store, TypedFunc, WasmParams, WasmResults};

type F<P, R> = Option<TypedFunc<P, R>>;

/// Rounds of queue notifications delivered after one VM call at the most.
const MAX_QUEUE_ROUNDS: usize = 64;

/// The guest's exports the driver calls (absent ones behave as the SDK default).
pub(crate) struct Exports {
    pub(crate) on_context_create: F<(i32, i32), ()>,
    pub(crate) on_vm_start: F<(i32, i32), i32>,
    pub(crate) on_configure: F<(i32, i32), i32>,
    pub(crate) on_tick: F<i32, ()>,
    pub(crate) on_queue_ready: F<(i32, i32), ()>,
    pub(crate) on_request_headers: F<(i32, i32, i32), i32>,
    pub(crate) on_request_body: F<(i32, i32, i32), i32>,
    pub(crate) on_request_trailers: F<(i32, i32), i32>,
    pub(crate) on_response_headers: F<(i32, i32, i32), i32>,
    pub(crate) on_response_body: F<(i32, i32, i32), i32>,
    pub(crate) on_response_trailers: F<(i32, i32), i32>,
    pub(crate) on_log: F<i32, ()>,
    pub(crate) on_done: F<i32, i32>,
    pub(crate) on_delete: F<i32, ()>,
    pub(crate) on_http_call_response: F<(i32, i32, i32, i32, i32), ()>,
}

impl Exports {
    fn resolve(store: &mut Store<HostState>, instance: &Instance) -> Self {
        macro_rules! get {
            ($name:literal) => {
                instance.get_typed_func(&mut *store, $name).ok()
            };
        }
        Self {
            on_context_create: get!("proxy_on_context_create"),
            on_vm_start: get!("proxy_on_vm_start"),
            on_configure: get!("proxy_on_configure"),
            on_tick: get!("proxy_on_tick"),
            on_queue_ready: get!("proxy_on_queue_ready"),
            on_request_headers: get!("proxy_on_request_headers"),
            on_request_body: get!("proxy_on_request_body"),
            on_request_trailers: get!("proxy_on_request_trailers"),
            on_response_headers: get!("proxy_on_response_headers"),
            on_response_body: get!("proxy_on_response_body"),
            on_response_trailers: get!("proxy_on_response_trailers"),
            on_log: get!("proxy_on_log"),
            on_done: get!("proxy_on_done"),
            on_delete: get!("proxy_on_delete"),
            on_http_call_response: get!("proxy_on_http_call_response"),
        }
    }
}

/// One proxy-wasm VM with its root context configured. `Send`: give one to each worker thread.
pub struct Vm {
    pub(crate) store: Store<HostState>,
    pub(crate) exports: Exports,
    pub(crate) plugin: Plugin,
    pub(crate) config: Vec<u8>,
    pub(crate) failed: Option<String>,
    pub(crate) next_context_id: u32,
    /// Armed tick timers by root context: (period in ms, next due time in ns).
    pub(crate) ticks: BTreeMap<u32, (u32, u64)>,
    /// Calls cancelled with no callback because their root context was deleted.
    pub(crate) cancelled_calls: Vec<HttpCall>,
    /// True while this VM delivers its own queue notifications (no nested delivery).
    pub(crate) delivering_queues: bool,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("root_context_id", &self.root_context_id())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Vm {
    pub(crate) fn start(plugin: Plugin, key: u64, config: &[u8]) -> Result<Self, HarnessError> {
        let module = plugin.module().clone();
        let state = HostState::new(plugin.options_arc(), plugin.shared(), key);
        let mut store = Store::new(module.engine(), state);
        let instance = module
            .pre()
            .instantiate(&mut store)
            .map_err(|e| HarnessError::Instantiate(format!("{e:#}")))?;
        let memory = instance.get_memory(&mut store, "memory");
        let allocator = instance
            .get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate")
            .or_else(|_| instance.get_typed_func::<i32, i32>(&mut store, "malloc"))
            .ok();
        store.data_mut().memory = memory;
        store.data_mut().allocator = allocator;
        let exports = Exports::resolve(&mut store, &instance);
        let init = instance
            .get_typed_func::<(), ()>(&mut store, "_initialize")
            .or_else(|_| instance.get_typed_func::<(), ()>(&mut store, "_start"))
            .ok();
        let mut vm = Self {
            store,
            exports,
            plugin,
            config: config.to_vec(),
            failed: None,
            next_context_id: 1,
            ticks: BTreeMap::new(),
            cancelled_calls: Vec::new(),
            delivering_queues: false,
        };
        if let Some(init) = init {
            vm.call("_initialize", 0, Some(&init), ())?;
        }
        let root = vm.start_root(config)?;
        vm.store.data_mut().root_context_id = root;
        Ok(vm)
    }

    /// Creates and configures a new root context in this VM as cpp-host's `WasmBase::start`
    /// and `configure` do: `proxy_on_context_create(root, 0)`, `proxy_on_vm_start`,
    /// `proxy_on_configure`. A refusal deletes the half-made root and returns the error.
    fn start_root(&mut self, config: &[u8]) -> Result<u32, HarnessError> {
        let root = self.allocate_context_id();
        self.store
            .data_mut()
            .roots
            .insert(root, RootState::default());
        let result = self.configure_root(root, config);
        if result.is_err() {
            self.store.data_mut().roots.remove(&root);
        }
        result.map(|()| root)
    }

    fn configure_root(&mut self, root: u32, config: &[u8]) -> Result<(), HarnessError> {
        let on_create = self.exports.on_context_create.clone();
        self.call(
            "proxy_on_context_create",
            root,
            on_create.as_ref(),
            (root as i32, 0),
        )?;
        let seq = self.store.data().log_seq;
        let vm_config_len = self.plugin.options().vm_configuration.len() as i32;
        let on_start = self.exports.on_vm_start.clone();
        let started = self.call(
            "proxy_on_vm_start",
            root,
            on_start.as_ref(),
            (root as i32, vm_config_len),
        )?;
        if started == Some(0) {
            return Err(HarnessError::VmStartRefused {
                logs: self.store.data().logs_since(seq),
            });
        }
        let seq = self.store.data().log_seq;
        self.store.data_mut().plugin_configuration = Some(config.to_vec());
        let on_configure = self.exports.on_configure.clone();
        let configured = self.call(
            "proxy_on_configure",
            root,
            on_configure.as_ref(),
            (root as i32, config.len() as i32),
        );
        self.store.data_mut().plugin_configuration = None;
        if configured? == Some(0) {
            return Err(HarnessError::ConfigRejected {
                logs: self.store.data().logs_since(seq),
            });
        }
        Ok(())
    }

    /// Shuts a root context down as cpp-host's `WasmBase::startShutdown`: `proxy_on_done`;
    /// true (or no export) deletes it at once, false keeps it until it calls `proxy_done`.
    pub(crate) fn start_shutdown(&mut self, root: u32) -> Result<(), HarnessError> {
        let on_done = self.exports.on_done.clone();
        let done = self.call("proxy_on_done", root, on_done.as_ref(), root as i32)?;
        if done == Some(0) {
            if let Some(state) = self.store.data_mut().roots.get_mut(&root) {
                state.pending_done = true;
                state.retiring = false;
            }
            Ok(())
        } else {
            self.delete_root(root)
        }
    }

    /// `proxy_on_delete` on a root; its pending http calls are cancelled with no callback
    /// (Envoy cancels a context's requests when it is destroyed), its tick timer stops.
    fn delete_root(&mut self, root: u32) -> Result<(), HarnessError> {
        let on_delete = self.exports.on_delete.clone();
        let result = self.call("proxy_on_delete", root, on_delete.as_ref(), root as i32);
        let state = self.store.data_mut();
        state.roots.remove(&root);
        let cancelled: Vec<u32> = state
            .pending_calls
            .iter()
            .filter(|(_, call)| call.root_context_id == root)
            .map(|(token, _)| *token)
            .collect();
        for token in cancelled {
            if let Some(call) = state.pending_calls.remove(&token) {
                self.cancelled_calls.push(call);
            }
        }
        self.ticks.remove(&root);
        result.map(|_| ())
    }

    /// After a VM call: delete roots that called `proxy_done` during it.
    fn finish_done_requests(&mut self) -> Result<(), HarnessError> {
        let requested = std::mem::take(&mut self.store.data_mut().done_requested);
        for root in requested {
            self.delete_root(root)?;
        }
        Ok(())
    }

    /// Shuts down a retiring root once no stream of it is left (Envoy's streams hold the
    /// plugin handle of the config they started under).
    pub(crate) fn retire_if_idle(&mut self, root: u32) -> Result<(), HarnessError> {
        let state = self.store.data();
        let retiring = state.roots.get(&root).is_some_and(|r| r.retiring);
        if retiring && !state.streams.values().any(|s| s.root == root) {
            self.start_shutdown(root)?;
        }
        Ok(())
    }

    pub(crate) fn allocate_context_id(&mut self) -> u32 {
        let id = self.next_context_id;
        self.next_context_id += 1;
        id
    }

    /// Calls a guest export with Envoy's context bookkeeping; `Ok(None)` when it is absent.
    /// A trap fails the VM for good, as in Envoy.
    pub(crate) fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        context_id: u32,
        func: Option<&TypedFunc<P, R>>,
        params: P,
    ) -> Result<Option<R>, HarnessError> {
        if let Some(reason) = &self.failed {
            return Err(HarnessError::VmFailed(reason.clone()));
        }
        let Some(func) = func else { return Ok(None) };
        let state = self.store.data_mut();
        state.current_context = context_id;
        state.effective_context = None;
        state.stop_iteration = false;
        let seq = state.log_seq;
        let result = func.call(&mut self.store, params);
        self.arm_ticks();
        match result {
            Ok(value) => {
                self.finish_done_requests()?;
                self.deliver_own_queue_ready()?;
                Ok(Some(value))
            }
            Err(error) => {
                let message = format!("{error:?}");
                self.failed = Some(format!("trap in {name}"));
                Err(HarnessError::Trap {
                    callback: name.to_string(),
                    context_id,
                    message,
                    logs: self.store.data().logs_since(seq),
                })
            }
        }
    }

    /// Size of the guest's linear memory in 64 KiB wasm pages (0 when it exports none).
    pub fn memory_pages(&self) -> u64 {
        self.store
            .data()
            .memory
            .map_or(0, |memory| memory.size(&self.store))
    }

    /// The root context's id.
    pub fn root_context_id(&self) -> u32 {
        self.store.data().root_context_id
    }

    /// The plugin configuration this VM was configured with.
    pub fn config(&self) -> &[u8] {
        &self.config
    }

    /// The plugin this VM belongs to.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Why the VM failed, if a trap failed it.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Applies a new plugin configuration as Envoy does on an ECDS push: the config is first
    /// tried on a fresh VM of the same plugin (cpp-host's canary on a clone); when refused, the
    /// error carries the plugin's logs and this VM keeps serving unchanged. When accepted, a
    /// new root context is created and configured in this same VM (module globals survive);
    /// new streams go to it, and the old root is shut down once its open streams have ended
    /// (`proxy_on_done`; deleted at once if that returns true, else kept, with its ticks and
    /// pending calls, until it calls `proxy_done`). A deleted root's pending http calls are
    /// cancelled with no callback (see [`Vm::take_cancelled_http_calls`]).
    pub fn reconfigure(&mut self, plugin_config: &[u8]) -> Result<(), HarnessError> {
        let owners = self.store.data().shared.data().queue_owners();
        let trial = self.plugin.start_vm(plugin_config);
        // The trial VM is thrown away: queues it registered go back to their owners.
        self.store
            .data()
            .shared
            .data()
            .restore_queue_owners(&owners);
        drop(trial?);
        let old = self.root_context_id();
        let new = self.start_root(plugin_config)?;
        self.store.data_mut().root_context_id = new;
        self.config = plugin_config.to_vec();
        if let Some(state) = self.store.data_mut().roots.get_mut(&old) {
            state.retiring = true;
        }
        self.retire_if_idle(old)
    }

    /// Ids of the root contexts alive in this VM (the active one, retiring ones, and ones
    /// waiting for `proxy_done`), ascending.
    pub fn root_context_ids(&self) -> Vec<u32> {
        self.store.data().roots.keys().copied().collect()
    }

    /// Http calls cancelled (with no callback to the guest) because their root context was
    /// deleted, since the last call.
    pub fn take_cancelled_http_calls(&mut self) -> Vec<HttpCall> {
        std::mem::take(&mut self.cancelled_calls)
    }

    /// Metrics of the whole plugin (shared by its VMs).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.plugin.metrics()
    }

    /// Drains the VM's log journal (every log of every context, oldest first, bounded by
    /// `VmOptions::max_retained_logs`).
    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        self.store.data_mut().logs.drain(..).collect()
    }

    /// Activity of the root context (configure, ticks, http call responses, queue callbacks)
    /// since the last call, and resets it.
    pub fn take_root_record(&mut self) -> StreamRecord {
        std::mem::take(&mut self.store.data_mut().root_record)
    }

    /// Http calls dispatched since the last call (for a proxy to perform them).
    pub fn take_new_http_calls(&mut self) -> Vec<HttpCall> {
        std::mem::take(&mut self.store.data_mut().new_calls)
    }

    /// Http calls still waiting for a response, by token order.
    pub fn pending_http_calls(&self) -> Vec<HttpCall> {
        self.store.data().pending_calls.values().cloned().collect()
    }

    /// Delivers the response of a dispatched call with `proxy_on_http_call_response` on the
    /// root context the call belongs to (cpp-host's behavior; works after the originating
    /// stream is gone).
    pub fn deliver_http_call_response(
        &mut self,
        token: u32,
        response: HttpCallResponse,
    ) -> Result<(), HarnessError> {
        self.deliver(token, Some(response))
    }

    /// Calls `proxy_on_http_call_response` for `token`: with a response, its maps and body are
    /// readable during the callback; without one (a failure) there is nothing to read.
    fn deliver(
        &mut self,
        token: u32,
        response: Option<HttpCallResponse>,
    ) -> Result<(), HarnessError> {
        let call = self
            .store
            .data_mut()
            .pending_calls
            .remove(&token)
            .ok_or(HarnessError::UnknownHttpCall(token))?;
        let counts = response.as_ref().map_or((0, 0, 0), |r| {
            (
                r.headers.len() as i32,
                r.body.len() as i32,
                r.trailers.len() as i32,
            )
        });
        self.store.data_mut().call_response = response;
        let root = call.root_context_id;
        let func = self.exports.on_http_call_response.clone();
        let result = self.call(
            "proxy_on_http_call_response",
            root,
            func.as_ref(),
            (root as i32, token as i32, counts.0, counts.1, counts.2),
        );
        self.store.data_mut().call_response = None;
        result.map(|_| ())
    }

    /// Reports a reset call (connection failure, stream reset): Envoy's `onHttpCallFailure`
    /// calls `proxy_on_http_call_response` with no headers, body or trailers and holds no
    /// response, so reading its headers is BAD_ARGUMENT (its body NOT_FOUND), as in Envoy.
    pub fn fail_http_call(&mut self, token: u32) -> Result<(), HarnessError> {
        self.deliver(token, None)
    }

    /// Reports a call whose timeout expired: Envoy's async client answers it with its router's
    /// local reply, `:status` 504 and the body `upstream request timeout`, delivered as a
    /// response with headers.
    pub fn time_out_http_call(&mut self, token: u32) -> Result<(), HarnessError> {
        self.deliver_http_call_response(
            token,
            HttpCallResponse::local_reply(504, "upstream request timeout"),
        )
    }

    /// Reports a call to a cluster with no healthy upstream: the local reply 503
    /// `no healthy upstream`, delivered as a response with headers.
    pub fn no_healthy_upstream_http_call(&mut self, token: u32) -> Result<(), HarnessError> {
        self.deliver_http_call_response(
            token,
            HttpCallResponse::local_reply(503, "no healthy upstream"),
        )
    }

    /// Current tick period set by the active root context, if any.
    pub fn tick_period(&self) -> Option<Duration> {
        self.tick_period_of(self.root_context_id())
    }

    /// Tick period set by root context `root`, if any.
    pub fn tick_period_of(&self, root: u32) -> Option<Duration> {
        match self
            .store
            .data()
            .roots
            .get(&root)
            .map_or(0, |r| r.tick_period_ms)
        {
            0 => None,
            ms => Some(Duration::from_millis(ms as u64)),
        }
    }

    /// Time the host reports, in nanoseconds since the Unix epoch.
    pub fn now_unix_nanos(&self) -> u64 {
        self.store.data().clock.now_nanos()
    }

    /// Calls `proxy_on_tick` on the active root context now.
    pub fn tick(&mut self) -> Result<(), HarnessError> {
        self.tick_root(self.root_context_id())
    }

    fn tick_root(&mut self, root: u32) -> Result<(), HarnessError> {
        if !self.store.data().roots.contains_key(&root) {
            return Ok(());
        }
        let func = self.exports.on_tick.clone();
        self.call("proxy_on_tick", root, func.as_ref(), root as i32)
            .map(|_| ())
    }

    /// The earliest armed tick due at or before `by`: (root, due time).
    fn next_due(&self, by: u64) -> Option<(u32, u64)> {
        self.ticks
            .iter()
            .map(|(root, (_, due))| (*root, *due))
            .filter(|(_, due)| *due <= by)
            .min_by_key(|(root, due)| (*due, *root))
    }

    /// Moves the virtual clock forward, calling `proxy_on_tick` on each root context at every
    /// tick boundary passed, in time order (with the clock set to that boundary). Returns the
    /// number of ticks fired.
    pub fn advance_clock(&mut self, by: Duration) -> Result<u32, HarnessError> {
        if self.store.data().clock.mode == ClockMode::System {
            return Err(HarnessError::NotVirtualClock);
        }
        let target = self.now_unix_nanos().saturating_add(by.as_nanos() as u64);
        let mut fired = 0;
        while let Some((root, due)) = self.next_due(target) {
            self.store.data_mut().clock.virtual_now = due;
            if let Some((period, next)) = self.ticks.get_mut(&root) {
                *next = due + *period as u64 * 1_000_000;
            }
            self.tick_root(root)?;
            fired += 1;
        }
        self.store.data_mut().clock.virtual_now = target;
        Ok(fired)
    }

    /// Fires the ticks due by the VM's clock (for system-clock VMs driven by a timer).
    /// Returns whether any fired.
    pub fn fire_due_tick(&mut self) -> Result<bool, HarnessError> {
        let now = self.now_unix_nanos();
        let mut any = false;
        while let Some((root, _)) = self.next_due(now) {
            if let Some((period, next)) = self.ticks.get_mut(&root) {
                *next = now + *period as u64 * 1_000_000;
            }
            self.tick_root(root)?;
            any = true;
        }
        Ok(any)
    }

    /// Re-arms the tick timers of roots that changed their period (Envoy keeps one timer per
    /// root context; a new period restarts it from now).
    fn arm_ticks(&mut self) {
        let now = self.now_unix_nanos();
        let periods: Vec<(u32, u32)> = self
            .store
            .data()
            .roots
            .iter()
            .map(|(id, r)| (*id, r.tick_period_ms))
            .collect();
        for &(root, period) in &periods {
            let armed = self.ticks.get(&root).map_or(0, |(p, _)| *p);
            if period != armed {
                if period == 0 {
                    self.ticks.remove(&root);
                } else {
                    self.ticks
                        .insert(root, (period, now + period as u64 * 1_000_000));
                }
            }
        }
        self.ticks
            .retain(|root, _| periods.iter().any(|(id, _)| id == root));
    }

    /// After a VM call: items this VM enqueued to its own queues are notified at once, as
    /// Envoy runs the `on_queue_ready` it posts to the worker's event loop right after the
    /// current callback. Notifications for queues another VM owns wait for that VM's
    /// [`Vm::deliver_queue_ready`] (another worker thread in Envoy).
    fn deliver_own_queue_ready(&mut self) -> Result<(), HarnessError> {
        if self.delivering_queues {
            return Ok(());
        }
        self.delivering_queues = true;
        // Bounded: a guest that re-enqueues from every notification cannot loop forever.
        let mut result = Ok(());
        for _ in 0..MAX_QUEUE_ROUNDS {
            match self.deliver_queue_ready() {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.delivering_queues = false;
        result
    }

    /// Delivers pending `proxy_on_queue_ready` notifications for queues this VM registered
    /// (those it enqueued itself are delivered after each call already). Returns how many
    /// were delivered.
    pub fn deliver_queue_ready(&mut self) -> Result<usize, HarnessError> {
        let key = self.store.data().vm_key;
        let ready = self.store.data().shared.data().take_ready(key);
        let func = self.exports.on_queue_ready.clone();
        let ready: Vec<(u32, u32)> = ready
            .into_iter()
            .filter(|(context, _)| self.store.data().roots.contains_key(context))
            .collect();
        for (context, token) in &ready {
            self.call(
                "proxy_on_queue_ready",
                *context,
                func.as_ref(),
                (*context as i32, *token as i32),
            )?;
        }
        Ok(ready.len())
    }
}
