//! The plugin config file given with `--config`: plain JSON, or the Envoy ECDS resource file
//! the controller writes (read with `rollgate_filter::ecds`).

use std::path::Path;

use super::error::ServeError;

/// Route header the filter sets when its config names none (the schema's default).
pub const DEFAULT_ROUTE_HEADER: &str = "x-rollgate-cluster";

/// A plugin configuration as the proxy serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveConfig {
    /// ECDS `version_info`, or `json-<hash of the text>` for a plain JSON file.
    pub version: String,
    /// The configuration handed to the plugin's `on_configure`.
    pub config_json: String,
    /// Request header naming the upstream cluster (the config's `route_header`).
    pub route_header: String,
}

impl ActiveConfig {
    /// Reads the config out of a file's text (JSON or ECDS YAML).
    pub fn from_file_text(text: &str) -> Result<Self, String> {
        let file =
            rollgate_filter::ecds::parse_plugin_config_file(text).map_err(|err| err.to_string())?;
        let version = file
            .version_info
            .unwrap_or_else(|| format!("json-{:016x}", fnv1a(text.as_bytes())));
        let route_header = serde_json::from_str::<serde_json::Value>(&file.config_json)
            .ok()
            .and_then(|value| {
                value
                    .get("route_header")
                    .and_then(|v| v.as_str())
                    .map(str::to_ascii_lowercase)
            })
            .unwrap_or_else(|| DEFAULT_ROUTE_HEADER.to_string());
        Ok(Self {
            version,
            config_json: file.config_json,
            route_header,
        })
    }

    /// Reads the config file at `path`.
    pub fn load(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_file_text(&text).map_err(|message| ServeError::Config {
            path: path.to_path_buf(),
            message,
        })
    }

    /// The configuration of a proxy running without the filter.
    pub fn passthrough() -> Self {
        Self {
            version: "no-filter".to_string(),
            config_json: String::new(),
            route_header: DEFAULT_ROUTE_HEADER.to_string(),
        }
    }
}

/// FNV-1a 64: a stable, dependency-free fingerprint for versioning plain JSON files.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_gets_a_content_version_and_its_route_header() {
        let a = ActiveConfig::from_file_text(r#"{"version":1,"route_header":"X-Route"}"#)
            .expect("json");
        assert_eq!(a.route_header, "x-route");
        assert!(a.version.starts_with("json-"));
        let b = ActiveConfig::from_file_text(r#"{"version":1}"#).expect("json");
        assert_ne!(a.version, b.version);
        assert_eq!(b.route_header, DEFAULT_ROUTE_HEADER);
    }

    #[test]
    fn ecds_file_gives_its_version_info() {
        let text = r#"
version_info: "7"
resources:
- "@type": type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig
  name: rollgate
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
    config:
      name: rollgate
      root_id: rollgate
      configuration:
        "@type": type.googleapis.com/google.protobuf.StringValue
        value: '{"version":1,"experiments":[]}'
      vm_config:
        runtime: envoy.wasm.runtime.v8
        code: { local: { filename: /etc/envoy/rollgate_filter.wasm } }
"#;
        let config = ActiveConfig::from_file_text(text).expect("ecds");
        assert_eq!(config.version, "7");
        assert_eq!(config.config_json, r#"{"version":1,"experiments":[]}"#);
    }

    #[test]
    fn garbage_is_refused_with_the_reason() {
        let err = ActiveConfig::from_file_text("version_info: [").expect_err("refused");
        assert!(err.contains("ECDS"), "{err}");
    }
}
