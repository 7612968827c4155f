//! `rollgate serve`: the REST API (A/B tests, canaries, shadows, model registry) over SQLite.
//! With `--leader-elect` (docs/ha.md) replicas share the database and only the Lease holder
//! runs the background drivers and pushes; followers serve reads and answer pushing writes
//! with 503 naming the leader. A leader that loses the lease exits with
//! [`EXIT_LEADERSHIP_LOST`].

use super::leader_elect::{acquire_watching, LeaderArgs, EXIT_LEADERSHIP_LOST};
use anyhow::Context;
use rollgate_api::leadership::PushGate;
use rollgate_api::{
    app, spawn_background, AppState, BackgroundPeriods, ServiceSinks, Store, TenantTokens,
};
use rollgate_rollout::leader::{Fence, LeaderConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `rollgate serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the chosen address is printed on stderr).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file (created with its directory if missing).
    #[arg(long, default_value = ".rollgate/rollgate.db", env = "ROLLGATE_DB")]
    pub db: PathBuf,
    /// Tenants and the SHA-256 of their bearer tokens: `tenants: [{name, token_sha256}]`.
    #[arg(long, env = "ROLLGATE_TOKENS")]
    pub tokens: PathBuf,
    /// Where each service's filter config goes: `stdout`, `ecds-dir:DIR` (one ECDS file per
    /// service), `kubernetes` (WasmPlugin `rollgate-<service>` in namespace `<tenant>`),
    /// `kubernetes:NAMESPACE/NAME` (templates over `{tenant}` and `{service}`) or `memory`.
    #[arg(long, default_value = "stdout")]
    pub sink: String,
    /// Seconds between passes of the auto-rollback monitor.
    #[arg(long, default_value_t = 10)]
    pub monitor_period_s: u64,
    /// Seconds between canary engine ticks.
    #[arg(long, default_value_t = 5)]
    pub canary_period_s: u64,
    /// Leader election (Lease `default/rollgate-serve` unless named).
    #[command(flatten)]
    pub leader: LeaderArgs,
}

/// Default namespace of `rollgate serve`'s Lease.
pub const DEFAULT_LEASE_NAMESPACE: &str = "default";
/// Default name of `rollgate serve`'s Lease.
pub const DEFAULT_LEASE_NAME: &str = "rollgate-serve";

/// Runs the subcommand until SIGINT/SIGTERM.
pub fn execute(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let tokens = TenantTokens::load(&args.tokens)?;
    if tokens.is_empty() {
        anyhow::bail!(
            "{}: no tenant listed; add `tenants: [{{name, token_sha256}}]`",
            args.tokens.display()
        );
    }
    let election = if args.leader.leader_elect {
        Some(
            args.leader
                .config_defaulting(DEFAULT_LEASE_NAMESPACE, DEFAULT_LEASE_NAME)?,
        )
    } else {
        None
    };
    let store = Store::open(&args.db)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("--db")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let sink = ServiceSinks::open(&args.sink).await.context("--sink")?;
        let mut state = AppState::new(store, tokens, sink);
        let periods = BackgroundPeriods {
            monitor: Duration::from_secs(args.monitor_period_s.max(1)),
            canary: Duration::from_secs(args.canary_period_s.max(1)),
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let local = listener.local_addr()?;
        eprintln!(
            "rollgate serve: listening on http://{local} (db {}, sink {})",
            args.db.display(),
            state.sink.describe()
        );
        let Some(config) = election else {
            let tasks = spawn_background(&state, periods);
            serve(listener, state).await?;
            for task in tasks {
                task.abort();
            }
            return Ok(ExitCode::SUCCESS);
        };
        state.push_gate = Arc::new(PushGate::follower(&config.lease_ref()));
        let leading = tokio::spawn(lead(config, state.clone(), periods));
        tokio::select! {
            served = serve(listener, state) => served.map(|()| ExitCode::SUCCESS),
            lost = leading => {
                let reason = lost.context("leader task")??;
                eprintln!("rollgate serve: lost leadership ({reason}); exiting so a fresh replica follows");
                Ok(ExitCode::from(EXIT_LEADERSHIP_LOST))
            }
        }
    })
}

async fn serve(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")
}

/// Follows until this replica holds the lease, then runs the drivers until leadership is
/// lost; returns why it was lost.
async fn lead(
    config: LeaderConfig,
    state: AppState,
    periods: BackgroundPeriods,
) -> anyhow::Result<String> {
    let retry = Duration::from_millis(config.retry_period_ms);
    let watch = Arc::clone(&state.push_gate);
    let leadership =
        Arc::new(acquire_watching(config, Arc::new(move |holder| watch.saw_leader(holder))).await?);
    state
        .push_gate
        .lead(Arc::clone(&leadership) as Arc<dyn Fence>);
    let tasks = spawn_background(&state, periods);
    let reason = loop {
        if let Err(e) = leadership.check(super::rollout_common::now_ms()) {
            break e.to_string();
        }
        tokio::time::sleep(retry).await;
    };
    for task in tasks {
        task.abort();
    }
    Ok(reason)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
