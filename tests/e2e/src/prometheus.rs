//! A real Prometheus (Debian's `prometheus` package) for one scenario: found or installed,
//! started on a free loopback port with its own data directory, scraping every second.

use crate::net::{free_port, http_get, url_encode};
use crate::process::{wait_until, Spawned};
use crate::E2eError;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Looks up `name` on `PATH` (and in the sbin directories Debian uses).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The `prometheus` binary: found on `PATH`, else installed with `apt-get install -y prometheus`
/// (through `sudo` when not root). `Err` says why it is unavailable, for a loud skip message.
pub fn find_or_install_prometheus() -> Result<PathBuf, String> {
    if let Some(found) = which("prometheus") {
        return Ok(found);
    }
    eprintln!("prometheus not found: trying `apt-get install -y prometheus`");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut apt = if root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "apt-get"]);
        sudo
    };
    let installed = apt
        .args(["install", "-y", "-qq", "prometheus"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    match (installed, which("prometheus")) {
        (_, Some(found)) => Ok(found),
        (Ok(status), None) => Err(format!(
            "`apt-get install -y prometheus` ended with {status}"
        )),
        (Err(err), None) => Err(format!("could not run apt-get: {err}")),
    }
}

/// One scrape target.
#[derive(Debug, Clone)]
pub struct ScrapeTarget {
    /// Job name (becomes the `job` label).
    pub job: String,
    /// Loopback address.
    pub addr: SocketAddr,
    /// Metrics path, e.g. `/stats/prometheus`.
    pub metrics_path: String,
}

/// The Prometheus configuration for `targets`, scraped every `interval`.
pub fn scrape_config(targets: &[ScrapeTarget], interval: Duration) -> String {
    let ms = interval.as_millis().max(100);
    let timeout = (ms * 9 / 10).max(100);
    let mut yaml = format!(
        "global:\n  scrape_interval: {ms}ms\n  evaluation_interval: {ms}ms\nscrape_configs:\n"
    );
    for t in targets {
        yaml.push_str(&format!(
            "  - job_name: {job}\n    scrape_interval: {ms}ms\n    scrape_timeout: {timeout}ms\n    metrics_path: {path}\n    static_configs:\n      - targets: [\"{addr}\"]\n",
            job = t.job,
            path = t.metrics_path,
            addr = t.addr
        ));
    }
    yaml
}

/// A running Prometheus server.
pub struct Prometheus {
    process: Spawned,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `binary` with a generated config scraping `targets` every `interval`, a data
    /// directory in a fresh tempdir and a free loopback port; returns once `/-/ready` answers.
    pub fn start(
        binary: &Path,
        targets: &[ScrapeTarget],
        interval: Duration,
    ) -> Result<Self, E2eError> {
        let dir = tempfile::tempdir().map_err(|source| E2eError::Io {
            what: "creating a tempdir for Prometheus".to_string(),
            source,
        })?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, scrape_config(targets, interval)).map_err(|source| {
            E2eError::Io {
                what: format!("writing {}", config.display()),
                source,
            }
        })?;
        let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut command = Command::new(binary);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--storage.tsdb.retention.time=1h")
            .arg("--log.level=warn");
        let process = Spawned::spawn("prometheus", command)?;
        let mut prometheus = Self {
            process,
            addr,
            _dir: dir,
        };
        prometheus.wait_ready(Duration::from_secs(30))?;
        Ok(prometheus)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), E2eError> {
        let addr = self.addr;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if http_get(addr, "/-/ready").is_ok_and(|r| r.status == 200) {
                return Ok(());
            }
            if let Some(status) = self.process.try_exit()? {
                return Err(self
                    .process
                    .failure("readiness", &format!("exited with {status}")));
            }
            if std::time::Instant::now() >= deadline {
                return Err(self
                    .process
                    .failure("readiness", &format!("/-/ready not 200 after {timeout:?}")));
            }
            std::thread::sleep(crate::process::POLL);
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills it (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Runs an instant query; returns the `data.result` array.
    pub fn query(&self, promql: &str) -> Result<Vec<serde_json::Value>, E2eError> {
        let path = format!("/api/v1/query?query={}", url_encode(promql));
        api_result(self.addr, &path)
    }

    /// The first sample value of an instant query, or `None` when the result is empty or NaN.
    pub fn query_value(&self, promql: &str) -> Result<Option<f64>, E2eError> {
        Ok(self
            .query(promql)?
            .first()
            .and_then(|series| series["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite()))
    }

    /// Waits until `promql` has a value satisfying `accept`.
    pub fn wait_for_value(
        &self,
        promql: &str,
        timeout: Duration,
        accept: impl Fn(f64) -> bool,
    ) -> Result<f64, E2eError> {
        wait_until(&format!("Prometheus value of {promql}"), timeout, || {
            self.query_value(promql)
                .ok()
                .flatten()
                .filter(|v| accept(*v))
        })
    }

    /// Runs a range query (Unix seconds, step in seconds); returns the `data.result` array.
    pub fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<serde_json::Value>, E2eError> {
        let path = format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step}",
            url_encode(promql)
        );
        api_result(self.addr, &path)
    }
}

fn api_result(addr: SocketAddr, path: &str) -> Result<Vec<serde_json::Value>, E2eError> {
    let reply = http_get(addr, path)?;
    let parsed: serde_json::Value =
        serde_json::from_str(&reply.body).map_err(|err| E2eError::Protocol {
            what: format!("Prometheus {path}"),
            why: format!("status {}, body not JSON: {err}", reply.status),
        })?;
    if parsed["status"] != "success" {
        return Err(E2eError::Protocol {
            what: format!("Prometheus {path}"),
            why: format!("status {}: {}", reply.status, parsed["error"]),
        });
    }
    Ok(parsed["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_scrapes_every_target_every_second() {
        let yaml = scrape_config(
            &[ScrapeTarget {
                job: "dev-proxy".into(),
                addr: SocketAddr::from(([127, 0, 0, 1], 9901)),
                metrics_path: "/stats/prometheus".into(),
            }],
            Duration::from_secs(1),
        );
        let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap_or_default();
        let job = &parsed["scrape_configs"][0];
        assert_eq!(job["scrape_interval"].as_str(), Some("1000ms"));
        assert_eq!(job["metrics_path"].as_str(), Some("/stats/prometheus"));
        assert_eq!(
            job["static_configs"][0]["targets"][0].as_str(),
            Some("127.0.0.1:9901")
        );
    }
}
