//! The push gate of `rollgate serve --leader-elect` (docs/ha.md): replicas share one
//! database, and only the holder of the Lease pushes configs. Every push, from a background
//! driver or an HTTP write, passes [`PushGate::check`] inside [`crate::publish::push_service`],
//! so a follower (or a leader past its renew deadline) answers 503 and stores nothing.

use crate::error::{ApiError, ApiResult};
use rollgate_rollout::engine::UnixMillis;
use rollgate_rollout::leader::Fence;
use std::sync::{Arc, Mutex};

/// Where this replica stands.
enum Standing {
    /// No leader election: every push is allowed.
    Unelected,
    /// Waiting for the lease; `leader` is the holder last seen.
    Following {
        lease: String,
        leader: Option<String>,
    },
    /// Holding the lease; the fence says whether it may still act.
    Leading {
        lease: String,
        fence: Arc<dyn Fence>,
    },
}

/// Shared by the handlers, the drivers and the election task.
pub struct PushGate {
    standing: Mutex<Standing>,
}

impl Default for PushGate {
    fn default() -> Self {
        Self {
            standing: Mutex::new(Standing::Unelected),
        }
    }
}

impl PushGate {
    /// A follower of Lease `lease` (`namespace/name`) that has not seen its holder yet.
    pub fn follower(lease: &str) -> Self {
        Self {
            standing: Mutex::new(Standing::Following {
                lease: lease.to_string(),
                leader: None,
            }),
        }
    }

    /// The election saw `holder` holding the lease (followers name it in their 503s).
    pub fn saw_leader(&self, holder: &str) {
        if let Ok(mut standing) = self.standing.lock() {
            if let Standing::Following { leader, .. } = &mut *standing {
                *leader = Some(holder.to_string());
            }
        }
    }

    /// This replica now holds the lease; pushes are allowed while `fence` allows them.
    pub fn lead(&self, fence: Arc<dyn Fence>) {
        if let Ok(mut standing) = self.standing.lock() {
            let lease = match &*standing {
                Standing::Following { lease, .. } | Standing::Leading { lease, .. } => {
                    lease.clone()
                }
                Standing::Unelected => String::new(),
            };
            *standing = Standing::Leading { lease, fence };
        }
    }

    /// `Ok` when this replica may push at `now`; [`ApiError::NotLeader`] (503) otherwise.
    pub fn check(&self, now: UnixMillis) -> ApiResult<()> {
        let standing = self
            .standing
            .lock()
            .map_err(|_| ApiError::Internal("the push gate's lock is poisoned".to_string()))?;
        match &*standing {
            Standing::Unelected => Ok(()),
            Standing::Following { lease, leader } => Err(ApiError::NotLeader {
                lease: lease.clone(),
                leader: leader
                    .clone()
                    .unwrap_or_else(|| "not known yet: the lease was not read".to_string()),
            }),
            Standing::Leading { lease, fence } => {
                fence.check(now).map_err(|e| ApiError::NotLeader {
                    lease: lease.clone(),
                    leader: format!("this replica stopped leading: {e}"),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollgate_rollout::error::RolloutError;

    struct Until(UnixMillis);

    impl Fence for Until {
        fn check(&self, now: UnixMillis) -> Result<(), RolloutError> {
            if now < self.0 {
                Ok(())
            } else {
                Err(RolloutError::LeadershipLost("renew deadline passed".into()))
            }
        }
    }

    #[test]
    fn a_follower_refuses_with_503_naming_the_leader_and_a_leader_obeys_its_fence() {
        assert!(PushGate::default().check(0).is_ok());
        let gate = PushGate::follower("ml/rollgate-serve");
        gate.saw_leader("serve-a");
        let err = gate.check(0).expect_err("a follower never pushes");
        assert_eq!(err.status().as_u16(), 503);
        let text = err.to_string();
        assert!(
            text.contains("serve-a") && text.contains("ml/rollgate-serve"),
            "{text}"
        );
        gate.lead(Arc::new(Until(1_000)));
        assert!(gate.check(999).is_ok());
        let err = gate.check(1_000).expect_err("fence closed");
        assert_eq!(err.status().as_u16(), 503);
        assert!(err.to_string().contains("renew deadline"), "{err}");
    }
}
