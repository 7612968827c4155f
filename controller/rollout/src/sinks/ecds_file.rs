//! The `ecds_file` sink: the Envoy ECDS resource file, replaced atomically on every push.

use super::atomic::write_atomic;
use crate::error::RolloutError;
use rollgate_core::config::FilterConfig;
use rollgate_core::ecds::{render_ecds, EcdsTarget};
use std::path::{Path, PathBuf};

/// Writes the ECDS file Envoy watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdsFileSink {
    /// The file.
    pub path: PathBuf,
    /// Extension config name and `.wasm` path.
    pub target: EcdsTarget,
}

impl EcdsFileSink {
    /// A writer of `path` for extension config `name` running `wasm_filename` (the fields
    /// of [`crate::spec::SinkTarget::EcdsFile`]).
    pub fn new(path: &Path, name: &str, wasm_filename: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            target: EcdsTarget {
                name: name.to_string(),
                wasm_filename: wasm_filename.to_string(),
            },
        }
    }

    /// The file's content for `config` at `version` (validated by the filter first).
    pub fn render(&self, config: &FilterConfig, version: u64) -> Result<String, RolloutError> {
        Ok(render_ecds(&self.target, version, config)?)
    }

    /// Replaces the file atomically.
    pub fn push(&self, config: &FilterConfig, version: u64) -> Result<(), RolloutError> {
        let text = self.render(config, version)?;
        write_atomic(&self.path, text.as_bytes())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use rollgate_core::ecds::parse_plugin_config_file;

    /// A two-variant canary config with the canary at `canary` basis points.
    pub(in crate::sinks) fn config(canary: u32) -> FilterConfig {
        let json = format!(
            r#"{{"version":1,"experiments":[{{"id":"e","kind":"canary","salt":"e","variants":[
            {{"name":"stable","cluster":"s","weight":{}}},{{"name":"canary","cluster":"c","weight":{canary}}}]}}]}}"#,
            10_000 - canary
        );
        FilterConfig::from_json(json.as_bytes()).expect("valid")
    }

    fn sink_in(dir: &std::path::Path) -> EcdsFileSink {
        EcdsFileSink::new(&dir.join("ecds.yaml"), "rollgate", "/w.wasm")
    }

    #[test]
    fn push_writes_the_ecds_file_with_its_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sink = sink_in(dir.path());
        sink.push(&config(500), 3).expect("pushes");
        let text = std::fs::read_to_string(&sink.path).expect("written");
        assert_eq!(text, sink.render(&config(500), 3).expect("renders"));
        let parsed = parse_plugin_config_file(&text).expect("ECDS shape");
        assert_eq!(parsed.version_info.as_deref(), Some("3"));
        let back = FilterConfig::from_json(parsed.config_json.as_bytes()).expect("valid");
        assert_eq!(back, config(500));
    }

    #[test]
    fn a_config_the_filter_refuses_never_reaches_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sink = sink_in(dir.path());
        let mut bad = config(500);
        bad.experiments[0].variants[0].weight = 1;
        assert!(sink.push(&bad, 1).is_err());
        assert!(!sink.path.exists());
    }
}
