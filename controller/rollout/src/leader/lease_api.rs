//! The Kubernetes side of leader election: read, create and replace one
//! `coordination.k8s.io/v1` Lease. Replaces carry the observed `resourceVersion`, so the API
//! server refuses (409 Conflict) an update based on a stale read: another replica won.

use super::decision::{LeaseRecord, Observed};
use crate::engine::UnixMillis;
use crate::error::RolloutError;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;

/// The result of a conditioned write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The API server took it; the new resourceVersion.
    Ok(String),
    /// 409: the lease was created or changed by someone else since it was read.
    Conflict,
}

/// One Lease in one namespace.
#[derive(Clone)]
pub struct LeaseApi {
    api: Api<Lease>,
    namespace: String,
    name: String,
}

impl LeaseApi {
    /// The Lease `namespace/name`, reached through `client`.
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The lease's record and resourceVersion, `None` when it does not exist (404).
    pub async fn get(&self) -> Result<Option<(LeaseRecord, String)>, RolloutError> {
        let lease = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error("reading", &e))?;
        Ok(lease.map(|lease| {
            let rv = lease.metadata.resource_version.clone().unwrap_or_default();
            (record_of(lease.spec.unwrap_or_default()), rv)
        }))
    }

    /// Creates the lease with `record`; [`Written::Conflict`] when it already exists.
    pub async fn create(&self, record: &LeaseRecord) -> Result<Written, RolloutError> {
        let lease = self.lease(record, None);
        let result = self.api.create(&PostParams::default(), &lease).await;
        self.written(result, "creating")
    }

    /// Replaces the lease with `record`, conditioned on `observed`'s resourceVersion.
    pub async fn replace(
        &self,
        observed: &Observed,
        record: &LeaseRecord,
    ) -> Result<Written, RolloutError> {
        let lease = self.lease(record, Some(observed.resource_version.clone()));
        let result = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await;
        self.written(result, "updating")
    }

    fn lease(&self, record: &LeaseRecord, resource_version: Option<String>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                resource_version,
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: record.holder.clone(),
                acquire_time: record.acquire_time_ms.and_then(micro_time),
                renew_time: record.renew_time_ms.and_then(micro_time),
                lease_duration_seconds: i32::try_from(record.lease_duration_ms / 1_000).ok(),
                lease_transitions: i32::try_from(record.transitions).ok(),
                ..LeaseSpec::default()
            }),
        }
    }

    fn written(
        &self,
        result: Result<Lease, kube::Error>,
        action: &str,
    ) -> Result<Written, RolloutError> {
        match result {
            Ok(lease) => Ok(Written::Ok(
                lease.metadata.resource_version.unwrap_or_default(),
            )),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Written::Conflict),
            Err(e) => Err(self.error(action, &e)),
        }
    }

    fn error(&self, action: &str, err: &kube::Error) -> RolloutError {
        RolloutError::Kubernetes(format!(
            "{action} Lease {}/{}: {err} (check the controller may get, create and update \
             leases.coordination.k8s.io in that namespace)",
            self.namespace, self.name
        ))
    }
}

fn record_of(spec: LeaseSpec) -> LeaseRecord {
    LeaseRecord {
        holder: spec.holder_identity.filter(|h| !h.is_empty()),
        acquire_time_ms: spec.acquire_time.and_then(|t| unix_ms(&t)),
        renew_time_ms: spec.renew_time.and_then(|t| unix_ms(&t)),
        lease_duration_ms: spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(0, |s| s.saturating_mul(1_000)),
        transitions: spec
            .lease_transitions
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(0),
    }
}

fn micro_time(ms: UnixMillis) -> Option<MicroTime> {
    let ms = i64::try_from(ms).ok()?;
    Timestamp::from_millisecond(ms).ok().map(MicroTime)
}

fn unix_ms(time: &MicroTime) -> Option<UnixMillis> {
    u64::try_from(time.0.as_millisecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_the_lease_object_round_trip() {
        let record = LeaseRecord {
            holder: Some("pod-a-7".into()),
            acquire_time_ms: Some(1_700_000_000_123),
            renew_time_ms: Some(1_700_000_004_567),
            lease_duration_ms: 15_000,
            transitions: 3,
        };
        let spec = LeaseSpec {
            holder_identity: record.holder.clone(),
            acquire_time: record.acquire_time_ms.and_then(micro_time),
            renew_time: record.renew_time_ms.and_then(micro_time),
            lease_duration_seconds: Some(15),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        };
        let json = serde_json::to_value(&spec).expect("serialize");
        // MicroTime: RFC 3339 with microseconds, as the API server writes it.
        assert_eq!(json["renewTime"], "2023-11-14T22:13:24.567000Z");
        let back: LeaseSpec = serde_json::from_value(json).expect("parse");
        assert_eq!(record_of(back), record);
        let released = record_of(LeaseSpec {
            holder_identity: Some(String::new()),
            ..LeaseSpec::default()
        });
        assert_eq!(released.holder, None);
    }
}
