//! `rollgate-harness serve`: a loopback HTTP/1.1 dev proxy that runs every request through the
//! real filter `.wasm`, the way an Envoy sidecar would.
//!
//! - A pool of VMs (one per worker, each its own wasmtime `Store`) runs the request and
//!   response callbacks of every stream ([`vm::FilterVm`]).
//! - The request goes to the cluster named by the config's route header (default
//!   `x-rollgate-cluster`) or the clusters file's default cluster, round robin over its
//!   endpoints; an unknown cluster gets a 503 naming it.
//! - The filter's `dispatch_http_call`s are performed in the background with their timeout and
//!   answered on the root context whenever they finish; the primary response never waits.
//! - `--config` (JSON or ECDS file) is watched; a new config is tried on a fresh VM first, a
//!   refused one leaves the old config serving; in-flight streams finish on their old VMs.
//! - Admin: `/stats/prometheus` (METRICS.md names plus Envoy-style per-cluster upstream stats),
//!   `/ready`, `/config_dump`.

mod admin;
mod args;
mod body;
mod clusters;
mod config_file;
mod error;
mod headers;
pub mod metrics;
mod pool;
mod prometheus;
mod proxy;
mod reload;
mod server;
mod stream;
mod upstream;
mod upstream_stats;
pub mod vm;
mod vm_ref;
mod wasm_vm;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::sync::Arc;

pub use args::ServeArgs;
pub use clusters::ClusterSet;
pub use config_file::ActiveConfig;
pub use error::ServeError;
pub use server::{start_with_factory, RunningProxy};
pub use wasm_vm::WasmVmFactory;

/// Starts the dev proxy described by `args` inside the current tokio runtime: loads the
/// `.wasm` (unless `--no-filter`), binds both listeners and returns their real addresses.
pub async fn start(args: &ServeArgs) -> Result<RunningProxy, ServeError> {
    let factory: Option<Arc<dyn vm::VmFactory>> = match (&args.wasm, args.no_filter) {
        (_, true) => None,
        (Some(wasm), false) => {
            let clusters = ClusterSet::load(&args.clusters)?.names();
            Some(Arc::new(WasmVmFactory::load(wasm, &clusters)?))
        }
        (None, false) => {
            return Err(ServeError::Usage(
                "--wasm is required unless --no-filter".into(),
            ))
        }
    };
    start_with_factory(args, factory).await
}

/// Runs `rollgate-harness serve` until Ctrl-C: builds a runtime with `--workers` threads,
/// starts the proxy and prints `listening on ADDR` and `admin on ADDR` (real ports) on stdout.
pub fn run(args: ServeArgs) -> Result<(), ServeError> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.worker_count())
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async {
        let proxy = start(&args).await?;
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "listening on {}", proxy.listen_addr());
        let _ = writeln!(stdout, "admin on {}", proxy.admin_addr());
        let _ = stdout.flush();
        let _ = tokio::signal::ctrl_c().await;
        drop(proxy);
        Ok(())
    })
}
