//! The pool of filter VMs, one per worker like Envoy's, and its configuration generations.
//!
//! A new config builds a new generation: first one VM (the clone the config is tried on), then
//! the rest. Only a fully built generation replaces the serving one, so a refused config leaves
//! the old one serving. Streams hold the generation they started on until they end, so
//! in-flight requests (and their late http-call responses) finish on their old VMs.
//! Metrics stay monotone across generations: a retired generation's final metrics are folded
//! into a base that every scrape adds.

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
        clusters: &[String],
        workers: usize,
    ) -> Result<Self, VmFailure> {
        let mut vms = Vec::with_capacity(workers);
        for _ in 0..workers.max(1) {
            let vm = factory.instantiate(config.config_json.as_bytes(), clusters)?;
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

    /// The VM for a new stream (round robin), or `None` without a filter.
    pub fn pick(&self) -> Option<SharedVm> {
        if self.vms.is_empty() {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.vms.len();
        Some(Arc::clone(&self.vms[index]))
    }

    fn metrics(&self) -> MetricSnapshot {
        let mut total = MetricSnapshot::default();
        for vm in &self.vms {
            total.merge(&lock_vm(vm).metrics());
        }
        total
    }
}

#[derive(Default)]
struct Retired {
    base: MetricSnapshot,
    draining: Vec<Arc<Generation>>,
}

/// The serving generation, the retired ones still finishing streams, and metrics across all.
pub struct FilterPool {
    current: RwLock<Arc<Generation>>,
    retired: Mutex<Retired>,
}

impl FilterPool {
    /// A pool serving `generation`.
    pub fn new(generation: Generation) -> Self {
        Self {
            current: RwLock::new(Arc::new(generation)),
            retired: Mutex::new(Retired::default()),
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

    /// Makes `generation` serve new streams; the old one drains.
    pub fn replace(&self, generation: Generation) {
        // Lock order retired → current, as in `metrics`, so a scrape never misses the old one.
        let mut retired = self.retired();
        let old = {
            let mut current = self
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::replace(&mut *current, Arc::new(generation))
        };
        retired.draining.push(old);
    }

    /// Adds metrics of a VM that no longer exists (a clone that refused a config).
    pub fn absorb(&self, metrics: &MetricSnapshot) {
        self.retired().base.merge(metrics);
    }

    /// Plugin metrics over every VM this pool ever ran.
    pub fn metrics(&self) -> MetricSnapshot {
        let mut retired = self.retired();
        // Fold generations no stream holds any more into the base, once, for good.
        let draining = std::mem::take(&mut retired.draining);
        let mut total = MetricSnapshot::default();
        for generation in draining {
            if Arc::strong_count(&generation) == 1 {
                let last = generation.metrics();
                retired.base.merge(&last);
            } else {
                total.merge(&generation.metrics());
                retired.draining.push(generation);
            }
        }
        total.merge(&retired.base);
        total.merge(&self.current().metrics());
        drop(retired);
        total
    }

    fn retired(&self) -> MutexGuard<'_, Retired> {
        self.retired
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
