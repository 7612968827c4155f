//! Hot reload of `--config`: the file is polled; new content is tried on a fresh VM (a clone of
//! the serving plugin) and only a config every VM accepts replaces the serving generation. A
//! refused or unreadable config is logged and recorded, and the old one keeps serving.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::config_file::ActiveConfig;
use super::pool::{FilterPool, Generation};
use super::vm::VmFactory;

/// A config file content that was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its version, when the file could be read that far.
    pub version: Option<String>,
    /// Why: the parse error or the filter's own log.
    pub error: String,
}

/// What the reloader did so far (shown by `/config_dump`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadStatus {
    /// Configs taken after the first one.
    pub reloads: u64,
    /// Configs refused.
    pub rejections: u64,
    /// The latest refusal.
    pub last_rejection: Option<Rejection>,
}

/// Builds generations from config file contents.
pub struct Reloader {
    factory: Arc<dyn VmFactory>,
    pool: Arc<FilterPool>,
    workers: usize,
    status: Mutex<ReloadStatus>,
}

impl Reloader {
    /// A reloader replacing `pool`'s generation with VMs of `factory`.
    pub fn new(factory: Arc<dyn VmFactory>, pool: Arc<FilterPool>, workers: usize) -> Self {
        Self {
            factory,
            pool,
            workers,
            status: Mutex::new(ReloadStatus::default()),
        }
    }

    /// What happened so far.
    pub fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Tries `text` as the new config; on success it serves new streams.
    pub fn apply(&self, text: &str) -> Result<(), Rejection> {
        let result = ActiveConfig::from_file_text(text)
            .map_err(|error| Rejection {
                version: None,
                error,
            })
            .and_then(|config| {
                let version = config.version.clone();
                Generation::build(self.factory.as_ref(), config, self.workers).map_err(|failure| {
                    Rejection {
                        version: Some(version),
                        error: failure.to_string(),
                    }
                })
            });
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match result {
            Ok(generation) => {
                tracing::info!(version = %generation.config().version, "new plugin config serving");
                self.pool.replace(generation);
                status.reloads += 1;
                Ok(())
            }
            Err(rejection) => {
                tracing::warn!(version = ?rejection.version, error = %rejection.error, "config refused; the previous config keeps serving");
                status.rejections += 1;
                status.last_rejection = Some(rejection.clone());
                Err(rejection)
            }
        }
    }

    /// Polls `path` every `interval` and applies each new content once, forever.
    pub async fn watch(self: Arc<Self>, path: PathBuf, initial: String, interval: Duration) {
        let mut seen = initial;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Ok(text) = tokio::fs::read_to_string(&path).await else {
                continue; // being replaced, or gone for a moment: look again next tick
            };
            if text == seen {
                continue;
            }
            seen = text.clone();
            let reloader = Arc::clone(&self);
            // Building VMs compiles nothing but instantiates modules: keep it off the IO threads.
            let _ = tokio::task::spawn_blocking(move || reloader.apply(&text)).await;
        }
    }
}
