//! `rollgate run --leader-elect`: the flags of leader election on a Kubernetes Lease and the
//! wait for leadership (docs/ha.md). A leader that loses the lease exits with
//! [`EXIT_LEADERSHIP_LOST`].

use anyhow::Context as _;
use rollgate_rollout::duration::parse_duration_ms;
use rollgate_rollout::leader::elector::{LeaderElector, Leadership};
use rollgate_rollout::leader::lease_api::LeaseApi;
use rollgate_rollout::leader::{default_identity, LeaderConfig};
use rollgate_rollout::sinks::default_kube_client;
use rollgate_rollout::spec::{Rollout, SinkTarget};
use std::sync::Arc;

/// Exit code of a leader that lost its lease and stopped acting.
pub const EXIT_LEADERSHIP_LOST: u8 = 5;

/// Leader-election flags of `rollgate run`.
#[derive(clap::Args, Debug, Clone)]
pub struct LeaderArgs {
    /// Run as one of several replicas: act only while holding a coordination.k8s.io/v1
    /// Lease (kubernetes sink only); followers wait and take over when it expires.
    #[arg(long)]
    pub leader_elect: bool,
    /// Name of the Lease [default: run: rollgate-<wasm_plugin>; serve: rollgate-serve].
    #[arg(long, requires = "leader_elect")]
    pub lease_name: Option<String>,
    /// Namespace of the Lease [default: run: the WasmPlugin's namespace; serve: default].
    #[arg(long, requires = "leader_elect")]
    pub lease_namespace: Option<String>,
    /// This replica's holderIdentity [default: <hostname>-<pid>].
    #[arg(long, requires = "leader_elect")]
    pub leader_identity: Option<String>,
    /// How long followers wait, after the last renewal they saw, before taking over (whole
    /// seconds).
    #[arg(long, default_value = "15s")]
    pub lease_duration: String,
    /// How long the leader keeps acting without a successful renewal; shorter than the lease
    /// duration.
    #[arg(long, default_value = "10s")]
    pub renew_deadline: String,
    /// Pause between two attempts to acquire or renew the lease.
    #[arg(long, default_value = "2s")]
    pub retry_period: String,
}

impl LeaderArgs {
    /// The election settings for `rollout`, `None` without `--leader-elect`.
    pub fn config(&self, rollout: &Rollout) -> anyhow::Result<Option<LeaderConfig>> {
        if !self.leader_elect {
            return Ok(None);
        }
        let SinkTarget::Kubernetes {
            wasm_plugin,
            namespace,
        } = &rollout.sink
        else {
            anyhow::bail!(
                "--leader-elect needs the kubernetes sink (the state must live in the WasmPlugin \
                 so another replica can resume); this rollout's state is a local file, which \
                 `rollgate run` already locks"
            );
        };
        self.config_defaulting(namespace, &format!("rollgate-{wasm_plugin}"))
            .map(Some)
    }

    /// The election settings with `namespace` and `lease_name` as the defaults of
    /// `--lease-namespace` and `--lease-name`.
    pub fn config_defaulting(
        &self,
        namespace: &str,
        lease_name: &str,
    ) -> anyhow::Result<LeaderConfig> {
        let duration = |flag: &str, text: &str| {
            parse_duration_ms(text).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
        };
        let config = LeaderConfig {
            namespace: self
                .lease_namespace
                .clone()
                .unwrap_or_else(|| namespace.to_string()),
            lease_name: self
                .lease_name
                .clone()
                .unwrap_or_else(|| lease_name.to_string()),
            identity: self
                .leader_identity
                .clone()
                .unwrap_or_else(default_identity),
            lease_duration_ms: duration("lease-duration", &self.lease_duration)?,
            renew_deadline_ms: duration("renew-deadline", &self.renew_deadline)?,
            retry_period_ms: duration("retry-period", &self.retry_period)?,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Waits, as follower, until this replica holds the lease of `config`.
pub async fn acquire(config: LeaderConfig) -> anyhow::Result<Leadership> {
    acquire_watching(config, Arc::new(|_: &str| {})).await
}

/// Like [`acquire`], calling `on_holder` with the holder each time the lease is seen held by
/// another replica.
pub async fn acquire_watching(
    config: LeaderConfig,
    on_holder: rollgate_rollout::leader::elector::Report,
) -> anyhow::Result<Leadership> {
    let client = default_kube_client().await?;
    let leases = LeaseApi::new(client, &config.namespace, &config.lease_name);
    let report = Arc::new(|line: &str| eprintln!("rollgate: {line}"));
    let elector = LeaderElector::new(leases, config, super::rollout_common::now_ms, report)
        .context("leader election")?
        .watch_holder(on_holder);
    Ok(elector.acquire().await)
}
