//! The leader-election loops around [`super::decision`]: [`LeaderElector::acquire`] waits as
//! a follower until this replica holds the lease; the [`Leadership`] it returns renews the
//! lease every retry period in the background and is the runner's [`Fence`]. A leader that
//! sees another holder, or cannot renew within the renew deadline, has lost leadership for
//! good: the fence stays closed and the process is expected to stop (`rollgate run` exits 5).

use super::decision::{decide, may_act, observe, Decision, Observed};
use super::lease_api::{LeaseApi, Written};
use super::{Fence, LeaderConfig};
use crate::duration::format_duration_ms;
use crate::engine::UnixMillis;
use crate::error::RolloutError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The clock the loops read (Unix ms).
pub type Clock = fn() -> UnixMillis;

/// Where progress messages go (the CLI prints them on stderr).
pub type Report = Arc<dyn Fn(&str) + Send + Sync>;

/// Competes for one lease.
pub struct LeaderElector {
    leases: LeaseApi,
    config: LeaderConfig,
    clock: Clock,
    report: Report,
    on_holder: Option<Report>,
}

impl LeaderElector {
    /// An elector for `config`'s lease through `leases`.
    pub fn new(
        leases: LeaseApi,
        config: LeaderConfig,
        clock: Clock,
        report: Report,
    ) -> Result<Self, RolloutError> {
        config.validate()?;
        Ok(Self {
            leases,
            config,
            clock,
            report,
            on_holder: None,
        })
    }

    /// Calls `on_holder` with the current holder's identity each time a follower reads the
    /// lease held by another replica (e.g. so `rollgate serve` can name the leader).
    pub fn watch_holder(mut self, on_holder: Report) -> Self {
        self.on_holder = Some(on_holder);
        self
    }

    /// Waits (retrying every retry period) until this replica holds the lease, then starts
    /// renewing it in the background. API errors while following are reported and retried.
    pub async fn acquire(self) -> Leadership {
        let mut observed: Option<Observed> = None;
        let mut last_message = String::new();
        loop {
            match self.try_acquire(&mut observed).await {
                Ok(Some(sent_at)) => {
                    (self.report)(&format!(
                        "leader election: {} holds Lease {}",
                        self.config.identity,
                        self.config.lease_ref()
                    ));
                    return Leadership::start(self, observed, sent_at);
                }
                Ok(None) => {}
                Err(e) => {
                    let message = format!("leader election: {e}; retrying");
                    if message != last_message {
                        (self.report)(&message);
                        last_message = message;
                    }
                }
            }
            if let Some(Decision::Wait { holder, .. }) = observed
                .as_ref()
                .map(|o| decide(Some(o), &self.config.identity, &self.config, (self.clock)()))
            {
                if let Some(on_holder) = &self.on_holder {
                    on_holder(&holder);
                }
                let message = format!(
                    "leader election: Lease {} is held by {holder}; waiting (as follower) to take over once it expires",
                    self.config.lease_ref()
                );
                if message != last_message {
                    (self.report)(&message);
                    last_message = message;
                }
            }
            tokio::time::sleep(Duration::from_millis(self.config.retry_period_ms)).await;
        }
    }

    /// One attempt: `Some(sent_at)` when this replica now holds the lease.
    async fn try_acquire(
        &self,
        observed: &mut Option<Observed>,
    ) -> Result<Option<UnixMillis>, RolloutError> {
        self.refresh(observed).await?;
        let now = (self.clock)();
        let (record, written) =
            match decide(observed.as_ref(), &self.config.identity, &self.config, now) {
                Decision::Wait { .. } => return Ok(None),
                Decision::Create(record) => {
                    let written = self.leases.create(&record).await?;
                    (record, written)
                }
                Decision::Acquire(record) | Decision::Renew(record) => match observed.as_ref() {
                    Some(o) => {
                        let written = self.leases.replace(o, &record).await?;
                        (record, written)
                    }
                    None => return Ok(None),
                },
            };
        match written {
            Written::Ok(rv) => {
                *observed = Some(observe(None, record, rv, now));
                Ok(Some(now))
            }
            Written::Conflict => Ok(None),
        }
    }

    async fn refresh(&self, observed: &mut Option<Observed>) -> Result<(), RolloutError> {
        let now = (self.clock)();
        *observed = self
            .leases
            .get()
            .await?
            .map(|(record, rv)| observe(observed.as_ref(), record, rv, now));
        Ok(())
    }

    /// One renewal attempt (an `Err` is an API failure, retried until the renew deadline).
    async fn try_renew(&self, observed: &mut Option<Observed>) -> Result<Renewal, RolloutError> {
        self.refresh(observed).await?;
        let now = (self.clock)();
        match decide(observed.as_ref(), &self.config.identity, &self.config, now) {
            Decision::Renew(record) => match observed.as_ref() {
                Some(o) => match self.leases.replace(o, &record).await? {
                    Written::Ok(rv) => {
                        *observed = Some(observe(None, record, rv, now));
                        Ok(Renewal::Renewed(now))
                    }
                    Written::Conflict => Ok(Renewal::Retry),
                },
                None => Ok(Renewal::Retry),
            },
            Decision::Wait { holder, .. } => Ok(Renewal::Taken(holder)),
            Decision::Create(_) | Decision::Acquire(_) => Ok(Renewal::Taken(
                "nobody (the lease was deleted or released)".to_string(),
            )),
        }
    }
}

enum Renewal {
    Renewed(UnixMillis),
    Retry,
    Taken(String),
}

#[derive(Default)]
struct Shared {
    last_renew_ms: AtomicU64,
    lost: Mutex<Option<String>>,
    observed: Mutex<Option<Observed>>,
}

impl Shared {
    fn observed(&self) -> Option<Observed> {
        self.observed.lock().ok().and_then(|o| o.clone())
    }

    fn set_observed(&self, observed: Option<Observed>) {
        if let Ok(mut slot) = self.observed.lock() {
            *slot = observed;
        }
    }
}

/// This replica holds the lease. Renews it in the background; [`Fence::check`] says whether
/// it may still act. Dropping it stops renewing (use [`Leadership::release`] to hand the
/// lease over at once).
pub struct Leadership {
    shared: Arc<Shared>,
    elector: Arc<LeaderElector>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Leadership {
    fn start(elector: LeaderElector, observed: Option<Observed>, sent_at: UnixMillis) -> Self {
        let shared = Arc::new(Shared::default());
        shared.last_renew_ms.store(sent_at, Ordering::SeqCst);
        shared.set_observed(observed);
        let elector = Arc::new(elector);
        let renewer = tokio::spawn(renew_loop(Arc::clone(&elector), Arc::clone(&shared)));
        Self {
            shared,
            elector,
            renewer,
        }
    }

    /// Why leadership was lost, once it was.
    pub fn lost(&self) -> Option<String> {
        self.shared.lost.lock().ok().and_then(|l| l.clone())
    }

    /// Stops renewing and, if still leader, releases the lease (holder cleared, duration
    /// 1 s) so a follower takes over without waiting for expiry. Best effort: a failure is
    /// reported, not returned (the lease then simply expires).
    pub async fn release(self, now: UnixMillis) {
        let still_leader = self.check(now).is_ok();
        self.renewer.abort();
        let Some(observed) = self.shared.observed().filter(|_| still_leader) else {
            return;
        };
        let mut record = observed.record.clone();
        record.holder = None;
        record.lease_duration_ms = 1_000;
        record.renew_time_ms = Some(now);
        match self.elector.leases.replace(&observed, &record).await {
            Ok(Written::Ok(_)) => (self.elector.report)(&format!(
                "leader election: released Lease {}",
                self.elector.config.lease_ref()
            )),
            Ok(Written::Conflict) => {}
            Err(e) => (self.elector.report)(&format!("leader election: releasing: {e}")),
        }
    }
}

impl Fence for Leadership {
    fn check(&self, now: UnixMillis) -> Result<(), RolloutError> {
        if let Some(reason) = self.lost() {
            return Err(RolloutError::LeadershipLost(reason));
        }
        let last = self.shared.last_renew_ms.load(Ordering::SeqCst);
        let deadline = self.elector.config.renew_deadline_ms;
        if may_act(last, deadline, now) {
            Ok(())
        } else {
            Err(RolloutError::LeadershipLost(format!(
                "Lease {} was not renewed within the renew deadline {} (last renewal {} ms ago)",
                self.elector.config.lease_ref(),
                format_duration_ms(deadline),
                now.saturating_sub(last)
            )))
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

async fn renew_loop(elector: Arc<LeaderElector>, shared: Arc<Shared>) {
    let period = Duration::from_millis(elector.config.retry_period_ms);
    let mut last_error = String::from("no answer yet");
    loop {
        tokio::time::sleep(period).await;
        let mut observed = shared.observed();
        let lost = match elector.try_renew(&mut observed).await {
            Ok(Renewal::Renewed(sent_at)) => {
                shared.last_renew_ms.store(sent_at, Ordering::SeqCst);
                None
            }
            Ok(Renewal::Retry) => None,
            Ok(Renewal::Taken(holder)) => Some(format!(
                "Lease {} is now held by {holder}",
                elector.config.lease_ref()
            )),
            Err(e) => {
                last_error = e.to_string();
                None
            }
        };
        shared.set_observed(observed);
        let now = (elector.clock)();
        let last = shared.last_renew_ms.load(Ordering::SeqCst);
        let lost = lost.or_else(|| {
            (!may_act(last, elector.config.renew_deadline_ms, now)).then(|| {
                format!(
                    "could not renew Lease {} within the renew deadline {} ({last_error})",
                    elector.config.lease_ref(),
                    format_duration_ms(elector.config.renew_deadline_ms)
                )
            })
        });
        if let Some(reason) = lost {
            (elector.report)(&format!("leader election: lost leadership: {reason}"));
            if let Ok(mut slot) = shared.lost.lock() {
                *slot = Some(reason);
            }
            return;
        }
    }
}
