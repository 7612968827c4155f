//! Sinks: where the filter config goes (Envoy ECDS file, Istio WasmPlugin, stdout) and where
//! the rollout state is kept. Every push is validated by the filter crate's validator first,
//! so a config the filter would refuse never leaves the controller.

mod atomic;
mod ecds_file;
pub mod kubernetes;
mod lock;
mod state_file;

pub use atomic::write_atomic;
pub use ecds_file::EcdsFileSink;
pub use kubernetes::KubernetesSink;
pub use lock::{lock_path, StateLock};
pub use state_file::StateFile;

use crate::engine::{ControlRequest, RolloutState};
use crate::error::RolloutError;
use crate::spec::{Rollout, SinkTarget};
use std::io::Write;

/// A rollout's sink with its state store.
pub enum Sink {
    /// ECDS file; state in the spec's `state_file`.
    EcdsFile {
        /// The file writer.
        file: EcdsFileSink,
        /// The state store.
        state: StateFile,
    },
    /// Istio WasmPlugin; state in its annotation.
    Kubernetes(Box<KubernetesSink>),
    /// Prints each push as one JSON line on stdout; state in the spec's `state_file`.
    Stdout {
        /// The state store.
        state: StateFile,
    },
}

impl Sink {
    /// Opens the sink of `rollout`. For Kubernetes this builds a client from the environment
    /// (in-cluster or kubeconfig); use [`Sink::Kubernetes`] with your own client otherwise.
    pub async fn open(rollout: &Rollout) -> Result<Self, RolloutError> {
        let state_file = || {
            rollout
                .state_file
                .clone()
                .map(StateFile::new)
                .ok_or_else(|| RolloutError::spec("spec.state_file", "required with this sink"))
        };
        Ok(match &rollout.sink {
            SinkTarget::EcdsFile {
                path,
                name,
                wasm_filename,
            } => Self::EcdsFile {
                file: EcdsFileSink::new(path, name, wasm_filename),
                state: state_file()?,
            },
            SinkTarget::Kubernetes {
                wasm_plugin,
                namespace,
            } => {
                let client = kube::Client::try_default()
                    .await
                    .map_err(|e| RolloutError::Kubernetes(format!("no cluster configured: {e}")))?;
                Self::Kubernetes(Box::new(KubernetesSink::new(
                    client,
                    namespace,
                    wasm_plugin,
                )))
            }
            SinkTarget::Stdout => Self::Stdout {
                state: state_file()?,
            },
        })
    }

    /// Takes the one-controller-per-state lock: the state file's lock for the file sinks
    /// ([`StateLock`]). `None` for Kubernetes, where the state is the WasmPlugin's annotation
    /// (use `rollgate run --leader-elect`'s Lease there).
    pub fn lock(&self) -> Result<Option<StateLock>, RolloutError> {
        match self {
            Self::EcdsFile { state, .. } | Self::Stdout { state } => {
                StateLock::acquire(state.path()).map(Some)
            }
            Self::Kubernetes(_) => Ok(None),
        }
    }

    /// The persisted state, or `None` when the rollout never ran.
    pub async fn load_state(&self) -> Result<Option<RolloutState>, RolloutError> {
        match self {
            Self::EcdsFile { state, .. } | Self::Stdout { state } => state.load(),
            Self::Kubernetes(k8s) => k8s.load_state().await,
        }
    }

    /// Persists `state`. On Kubernetes the apply also carries the pluginConfig of the applied
    /// weight, so the controller keeps owning it.
    pub async fn save_state(
        &self,
        rollout: &Rollout,
        state: &RolloutState,
    ) -> Result<(), RolloutError> {
        match self {
            Self::EcdsFile { state: file, .. } | Self::Stdout { state: file } => file.save(state),
            Self::Kubernetes(k8s) => {
                let config = state
                    .applied_canary_bp
                    .map(|bp| rollout.config_at(bp))
                    .transpose()?;
                k8s.apply(config.as_ref(), state).await
            }
        }
    }

    /// Pushes the config with the canary at `canary_bp`, as version `version`.
    pub async fn push(
        &self,
        rollout: &Rollout,
        state: &RolloutState,
        canary_bp: u32,
        version: u64,
    ) -> Result<(), RolloutError> {
        let config = rollout.config_at(canary_bp)?;
        match self {
            Self::EcdsFile { file, .. } => file.push(&config, version),
            Self::Kubernetes(k8s) => k8s.apply(Some(&config), state).await,
            Self::Stdout { .. } => {
                let line = serde_json::json!({ "sink": "stdout", "version": version, "canary_bp": canary_bp, "config": config });
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}")
                    .and_then(|()| out.flush())
                    .map_err(|e| RolloutError::io("writing", "stdout", e))
            }
        }
    }

    /// The latest control request, if any.
    pub async fn read_control(&self) -> Result<Option<ControlRequest>, RolloutError> {
        match self {
            Self::EcdsFile { state, .. } | Self::Stdout { state } => state.read_control(),
            Self::Kubernetes(k8s) => k8s.read_control().await,
        }
    }

    /// Hands a control request to the running controller.
    pub async fn write_control(&self, request: &ControlRequest) -> Result<(), RolloutError> {
        match self {
            Self::EcdsFile { state, .. } | Self::Stdout { state } => state.write_control(request),
            Self::Kubernetes(k8s) => k8s.write_control(request).await,
        }
    }
}

/// Exactly what `rollout`'s sink holds at `state` (`None`: before the first push): the ECDS
/// file's content, the WasmPlugin fields the controller applies (YAML, without the state
/// annotation), or the filter config JSON for stdout.
pub fn render(rollout: &Rollout, state: Option<&RolloutState>) -> Result<String, RolloutError> {
    let config = rollout.config_for(state)?;
    match &rollout.sink {
        SinkTarget::EcdsFile {
            path,
            name,
            wasm_filename,
        } => EcdsFileSink::new(path, name, wasm_filename)
            .render(&config, state.map_or(0, |s| s.config_version)),
        SinkTarget::Kubernetes {
            wasm_plugin,
            namespace,
        } => {
            let body = kubernetes::apply_body(namespace, wasm_plugin, Some(&config), None)?;
            serde_yaml::to_string(&body)
                .map_err(|e| RolloutError::Other(format!("rendering YAML: {e}")))
        }
        SinkTarget::Stdout => serde_json::to_string_pretty(&config)
            .map(|mut text| {
                text.push('\n');
                text
            })
            .map_err(|e| RolloutError::Other(e.to_string())),
    }
}
