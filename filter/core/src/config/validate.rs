//! Semantic validation of a parsed [`FilterConfig`]: every rule the JSON schema alone cannot
//! express. Each refusal names the JSON path of the offending value and the rule broken.

use super::names::{check_cluster, check_cookie_name, check_header_name, check_label_value};
use super::{
    ConfigError, Experiment, ExperimentKind, FilterConfig, GuardConfig, LayerConfig, ShadowConfig,
    UnitKind, CONFIG_VERSION, TOTAL_WEIGHT,
};

/// Largest `shadow.max_body_bytes` accepted: bounds the memory one request may hold.
pub const MAX_SHADOW_BODY_BYTES: u32 = 16 * 1024 * 1024;

/// Builds a [`ConfigError::Invalid`] for `path` and `rule`.
pub(crate) fn invalid(path: impl Into<String>, rule: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        rule: rule.into(),
    }
}

impl FilterConfig {
    /// Parses the plugin configuration (JSON text) and validates it.
    ///
    /// Text that is not JSON comes back as [`ConfigError::Syntax`] with the line and column;
    /// JSON of the wrong shape (unknown field, wrong type, missing field) as
    /// [`ConfigError::Syntax`] with the JSON path; rule violations as [`ConfigError::Invalid`]
    /// with the JSON path.
    pub fn from_json(bytes: &[u8]) -> Result<FilterConfig, ConfigError> {
        let config = super::json::from_slice(bytes)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every semantic rule; the first violation found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.version != CONFIG_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "unsupported config version {}; this filter understands version {CONFIG_VERSION}",
                    self.version
                ),
            ));
        }
        check_header_name("route_header", &self.route_header)?;
        check_header_name("variant_header", &self.variant_header)?;
        if self.route_header == self.variant_header {
            return Err(invalid(
                "variant_header",
                "must differ from route_header (both are set on every routed request)",
            ));
        }
        self.validate_unit()?;
        for (index, experiment) in self.experiments.iter().enumerate() {
            let path = format!("experiments[{index}]");
            let earlier = self.experiments.get(..index).unwrap_or_default();
            if earlier.iter().any(|e| e.id == experiment.id) {
                return Err(invalid(
                    format!("{path}.id"),
                    format!(
                        "duplicate experiment id \"{}\"; ids must be unique",
                        experiment.id
                    ),
                ));
            }
            self.validate_experiment(&path, experiment)?;
        }
        validate_layers(&self.experiments)
    }

    fn validate_unit(&self) -> Result<(), ConfigError> {
        if let Some(header) = &self.unit.header {
            check_header_name("unit.header", header)?;
            if *header == self.route_header || *header == self.variant_header {
                return Err(invalid(
                    "unit.header",
                    "must not be route_header or variant_header (the filter overwrites those)",
                ));
            }
        }
        if let Some(cookie) = &self.unit.cookie {
            check_cookie_name("unit.cookie", cookie)?;
        }
        let needs_user_key = self
            .experiments
            .iter()
            .any(|e| e.unit_kind == UnitKind::User);
        if self.unit.header.is_none() && self.unit.cookie.is_none() && needs_user_key {
            return Err(invalid(
                "unit",
                "set unit.header or unit.cookie: experiments with unit_kind \"user\" need a unit key",
            ));
        }
        Ok(())
    }

    fn validate_experiment(&self, path: &str, experiment: &Experiment) -> Result<(), ConfigError> {
        check_label_value(&format!("{path}.id"), &experiment.id)?;
        if experiment.salt.is_empty() {
            return Err(invalid(
                format!("{path}.salt"),
                "must not be empty (the salt keeps experiments independent)",
            ));
        }
        validate_match(path, experiment)?;
        validate_variants(path, experiment)?;
        if let Some(force) = &experiment.force_header {
            let field = format!("{path}.force_header");
            check_header_name(&field, force)?;
            if *force == self.route_header || *force == self.variant_header {
                return Err(invalid(field, "must not be route_header or variant_header"));
            }
        }
        if let Some(shadow) = &experiment.shadow {
            validate_shadow(&format!("{path}.shadow"), shadow)?;
        }
        if let Some(guard) = &experiment.guard {
            validate_guard(&format!("{path}.guard"), guard)?;
        }
        if let Some(layer) = &experiment.layer {
            validate_layer(&format!("{path}.layer"), layer)?;
        }
        Ok(())
    }
}

fn validate_match(path: &str, experiment: &Experiment) -> Result<(), ConfigError> {
    let rule = &experiment.match_rule;
    if let Some(authority) = &rule.authority {
        if authority.is_empty() || authority.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid(
                format!("{path}.match.authority"),
                "must be a non-empty host name without spaces or control characters (omit it to match any)",
            ));
        }
    }
    if let Some(prefix) = &rule.path_prefix {
        if !prefix.starts_with('/') {
            return Err(invalid(
                format!("{path}.match.path_prefix"),
                "must start with '/'",
            ));
        }
    }
    for name in rule.headers.keys() {
        check_header_name(&format!("{path}.match.headers.{name}"), name)?;
    }
    Ok(())
}

fn validate_variants(path: &str, experiment: &Experiment) -> Result<(), ConfigError> {
    if experiment.variants.is_empty() {
        return Err(invalid(
            format!("{path}.variants"),
            "must list at least one variant",
        ));
    }
    if experiment.kind == ExperimentKind::Canary && experiment.variants.len() != 2 {
        return Err(invalid(
            format!("{path}.variants"),
            format!(
                "a canary experiment has exactly 2 variants (stable, then canary), found {}",
                experiment.variants.len()
            ),
        ));
    }
    let mut total: u64 = 0;
    for (index, variant) in experiment.variants.iter().enumerate() {
        let vpath = format!("{path}.variants[{index}]");
        check_label_value(&format!("{vpath}.name"), &variant.name)?;
        let earlier = experiment.variants.get(..index).unwrap_or_default();
        if earlier.iter().any(|v| v.name == variant.name) {
            return Err(invalid(
                format!("{vpath}.name"),
                format!(
                    "duplicate variant name \"{}\" in this experiment",
                    variant.name
                ),
            ));
        }
        check_cluster(&format!("{vpath}.cluster"), &variant.cluster)?;
        if variant.weight > TOTAL_WEIGHT {
            return Err(invalid(
                format!("{vpath}.weight"),
                format!(
                    "weight {} exceeds {TOTAL_WEIGHT} basis points (100 %)",
                    variant.weight
                ),
            ));
        }
        total += u64::from(variant.weight);
    }
    if total != u64::from(TOTAL_WEIGHT) {
        return Err(invalid(
            format!("{path}.variants"),
            format!("weights sum to {total}; they must sum to {TOTAL_WEIGHT} basis points"),
        ));
    }
    Ok(())
}

fn validate_shadow(path: &str, shadow: &ShadowConfig) -> Result<(), ConfigError> {
    check_cluster(&format!("{path}.cluster"), &shadow.cluster)?;
    if shadow.authority.is_empty() || shadow.authority.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(invalid(
            format!("{path}.authority"),
            "must be a non-empty host name without spaces or control characters",
        ));
    }
    if shadow.sample > TOTAL_WEIGHT {
        return Err(invalid(
            format!("{path}.sample"),
            format!(
                "sample {} exceeds {TOTAL_WEIGHT} basis points (100 %)",
                shadow.sample
            ),
        ));
    }
    if shadow.timeout_ms == 0 {
        return Err(invalid(
            format!("{path}.timeout_ms"),
            "must be at least 1 millisecond",
        ));
    }
    if shadow.max_body_bytes > MAX_SHADOW_BODY_BYTES {
        return Err(invalid(
            format!("{path}.max_body_bytes"),
            format!("must be at most {MAX_SHADOW_BODY_BYTES} bytes"),
        ));
    }
    if let Some(compare) = &shadow.compare {
        if !compare.json_pointer.starts_with('/') {
            return Err(invalid(
                format!("{path}.compare.json_pointer"),
                "must be an RFC 6901 JSON pointer starting with '/', e.g. \"/prediction\"",
            ));
        }
        if !(compare.tolerance.is_finite() && compare.tolerance >= 0.0) {
            return Err(invalid(
                format!("{path}.compare.tolerance"),
                "must be a finite number >= 0",
            ));
        }
    }
    Ok(())
}

fn validate_guard(path: &str, guard: &GuardConfig) -> Result<(), ConfigError> {
    let rate = guard.max_error_rate;
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(invalid(
            format!("{path}.max_error_rate"),
            "must be in (0, 1]: a 5xx share above which the variant is reverted",
        ));
    }
    if guard.window == 0 {
        return Err(invalid(
            format!("{path}.window"),
            "must be at least 1 response",
        ));
    }
    if guard.window > 100_000 {
        return Err(invalid(
            format!("{path}.window"),
            "must be at most 100000 responses",
        ));
    }
    if guard.min_requests == 0 || guard.min_requests > guard.window {
        return Err(invalid(
            format!("{path}.min_requests"),
            format!("must be in 1..={} (the window)", guard.window),
        ));
    }
    Ok(())
}

fn validate_layer(path: &str, layer: &LayerConfig) -> Result<(), ConfigError> {
    if layer.name.is_empty() {
        return Err(invalid(
            format!("{path}.name"),
            "must not be empty (it is the layer's salt)",
        ));
    }
    if layer.to > TOTAL_WEIGHT {
        return Err(invalid(
            format!("{path}.to"),
            format!("must be at most {TOTAL_WEIGHT}, found {}", layer.to),
        ));
    }
    if layer.from >= layer.to {
        return Err(invalid(
            format!("{path}.from"),
            format!("must be below to ({} >= {})", layer.from, layer.to),
        ));
    }
    Ok(())
}

/// Experiments sharing a layer name must have disjoint `[from, to)` ranges.
fn validate_layers(experiments: &[Experiment]) -> Result<(), ConfigError> {
    let mut ranges: Vec<(&str, u32, u32, usize)> = experiments
        .iter()
        .enumerate()
        .filter_map(|(index, e)| {
            e.layer
                .as_ref()
                .map(|l| (l.name.as_str(), l.from, l.to, index))
        })
        .collect();
    // insertion sort: a handful of layered experiments, and no sort routine in the wasm
    for i in 1..ranges.len() {
        let mut j = i;
        while j > 0 && ranges.get(j - 1) > ranges.get(j) {
            ranges.swap(j - 1, j);
            j -= 1;
        }
    }
    for pair in ranges.windows(2) {
        if let [(prev_name, _, prev_to, prev_index), (name, from, _, index)] = pair {
            if prev_name == name && from < prev_to {
                return Err(invalid(
                    format!("experiments[{index}].layer"),
                    format!(
                        "range overlaps experiments[{prev_index}] in layer \"{name}\"; ranges of one layer must not overlap"
                    ),
                ));
            }
        }
    }
    Ok(())
}
