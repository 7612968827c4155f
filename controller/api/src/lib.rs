//! `rollgate-api`: the REST API of `rollgate serve` (seed 001's A/B tests, canaries and
//! shadows; seed 002's model registry) as a multi-tenant axum service over SQLite.
//!
//! It is an adapter: statistics come from `rollgate-stats`, the rollout engine, gates and ECDS
//! writer from `rollgate-rollout`, config validation from `rollgate-core`. Every change to
//! an experiment recomputes its service's filter config ([`routing`]), has the filter's
//! validator accept it and pushes it through the rollout crate's sinks
//! ([`rollgate_rollout::sinks::ServiceSinks`]: ECDS file, WasmPlugin, stdout) inside the same SQLite transaction
//! ([`publish`]), so a refused config or failed push stores nothing.
//!
//! Entry points: [`app`] builds the router over an [`AppState`]; [`spawn_background`] starts
//! the auto-rollback [`monitor`] and the [`canary_driver`].

pub mod ab_ops;
pub mod auth;
pub mod canary_driver;
pub mod canary_ops;
pub mod error;
pub mod extract;
pub mod layers;
pub mod leadership;
pub mod metrics;
pub mod monitor;
pub mod openapi;
pub mod publish;
pub mod results;
pub mod routes;
pub mod routing;
pub mod state;
pub mod store;
pub mod time;
pub mod types;
pub mod validate;

pub use auth::{TenantTokens, TokensError};
pub use error::{ApiError, Problem};
pub use rollgate_rollout::sinks::{MemorySink, ServiceSinks};
pub use state::AppState;
pub use store::Store;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use routes::{ab_tests, canary, events, health, models, shadow};
use std::time::Duration;

/// The whole HTTP surface over `state`.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/ab-tests", post(ab_tests::create).get(ab_tests::list))
        .route(
            "/ab-tests/{id}",
            get(ab_tests::get)
                .put(ab_tests::update)
                .delete(ab_tests::stop),
        )
        .route("/ab-tests/{id}/results", get(events::results))
        .route("/ab-tests/{id}/events", post(events::record))
        .route("/ab-tests/{id}/promote", post(ab_tests::promote))
        .route("/ab-tests/{id}/rollback", post(ab_tests::rollback))
        .route("/canary", post(canary::start))
        .route("/canary/{id}/status", get(canary::status))
        .route("/canary/{id}/advance", post(canary::advance))
        .route("/shadow", post(shadow::start))
        .route("/shadow/{id}", get(shadow::get).delete(shadow::stop))
        .route("/models", get(models::list))
        .route(
            "/models/{model_id}/versions",
            post(models::register).get(models::versions),
        );
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .fallback(|| async { ApiError::not_found("route", "this path") })
        .layer(DefaultBodyLimit::max(extract::DEFAULT_BODY_LIMIT))
        .with_state(state)
}

/// Periods of the background tasks.
#[derive(Debug, Clone, Copy)]
pub struct BackgroundPeriods {
    /// Auto-rollback monitor pass.
    pub monitor: Duration,
    /// Canary engine tick.
    pub canary: Duration,
}

impl Default for BackgroundPeriods {
    fn default() -> Self {
        BackgroundPeriods {
            monitor: Duration::from_secs(10),
            canary: Duration::from_secs(5),
        }
    }
}

/// Starts the auto-rollback monitor and the canary driver (which resumes canaries in progress).
pub fn spawn_background(
    state: &AppState,
    periods: BackgroundPeriods,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(monitor::run(state.clone(), periods.monitor)),
        tokio::spawn(canary_driver::run(state.clone(), periods.canary)),
    ]
}
