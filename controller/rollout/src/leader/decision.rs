//! The pure part of leader election: given the lease as last observed, my identity and the
//! clock, what to do next ([`decide`]), and whether a leader may still act ([`may_act`]).
//!
//! Expiry is judged like client-go does: from the local time at which the lease record was
//! last seen to change ([`Observed::seen_at_ms`]) plus the holder's lease duration, never from
//! the `renewTime` written by another machine, so clock skew between replicas does not matter.

use super::LeaderConfig;
use crate::engine::UnixMillis;

/// The fields of a `coordination.k8s.io/v1` Lease's spec that leader election uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// `holderIdentity`; `None` (or empty) when released.
    pub holder: Option<String>,
    /// `acquireTime` (Unix ms): when the current holder took the lease.
    pub acquire_time_ms: Option<UnixMillis>,
    /// `renewTime` (Unix ms): the holder's last renewal.
    pub renew_time_ms: Option<UnixMillis>,
    /// `leaseDurationSeconds`, in ms: how long others wait after a renewal.
    pub lease_duration_ms: u64,
    /// `leaseTransitions`: how many times the holder changed.
    pub transitions: u32,
}

/// A lease as read from the API, with when this process saw it change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The lease's spec.
    pub record: LeaseRecord,
    /// `metadata.resourceVersion`, the condition of the next update.
    pub resource_version: String,
    /// Local time at which this record (or resourceVersion) was first seen.
    pub seen_at_ms: UnixMillis,
}

/// What to do with the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// There is no lease: create it with this record.
    Create(LeaseRecord),
    /// The lease is free or expired: take it over with this record (conditioned on the
    /// observed resourceVersion).
    Acquire(LeaseRecord),
    /// I hold the lease: renew it with this record (conditioned on the observed
    /// resourceVersion).
    Renew(LeaseRecord),
    /// Someone else holds a live lease: wait (a leader that gets this stands down).
    Wait {
        /// The current holder.
        holder: String,
        /// Local time at which the lease expires unless renewed.
        expires_at_ms: UnixMillis,
    },
}

/// Folds a freshly read lease into the observation: `seen_at_ms` moves to `now` only when
/// the record or its resourceVersion changed.
pub fn observe(
    previous: Option<&Observed>,
    record: LeaseRecord,
    resource_version: String,
    now: UnixMillis,
) -> Observed {
    let seen_at_ms = match previous {
        Some(p) if p.record == record && p.resource_version == resource_version => p.seen_at_ms,
        _ => now,
    };
    Observed {
        record,
        resource_version,
        seen_at_ms,
    }
}

/// The next step of candidate `identity` given the lease `observed` (`None`: no lease).
pub fn decide(
    observed: Option<&Observed>,
    identity: &str,
    config: &LeaderConfig,
    now: UnixMillis,
) -> Decision {
    let mine = |acquire_time_ms, transitions| LeaseRecord {
        holder: Some(identity.to_string()),
        acquire_time_ms: Some(acquire_time_ms),
        renew_time_ms: Some(now),
        lease_duration_ms: config.lease_duration_ms,
        transitions,
    };
    let Some(observed) = observed else {
        return Decision::Create(mine(now, 0));
    };
    let record = &observed.record;
    match record.holder.as_deref().filter(|h| !h.is_empty()) {
        Some(holder) if holder == identity => Decision::Renew(mine(
            record.acquire_time_ms.unwrap_or(now),
            record.transitions,
        )),
        Some(holder) => {
            let duration = if record.lease_duration_ms == 0 {
                config.lease_duration_ms
            } else {
                record.lease_duration_ms
            };
            let expires_at_ms = observed.seen_at_ms.saturating_add(duration);
            if now < expires_at_ms {
                Decision::Wait {
                    holder: holder.to_string(),
                    expires_at_ms,
                }
            } else {
                Decision::Acquire(mine(now, record.transitions.saturating_add(1)))
            }
        }
        None => Decision::Acquire(mine(now, record.transitions.saturating_add(1))),
    }
}

/// The fence: a leader may act (push, persist) only while `now` is before its last
/// successful renewal (the local time the renewal was sent) plus the renew deadline. The
/// renew deadline is shorter than the lease duration, so a leader whose renewals fail stops
/// before any other replica can consider the lease expired.
pub fn may_act(last_renew_ms: UnixMillis, renew_deadline_ms: u64, now: UnixMillis) -> bool {
    now < last_renew_ms.saturating_add(renew_deadline_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LeaderConfig {
        LeaderConfig::new("ml", "rollgate-fraud", "a-1")
    }

    fn held_by(holder: &str, seen_at_ms: UnixMillis, transitions: u32) -> Observed {
        Observed {
            record: LeaseRecord {
                holder: Some(holder.to_string()),
                acquire_time_ms: Some(500),
                renew_time_ms: Some(seen_at_ms),
                lease_duration_ms: 15_000,
                transitions,
            },
            resource_version: "7".to_string(),
            seen_at_ms,
        }
    }

    #[test]
    fn a_missing_lease_is_created_with_me_as_holder() {
        let Decision::Create(record) = decide(None, "a-1", &config(), 1_000) else {
            panic!("expected Create");
        };
        assert_eq!(record.holder.as_deref(), Some("a-1"));
        assert_eq!(
            (record.acquire_time_ms, record.renew_time_ms),
            (Some(1_000), Some(1_000))
        );
        assert_eq!((record.lease_duration_ms, record.transitions), (15_000, 0));
    }

    #[test]
    fn my_own_lease_is_renewed_keeping_acquire_time_and_transitions() {
        let observed = held_by("a-1", 1_000, 3);
        let Decision::Renew(record) = decide(Some(&observed), "a-1", &config(), 3_000) else {
            panic!("expected Renew");
        };
        assert_eq!(record.acquire_time_ms, Some(500));
        assert_eq!(record.renew_time_ms, Some(3_000));
        assert_eq!(record.transitions, 3);
    }

    #[test]
    fn another_holders_live_lease_means_wait_until_it_expires_then_take_over() {
        let observed = held_by("b-2", 1_000, 3);
        for now in [1_000, 10_000, 15_999] {
            assert_eq!(
                decide(Some(&observed), "a-1", &config(), now),
                Decision::Wait {
                    holder: "b-2".to_string(),
                    expires_at_ms: 16_000
                },
                "at {now}"
            );
        }
        let Decision::Acquire(record) = decide(Some(&observed), "a-1", &config(), 16_000) else {
            panic!("expected Acquire at expiry");
        };
        assert_eq!(record.holder.as_deref(), Some("a-1"));
        assert_eq!(record.acquire_time_ms, Some(16_000));
        assert_eq!(record.transitions, 4, "a change of holder is a transition");
    }

    #[test]
    fn expiry_uses_the_holders_duration_from_when_the_change_was_seen_not_its_renew_time() {
        let mut observed = held_by("b-2", 1_000, 0);
        observed.record.lease_duration_ms = 2_000;
        observed.record.renew_time_ms = Some(999_999_999);
        assert!(matches!(
            decide(Some(&observed), "a-1", &config(), 2_999),
            Decision::Wait {
                expires_at_ms: 3_000,
                ..
            }
        ));
        assert!(matches!(
            decide(Some(&observed), "a-1", &config(), 3_000),
            Decision::Acquire(_)
        ));
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let mut observed = held_by("", 1_000, 2);
        observed.record.holder = Some(String::new());
        let Decision::Acquire(record) = decide(Some(&observed), "a-1", &config(), 1_001) else {
            panic!("expected Acquire");
        };
        assert_eq!(record.transitions, 3);
        observed.record.holder = None;
        assert!(matches!(
            decide(Some(&observed), "a-1", &config(), 1_001),
            Decision::Acquire(_)
        ));
    }

    #[test]
    fn observing_keeps_the_first_sighting_until_the_record_changes() {
        let first = observe(None, held_by("b-2", 0, 0).record, "7".into(), 1_000);
        assert_eq!(first.seen_at_ms, 1_000);
        let same = observe(Some(&first), first.record.clone(), "7".into(), 9_000);
        assert_eq!(same.seen_at_ms, 1_000, "an unchanged lease keeps ageing");
        let renewed = observe(Some(&same), first.record.clone(), "8".into(), 9_000);
        assert_eq!(
            renewed.seen_at_ms, 9_000,
            "a new resourceVersion is a renewal"
        );
    }

    #[test]
    fn the_fence_closes_at_last_renew_plus_renew_deadline() {
        assert!(may_act(1_000, 10_000, 1_000));
        assert!(may_act(1_000, 10_000, 10_999));
        assert!(!may_act(1_000, 10_000, 11_000));
        assert!(!may_act(1_000, 10_000, 60_000));
    }

    #[test]
    fn a_fenced_leader_stops_before_a_follower_may_take_over() {
        // Fake clock: the leader's last good renewal was sent at t=1000; the follower saw it
        // (the new resourceVersion) no earlier than that.
        let config = config();
        let follower_view = held_by("a-1", 1_000, 0);
        let mut now = 1_000;
        let mut last_leader_act = None;
        let mut takeover = None;
        while takeover.is_none() {
            if may_act(1_000, config.renew_deadline_ms, now) {
                last_leader_act = Some(now);
            }
            if let Decision::Acquire(_) = decide(Some(&follower_view), "b-2", &config, now) {
                takeover = Some(now);
            }
            now += 100;
        }
        let (last, takeover) = (last_leader_act.expect("acted"), takeover.expect("took"));
        assert!(
            last < takeover,
            "leader acted at {last}, follower took over at {takeover}"
        );
        assert_eq!(
            takeover - last,
            5_100,
            "lease 15 s - renew deadline 10 s margin"
        );
    }
}
