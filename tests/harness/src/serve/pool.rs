//! The pool of filter VMs, one per worker like Envoy's, and its configuration generations.
//!
//! A new config builds a new generation: first one VM (the clone the config is tried on), then
//! the rest. Only a fully built generation replaces the serving one, so a refused config leaves
//! the old one serving. Streams hold the generation they started on until they end, so
//! in-flight requests (and their late http-call responses) finish on their old VMs. Metrics
//! are the plugin's, shared by every VM of every generation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use super::config_file::ActiveConfig;
use super::metrics::MetricSnapshot;
use super::vm::{FilterVm, VmFactory, VmFailure};

/// One VM, locked for the duration of one callback.
pub type SharedVm = Arc<Mutex<Box<dyn FilterVm>>>;

/// Locks a VM; a poisoned lock (a callback panicked) is taken over, the VM state is still the
/// `Store`'s.
pub fn lock_vm(vm: &SharedVm) -> MutexGuard<'_, Box<dyn FilterVm>> {
    vm.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The VMs serving one config.
pub struct Generation {
    config: ActiveConfig,
    vms: Vec<SharedVm>,
    next: AtomicUsize,
}

impl Generation {
    /// Builds `workers` VMs configured with `config`; the first refusal stops the build.
    pub fn build(
        factory: &dyn VmFactory,
        config: ActiveConfig,
        workers: usize,
    ) -> Result<Self, VmFailure> {
        let mut vms = Vec::with_capacity(workers);
        for _ in 0..workers.max(1) {
            let vm = factory.instantiate(config.config_json.as_bytes())?;
            vms.push(Arc::new(Mutex::new(vm)));
        }
        Ok(Self {
            config,
            vms,
            next: AtomicUsize::new(0),
        })
    }

    /// A generation without a filter (`--no-filter`): requests pass straight through.
    pub fn passthrough() -> Self {
        Self {
            config: ActiveConfig::passthrough(),
            vms: Vec::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// The config this generation serves.
    pub fn config(&self) -> &ActiveConfig {
        &self.config
    }

    /// Every VM of this generation.
    pub fn vms(&self) -> &[SharedVm] {
        &self.vms
    }

    /// The VM for a new stream (round robin), or `None` without a filter.
    pub fn pick(&self) -> Option<SharedVm> {
        if self.vms.is_empty() {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.vms.len();
        Some(Arc::clone(&self.vms[index]))
    }
}

/// The serving generation and the plugin behind it.
pub struct FilterPool {
    current: RwLock<Arc<Generation>>,
    factory: Option<Arc<dyn VmFactory>>,
}

impl FilterPool {
    /// A pool serving `generation`, made by `factory` (`None`: no filter).
    pub fn new(generation: Generation, factory: Option<Arc<dyn VmFactory>>) -> Self {
        Self {
            current: RwLock::new(Arc::new(generation)),
            factory,
        }
    }

    /// The generation new streams start on.
    pub fn current(&self) -> Arc<Generation> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Makes `generation` serve new streams; streams on the old one finish there.
    pub fn replace(&self, generation: Generation) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(generation);
    }

    /// The plugin's metrics (empty without a filter).
    pub fn metrics(&self) -> MetricSnapshot {
        self.factory
            .as_ref()
            .map(|factory| factory.metrics())
            .unwrap_or_default()
    }
}
