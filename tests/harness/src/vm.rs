//! One VM (one wasmtime `Store`), like one Envoy worker's VM: lifecycle, configuration swap,
//! time and ticks, http call responses, queues. Stream callbacks are in `stream.rs`.

use crate::error::HarnessError;
use crate::host::HostState;
use crate::metrics::MetricsSnapshot;
use crate::options::ClockMode;
use crate::plugin::Plugin;
use crate::record::{HttpCall, HttpCallResponse, LogEntry, StreamRecord};
use std::time::Duration;
use wasmtime::{Instance, Store, TypedFunc, WasmParams, WasmResults};

type F<P, R> = Option<TypedFunc<P, R>>;

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
    pub(crate) next_tick_at: Option<u64>,
    pub(crate) armed_period_ms: u32,
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
            next_tick_at: None,
            armed_period_ms: 0,
        };
        if let Some(init) = init {
            vm.call("_initialize", 0, Some(&init), ())?;
        }
        let root = vm.allocate_context_id();
        vm.store.data_mut().root_context_id = root;
        let on_create = vm.exports.on_context_create.clone();
        vm.call(
            "proxy_on_context_create",
            root,
            on_create.as_ref(),
            (root as i32, 0),
        )?;
        let seq = vm.store.data().log_seq;
        let vm_config_len = vm.plugin.options().vm_configuration.len() as i32;
        let on_start = vm.exports.on_vm_start.clone();
        let started = vm.call(
            "proxy_on_vm_start",
            root,
            on_start.as_ref(),
            (root as i32, vm_config_len),
        )?;
        if started == Some(0) {
            return Err(HarnessError::VmStartRefused {
                logs: vm.store.data().logs_since(seq),
            });
        }
        let seq = vm.store.data().log_seq;
        vm.store.data_mut().plugin_configuration = Some(config.to_vec());
        let on_configure = vm.exports.on_configure.clone();
        let configured = vm.call(
            "proxy_on_configure",
            root,
            on_configure.as_ref(),
            (root as i32, config.len() as i32),
        );
        vm.store.data_mut().plugin_configuration = None;
        if configured? == Some(0) {
            return Err(HarnessError::ConfigRejected {
                logs: vm.store.data().logs_since(seq),
            });
        }
        Ok(vm)
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
            Ok(value) => Ok(Some(value)),
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

    /// Tries `plugin_config` on a fresh VM of the same plugin (as Envoy does); on success this VM
    /// is replaced by it (open streams of the old VM are dropped without callbacks), on refusal
    /// this VM stays as it was and keeps serving, and the error carries the plugin's logs.
    pub fn reconfigure(&mut self, plugin_config: &[u8]) -> Result<(), HarnessError> {
        let fresh = self.plugin.start_vm(plugin_config)?;
        *self = fresh;
        Ok(())
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
    /// root context (Envoy's behavior; works after the originating stream is gone).
    pub fn deliver_http_call_response(
        &mut self,
        token: u32,
        response: HttpCallResponse,
    ) -> Result<(), HarnessError> {
        self.store
            .data_mut()
            .pending_calls
            .remove(&token)
            .ok_or(HarnessError::UnknownHttpCall(token))?;
        let counts = (
            response.headers.len() as i32,
            response.body.len() as i32,
            response.trailers.len() as i32,
        );
        self.store.data_mut().call_response = Some(response);
        let root = self.root_context_id();
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

    /// Reports a failed call (reset, timeout, no healthy upstream): the guest gets
    /// `proxy_on_http_call_response` with no headers, body or trailers, as Envoy does.
    pub fn fail_http_call(&mut self, token: u32) -> Result<(), HarnessError> {
        self.deliver_http_call_response(token, HttpCallResponse::default())
    }

    /// Current tick period set by the plugin, if any.
    pub fn tick_period(&self) -> Option<Duration> {
        match self.store.data().tick_period_ms {
            0 => None,
            ms => Some(Duration::from_millis(ms as u64)),
        }
    }

    /// Time the host reports, in nanoseconds since the Unix epoch.
    pub fn now_unix_nanos(&self) -> u64 {
        self.store.data().clock.now_nanos()
    }

    /// Calls `proxy_on_tick` on the root context now.
    pub fn tick(&mut self) -> Result<(), HarnessError> {
        let root = self.root_context_id();
        let func = self.exports.on_tick.clone();
        self.call("proxy_on_tick", root, func.as_ref(), root as i32)
            .map(|_| ())
    }

    /// Moves the virtual clock forward, calling `proxy_on_tick` at every tick boundary passed
    /// (with the clock set to that boundary). Returns the number of ticks fired.
    pub fn advance_clock(&mut self, by: Duration) -> Result<u32, HarnessError> {
        if self.store.data().clock.mode == ClockMode::System {
            return Err(HarnessError::NotVirtualClock);
        }
        let target = self.now_unix_nanos().saturating_add(by.as_nanos() as u64);
        let mut fired = 0;
        while let Some(due) = self.next_tick_at.filter(|due| *due <= target) {
            self.store.data_mut().clock.virtual_now = due;
            self.next_tick_at = Some(due + self.armed_period_ms as u64 * 1_000_000);
            self.tick()?;
            fired += 1;
        }
        self.store.data_mut().clock.virtual_now = target;
        Ok(fired)
    }

    /// Fires `proxy_on_tick` if a tick is due by the VM's clock (for system-clock VMs driven by
    /// a proxy's timer). Returns whether it fired.
    pub fn fire_due_tick(&mut self) -> Result<bool, HarnessError> {
        let now = self.now_unix_nanos();
        match self.next_tick_at {
            Some(due) if due <= now => {
                self.next_tick_at = Some(now + self.armed_period_ms as u64 * 1_000_000);
                self.tick()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Re-arms the tick timer when the plugin changed its period.
    fn arm_ticks(&mut self) {
        let period = self.store.data().tick_period_ms;
        if period != self.armed_period_ms {
            self.armed_period_ms = period;
            self.next_tick_at = match period {
                0 => None,
                ms => Some(self.now_unix_nanos() + ms as u64 * 1_000_000),
            };
        }
    }

    /// Delivers pending `proxy_on_queue_ready` notifications for queues this VM registered.
    /// Returns how many were delivered.
    pub fn deliver_queue_ready(&mut self) -> Result<usize, HarnessError> {
        let key = self.store.data().vm_key;
        let ready = self.store.data().shared.data().take_ready(key);
        let func = self.exports.on_queue_ready.clone();
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
