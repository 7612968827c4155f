//! Atomic file replacement: a temp file in the same directory, fsync, rename, fsync of the
//! directory. Readers (Envoy's file watch, a restarted controller) see the old or the new file,
//! never a half-written one.

use crate::error::RolloutError;
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `contents` atomically, creating the parent directory when missing.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), RolloutError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| RolloutError::io("creating directory", dir, e))?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("rollgate");
    let temp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(RolloutError::io("writing", path, e));
    }
    // Make the rename itself durable; not every file system allows syncing a directory.
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub").join("ecds.yaml");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("two"));
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("ecds.yaml")]);
    }

    #[test]
    fn unwritable_target_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("is-a-dir");
        std::fs::create_dir_all(target.join("x")).expect("dir");
        let err = write_atomic(&target, b"x").expect_err("cannot replace a non-empty directory");
        assert!(err.to_string().contains("is-a-dir"), "{err}");
    }
}
