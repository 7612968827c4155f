//! The server's own Prometheus metrics (`GET /metrics`, text exposition format).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the API server.
#[derive(Debug, Default)]
pub struct Metrics {
    events_ingested: AtomicU64,
    config_pushes: AtomicU64,
    config_push_failures: AtomicU64,
    auto_rollbacks: AtomicU64,
    expirations: AtomicU64,
    monitor_runs: AtomicU64,
}

impl Metrics {
    /// Events stored.
    pub fn events(&self, n: usize) {
        self.events_ingested.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// A config push succeeded.
    pub fn pushed(&self) {
        self.config_pushes.fetch_add(1, Ordering::Relaxed);
    }
    /// A config push failed.
    pub fn push_failed(&self) {
        self.config_push_failures.fetch_add(1, Ordering::Relaxed);
    }
    /// The monitor rolled an experiment back (an alert).
    pub fn auto_rollback(&self) {
        self.auto_rollbacks.fetch_add(1, Ordering::Relaxed);
    }
    /// The monitor ended an experiment past its maximum duration.
    pub fn expired(&self) {
        self.expirations.fetch_add(1, Ordering::Relaxed);
    }
    /// One monitor pass over every active experiment.
    pub fn monitor_ran(&self) {
        self.monitor_runs.fetch_add(1, Ordering::Relaxed);
    }

    /// Auto-rollbacks so far.
    pub fn auto_rollbacks(&self) -> u64 {
        self.auto_rollbacks.load(Ordering::Relaxed)
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            (
                "rollgate_api_events_ingested_total",
                "Outcome events stored.",
                &self.events_ingested,
            ),
            (
                "rollgate_api_config_pushes_total",
                "Filter configs pushed to the sink.",
                &self.config_pushes,
            ),
            (
                "rollgate_api_config_push_failures_total",
                "Filter config pushes the sink failed.",
                &self.config_push_failures,
            ),
            (
                "rollgate_api_auto_rollbacks_total",
                "A/B tests rolled back by the auto-rollback monitor (alerts).",
                &self.auto_rollbacks,
            ),
            (
                "rollgate_api_expired_total",
                "A/B tests ended past max_duration_hours.",
                &self.expirations,
            ),
            (
                "rollgate_api_monitor_runs_total",
                "Passes of the auto-rollback monitor.",
                &self.monitor_runs,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}
