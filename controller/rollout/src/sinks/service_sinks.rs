//! [`ServiceSinks`]: one [`ConfigSink`] destination per (tenant, service), for drivers that
//! route many services (the REST API). Parsed from `rollgate serve --sink`.

use super::config_sink::{default_kube_client, ConfigSink, StdoutSink};
use super::ecds_file::EcdsFileSink;
use super::kubernetes::KubernetesSink;
use super::memory::MemorySink;
use crate::error::RolloutError;
use std::path::PathBuf;
use std::sync::Arc;

/// WasmPlugin of a service when `--sink kubernetes` names none: namespace = tenant,
/// name = `rollgate-<service>`.
pub const DEFAULT_KUBERNETES_TEMPLATE: &str = "{tenant}/rollgate-{service}";

/// How each (tenant, service) finds its destination.
pub enum ServiceSinks {
    /// One JSON line per push on stdout, labelled `tenant/service`.
    Stdout,
    /// One Envoy ECDS file per service, `DIR/<tenant>--<service>.yaml`.
    EcdsDir {
        /// Directory holding the files.
        dir: PathBuf,
        /// Extension config name (the listener's `http_filters[].name`).
        name: String,
        /// Path of the `.wasm` on the Envoy host.
        wasm_filename: String,
    },
    /// One Istio WasmPlugin per service, named by a template over `{tenant}` and `{service}`.
    Kubernetes {
        /// The API client.
        client: kube::Client,
        /// `NAMESPACE/NAME` template, e.g. [`DEFAULT_KUBERNETES_TEMPLATE`].
        template: String,
    },
    /// Recorded in memory under `tenant/service`.
    Memory(Arc<MemorySink>),
}

impl From<Arc<MemorySink>> for ServiceSinks {
    fn from(log: Arc<MemorySink>) -> Self {
        Self::Memory(log)
    }
}

impl ServiceSinks {
    /// Parses `--sink`: `stdout`, `memory`, `ecds-dir:DIR`, `kubernetes` or
    /// `kubernetes:NAMESPACE/NAME` (templates over `{tenant}` and `{service}`; the client comes
    /// from the environment: in-cluster or kubeconfig).
    pub async fn open(spec: &str) -> Result<Self, RolloutError> {
        let unknown = || {
            RolloutError::Other(format!(
                "unknown sink {spec:?}: use `stdout`, `memory`, `ecds-dir:DIR`, `kubernetes` or \
                 `kubernetes:NAMESPACE/NAME` (with {{tenant}} and {{service}} placeholders)"
            ))
        };
        match spec.split_once(':') {
            None if spec == "stdout" => Ok(Self::Stdout),
            None if spec == "memory" => Ok(Self::Memory(Arc::default())),
            None if spec == "kubernetes" => {
                Self::kubernetes(default_kube_client().await?, DEFAULT_KUBERNETES_TEMPLATE)
            }
            Some(("ecds-dir", dir)) if !dir.is_empty() => Ok(Self::EcdsDir {
                dir: PathBuf::from(dir),
                name: "rollgate".to_string(),
                wasm_filename: crate::spec::DEFAULT_WASM_FILENAME.to_string(),
            }),
            Some(("kubernetes", template)) => {
                Self::kubernetes(default_kube_client().await?, template)
            }
            _ => Err(unknown()),
        }
    }

    /// WasmPlugins named by `template` (`NAMESPACE/NAME` over `{tenant}` and `{service}`),
    /// reached through `client`.
    pub fn kubernetes(client: kube::Client, template: &str) -> Result<Self, RolloutError> {
        match template.split_once('/') {
            Some((namespace, name))
                if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
            {
                Ok(Self::Kubernetes {
                    client,
                    template: template.to_string(),
                })
            }
            _ => Err(RolloutError::Other(format!(
                "kubernetes sink template {template:?} must be NAMESPACE/NAME, e.g. {DEFAULT_KUBERNETES_TEMPLATE}"
            ))),
        }
    }

    /// The destination of `service` of `tenant`.
    pub fn for_service(&self, tenant: &str, service: &str) -> ConfigSink {
        let label = format!("{tenant}/{service}");
        match self {
            Self::Stdout => ConfigSink::Stdout(StdoutSink::labelled(&label)),
            Self::EcdsDir {
                dir,
                name,
                wasm_filename,
            } => ConfigSink::EcdsFile(EcdsFileSink::new(
                &dir.join(format!("{tenant}--{service}.yaml")),
                name,
                wasm_filename,
            )),
            Self::Kubernetes { client, template } => {
                let fill = |t: &str| t.replace("{tenant}", tenant).replace("{service}", service);
                let (namespace, name) = template.split_once('/').unwrap_or((template, ""));
                ConfigSink::Kubernetes(Box::new(KubernetesSink::new(
                    client.clone(),
                    &fill(namespace),
                    &fill(name),
                )))
            }
            Self::Memory(log) => ConfigSink::Memory {
                log: Arc::clone(log),
                destination: label,
            },
        }
    }

    /// What the destinations are, for logs and `/readyz`.
    pub fn describe(&self) -> String {
        match self {
            Self::Stdout => "stdout".to_string(),
            Self::EcdsDir { dir, .. } => format!("ecds-dir:{}", dir.display()),
            Self::Kubernetes { template, .. } => format!("kubernetes:{template}"),
            Self::Memory(_) => "memory".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_service_gets_its_own_destination() {
        let dir = ServiceSinks::open("ecds-dir:/tmp/x").await.expect("parses");
        assert_eq!(
            dir.for_service("acme", "fraud").describe(),
            "ecds-file:/tmp/x/acme--fraud.yaml"
        );
        let memory = ServiceSinks::open("memory").await.expect("parses");
        assert_eq!(
            memory.for_service("acme", "fraud").describe(),
            "memory:acme/fraud"
        );
        assert_eq!(
            ServiceSinks::open("stdout")
                .await
                .expect("parses")
                .describe(),
            "stdout"
        );
        let err = ServiceSinks::open("s3:bucket")
            .await
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("kubernetes:NAMESPACE/NAME"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn kubernetes_templates_name_one_wasm_plugin_per_service() {
        let uri: http::Uri = "http://127.0.0.1:9".parse().expect("uri");
        let client = kube::Client::try_from(kube::Config::new(uri)).expect("client");
        let sinks =
            ServiceSinks::kubernetes(client.clone(), DEFAULT_KUBERNETES_TEMPLATE).expect("valid");
        assert_eq!(
            sinks.for_service("acme", "fraud").describe(),
            "kubernetes:acme/rollgate-fraud"
        );
        let fixed =
            ServiceSinks::kubernetes(client.clone(), "ml/{tenant}-{service}").expect("valid");
        assert_eq!(
            fixed.for_service("acme", "fraud").describe(),
            "kubernetes:ml/acme-fraud"
        );
        assert!(ServiceSinks::kubernetes(client, "no-namespace").is_err());
    }
}
