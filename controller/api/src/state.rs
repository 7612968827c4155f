//! What every handler shares.

use crate::auth::TenantTokens;
use crate::metrics::Metrics;
use crate::sink::ConfigSink;
use crate::store::Store;
use std::sync::Arc;

/// Shared state of the server (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Token hashes → tenants.
    pub tokens: Arc<TenantTokens>,
    /// Where filter configs go.
    pub sink: Arc<dyn ConfigSink>,
    /// The server's own metrics.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State over an opened store.
    pub fn new(store: Store, tokens: TenantTokens, sink: Arc<dyn ConfigSink>) -> Self {
        AppState {
            store,
            tokens: Arc::new(tokens),
            sink,
            metrics: Arc::new(Metrics::default()),
        }
    }
}
