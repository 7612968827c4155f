//! Sinks: where the filter config goes and where a rollout's state is kept.
//!
//! [`ConfigSink`] is the one model of a destination (Envoy ECDS file, Istio WasmPlugin,
//! stdout, memory) and of push versions (see its module docs); `rollgate bandit` and the REST
//! API push through it. [`Sink`] is a rollout's destination together with its state store,
//! what `rollgate run` drives. [`ServiceSinks`] gives the API one destination per
//! (tenant, service). Every push is validated by the filter crate's validator first, so a
//! config the filter would refuse never leaves the controller.

mod atomic;
mod config_sink;
mod ecds_file;
pub mod kubernetes;
mod lock;
mod memory;
mod service_sinks;
mod state_file;

pub use atomic::write_atomic;
pub use config_sink::{default_kube_client, ConfigSink, StdoutSink};
pub use ecds_file::EcdsFileSink;
pub use kubernetes::KubernetesSink;
pub use lock::{lock_path, StateLock};
pub use memory::{MemorySink, RecordedPush};
pub use service_sinks::{ServiceSinks, DEFAULT_KUBERNETES_TEMPLATE};
pub use state_file::StateFile;

use crate::engine::{ControlRequest, RolloutState};
use crate::error::RolloutError;
use crate::spec::{Rollout, SinkTarget};

/// Where a rollout's state is kept.
pub enum StateStore {
    /// The spec's `state_file` (ecds_file and stdout sinks).
    File(StateFile),
    /// The annotations of the WasmPlugin the config goes to (kubernetes sink).
    WasmPlugin(Box<KubernetesSink>),
}

/// A rollout's destination with its state store.
pub struct Sink {
    /// Where configs go.
    pub destination: ConfigSink,
    /// Where the state is kept.
    pub state: StateStore,
}

impl Sink {
    /// Opens the sink of `rollout`. For Kubernetes this builds a client from the environment
    /// (in-cluster or kubeconfig); use [`Sink::kubernetes`] with your own client otherwise.
    pub async fn open(rollout: &Rollout) -> Result<Self, RolloutError> {
        let destination = ConfigSink::open(&rollout.sink).await?;
        Self::with_destination(rollout, destination)
    }

    /// The sink of a rollout whose WasmPlugin is reached through `k8s`.
    pub fn kubernetes(k8s: KubernetesSink) -> Self {
        Self {
            destination: ConfigSink::Kubernetes(Box::new(k8s.clone())),
            state: StateStore::WasmPlugin(Box::new(k8s)),
        }
    }

    /// `destination` with the state store the rollout's sink kind uses.
    fn with_destination(rollout: &Rollout, destination: ConfigSink) -> Result<Self, RolloutError> {
        if let ConfigSink::Kubernetes(k8s) = &destination {
            return Ok(Self::kubernetes(k8s.as_ref().clone()));
        }
        let state = rollout
            .state_file
            .clone()
            .map(StateFile::new)
            .ok_or_else(|| RolloutError::spec("spec.state_file", "required with this sink"))?;
        Ok(Self {
            destination,
            state: StateStore::File(state),
        })
    }

    /// Takes the one-controller-per-state lock: the state file's lock for the file sinks
    /// ([`StateLock`]). `None` for Kubernetes, where the state is the WasmPlugin's annotation
    /// (use `rollgate run --leader-elect`'s Lease there).
    pub fn lock(&self) -> Result<Option<StateLock>, RolloutError> {
        match &self.state {
            StateStore::File(file) => StateLock::acquire(file.path()).map(Some),
            StateStore::WasmPlugin(_) => Ok(None),
        }
    }

    /// The persisted state, or `None` when the rollout never ran.
    pub async fn load_state(&self) -> Result<Option<RolloutState>, RolloutError> {
        match &self.state {
            StateStore::File(file) => file.load(),
            StateStore::WasmPlugin(k8s) => k8s.load_state().await,
        }
    }

    /// Persists `state`. On Kubernetes the apply also carries the pluginConfig of the applied
    /// weight and its version, so the controller keeps owning them.
    pub async fn save_state(
        &self,
        rollout: &Rollout,
        state: &RolloutState,
    ) -> Result<(), RolloutError> {
        match &self.state {
            StateStore::File(file) => file.save(state),
            StateStore::WasmPlugin(k8s) => {
                let config = state
                    .applied_canary_bp
                    .map(|bp| rollout.config_at(bp))
                    .transpose()?;
                k8s.apply(config.as_ref(), state).await
            }
        }
    }

    /// Pushes the config with the canary at `canary_bp`, as version `version` (on Kubernetes
    /// in one apply with `state`).
    pub async fn push(
        &self,
        rollout: &Rollout,
        state: &RolloutState,
        canary_bp: u32,
        version: u64,
    ) -> Result<(), RolloutError> {
        let config = rollout.config_at(canary_bp)?;
        match &self.state {
            StateStore::WasmPlugin(k8s) => k8s.apply_at(Some((&config, version)), state).await,
            StateStore::File(_) => self.destination.push_config(&config, version).await,
        }
    }

    /// The latest control request, if any.
    pub async fn read_control(&self) -> Result<Option<ControlRequest>, RolloutError> {
        match &self.state {
            StateStore::File(file) => file.read_control(),
            StateStore::WasmPlugin(k8s) => k8s.read_control().await,
        }
    }

    /// Hands a control request to the running controller.
    pub async fn write_control(&self, request: &ControlRequest) -> Result<(), RolloutError> {
        match &self.state {
            StateStore::File(file) => file.write_control(request),
            StateStore::WasmPlugin(k8s) => k8s.write_control(request).await,
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
            let version = state.map_or(0, |s| s.config_version);
            let body =
                kubernetes::apply_body(namespace, wasm_plugin, Some((&config, version)), None)?;
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
