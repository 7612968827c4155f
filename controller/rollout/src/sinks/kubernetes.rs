//! The `kubernetes` sink: server-side apply of an Istio `WasmPlugin`'s `spec.pluginConfig`
//! (field manager `rollgate`, forced), with the rollout state in the annotation
//! `rollgate.dev/state` so a restarted controller resumes from the cluster. Control requests
//! go in the annotation `rollgate.dev/control`, applied by the field manager `rollgate-control`.
//! Every apply of a pluginConfig carries its version in the annotation
//! `rollgate.dev/config-version`. Pushes of a config alone (`rollgate bandit`, the API) apply
//! `spec.pluginConfig` and that annotation with the field manager `rollgate-config`, so they
//! never remove a rollout's state annotation.

use crate::engine::{ControlRequest, RolloutState};
use crate::error::RolloutError;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::Client;
use rollgate_core::config::FilterConfig;
use serde_json::{json, Value};

/// API group of Istio's WasmPlugin.
pub const WASM_PLUGIN_GROUP: &str = "extensions.istio.io";
/// API version of Istio's WasmPlugin.
pub const WASM_PLUGIN_VERSION: &str = "v1alpha1";
/// Annotation holding the rollout state (JSON).
pub const STATE_ANNOTATION: &str = "rollgate.dev/state";
/// Annotation holding the latest control request (JSON).
pub const CONTROL_ANNOTATION: &str = "rollgate.dev/control";
/// Field manager of the controller's applies.
pub const FIELD_MANAGER: &str = "rollgate";
/// Annotation holding the version of the applied pluginConfig.
pub const CONFIG_VERSION_ANNOTATION: &str = "rollgate.dev/config-version";
/// Field manager of pushes of a config alone (no rollout state).
pub const CONFIG_FIELD_MANAGER: &str = "rollgate-config";
/// Field manager of control requests.
pub const CONTROL_FIELD_MANAGER: &str = "rollgate-control";
/// History entries kept in the annotation (annotations are limited to 256 KiB in total).
pub const ANNOTATION_HISTORY: usize = 200;

/// The `ApiResource` of `extensions.istio.io/v1alpha1` `WasmPlugin` (no CRD crate needed).
pub fn wasm_plugin_resource() -> ApiResource {
    ApiResource {
        group: WASM_PLUGIN_GROUP.to_string(),
        version: WASM_PLUGIN_VERSION.to_string(),
        api_version: format!("{WASM_PLUGIN_GROUP}/{WASM_PLUGIN_VERSION}"),
        kind: "WasmPlugin".to_string(),
        plural: "wasmplugins".to_string(),
    }
}

/// Applies pluginConfig and state to one WasmPlugin.
#[derive(Clone)]
pub struct KubernetesSink {
    api: Api<DynamicObject>,
    name: String,
    namespace: String,
}

impl KubernetesSink {
    /// A sink for WasmPlugin `name` in `namespace`, talking through `client`.
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced_with(client, namespace, &wasm_plugin_resource()),
            name: name.to_string(),
            namespace: namespace.to_string(),
        }
    }

    /// `namespace/name` of the WasmPlugin.
    pub fn object_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The apply body: the fields the controller owns. `config` (with its version) is `None`
    /// before the first push (the controller then owns only the state annotation).
    pub fn apply_body(
        &self,
        config: Option<(&FilterConfig, u64)>,
        state: Option<&RolloutState>,
    ) -> Result<Value, RolloutError> {
        apply_body(&self.namespace, &self.name, config, state)
    }

    /// Applies `config` (validated first) and `state` in one request; the config's version is
    /// the one `state` says the sink holds ([`applied_version`]).
    pub async fn apply(
        &self,
        config: Option<&FilterConfig>,
        state: &RolloutState,
    ) -> Result<(), RolloutError> {
        self.apply_at(config.map(|c| (c, applied_version(state))), state)
            .await
    }

    /// Applies `config` at its version (validated first) and `state` in one request.
    pub async fn apply_at(
        &self,
        config: Option<(&FilterConfig, u64)>,
        state: &RolloutState,
    ) -> Result<(), RolloutError> {
        if let Some((config, _)) = config {
            config.validate()?;
        }
        let body = self.apply_body(config, Some(state))?;
        self.send(FIELD_MANAGER, &body).await
    }

    /// Applies `config` as `version`, without touching any rollout state (field manager
    /// [`CONFIG_FIELD_MANAGER`]). Only [`super::ConfigSink::push_config`] calls it, which has
    /// validated `config` already.
    pub(super) async fn push_config(
        &self,
        config: &FilterConfig,
        version: u64,
    ) -> Result<(), RolloutError> {
        let body = self.apply_body(Some((config, version)), None)?;
        self.send(CONFIG_FIELD_MANAGER, &body).await
    }

    /// The version in the annotation [`CONFIG_VERSION_ANNOTATION`], if any.
    pub async fn config_version(&self) -> Result<Option<u64>, RolloutError> {
        let Some(text) = self.annotation(CONFIG_VERSION_ANNOTATION).await? else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|_| RolloutError::State {
            location: format!(
                "annotation {CONFIG_VERSION_ANNOTATION} of WasmPlugin {}",
                self.object_name()
            ),
            message: format!("{text:?} is not a version number"),
        })
    }

    async fn send(&self, field_manager: &str, body: &Value) -> Result<(), RolloutError> {
        let params = PatchParams::apply(field_manager).force();
        self.api
            .patch(&self.name, &params, &Patch::Apply(body))
            .await
            .map_err(|e| self.error("applying", e))?;
        Ok(())
    }

    /// The state stored in the annotation, if any.
    pub async fn load_state(&self) -> Result<Option<RolloutState>, RolloutError> {
        self.annotation_json(STATE_ANNOTATION).await
    }

    /// The latest control request, if any.
    pub async fn read_control(&self) -> Result<Option<ControlRequest>, RolloutError> {
        self.annotation_json(CONTROL_ANNOTATION).await
    }

    async fn annotation_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, RolloutError> {
        let Some(text) = self.annotation(key).await? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RolloutError::State {
                location: format!(
                    "annotation {key} of WasmPlugin {}/{}",
                    self.namespace, self.name
                ),
                message: e.to_string(),
            })
    }

    /// Writes a control request into its annotation (own field manager, so the controller's
    /// fields are left alone).
    pub async fn write_control(&self, request: &ControlRequest) -> Result<(), RolloutError> {
        let text =
            serde_json::to_string(request).map_err(|e| RolloutError::Other(e.to_string()))?;
        let body = json!({
            "apiVersion": format!("{WASM_PLUGIN_GROUP}/{WASM_PLUGIN_VERSION}"),
            "kind": "WasmPlugin",
            "metadata": { "name": self.name, "namespace": self.namespace, "annotations": { CONTROL_ANNOTATION: text } },
        });
        self.send(CONTROL_FIELD_MANAGER, &body).await
    }

    async fn annotation(&self, key: &str) -> Result<Option<String>, RolloutError> {
        let object = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error("reading", e))?;
        Ok(object.and_then(|o| o.metadata.annotations.and_then(|mut a| a.remove(key))))
    }

    fn error(&self, action: &str, err: kube::Error) -> RolloutError {
        RolloutError::Kubernetes(format!(
            "{action} WasmPlugin {}/{}: {err} (check the WasmPlugin exists and the controller may patch it)",
            self.namespace, self.name
        ))
    }
}

/// Version of the config the sink holds in `state`: the decided version once confirmed, the
/// one before it while a push is pending.
pub fn applied_version(state: &RolloutState) -> u64 {
    if state.pending_push.is_some() {
        state.config_version.saturating_sub(1)
    } else {
        state.config_version
    }
}

/// The apply body for WasmPlugin `namespace/name` (see [`KubernetesSink::apply_body`]).
pub fn apply_body(
    namespace: &str,
    name: &str,
    config: Option<(&FilterConfig, u64)>,
    state: Option<&RolloutState>,
) -> Result<Value, RolloutError> {
    let mut metadata = json!({ "name": name, "namespace": namespace, "annotations": {} });
    if let Some((_, version)) = config {
        metadata["annotations"][CONFIG_VERSION_ANNOTATION] = json!(version.to_string());
    }
    if let Some(state) = state {
        let mut trimmed = state.clone();
        let excess = trimmed.history.len().saturating_sub(ANNOTATION_HISTORY);
        trimmed.history.drain(..excess);
        let text =
            serde_json::to_string(&trimmed).map_err(|e| RolloutError::Other(e.to_string()))?;
        metadata["annotations"][STATE_ANNOTATION] = json!(text);
    }
    if metadata["annotations"]
        .as_object()
        .is_some_and(|a| a.is_empty())
    {
        if let Some(fields) = metadata.as_object_mut() {
            fields.remove("annotations");
        }
    }
    let mut body = json!({
        "apiVersion": format!("{WASM_PLUGIN_GROUP}/{WASM_PLUGIN_VERSION}"),
        "kind": "WasmPlugin",
        "metadata": metadata,
    });
    if let Some((config, _)) = config {
        let plugin_config =
            serde_json::to_value(config).map_err(|e| RolloutError::Other(e.to_string()))?;
        body["spec"] = json!({ "pluginConfig": plugin_config });
    }
    Ok(body)
}
