//! One rollout per state: `rollgate run` holds an exclusive lock on `<state_file>.lock` for
//! as long as it runs. The lock is the operating system's advisory file lock (`flock` on
//! Linux), so it is released when the process exits, however it exits: a crashed or killed
//! controller leaves no stale lock behind. The file also holds the holder's pid, for the
//! error a second controller gets.

use crate::error::RolloutError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held lock on a rollout's state; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    _file: File,
}

impl StateLock {
    /// Takes the lock of the state kept at `state_path`, or fails at once with an error
    /// naming the lock file and the pid of the controller holding it.
    pub fn acquire(state_path: &Path) -> Result<Self, RolloutError> {
        let path = lock_path(state_path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| RolloutError::io("creating", dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| RolloutError::io("opening", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    format!("process {holder}")
                };
                return Err(RolloutError::Locked(format!(
                    "the rollout state {} is in use by {who} (lock {}); one `rollgate run` per \
                     state: stop the other one, or use `rollgate status|pause|abort` to act on it",
                    state_path.display(),
                    path.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(RolloutError::io("locking", &path, e)),
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(|e| RolloutError::io("writing", &path, e))?;
        Ok(Self { path, _file: file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<state_file>.lock`.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join(".rollgate/r.json");
        let first = StateLock::acquire(&state).expect("first lock");
        assert!(first.path().ends_with(".rollgate/r.json.lock"));
        let err = StateLock::acquire(&state).expect_err("held");
        let text = err.to_string();
        assert!(
            text.contains(&format!("process {}", std::process::id())) && text.contains("r.json"),
            "{text}"
        );
        drop(first);
        StateLock::acquire(&state).expect("free again once released");
    }
}
