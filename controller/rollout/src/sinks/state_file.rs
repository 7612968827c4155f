//! Rollout state and control requests kept in files (ecds_file and stdout sinks).
//!
//! The state lives in the spec's `state_file`, written only by `rollgate run` (atomically).
//! Control commands (`rollgate abort|promote|pause|resume`) never touch it: they write a
//! sibling file `<state_file>.control` holding one [`ControlRequest`] with a fresh id; the
//! running controller applies it on its next tick and records the id, so each request is
//! applied once and the two processes never write the same file.

use super::atomic::write_atomic;
use crate::engine::{ControlRequest, RolloutState};
use crate::error::RolloutError;
use std::path::{Path, PathBuf};

/// The state file and its control file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// State kept at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The control file's path: `<state_file>.control`.
    pub fn control_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".control");
        PathBuf::from(name)
    }

    /// The saved state, or `None` when the rollout never ran.
    pub fn load(&self) -> Result<Option<RolloutState>, RolloutError> {
        let Some(text) = read_optional(&self.path)? else {
            return Ok(None);
        };
        RolloutState::from_json(&text)
            .map(Some)
            .map_err(|e| RolloutError::State {
                location: self.path.display().to_string(),
                message: e.to_string(),
            })
    }

    /// Saves `state` atomically.
    pub fn save(&self, state: &RolloutState) -> Result<(), RolloutError> {
        let json = state
            .to_json()
            .map_err(|e| RolloutError::Other(format!("serializing the state: {e}")))?;
        write_atomic(&self.path, json.as_bytes())
    }

    /// The pending control request, if any.
    pub fn read_control(&self) -> Result<Option<ControlRequest>, RolloutError> {
        let path = self.control_path();
        let Some(text) = read_optional(&path)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RolloutError::State {
                location: path.display().to_string(),
                message: e.to_string(),
            })
    }

    /// Writes a control request for the running controller.
    pub fn write_control(&self, request: &ControlRequest) -> Result<(), RolloutError> {
        let json =
            serde_json::to_string(request).map_err(|e| RolloutError::Other(e.to_string()))?;
        write_atomic(&self.control_path(), json.as_bytes())
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, RolloutError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RolloutError::io("reading", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ManualAction;

    #[test]
    fn state_and_control_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = StateFile::new(dir.path().join(".rollgate/r.json"));
        assert_eq!(file.load().ok(), Some(None));
        let state = RolloutState::new("r", 42);
        file.save(&state).expect("saves");
        assert_eq!(file.load().ok().flatten(), Some(state));
        let request = ControlRequest {
            id: "1".into(),
            action: ManualAction::Pause,
        };
        file.write_control(&request).expect("writes");
        assert_eq!(file.read_control().ok().flatten(), Some(request));
        assert!(file.control_path().ends_with(".rollgate/r.json.control"));
    }

    #[test]
    fn corrupt_state_names_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{not json").expect("write");
        let err = StateFile::new(&path).load().expect_err("corrupt");
        assert!(err.to_string().contains("s.json"), "{err}");
    }
}
