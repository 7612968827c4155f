//! A running Envoy: started from a generated bootstrap with the filter delivered by ECDS,
//! admin and listener on OS-chosen loopback ports, a unique `--base-id`, killed on drop
//! (printing its log tail when the test is failing).

use super::binary::{envoy_binary, envoy_version};
use super::bootstrap::{render, BootstrapPaths, EnvoyOptions, FILTER_NAME, LISTENER};
use super::client::Client;
use super::stats::{PromScrape, Stats};
use crate::paths::filter_wasm;
use crate::E2eError;
use rollgate_core::config::FilterConfig;
use rollgate_rollout::sinks::{write_atomic, EcdsFileSink};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long Envoy gets to start (V8 compiles the `.wasm` once per worker).
const STARTUP: Duration = Duration::from_secs(30);
/// How long a pushed ECDS file gets to be applied or refused.
const PUSH_TIMEOUT: Duration = Duration::from_secs(15);
/// Poll period of every wait.
const POLL: Duration = Duration::from_millis(20);

/// Stat prefix of the filter's ECDS subscription.
pub fn ecds_stat_prefix() -> String {
    format!("extension_config_discovery.http_filter.{FILTER_NAME}.")
}

/// The ECDS subscription's counters that tell a push's fate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EcdsCounters {
    /// `config_reload`: a config update finished on the main thread and every worker (Envoy
    /// counts it for refused updates too).
    pub reload: u64,
    /// `update_success`: the file was accepted.
    pub success: u64,
    /// `update_rejected`: the file was refused (bad file, or the filter's `on_configure` said no).
    pub rejected: u64,
    /// `config_fail`: the update failed.
    pub fail: u64,
}

/// Which bootstrap an Envoy runs.
pub enum Bootstrap {
    /// The fixture's bootstrap for these options (listener [`LISTENER`]).
    Generated(Box<EnvoyOptions>),
    /// A bootstrap file's text, made from the ECDS file path the instance uses (e.g.
    /// `manifests/envoy/envoy.yaml` with its paths and ports substituted).
    Given {
        /// The bootstrap text for the instance's ECDS file path.
        text: Box<dyn FnOnce(&Path) -> String + Send>,
        /// Name of the listener whose port the client uses.
        listener: String,
        /// `--concurrency`.
        concurrency: u32,
        /// The `.wasm` the ECDS file names; default: the release filter.
        wasm: Option<PathBuf>,
    },
}

/// What became of a pushed config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Envoy applied it (`config_reload` went up).
    Applied,
    /// Envoy refused it (`config_fail` went up); the last good config keeps serving.
    Rejected,
}

static INSTANCES: AtomicU32 = AtomicU32::new(0);

/// A `--base-id` no other Envoy of this machine's test runs uses: pid and a per-process counter.
fn unique_base_id() -> u32 {
    let n = INSTANCES.fetch_add(1, Ordering::Relaxed) % 100;
    (std::process::id() % 1_000_000) * 100 + n
}

/// A running Envoy with the Rollgate filter as an ECDS filter.
pub struct Envoy {
    child: Child,
    dir: tempfile::TempDir,
    log: PathBuf,
    admin: SocketAddr,
    listener: SocketAddr,
    base_id: u32,
    version: String,
    sink: EcdsFileSink,
    next_version: AtomicU64,
    push_lock: tokio::sync::Mutex<()>,
    http: reqwest::Client,
}

impl Envoy {
    /// Starts Envoy for `options` with `initial` as the filter's first config (ECDS version 1),
    /// and waits until it is ready and the config is applied.
    pub async fn start(options: EnvoyOptions, initial: &FilterConfig) -> Result<Self, E2eError> {
        let bootstrap = Bootstrap::Generated(Box::new(options));
        Self::start_bootstrap(bootstrap, initial).await
    }

    /// Starts Envoy on `bootstrap` (generated, or a given file's text) with `initial` as the
    /// filter's first config, and waits until it is ready.
    pub async fn start_bootstrap(
        bootstrap: Bootstrap,
        initial: &FilterConfig,
    ) -> Result<Self, E2eError> {
        let (options, given) = match bootstrap {
            Bootstrap::Generated(options) => (*options, None),
            Bootstrap::Given {
                text,
                listener,
                concurrency,
                wasm,
            } => {
                let mut options = EnvoyOptions::new(Vec::new());
                options.concurrency = concurrency;
                options.wasm = wasm;
                (options, Some((text, listener)))
            }
        };
        let binary = envoy_binary()?;
        let version = envoy_version(&binary)?;
        let wasm = match &options.wasm {
            Some(path) => path.clone(),
            None => filter_wasm()?,
        };
        let dir = tempfile::Builder::new()
            .prefix("rollgate-envoy-")
            .tempdir()
            .map_err(|source| E2eError::Io {
                what: "creating a temp dir for Envoy".to_string(),
                source,
            })?;
        let ecds_dir = dir.path().join("ecds");
        let ecds_file = ecds_dir.join("ecds.yaml");
        let sink = EcdsFileSink::new(&ecds_file, FILTER_NAME, &wasm.display().to_string());
        sink.push(initial, 1).map_err(|err| E2eError::Protocol {
            what: "writing the first ECDS file".to_string(),
            why: err.to_string(),
        })?;
        let (config_path, listener_name) = match given {
            None => {
                let bootstrap = render(&options, &BootstrapPaths { ecds_file })?;
                let path = dir.path().join("envoy.json");
                write(&path, &bootstrap.to_string())?;
                (path, LISTENER.to_string())
            }
            Some((text, listener)) => {
                let path = dir.path().join("envoy.yaml");
                write(&path, &text(&ecds_file))?;
                (path, listener)
            }
        };
        let log = dir.path().join("envoy.log");
        let admin_path = dir.path().join("admin-address");
        let base_id = unique_base_id();
        let log_file = std::fs::File::create(&log).map_err(|source| E2eError::Io {
            what: format!("creating {}", log.display()),
            source,
        })?;
        let log_err = log_file.try_clone().map_err(|source| E2eError::Io {
            what: "duplicating the log file handle".to_string(),
            source,
        })?;
        let mut command = Command::new(&binary);
        command
            .arg("-c")
            .arg(&config_path)
            .args(["--concurrency", &options.concurrency.to_string()])
            .args(["--base-id", &base_id.to_string()])
            .arg("--admin-address-path")
            .arg(&admin_path)
            .args(["--log-level", "info"])
            .args(&options.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(log_err));
        let child = command.spawn().map_err(|source| E2eError::Spawn {
            name: "envoy".to_string(),
            program: binary.display().to_string(),
            source,
        })?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| E2eError::Protocol {
                what: "building the admin client".to_string(),
                why: err.to_string(),
            })?;
        let mut envoy = Self {
            child,
            dir,
            log,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            listener: SocketAddr::from(([127, 0, 0, 1], 0)),
            base_id,
            version,
            sink,
            next_version: AtomicU64::new(2),
            push_lock: tokio::sync::Mutex::new(()),
            http,
        };
        envoy.admin = envoy.wait_admin_address(&admin_path).await?;
        envoy.wait_ready().await?;
        envoy.listener = envoy.listener_address(&listener_name).await?;
        Ok(envoy)
    }

    /// Address of the HTTP listener the filter runs on.
    pub fn listener(&self) -> SocketAddr {
        self.listener
    }

    /// Address of the admin interface.
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// Envoy's version (`1.40.0`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `--base-id` of this instance.
    pub fn base_id(&self) -> u32 {
        self.base_id
    }

    /// The ECDS file Envoy watches.
    pub fn ecds_file(&self) -> &Path {
        &self.sink.path
    }

    /// The instance's temp directory (bootstrap, ECDS file, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A pooled keep-alive client of the listener.
    pub fn client(&self) -> Result<Client, E2eError> {
        Client::new(self.listener)
    }

    /// Envoy's whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of Envoy's log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Pushes `config` the way the controller's `ecds_file` sink does (render with a bumped
    /// `version_info`, write a temp file, rename it into place) and waits until Envoy applied
    /// or refused it.
    pub async fn push(&self, config: &FilterConfig) -> Result<PushOutcome, E2eError> {
        let _guard = self.push_lock.lock().await;
        let version = self.next_version.fetch_add(1, Ordering::Relaxed);
        let before = self.ecds_counters().await?;
        self.sink
            .push(config, version)
            .map_err(|err| E2eError::Protocol {
                what: format!("pushing ECDS version {version}"),
                why: err.to_string(),
            })?;
        self.wait_push(before, version).await
    }

    /// Pushes `json` (any text, valid or not) as the filter's configuration string: the ECDS
    /// file is the sink's rendering of a valid config with only `configuration.value` replaced,
    /// so Envoy sees the controller's file shape around a config the controller would refuse.
    pub async fn push_config_text(&self, json: &str) -> Result<PushOutcome, E2eError> {
        let placeholder =
            FilterConfig::from_json(br#"{"version":1}"#).map_err(|err| E2eError::Protocol {
                what: "building a placeholder config".to_string(),
                why: err.to_string(),
            })?;
        let _guard = self.push_lock.lock().await;
        let version = self.next_version.fetch_add(1, Ordering::Relaxed);
        let rendered =
            self.sink
                .render(&placeholder, version)
                .map_err(|err| E2eError::Protocol {
                    what: "rendering the ECDS file".to_string(),
                    why: err.to_string(),
                })?;
        let mut file: serde_yaml::Value =
            serde_yaml::from_str(&rendered).map_err(|err| E2eError::Protocol {
                what: "re-reading the rendered ECDS file".to_string(),
                why: err.to_string(),
            })?;
        let value = file
            .get_mut("resources")
            .and_then(|r| r.get_mut(0))
            .and_then(|r| r.get_mut("typed_config"))
            .and_then(|t| t.get_mut("config"))
            .and_then(|c| c.get_mut("configuration"))
            .and_then(|c| c.get_mut("value"))
            .ok_or_else(|| E2eError::Protocol {
                what: "editing the ECDS file".to_string(),
                why: "no resources[0].typed_config.config.configuration.value".to_string(),
            })?;
        *value = serde_yaml::Value::String(json.to_string());
        let text = serde_yaml::to_string(&file).map_err(|err| E2eError::Protocol {
            what: "writing the ECDS file".to_string(),
            why: err.to_string(),
        })?;
        let before = self.ecds_counters().await?;
        self.replace_ecds_file(&text)?;
        self.wait_push(before, version).await
    }

    /// Replaces the whole ECDS file with `text` (write + rename) and waits for the outcome.
    pub async fn push_file(&self, text: &str) -> Result<PushOutcome, E2eError> {
        let _guard = self.push_lock.lock().await;
        let version = self.next_version.fetch_add(1, Ordering::Relaxed);
        let before = self.ecds_counters().await?;
        self.replace_ecds_file(text)?;
        self.wait_push(before, version).await
    }

    fn replace_ecds_file(&self, text: &str) -> Result<(), E2eError> {
        write_atomic(&self.sink.path, text.as_bytes()).map_err(|err| E2eError::Protocol {
            what: format!("writing {}", self.sink.path.display()),
            why: err.to_string(),
        })
    }

    /// The counters of the filter's ECDS subscription.
    pub async fn ecds_counters(&self) -> Result<EcdsCounters, E2eError> {
        let prefix = ecds_stat_prefix();
        let stats = self.stats_filtered("extension_config_discovery").await?;
        let get = |name: &str| stats.counter(&format!("{prefix}{name}"));
        Ok(EcdsCounters {
            reload: get("config_reload"),
            success: get("update_success"),
            rejected: get("update_rejected"),
            fail: get("config_fail"),
        })
    }

    /// Waits until the update is accepted or refused and `config_reload` says every worker is
    /// done with it.
    async fn wait_push(&self, before: EcdsCounters, version: u64) -> Result<PushOutcome, E2eError> {
        let deadline = Instant::now() + PUSH_TIMEOUT;
        loop {
            let now = self.ecds_counters().await?;
            let refused = now.rejected > before.rejected || now.fail > before.fail;
            let accepted = now.success > before.success;
            // A file Envoy cannot even read fails without a worker update (no reload).
            let unreadable = now.fail > before.fail && now.rejected == before.rejected;
            if unreadable || (now.reload > before.reload && (refused || accepted)) {
                return Ok(if refused {
                    PushOutcome::Rejected
                } else {
                    PushOutcome::Applied
                });
            }
            if Instant::now() >= deadline {
                return Err(self.failure(
                    &format!("ECDS version {version} to be applied or refused"),
                    &format!("counters went from {before:?} to {now:?} in {PUSH_TIMEOUT:?}"),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `GET path` on the admin interface; the body of a 200 answer.
    pub async fn admin_get(&self, path: &str) -> Result<String, E2eError> {
        let url = format!("http://{}{path}", self.admin);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|err| E2eError::Protocol {
                what: format!("GET {url}"),
                why: err.to_string(),
            })?;
        let status = response.status();
        let body = response.text().await.map_err(|err| E2eError::Protocol {
            what: format!("GET {url}"),
            why: err.to_string(),
        })?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(E2eError::Protocol {
                what: format!("GET {url}"),
                why: format!("status {status}: {body}"),
            })
        }
    }

    /// Every counter and gauge (`/stats?format=json`).
    pub async fn stats(&self) -> Result<Stats, E2eError> {
        Stats::parse(&self.admin_get("/stats?format=json").await?)
    }

    /// The counters and gauges whose name matches the regex `filter`.
    pub async fn stats_filtered(&self, filter: &str) -> Result<Stats, E2eError> {
        let path = format!(
            "/stats?format=json&filter={}",
            crate::net::url_encode(filter)
        );
        Stats::parse(&self.admin_get(&path).await?)
    }

    /// Counter `name` (0 when Envoy has not created it).
    pub async fn counter(&self, name: &str) -> Result<u64, E2eError> {
        Ok(self.stats().await?.counter(name))
    }

    /// The raw `/stats/prometheus` text.
    pub async fn prometheus_text(&self) -> Result<String, E2eError> {
        self.admin_get("/stats/prometheus").await
    }

    /// `/stats/prometheus`, parsed.
    pub async fn prometheus(&self) -> Result<PromScrape, E2eError> {
        PromScrape::parse(&self.prometheus_text().await?)
    }

    /// Polls `probe` until it returns `Some`, failing with Envoy's log tail at `timeout`.
    pub async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: F,
    ) -> Result<T, E2eError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, E2eError>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = probe().await? {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(self.failure(what, &format!("not after {timeout:?}")));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until Envoy's log contains `needle`; the matching line.
    pub async fn wait_log(&self, needle: &str, timeout: Duration) -> Result<String, E2eError> {
        self.wait_for(&format!("{needle:?} in Envoy's log"), timeout, || async {
            Ok(self
                .log()
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_string))
        })
        .await
    }

    /// An error naming what was awaited, with Envoy's log tail.
    pub fn failure(&self, what: &str, why: &str) -> E2eError {
        E2eError::Process {
            name: format!("envoy {} (base-id {})", self.version, self.base_id),
            what: what.to_string(),
            why: why.to_string(),
            stderr: self.log_tail(40),
        }
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("Envoy exited with {status}")),
            _ => None,
        }
    }

    async fn wait_admin_address(&mut self, path: &Path) -> Result<SocketAddr, E2eError> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(addr) = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                return Ok(addr);
            }
            if let Some(why) = self.exited() {
                return Err(self.failure("the admin address", &why));
            }
            if Instant::now() >= deadline {
                return Err(self.failure("the admin address", &format!("none after {STARTUP:?}")));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn wait_ready(&mut self) -> Result<(), E2eError> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if self.admin_get("/ready").await.is_ok() {
                return Ok(());
            }
            if let Some(why) = self.exited() {
                return Err(self.failure("/ready", &why));
            }
            if Instant::now() >= deadline {
                return Err(self.failure("/ready", &format!("not LIVE after {STARTUP:?}")));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn listener_address(&self, name: &str) -> Result<SocketAddr, E2eError> {
        let text = self.admin_get("/listeners?format=json").await?;
        let parsed: serde_json::Value =
            serde_json::from_str(&text).map_err(|err| E2eError::Protocol {
                what: "parsing /listeners?format=json".to_string(),
                why: err.to_string(),
            })?;
        parsed["listener_statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["name"] == name)
            .and_then(|l| {
                let socket = &l["local_address"]["socket_address"];
                let ip: std::net::IpAddr = socket["address"].as_str()?.parse().ok()?;
                let port = u16::try_from(socket["port_value"].as_u64()?).ok()?;
                Some(SocketAddr::new(ip, port))
            })
            .ok_or_else(|| self.failure("the listener address", &format!("not in {text}")))
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- last lines of Envoy {} (base-id {}) log {} ---\n{}\n--- end of Envoy log ---",
                self.version,
                self.base_id,
                self.log.display(),
                self.log_tail(60)
            );
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), E2eError> {
    std::fs::write(path, text).map_err(|source| E2eError::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}
