//! Command-line arguments of `rollgate-harness serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::error::ServeError;

/// `rollgate-harness serve`: a loopback HTTP/1.1 dev proxy that runs every request through the
/// real filter `.wasm`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The filter module (e.g. target/wasm32-wasip1/release/rollgate_filter.wasm).
    #[arg(long, value_name = "PATH", required_unless_present = "no_filter")]
    pub wasm: Option<PathBuf>,
    /// Plugin config: plain JSON, or the Envoy ECDS resource file the controller writes.
    /// Watched: a new config is tried on a clone first; a refused one leaves the old serving.
    #[arg(long, value_name = "FILE", required_unless_present = "no_filter")]
    pub config: Option<PathBuf>,
    /// Clusters file: `default_cluster: NAME` and `clusters: [{name, endpoints: [host:port]}]`.
    #[arg(long, value_name = "FILE")]
    pub clusters: PathBuf,
    /// Loopback address of the proxy (port 0: any free port, printed on startup).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:10000")]
    pub listen: SocketAddr,
    /// Loopback address of the admin endpoints (port 0: any free port, printed on startup).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9901")]
    pub admin: SocketAddr,
    /// Filter VMs (and proxy worker threads), like Envoy's `--concurrency`; default: CPUs.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Run the same proxy without any filter (baseline for the overhead benchmark).
    #[arg(long, conflicts_with_all = ["wasm", "config"])]
    pub no_filter: bool,
    /// How often the config file is checked for changes, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub reload_interval_ms: u64,
}

impl ServeArgs {
    /// Arguments for a proxy on OS-chosen loopback ports.
    pub fn new(wasm: Option<PathBuf>, config: Option<PathBuf>, clusters: PathBuf) -> Self {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            no_filter: wasm.is_none(),
            wasm,
            config,
            clusters,
            listen: any_port,
            admin: any_port,
            workers: None,
            reload_interval_ms: 200,
        }
    }

    /// Number of filter VMs and worker threads.
    pub fn worker_count(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .clamp(1, 64)
    }

    /// Refuses listening anywhere but loopback (the dev proxy has no authentication).
    pub fn check(&self) -> Result<(), ServeError> {
        for (flag, addr) in [("--listen", self.listen), ("--admin", self.admin)] {
            if !addr.ip().is_loopback() {
                return Err(ServeError::Usage(format!(
                    "{flag} {addr}: the dev proxy only listens on loopback (e.g. 127.0.0.1:{})",
                    addr.port()
                )));
            }
        }
        Ok(())
    }
}
