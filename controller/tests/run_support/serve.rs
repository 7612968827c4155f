//! `rollgate serve` as a real process: a one-tenant token file and a server started on an
//! OS-chosen loopback port, its address read from the "listening on" line.

use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `rollgate serve`.
pub struct Serve {
    /// The process (killed by the test).
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The whole "listening on" line (it names the sink).
    pub listening: String,
}

/// Writes `dir/tokens.yaml` giving tenant `acme` the bearer token `token`; returns its path.
pub fn write_tokens(dir: &Path, token: &str) -> PathBuf {
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let tokens = dir.join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!("tenants:\n  - {{ name: acme, token_sha256: {hash} }}\n"),
    )
    .expect("write tokens.yaml");
    tokens
}

/// `rollgate serve` on 127.0.0.1:0 with `--sink sink`, its database and token file in `dir`
/// (`write_tokens` first); add the test's own arguments and environment before [`spawn`].
pub fn serve_command(dir: &Path, sink: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollgate"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--sink", sink])
        .arg("--db")
        .arg(dir.join("rollgate.db"))
        .arg("--tokens")
        .arg(dir.join("tokens.yaml"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Starts `command` and waits for its "listening on" line; stderr keeps being drained so the
/// server never blocks on a full pipe.
pub fn spawn(mut command: Command) -> Serve {
    let mut child = command.spawn().expect("spawn rollgate serve");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let (base, listening) = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .expect("read stderr");
        if let Some(rest) = line.split("listening on ").nth(1) {
            let base = rest.split_whitespace().next().expect("address").to_string();
            break (base, line);
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Serve {
        child,
        base,
        listening,
    }
}
