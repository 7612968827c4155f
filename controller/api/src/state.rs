//! What every handler shares.

use crate::auth::TenantTokens;
use crate::leadership::PushGate;
use crate::metrics::Metrics;
use crate::store::Store;
use rollgate_rollout::sinks::ServiceSinks;
use std::sync::Arc;

/// Shared state of the server (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Token hashes → tenants.
    pub tokens: Arc<TenantTokens>,
    /// Where each service's filter config goes.
    pub sink: Arc<ServiceSinks>,
    /// The server's own metrics.
    pub metrics: Arc<Metrics>,
    /// Whether this replica may push now (always, without `--leader-elect`).
    pub push_gate: Arc<PushGate>,
}

impl AppState {
    /// State over an opened store, pushing to `sink` (e.g. an `Arc<MemorySink>`).
    pub fn new(store: Store, tokens: TenantTokens, sink: impl Into<ServiceSinks>) -> Self {
        AppState {
            store,
            tokens: Arc::new(tokens),
            sink: Arc::new(sink.into()),
            metrics: Arc::new(Metrics::default()),
            push_gate: Arc::new(PushGate::default()),
        }
    }
}
