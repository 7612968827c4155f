//! [`ConfigSink`]: the one model of "where a filter config goes", used by `rollgate run`
//! (through [`super::Sink`]), `rollgate bandit` and the REST API.
//!
//! A push is a whole [`FilterConfig`] at a version. Every push is validated by the filter's
//! own validator first, so a config the filter would refuse never leaves the controller.
//!
//! # Versions
//!
//! One scheme everywhere: a destination's versions increase by one with every push, starting
//! at 1, and the driver persists the last one with its own state: the rollout state's
//! `config_version` (`rollgate run`), the API's `pushes` table (per tenant and service).
//! A driver without state (`rollgate bandit`) continues from the version the destination
//! holds ([`ConfigSink::pushed_version`], [`ConfigSink::push_next`]). The version is written
//! where the proxy or an operator sees it: the ECDS file's `version_info`, the WasmPlugin's
//! annotation `rollgate.dev/config-version`, the `version` field of a stdout line.

use super::ecds_file::EcdsFileSink;
use super::kubernetes::KubernetesSink;
use super::memory::MemorySink;
use crate::error::RolloutError;
use crate::spec::SinkTarget;
use rollgate_core::config::FilterConfig;
use rollgate_core::ecds::parse_plugin_config_file;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One destination of filter configs.
pub enum ConfigSink {
    /// An Envoy ECDS file, replaced atomically.
    EcdsFile(EcdsFileSink),
    /// `spec.pluginConfig` of one Istio WasmPlugin (server-side apply).
    Kubernetes(Box<KubernetesSink>),
    /// One JSON line per push on stdout.
    Stdout(StdoutSink),
    /// Kept in memory (embedding and tests).
    Memory {
        /// The shared record of pushes.
        log: Arc<MemorySink>,
        /// The destination's name in the record.
        destination: String,
    },
}

impl ConfigSink {
    /// The destination of a spec's `sink`. For Kubernetes this builds a client from the
    /// environment (in-cluster or kubeconfig); use [`ConfigSink::Kubernetes`] with your own
    /// client otherwise.
    pub async fn open(target: &SinkTarget) -> Result<Self, RolloutError> {
        Ok(match target {
            SinkTarget::EcdsFile {
                path,
                name,
                wasm_filename,
            } => Self::EcdsFile(EcdsFileSink::new(path, name, wasm_filename)),
            SinkTarget::Kubernetes {
                wasm_plugin,
                namespace,
            } => Self::Kubernetes(Box::new(KubernetesSink::new(
                default_kube_client().await?,
                namespace,
                wasm_plugin,
            ))),
            SinkTarget::Stdout => Self::Stdout(StdoutSink::default()),
        })
    }

    /// Validates `config` with the filter's validator and puts it in place as `version`;
    /// `Ok` only once the destination holds it.
    pub async fn push_config(
        &self,
        config: &FilterConfig,
        version: u64,
    ) -> Result<(), RolloutError> {
        config.validate()?;
        match self {
            Self::EcdsFile(file) => file.push(config, version),
            Self::Kubernetes(k8s) => k8s.push_config(config, version).await,
            Self::Stdout(stdout) => stdout.write(config, version, None),
            Self::Memory { log, destination } => log.record(destination, config, version),
        }
    }

    /// The version the destination holds now (`None`: nothing pushed yet, or not readable
    /// back, e.g. a plain JSON file). Stdout remembers the pushes of this process only.
    pub async fn pushed_version(&self) -> Result<Option<u64>, RolloutError> {
        match self {
            Self::EcdsFile(file) => ecds_file_version(file),
            Self::Kubernetes(k8s) => k8s.config_version().await,
            Self::Stdout(stdout) => Ok(stdout.last_version()),
            Self::Memory { log, destination } => Ok(log.latest_version(destination)),
        }
    }

    /// Pushes `config` as the version after [`ConfigSink::pushed_version`] (1 for a fresh
    /// destination) and returns that version. For drivers that keep no state of their own.
    pub async fn push_next(&self, config: &FilterConfig) -> Result<u64, RolloutError> {
        let version = self.pushed_version().await?.unwrap_or(0) + 1;
        self.push_config(config, version).await?;
        Ok(version)
    }

    /// What the destination is, for logs and `/readyz`: `ecds-file:PATH`,
    /// `kubernetes:NAMESPACE/NAME`, `stdout`, `memory:DESTINATION`.
    pub fn describe(&self) -> String {
        match self {
            Self::EcdsFile(file) => format!("ecds-file:{}", file.path.display()),
            Self::Kubernetes(k8s) => format!("kubernetes:{}", k8s.object_name()),
            Self::Stdout(stdout) => match &stdout.destination {
                Some(destination) => format!("stdout:{destination}"),
                None => "stdout".to_string(),
            },
            Self::Memory { destination, .. } => format!("memory:{destination}"),
        }
    }
}

/// A kube-rs client from the environment (in-cluster service account or kubeconfig).
pub async fn default_kube_client() -> Result<kube::Client, RolloutError> {
    kube::Client::try_default().await.map_err(|e| {
        RolloutError::Kubernetes(format!(
            "no cluster configured: {e} (set KUBECONFIG or run in a pod with a service account)"
        ))
    })
}

fn ecds_file_version(file: &EcdsFileSink) -> Result<Option<u64>, RolloutError> {
    let text = match std::fs::read_to_string(&file.path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RolloutError::io("reading", &file.path, e)),
    };
    let parsed = parse_plugin_config_file(&text)?;
    Ok(parsed.version_info.and_then(|v| v.parse().ok()))
}

/// Prints each push as one JSON line on stdout:
/// `{"sink":"stdout","destination":..,"version":..,"config":..}` (`canary_bp` too for a
/// rollout's pushes).
#[derive(Debug, Default)]
pub struct StdoutSink {
    /// Whose config the lines carry (the API's `tenant/service`); absent for one destination.
    pub destination: Option<String>,
    last_version: AtomicU64,
}

impl StdoutSink {
    /// Lines labelled with `destination`.
    pub fn labelled(destination: &str) -> Self {
        Self {
            destination: Some(destination.to_string()),
            last_version: AtomicU64::new(0),
        }
    }

    /// Writes one push line (the config is not validated here; [`ConfigSink::push_config`]
    /// does that).
    pub fn write(
        &self,
        config: &FilterConfig,
        version: u64,
        canary_bp: Option<u32>,
    ) -> Result<(), RolloutError> {
        let mut line =
            serde_json::json!({ "sink": "stdout", "version": version, "config": config });
        if let Some(destination) = &self.destination {
            line["destination"] = serde_json::json!(destination);
        }
        if let Some(bp) = canary_bp {
            line["canary_bp"] = serde_json::json!(bp);
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| RolloutError::io("writing", "stdout", e))?;
        self.last_version.fetch_max(version, Ordering::Relaxed);
        Ok(())
    }

    /// The highest version this process printed.
    pub fn last_version(&self) -> Option<u64> {
        Some(self.last_version.load(Ordering::Relaxed)).filter(|v| *v > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ecds_file::tests::config;
    use super::*;

    #[tokio::test]
    async fn push_next_continues_from_the_version_the_ecds_file_holds() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sink = ConfigSink::EcdsFile(EcdsFileSink::new(
            &dir.path().join("ecds.yaml"),
            "rollgate",
            "/w.wasm",
        ));
        assert_eq!(sink.pushed_version().await.expect("reads"), None);
        assert_eq!(sink.push_next(&config(100)).await.expect("pushes"), 1);
        sink.push_config(&config(200), 7).await.expect("pushes");
        assert_eq!(sink.pushed_version().await.expect("reads"), Some(7));
        assert_eq!(sink.push_next(&config(300)).await.expect("pushes"), 8);
        assert!(
            sink.describe().starts_with("ecds-file:"),
            "{}",
            sink.describe()
        );
    }

    #[tokio::test]
    async fn memory_and_stdout_remember_versions_and_refuse_invalid_configs() {
        let log = Arc::new(MemorySink::default());
        let sink = ConfigSink::Memory {
            log: Arc::clone(&log),
            destination: "acme/fraud".into(),
        };
        assert_eq!(sink.push_next(&config(500)).await.expect("pushes"), 1);
        assert_eq!(sink.push_next(&config(600)).await.expect("pushes"), 2);
        assert_eq!(log.latest("acme/fraud"), Some(config(600)));
        let mut bad = config(500);
        bad.experiments[0].variants[0].weight = 1;
        assert!(sink.push_config(&bad, 3).await.is_err());
        assert_eq!(log.pushes().len(), 2, "a refused config is never recorded");

        let stdout = ConfigSink::Stdout(StdoutSink::labelled("acme/fraud"));
        assert_eq!(stdout.pushed_version().await.expect("reads"), None);
        stdout.push_config(&config(100), 4).await.expect("prints");
        assert_eq!(stdout.pushed_version().await.expect("reads"), Some(4));
        assert_eq!(stdout.describe(), "stdout:acme/fraud");
    }
}
