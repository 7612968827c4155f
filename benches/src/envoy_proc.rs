//! Envoy processes for the real-Envoy benches: started from a bootstrap text pinned to one core
//! (`taskset`), their listener port read from the admin API, their CPU time and memory read
//! from `/proc`. Killed on drop.

use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Envoy build the benches run (`make envoy` installs it).
pub const ENVOY_VERSION: &str = "1.40.0";

/// The workspace root (the benches run from `benches/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Envoy binary: `ENVOY` when set, else `target/envoy/1.40.0/bin/envoy`.
pub fn envoy_binary() -> Result<PathBuf> {
    let path = match std::env::var_os("ENVOY") {
        Some(path) => PathBuf::from(path),
        None => workspace_root().join(format!("target/envoy/{ENVOY_VERSION}/bin/envoy")),
    };
    if !path.exists() {
        bail!(
            "Envoy not found at {}: run `make envoy` (or set ENVOY=/path/to/envoy)",
            path.display()
        );
    }
    Ok(path)
}

/// The version Envoy reports (`envoy --version`: `.../1.40.0/Clean/RELEASE/...`).
pub fn envoy_version() -> Result<String> {
    let binary = envoy_binary()?;
    let out = Command::new(&binary)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(['/', ' '])
        .find(|part| {
            part.split('.').count() == 3 && part.split('.').all(|n| n.parse::<u32>().is_ok())
        })
        .map(str::to_string)
        .with_context(|| format!("no version in {text:?}"))
}

/// Where the benches write bootstraps, logs and results: `target/bench/`.
pub fn bench_dir() -> Result<PathBuf> {
    let dir = workspace_root().join("target/bench");
    std::fs::create_dir_all(dir.join("envoy")).context("creating target/bench/envoy")?;
    Ok(dir)
}

/// How to start one Envoy.
#[derive(Debug, Clone)]
pub struct EnvoySpec {
    /// File stem of its bootstrap and log under `target/bench/envoy/`.
    pub name: String,
    /// Bootstrap YAML.
    pub bootstrap: String,
    /// CPU list for `taskset -c` (`"0"`), or `None` for no pinning.
    pub cpus: Option<String>,
    /// Worker threads.
    pub concurrency: u32,
    /// `--base-id`, unique on the machine.
    pub base_id: u32,
}

/// A running Envoy, killed on drop.
pub struct EnvoyProcess {
    child: Child,
    name: String,
    admin: String,
    /// Port of its first listener.
    pub port: u16,
}

impl Drop for EnvoyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `n`-th (`n < 50`) `--base-id` of this process: unique on the machine (from the pid),
/// and apart from the ids `rollgate_e2e::envoy` gives (`pid * 100 + 0..49`).
pub fn base_id(n: u32) -> u32 {
    (std::process::id() % 1_000_000) * 100 + 50 + n % 50
}

impl EnvoyProcess {
    /// Starts Envoy and waits (30 s at most) until its listener is bound.
    pub fn start(spec: &EnvoySpec) -> Result<EnvoyProcess> {
        let dir = bench_dir()?.join("envoy");
        let config = dir.join(format!("{}.yaml", spec.name));
        let admin = dir.join(format!("{}.admin", spec.name));
        let log_path = dir.join(format!("{}.log", spec.name));
        let _ = std::fs::remove_file(&admin);
        std::fs::write(&config, &spec.bootstrap)
            .with_context(|| format!("writing {}", config.display()))?;
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let envoy = envoy_binary()?;
        let mut command = match &spec.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(&envoy);
                c
            }
            None => Command::new(&envoy),
        };
        command
            .args(["--concurrency", &spec.concurrency.to_string()])
            .args([
                "--log-level",
                "warn",
                "--base-id",
                &spec.base_id.to_string(),
            ])
            .arg("-c")
            .arg(&config)
            .arg("--admin-address-path")
            .arg(&admin)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = command
            .spawn()
            .with_context(|| format!("starting {} (is taskset installed?)", envoy.display()))?;
        let mut process = EnvoyProcess {
            child,
            name: spec.name.clone(),
            admin: String::new(),
            port: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = process.child.try_wait()? {
                bail!(
                    "Envoy {} exited ({status}) at start: see {}",
                    spec.name,
                    log_path.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "Envoy {} not listening after 30 s: see {}",
                    spec.name,
                    log_path.display()
                );
            }
            if let Ok(address) = std::fs::read_to_string(&admin) {
                process.admin = address.trim().to_string();
                if let Ok(port) = process.listener_port() {
                    process.port = port;
                    return Ok(process);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Process id (the one `/proc` is read for).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The bench name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// GETs an admin path (`/stats?filter=...`).
    pub fn admin_get(&self, path: &str) -> Result<String> {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://{}{path}", self.admin)])
            .output()
            .context("running curl for Envoy's admin API")?;
        if !out.status.success() {
            bail!("admin GET {path} on Envoy {} failed", self.name);
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn listener_port(&self) -> Result<u16> {
        let text = self.admin_get("/listeners")?;
        let line = text.lines().next().context("no listener yet")?;
        let port: u16 = line.rsplit(':').next().context("no port")?.trim().parse()?;
        if port == 0 {
            bail!("listener not bound yet");
        }
        Ok(port)
    }

    /// User plus system CPU time of the whole process so far, in clock ticks (1/100 s).
    pub fn cpu_ticks(&self) -> Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        parse_stat_cpu_ticks(&stat).with_context(|| format!("parsing /proc/{}/stat", self.pid()))
    }

    /// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        parse_status_rss_kib(&status)
            .with_context(|| format!("no VmRSS in /proc/{}/status", self.pid()))
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in KiB from a `/proc/<pid>/status` text.
pub fn parse_status_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// A whole-number setting from the environment, `default` when unset.
pub fn env_u64(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v} is not a whole number")),
        Err(_) => Ok(default),
    }
}

/// Pins this process's threads to `cpus` (`taskset -a -p`): call before starting threads.
pub fn pin_self(cpus: &str) -> Result<()> {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .context("running taskset (util-linux)")?;
    if !status.success() {
        bail!("taskset could not pin the bench to CPU {cpus}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_are_utime_plus_stime_even_with_spaces_in_the_name() {
        let stat =
            "4242 (envoy main) S 1 4242 4242 0 -1 4194560 1234 0 0 0 350 27 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(377));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn rss_is_read_from_vmrss() {
        let status = "Name:\tenvoy\nVmPeak:\t  900 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n";
        assert_eq!(parse_status_rss_kib(status), Some(51234));
        assert_eq!(parse_status_rss_kib("Name: x\n"), None);
    }
}
