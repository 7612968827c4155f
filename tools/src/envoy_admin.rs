//! What Envoy's admin interface says the Rollgate filter serves.
//!
//! An ECDS filter appears in `GET /config_dump?resource=ecds_filters` as one
//! `EcdsConfigDump.EcdsFilterConfig` per extension config, whose
//! `ecds_filter.typed_config.config.configuration.value` is the filter config as JSON text.
//! Envoy lists a version only once the filter accepted it (it tries a new config on a clone of
//! the VM first), so this is the config the filter routes with, not merely the one pushed.

use serde_json::Value;

/// The admin path that lists the ECDS filters' current configs.
pub const ECDS_DUMP_PATH: &str = "/config_dump?resource=ecds_filters";

/// The filter config (parsed) and `version_info` of the ECDS extension config named `name` in a
/// `/config_dump?resource=ecds_filters` answer.
pub fn served_config(dump: &Value, name: &str) -> Option<(Value, String)> {
    let entry = dump["configs"]
        .as_array()?
        .iter()
        .find(|entry| entry["ecds_filter"]["name"] == name)?;
    let text = entry["ecds_filter"]["typed_config"]["config"]["configuration"]["value"].as_str()?;
    let config = serde_json::from_str(text).ok()?;
    let version = entry["version_info"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Some((config, version))
}

/// The weight (basis points) of `variant` in `experiment` of a filter config.
pub fn variant_weight(config: &Value, experiment: &str, variant: &str) -> Option<u64> {
    config["experiments"]
        .as_array()?
        .iter()
        .find(|e| e["id"] == experiment)?["variants"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == variant)?["weight"]
        .as_u64()
}

/// The weight of `variant` in `experiment` that the ECDS filter `name` serves, from a
/// `/config_dump?resource=ecds_filters` answer.
pub fn served_weight(dump: &Value, name: &str, experiment: &str, variant: &str) -> Option<u64> {
    let (config, _) = served_config(dump, name)?;
    variant_weight(&config, experiment, variant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An answer shaped as Envoy 1.40.0 writes it (trimmed to the fields read here).
    fn dump(value: &str) -> Value {
        json!({ "configs": [{
            "@type": "type.googleapis.com/envoy.admin.v3.EcdsConfigDump.EcdsFilterConfig",
            "version_info": "3",
            "ecds_filter": {
                "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
                "name": "rollgate",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                    "config": { "name": "rollgate", "configuration": {
                        "@type": "type.googleapis.com/google.protobuf.StringValue",
                        "value": value } }
                }
            }
        }]})
    }

    #[test]
    fn reads_the_served_weight_and_version() {
        let config = r#"{"experiments":[{"id":"fraud-v2","variants":[
            {"name":"stable","weight":9000},{"name":"canary","weight":1000}]}]}"#;
        let answer = dump(config);
        assert_eq!(
            served_weight(&answer, "rollgate", "fraud-v2", "canary"),
            Some(1000)
        );
        assert_eq!(
            served_config(&answer, "rollgate").map(|(_, v)| v),
            Some("3".to_string())
        );
        assert_eq!(served_weight(&answer, "other", "fraud-v2", "canary"), None);
        assert_eq!(served_weight(&answer, "rollgate", "nope", "canary"), None);
    }

    #[test]
    fn a_config_that_is_not_json_reads_as_none() {
        assert_eq!(served_config(&dump("{not json"), "rollgate"), None);
    }
}
