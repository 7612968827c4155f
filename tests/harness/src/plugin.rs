//! A plugin: one compiled module, the options every VM gets, and the state its VMs share
//! (metrics, shared data, queues). Start as many VMs as there are workers.

use crate::error::HarnessError;
use crate::host::PluginShared;
use crate::metrics::MetricsSnapshot;
use crate::module::WasmModule;
use crate::options::VmOptions;
use crate::vm::Vm;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A loaded plugin. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Plugin {
    module: WasmModule,
    options: Arc<VmOptions>,
    shared: Arc<PluginShared>,
    next_vm_key: Arc<AtomicU64>,
}

impl Plugin {
    /// A plugin running `module` with `options`.
    pub fn new(module: WasmModule, options: VmOptions) -> Self {
        Self {
            module,
            options: Arc::new(options),
            shared: Arc::new(PluginShared::default()),
            next_vm_key: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Starts a fresh VM in Envoy's order (instantiate, `_initialize`/`_start`, root
    /// `proxy_on_context_create`, `proxy_on_vm_start`, `proxy_on_configure` with
    /// `plugin_config`). A refused config gives [`HarnessError::ConfigRejected`] with the
    /// plugin's logs.
    pub fn start_vm(&self, plugin_config: &[u8]) -> Result<Vm, HarnessError> {
        let key = self.next_vm_key.fetch_add(1, Ordering::Relaxed);
        Vm::start(self.clone(), key, plugin_config)
    }

    /// Current value of every metric any VM of this plugin defined.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics().snapshot()
    }

    /// The options every VM gets.
    pub fn options(&self) -> &VmOptions {
        &self.options
    }

    /// The compiled module.
    pub fn module(&self) -> &WasmModule {
        &self.module
    }

    pub(crate) fn options_arc(&self) -> Arc<VmOptions> {
        self.options.clone()
    }

    pub(crate) fn shared(&self) -> Arc<PluginShared> {
        self.shared.clone()
    }
}
