//! The `memory` destination: pushes recorded in memory, by destination name (embedding and
//! tests). It can be told to fail, to exercise a driver's failed-push path.

use crate::error::RolloutError;
use rollgate_core::config::FilterConfig;
use std::sync::Mutex;

/// One push recorded by [`MemorySink`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedPush {
    /// Destination name (the API's `tenant/service`).
    pub destination: String,
    /// Version pushed.
    pub version: u64,
    /// The config.
    pub config: FilterConfig,
}

/// Every push so far, shared by the [`super::ConfigSink::Memory`] destinations built on it.
#[derive(Debug, Default)]
pub struct MemorySink {
    pushes: Mutex<Vec<RecordedPush>>,
    failing: Mutex<Option<String>>,
}

impl MemorySink {
    /// Every push so far, oldest first.
    pub fn pushes(&self) -> Vec<RecordedPush> {
        self.pushes.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The latest config pushed to `destination`.
    pub fn latest(&self, destination: &str) -> Option<FilterConfig> {
        self.latest_push(destination).map(|p| p.config)
    }

    /// The version of the latest push to `destination`.
    pub fn latest_version(&self, destination: &str) -> Option<u64> {
        self.latest_push(destination).map(|p| p.version)
    }

    fn latest_push(&self, destination: &str) -> Option<RecordedPush> {
        self.pushes()
            .into_iter()
            .rev()
            .find(|p| p.destination == destination)
    }

    /// Makes every following push fail with `reason` (`None`: succeed again).
    pub fn set_failing(&self, reason: Option<&str>) {
        if let Ok(mut failing) = self.failing.lock() {
            *failing = reason.map(str::to_string);
        }
    }

    /// Records a push (or fails as told by [`MemorySink::set_failing`]).
    pub fn record(
        &self,
        destination: &str,
        config: &FilterConfig,
        version: u64,
    ) -> Result<(), RolloutError> {
        if let Some(reason) = self.failing.lock().ok().and_then(|f| f.clone()) {
            return Err(RolloutError::Other(format!(
                "memory destination {destination}: {reason}"
            )));
        }
        self.pushes
            .lock()
            .map_err(|_| RolloutError::Other("memory sink poisoned".to_string()))?
            .push(RecordedPush {
                destination: destination.to_string(),
                version,
                config: config.clone(),
            });
        Ok(())
    }
}
