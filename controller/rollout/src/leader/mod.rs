//! Leader election on a `coordination.k8s.io/v1` Lease, for running several replicas of
//! `rollgate run` on one WasmPlugin (docs/ha.md): one replica holds the lease and drives the
//! rollout, the others wait and take over once it expires; the rollout state stays in the
//! WasmPlugin's annotations, so the new leader resumes where the old one stopped.
//!
//! - [`decision`]: the pure rules (acquire / renew / wait, and the fence [`decision::may_act`]).
//! - [`lease_api`]: the thin Kubernetes adapter (get, create, resourceVersion-conditioned
//!   replace; a 409 Conflict means another replica won).
//! - [`elector`]: the loops: wait for the lease, then renew it in the background; the
//!   [`elector::Leadership`] it hands out is the [`Fence`] the runner checks before every
//!   write.

pub mod decision;
pub mod elector;
pub mod lease_api;

use crate::duration::format_duration_ms;
use crate::engine::UnixMillis;
use crate::error::RolloutError;

/// client-go's default lease duration (15 s).
pub const DEFAULT_LEASE_DURATION_MS: u64 = 15_000;
/// client-go's default renew deadline (10 s).
pub const DEFAULT_RENEW_DEADLINE_MS: u64 = 10_000;
/// client-go's default retry period (2 s).
pub const DEFAULT_RETRY_PERIOD_MS: u64 = 2_000;

/// Who competes for which lease, and the timings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub lease_name: String,
    /// This replica's `holderIdentity` (unique per replica, e.g. hostname + pid).
    pub identity: String,
    /// How long followers wait after the last renewal they saw before taking over.
    pub lease_duration_ms: u64,
    /// How long the leader keeps acting without a successful renewal (the fence).
    pub renew_deadline_ms: u64,
    /// Pause between two attempts to acquire or renew.
    pub retry_period_ms: u64,
}

impl LeaderConfig {
    /// Lease `namespace/lease_name` for `identity` with client-go's default timings.
    pub fn new(namespace: &str, lease_name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            lease_name: lease_name.to_string(),
            identity: identity.to_string(),
            lease_duration_ms: DEFAULT_LEASE_DURATION_MS,
            renew_deadline_ms: DEFAULT_RENEW_DEADLINE_MS,
            retry_period_ms: DEFAULT_RETRY_PERIOD_MS,
        }
    }

    /// Checks the rules client-go enforces: lease duration (whole seconds, as the Lease
    /// stores it) > renew deadline > retry period > 0, and a non-empty identity.
    pub fn validate(&self) -> Result<(), RolloutError> {
        let fail =
            |message: String| Err(RolloutError::Other(format!("leader election: {message}")));
        if self.identity.trim().is_empty() {
            return fail("the identity is empty; pass --leader-identity".to_string());
        }
        if self.lease_duration_ms < 1_000 || !self.lease_duration_ms.is_multiple_of(1_000) {
            return fail(format!(
                "--lease-duration {} must be a whole number of seconds, at least 1s (the Lease \
                 stores leaseDurationSeconds)",
                format_duration_ms(self.lease_duration_ms)
            ));
        }
        if self.renew_deadline_ms >= self.lease_duration_ms {
            return fail(format!(
                "--renew-deadline {} must be shorter than --lease-duration {} (the leader must \
                 stop before followers may take over)",
                format_duration_ms(self.renew_deadline_ms),
                format_duration_ms(self.lease_duration_ms)
            ));
        }
        if self.retry_period_ms == 0 || self.retry_period_ms >= self.renew_deadline_ms {
            return fail(format!(
                "--retry-period {} must be above 0 and shorter than --renew-deadline {}",
                format_duration_ms(self.retry_period_ms),
                format_duration_ms(self.renew_deadline_ms)
            ));
        }
        Ok(())
    }

    /// `namespace/name` of the Lease, for messages.
    pub fn lease_ref(&self) -> String {
        format!("{}/{}", self.namespace, self.lease_name)
    }
}

/// The default identity: `<hostname>-<pid>` (in a pod the hostname is the pod's name).
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rollgate".to_string());
    format!("{host}-{}", std::process::id())
}

/// Asked by the runner before every write: may this controller act now?
pub trait Fence: Send + Sync {
    /// `Ok` while acting is allowed; [`RolloutError::LeadershipLost`] otherwise.
    fn check(&self, now: UnixMillis) -> Result<(), RolloutError>;
}

/// No leader election: always allowed (one controller per state is then the state lock's job).
pub struct Unfenced;

impl Fence for Unfenced {
    fn check(&self, _: UnixMillis) -> Result<(), RolloutError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_go_defaults_are_valid_and_bad_orders_are_refused() {
        let good = LeaderConfig::new("ml", "l", "a");
        assert_eq!(good.validate().ok(), Some(()));
        let with = |lease, renew, retry| LeaderConfig {
            lease_duration_ms: lease,
            renew_deadline_ms: renew,
            retry_period_ms: retry,
            ..good.clone()
        };
        assert!(with(2_000, 1_000, 200).validate().is_ok());
        for (lease, renew, retry) in [
            (10_000, 10_000, 2_000),
            (1_500, 1_000, 200),
            (500, 100, 50),
            (15_000, 10_000, 10_000),
            (15_000, 10_000, 0),
        ] {
            let err = with(lease, renew, retry).validate().expect_err("refused");
            assert!(err.to_string().contains("--"), "{err}");
        }
        let nobody = LeaderConfig {
            identity: " ".into(),
            ..good
        };
        assert!(nobody.validate().is_err());
    }

    #[test]
    fn the_default_identity_ends_with_the_pid() {
        let id = default_identity();
        assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
        assert!(id.len() > 2);
    }
}
