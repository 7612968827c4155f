//! Where recomputed filter configs go. The API pushes one config per (tenant, service); the
//! concrete writers are the rollout crate's sinks (ECDS file) or stdout.

use futures::future::BoxFuture;
use rollgate_core::config::FilterConfig;
use rollgate_core::ecds::EcdsTarget;
use rollgate_rollout::sinks::EcdsFileSink;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// Whose config is pushed, and its version (ECDS `version_info`; bumps on every push).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushTarget<'a> {
    /// Tenant owning the service.
    pub tenant: &'a str,
    /// Service (model id) whose traffic the config routes.
    pub service: &'a str,
    /// Push version.
    pub version: u64,
}

/// A destination for filter configs. `push` must only return `Ok` once the config is in place.
pub trait ConfigSink: Send + Sync + 'static {
    /// Replaces the service's config.
    fn push<'a>(
        &'a self,
        target: PushTarget<'a>,
        config: &'a FilterConfig,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Human-readable description (logs, `/readyz`).
    fn describe(&self) -> String;
}

/// Prints each push as one JSON line on stdout.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl ConfigSink for StdoutSink {
    fn push<'a>(
        &'a self,
        target: PushTarget<'a>,
        config: &'a FilterConfig,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let line = serde_json::json!({
                "sink": "stdout", "tenant": target.tenant, "service": target.service,
                "version": target.version, "config": config,
            });
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(|e| format!("writing stdout: {e}"))
        })
    }

    fn describe(&self) -> String {
        "stdout".to_string()
    }
}

/// One Envoy ECDS file per service, `DIR/<tenant>--<service>.yaml`, written atomically by the
/// rollout crate's [`EcdsFileSink`].
#[derive(Debug, Clone)]
pub struct EcdsDirSink {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// Extension config name (the listener's `http_filters[].name`).
    pub name: String,
    /// Path of the `.wasm` on the Envoy host.
    pub wasm_filename: String,
}

impl EcdsDirSink {
    /// The file of a service.
    pub fn path_of(&self, tenant: &str, service: &str) -> PathBuf {
        self.dir.join(format!("{tenant}--{service}.yaml"))
    }
}

impl ConfigSink for EcdsDirSink {
    fn push<'a>(
        &'a self,
        target: PushTarget<'a>,
        config: &'a FilterConfig,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let sink = EcdsFileSink {
                path: self.path_of(target.tenant, target.service),
                target: EcdsTarget {
                    name: self.name.clone(),
                    wasm_filename: self.wasm_filename.clone(),
                },
            };
            sink.push(config, target.version).map_err(|e| e.to_string())
        })
    }

    fn describe(&self) -> String {
        format!("ecds-dir:{}", self.dir.display())
    }
}

/// One push recorded by [`MemorySink`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedPush {
    /// Tenant.
    pub tenant: String,
    /// Service.
    pub service: String,
    /// Version.
    pub version: u64,
    /// The config.
    pub config: FilterConfig,
}

/// Keeps pushes in memory (embedding and tests); can be told to fail.
#[derive(Debug, Default)]
pub struct MemorySink {
    pushes: Mutex<Vec<RecordedPush>>,
    failing: Mutex<Option<String>>,
}

impl MemorySink {
    /// Every push so far, oldest first.
    pub fn pushes(&self) -> Vec<RecordedPush> {
        self.pushes.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The latest config of a service.
    pub fn latest(&self, tenant: &str, service: &str) -> Option<FilterConfig> {
        self.pushes()
            .into_iter()
            .rev()
            .find(|p| p.tenant == tenant && p.service == service)
            .map(|p| p.config)
    }

    /// Makes every following push fail with `reason` (`None`: succeed again).
    pub fn set_failing(&self, reason: Option<&str>) {
        if let Ok(mut failing) = self.failing.lock() {
            *failing = reason.map(str::to_string);
        }
    }
}

impl ConfigSink for MemorySink {
    fn push<'a>(
        &'a self,
        target: PushTarget<'a>,
        config: &'a FilterConfig,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if let Some(reason) = self.failing.lock().ok().and_then(|f| f.clone()) {
                return Err(reason);
            }
            let record = RecordedPush {
                tenant: target.tenant.to_string(),
                service: target.service.to_string(),
                version: target.version,
                config: config.clone(),
            };
            self.pushes
                .lock()
                .map_err(|_| "memory sink poisoned".to_string())?
                .push(record);
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }
}

/// Parses `--sink`: `stdout`, `memory`, or `ecds-dir:DIR` (one ECDS file per service).
pub fn parse_sink(spec: &str) -> Result<std::sync::Arc<dyn ConfigSink>, String> {
    match spec.split_once(':') {
        None if spec == "stdout" => Ok(std::sync::Arc::new(StdoutSink)),
        None if spec == "memory" => Ok(std::sync::Arc::new(MemorySink::default())),
        Some(("ecds-dir", dir)) if !dir.is_empty() => Ok(std::sync::Arc::new(EcdsDirSink {
            dir: PathBuf::from(dir),
            name: "rollgate".to_string(),
            wasm_filename: rollgate_rollout::spec::DEFAULT_WASM_FILENAME.to_string(),
        })),
        _ => Err(format!(
            "unknown sink {spec:?}: use `stdout`, `memory` or `ecds-dir:DIR`"
        )),
    }
}
