//! The Envoy extension-config discovery (ECDS) file that carries the plugin configuration.
//!
//! Plain Envoy loads the filter's config from a file it watches (`config_discovery` with a
//! `path_config_source`). The controller writes that file (atomically, write + rename) and the
//! dev proxy reads it. Both go through this module so the shape never drifts:
//!
//! ```yaml
//! version_info: "7"
//! resources:
//! - "@type": type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig
//!   name: rollgate
//!   typed_config:
//!     "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
//!     config:
//!       name: rollgate
//!       root_id: rollgate
//!       fail_open: true          # a crashed VM lets requests take the default (stable) route
//!       configuration:
//!         "@type": type.googleapis.com/google.protobuf.StringValue
//!         value: '{"version":1,...}'
//!       vm_config:
//!         vm_id: rollgate
//!         runtime: envoy.wasm.runtime.v8
//!         code: { local: { filename: /etc/envoy/rollgate_filter.wasm } }
//! ```
//!
//! Only compiled with the `ecds` feature (native builds: controller, harness).

use crate::config::{ConfigError, FilterConfig};
use serde::{Deserialize, Serialize};

/// Type URL of an ECDS resource.
pub const TYPED_EXTENSION_CONFIG_TYPE: &str =
    "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
/// Type URL of the Envoy Wasm HTTP filter config.
pub const WASM_FILTER_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
/// Type URL of the plugin configuration wrapper.
pub const STRING_VALUE_TYPE: &str = "type.googleapis.com/google.protobuf.StringValue";
/// Wasm runtime Envoy uses by default.
pub const DEFAULT_RUNTIME: &str = "envoy.wasm.runtime.v8";

/// What the ECDS file needs besides the filter config itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdsTarget {
    /// Name of the extension config; the listener's `http_filters[].name` refers to it.
    pub name: String,
    /// Path of the `.wasm` on the Envoy host.
    pub wasm_filename: String,
}

/// A plugin configuration read from a file, with the version it carried (ECDS only).
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfigFile {
    /// `version_info` of an ECDS file; `None` for a plain JSON config.
    pub version_info: Option<String>,
    /// The plugin configuration as JSON text, exactly as Envoy hands it to `on_configure`.
    pub config_json: String,
}

#[derive(Serialize, Deserialize)]
struct DiscoveryFile {
    version_info: String,
    resources: Vec<TypedExtensionConfig>,
}

#[derive(Serialize, Deserialize)]
struct TypedExtensionConfig {
    #[serde(rename = "@type")]
    type_url: String,
    name: String,
    typed_config: WasmFilter,
}

#[derive(Serialize, Deserialize)]
struct WasmFilter {
    #[serde(rename = "@type")]
    type_url: String,
    config: PluginConfig,
}

#[derive(Serialize, Deserialize)]
struct PluginConfig {
    name: String,
    root_id: String,
    /// Fail open like Istio's `failStrategy: FAIL_OPEN`: if the VM crashes, requests take the
    /// default route (stable) instead of failing.
    #[serde(default)]
    fail_open: bool,
    configuration: StringValue,
    vm_config: VmConfig,
}

#[derive(Serialize, Deserialize)]
struct StringValue {
    #[serde(rename = "@type")]
    type_url: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
struct VmConfig {
    #[serde(default)]
    vm_id: String,
    runtime: String,
    code: AsyncDataSource,
}

#[derive(Serialize, Deserialize)]
struct AsyncDataSource {
    local: LocalDataSource,
}

#[derive(Serialize, Deserialize)]
struct LocalDataSource {
    filename: String,
}

/// Renders the ECDS file for `config`, after validating it (a config the filter would refuse
/// never reaches a file).
pub fn render_ecds(
    target: &EcdsTarget,
    version_info: u64,
    config: &FilterConfig,
) -> Result<String, ConfigError> {
    config.validate()?;
    let value = serde_json::to_string(config).map_err(|err| ConfigError::Invalid {
        path: "$".to_string(),
        rule: format!("cannot serialize the config: {err}"),
    })?;
    let file = DiscoveryFile {
        version_info: version_info.to_string(),
        resources: vec![TypedExtensionConfig {
            type_url: TYPED_EXTENSION_CONFIG_TYPE.to_string(),
            name: target.name.clone(),
            typed_config: WasmFilter {
                type_url: WASM_FILTER_TYPE.to_string(),
                config: PluginConfig {
                    name: target.name.clone(),
                    root_id: target.name.clone(),
                    fail_open: true,
                    configuration: StringValue {
                        type_url: STRING_VALUE_TYPE.to_string(),
                        value,
                    },
                    vm_config: VmConfig {
                        vm_id: target.name.clone(),
                        runtime: DEFAULT_RUNTIME.to_string(),
                        code: AsyncDataSource {
                            local: LocalDataSource {
                                filename: target.wasm_filename.clone(),
                            },
                        },
                    },
                },
            },
        }],
    };
    serde_yaml::to_string(&file).map_err(|err| ConfigError::Invalid {
        path: "$".to_string(),
        rule: format!("cannot render the ECDS file: {err}"),
    })
}

/// Reads a plugin config file: plain JSON (a `{` first) or an ECDS file with one resource.
///
/// Only the file's shape is checked here; the config itself is validated by whoever compiles
/// it (the filter's `on_configure`, or [`FilterConfig::from_json`]).
pub fn parse_plugin_config_file(text: &str) -> Result<PluginConfigFile, ConfigError> {
    if text.trim_start().starts_with('{') {
        return Ok(PluginConfigFile {
            version_info: None,
            config_json: text.to_string(),
        });
    }
    let file: DiscoveryFile = serde_yaml::from_str(text).map_err(|err| ConfigError::Syntax {
        path: err.location().map_or_else(
            || "ECDS file".to_string(),
            |loc| format!("ECDS file line {} column {}", loc.line(), loc.column()),
        ),
        message: format!("{err} (expected the ECDS shape: version_info + resources[])"),
    })?;
    let resource = match file.resources.as_slice() {
        [one] => one,
        other => {
            return Err(ConfigError::Invalid {
                path: "resources".to_string(),
                rule: format!(
                    "an ECDS file for Rollgate holds exactly one resource, found {}",
                    other.len()
                ),
            })
        }
    };
    check_type(
        "resources[0].@type",
        &resource.type_url,
        TYPED_EXTENSION_CONFIG_TYPE,
    )?;
    check_type(
        "resources[0].typed_config.@type",
        &resource.typed_config.type_url,
        WASM_FILTER_TYPE,
    )?;
    let configuration = &resource.typed_config.config.configuration;
    check_type(
        "resources[0].typed_config.config.configuration.@type",
        &configuration.type_url,
        STRING_VALUE_TYPE,
    )?;
    Ok(PluginConfigFile {
        version_info: Some(file.version_info),
        config_json: configuration.value.clone(),
    })
}

fn check_type(path: &str, found: &str, expected: &str) -> Result<(), ConfigError> {
    if found == expected {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            path: path.to_string(),
            rule: format!("must be {expected}, found {found:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Result<FilterConfig, ConfigError> {
        let json = r#"{"version":1,"experiments":[{"id":"fraud-v2","kind":"canary","salt":"fraud-v2",
            "variants":[{"name":"stable","cluster":"stable","weight":9500},
                        {"name":"canary","cluster":"canary","weight":500}]}]}"#;
        FilterConfig::from_json(json.as_bytes())
    }

    fn target() -> EcdsTarget {
        EcdsTarget {
            name: "rollgate".into(),
            wasm_filename: "/etc/envoy/rollgate_filter.wasm".into(),
        }
    }

    #[test]
    fn render_then_parse_round_trips_the_config() -> Result<(), ConfigError> {
        let text = render_ecds(&target(), 7, &sample()?)?;
        assert!(
            text.contains("version_info: '7'") || text.contains("version_info: \"7\""),
            "{text}"
        );
        assert!(text.contains(WASM_FILTER_TYPE));
        let parsed = parse_plugin_config_file(&text)?;
        assert_eq!(parsed.version_info.as_deref(), Some("7"));
        let back = FilterConfig::from_json(parsed.config_json.as_bytes())?;
        assert_eq!(back, sample()?);
        Ok(())
    }

    #[test]
    fn plain_json_is_taken_as_is() -> Result<(), ConfigError> {
        let parsed = parse_plugin_config_file("  {\"version\":1}")?;
        assert_eq!(parsed.version_info, None);
        assert_eq!(parsed.config_json, "  {\"version\":1}");
        Ok(())
    }

    #[test]
    fn wrong_type_url_names_the_field() -> Result<(), ConfigError> {
        let text = render_ecds(&target(), 1, &sample()?)?.replace(
            STRING_VALUE_TYPE,
            "type.googleapis.com/google.protobuf.Struct",
        );
        let err = parse_plugin_config_file(&text).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.to_string().contains("configuration.@type")),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn garbage_is_a_syntax_error() {
        let err = parse_plugin_config_file("version_info: [");
        assert!(matches!(err, Err(ConfigError::Syntax { .. })), "{err:?}");
    }

    #[test]
    fn invalid_config_is_never_rendered() -> Result<(), ConfigError> {
        let mut config = sample()?;
        config.experiments[0].variants[0].weight = 1;
        assert!(render_ecds(&target(), 1, &config).is_err());
        Ok(())
    }
}
