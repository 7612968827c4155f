//! `rollgate-harness`: run a proxy-wasm filter in the harness.
//!
//! - `replay --wasm PATH --config PATH [--clusters a,b]`: JSON Lines requests on stdin, one
//!   JSON line per request on stdout. A refused config exits 1 with the plugin's error log on
//!   stderr.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rollgate_harness::{ClusterPolicy, HarnessError, Plugin, VmOptions, WasmModule};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run proxy-wasm filters the way Envoy does.
#[derive(Debug, Parser)]
#[command(name = "rollgate-harness", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay JSON Lines requests (stdin) through one VM of the filter; one JSON line out each.
    ///
    /// Input line: {"request": {"headers": {...}, "body": "..."}, "response": {...},
    /// "call_response": {"headers": {":status": "200"}, "body": "..."}}; "body_base64" for
    /// binary bodies. Output line: {"request_headers", "response_headers", "local_response",
    /// "http_calls", "logs"}. Http calls are answered after the line's stream ends.
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// The filter module (.wasm).
    #[arg(long, value_name = "PATH")]
    wasm: PathBuf,
    /// The plugin configuration file (passed to proxy_on_configure as is).
    #[arg(long, value_name = "PATH")]
    config: PathBuf,
    /// Clusters that exist for dispatched http calls (comma separated); default: any.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    clusters: Option<Vec<String>>,
}

fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let config = std::fs::read(&args.config)
        .with_context(|| format!("cannot read plugin config {}", args.config.display()))?;
    let module = WasmModule::from_file(&args.wasm)?;
    let options = VmOptions {
        clusters: match args.clusters {
            Some(names) => {
                ClusterPolicy::Only(names.into_iter().filter(|n| !n.is_empty()).collect())
            }
            None => ClusterPolicy::Any,
        },
        ..VmOptions::default()
    };
    let plugin = Plugin::new(module, options);
    let mut vm = match plugin.start_vm(&config) {
        Ok(vm) => vm,
        Err(HarnessError::ConfigRejected { logs }) => {
            eprintln!(
                "the plugin refused the configuration {}:",
                args.config.display()
            );
            for entry in logs {
                eprintln!("[{}] {}", entry.level.as_str(), entry.message);
            }
            return Ok(ExitCode::from(1));
        }
        Err(other) => return Err(other.into()),
    };
    let stdin = std::io::stdin().lock();
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    rollgate_harness::replay::replay(&mut vm, stdin, stdout)?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(args) => replay(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("rollgate-harness: {error:#}");
            ExitCode::from(1)
        }
    }
}
