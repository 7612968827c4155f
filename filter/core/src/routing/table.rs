//! Compilation of a validated [`FilterConfig`] into an immutable [`RoutingTable`] with every
//! range, match rule and salt precomputed, so a decision allocates nothing.

use super::request::authority_host;
use crate::bucket::{ranges_for, BucketRange};
use crate::config::{
    ConfigError, FilterConfig, GuardConfig, MissingUnit, ShadowConfig, UnitKind, UnitSource,
};
use xxhash_rust::xxh3::Xxh3;

/// One variant with its bucket range.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledVariant {
    /// Variant name.
    pub name: String,
    /// Cluster the route header is set to.
    pub cluster: String,
    /// Buckets `[start, end)` that go to this variant.
    pub range: BucketRange,
}

/// One experiment, ready for matching and bucketing.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledExperiment {
    /// Experiment id.
    pub id: String,
    /// Bucketing salt.
    pub salt: String,
    /// Required host (lower-case, port removed), if any.
    pub authority: Option<Vec<u8>>,
    /// Required `:path` prefix, if any.
    pub path_prefix: Option<Vec<u8>>,
    /// Required header values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Variants in listed order with contiguous ranges.
    pub variants: Vec<CompiledVariant>,
    /// Header that pins a variant by name.
    pub force_header: Option<String>,
    /// Shadow settings.
    pub shadow: Option<ShadowConfig>,
    /// Guard settings.
    pub guard: Option<GuardConfig>,
    /// Layer salt and range.
    pub layer: Option<(String, BucketRange)>,
    /// What a unit is.
    pub unit_kind: UnitKind,
}

impl CompiledExperiment {
    /// How specific the match rule is: exact authority beats none, then a longer path prefix,
    /// then more header conditions. Higher wins.
    pub fn specificity(&self) -> (bool, usize, usize) {
        (
            self.authority.is_some(),
            self.path_prefix.as_ref().map_or(0, Vec::len),
            self.headers.len(),
        )
    }
}

/// The compiled, immutable routing table built from one filter config.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingTable {
    pub(crate) experiments: Vec<CompiledExperiment>,
    pub(crate) unit_header: Option<String>,
    pub(crate) unit_cookie: Option<String>,
    pub(crate) missing_unit: MissingUnit,
    pub(crate) route_header: String,
    pub(crate) variant_header: String,
    pub(crate) generation: u64,
    pub(crate) read_headers: Vec<String>,
}

impl RoutingTable {
    /// Validates `config` and compiles it.
    pub fn compile(config: &FilterConfig) -> Result<RoutingTable, ConfigError> {
        config.validate()?;
        let experiments: Vec<CompiledExperiment> = config
            .experiments
            .iter()
            .map(|experiment| {
                let ranges = ranges_for(experiment.variants.iter().map(|v| v.weight));
                let variants = experiment
                    .variants
                    .iter()
                    .zip(ranges)
                    .map(|(v, range)| CompiledVariant {
                        name: v.name.clone(),
                        cluster: v.cluster.clone(),
                        range,
                    })
                    .collect();
                let rule = &experiment.match_rule;
                CompiledExperiment {
                    id: experiment.id.clone(),
                    salt: experiment.salt.clone(),
                    authority: rule
                        .authority
                        .as_ref()
                        .map(|a| authority_host(a.as_bytes()).to_ascii_lowercase()),
                    path_prefix: rule.path_prefix.as_ref().map(|p| p.as_bytes().to_vec()),
                    headers: rule
                        .headers
                        .iter()
                        .map(|(name, value)| (name.clone(), value.as_bytes().to_vec()))
                        .collect(),
                    variants,
                    force_header: experiment.force_header.clone(),
                    shadow: experiment.shadow.clone(),
                    guard: experiment.guard.clone(),
                    layer: experiment.layer.as_ref().map(|layer| {
                        let range = BucketRange {
                            start: u16::try_from(layer.from).unwrap_or(u16::MAX),
                            end: u16::try_from(layer.to).unwrap_or(0),
                        };
                        (layer.name.clone(), range)
                    }),
                    unit_kind: experiment.unit_kind,
                }
            })
            .collect();
        let UnitSource {
            header,
            cookie,
            missing_unit,
        } = &config.unit;
        let read_headers = read_headers(&experiments, header, cookie, *missing_unit);
        Ok(RoutingTable {
            read_headers,
            experiments,
            unit_header: header.clone(),
            unit_cookie: cookie.clone(),
            missing_unit: *missing_unit,
            route_header: config.route_header.clone(),
            variant_header: config.variant_header.clone(),
            generation: generation_of(config),
        })
    }

    /// Every request header a decision may read, each once: the glue fetches just these by
    /// name (one host call each) instead of copying the whole header map.
    pub fn request_headers(&self) -> &[String] {
        &self.read_headers
    }

    /// Parses, validates and compiles plugin configuration bytes.
    pub fn from_json(bytes: &[u8]) -> Result<RoutingTable, ConfigError> {
        RoutingTable::compile(&FilterConfig::from_json(bytes)?)
    }

    /// The compiled experiments, in config order (indexes match the config's).
    pub fn experiments(&self) -> &[CompiledExperiment] {
        &self.experiments
    }

    /// Header set to the chosen cluster.
    pub fn route_header(&self) -> &str {
        &self.route_header
    }

    /// Header set to the chosen variant name.
    pub fn variant_header(&self) -> &str {
        &self.variant_header
    }

    /// A stable fingerprint of the config this table came from (xxh3 over all its fields):
    /// equal on every VM that loaded the same config, different after any change. Guard trips
    /// are keyed by it so that a new config clears them.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

fn generation_of(config: &FilterConfig) -> u64 {
    let mut hasher = Fingerprint(Xxh3::new());
    hasher.u32(config.version);
    hasher.opt(&config.unit.header);
    hasher.opt(&config.unit.cookie);
    hasher.u32(config.unit.missing_unit as u32);
    hasher.str(&config.route_header);
    hasher.str(&config.variant_header);
    for e in &config.experiments {
        hasher.str(&e.id);
        hasher.u32(e.kind as u32);
        hasher.str(&e.salt);
        hasher.opt(&e.match_rule.authority);
        hasher.opt(&e.match_rule.path_prefix);
        for (name, value) in &e.match_rule.headers {
            hasher.str(name);
            hasher.str(value);
        }
        for v in &e.variants {
            hasher.str(&v.name);
            hasher.str(&v.cluster);
            hasher.u32(v.weight);
        }
        hasher.opt(&e.force_header);
        if let Some(s) = &e.shadow {
            hasher.str(&s.cluster);
            hasher.str(&s.authority);
            hasher.u32(s.sample);
            hasher.u32(s.timeout_ms);
            hasher.u32(s.max_body_bytes);
            if let Some(c) = &s.compare {
                hasher.str(&c.json_pointer);
                hasher.u64(c.tolerance.to_bits());
            }
        }
        if let Some(g) = &e.guard {
            hasher.u64(g.max_error_rate.to_bits());
            hasher.u32(g.min_requests);
            hasher.u32(g.window);
        }
        if let Some(l) = &e.layer {
            hasher.str(&l.name);
            hasher.u32(l.from);
            hasher.u32(l.to);
        }
        hasher.u32(e.unit_kind as u32);
    }
    hasher.0.digest()
}

/// Feeds config fields into xxh3 unambiguously (strings are length-prefixed, absent options
/// marked), so two different configs get different fingerprints.
struct Fingerprint(Xxh3);

impl Fingerprint {
    fn u32(&mut self, value: u32) {
        self.0.update(&value.to_le_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.0.update(&value.to_le_bytes());
    }
    fn str(&mut self, value: &str) {
        self.u64(value.len() as u64);
        self.0.update(value.as_bytes());
    }
    fn opt(&mut self, value: &Option<String>) {
        match value {
            Some(v) => {
                self.u32(1);
                self.str(v);
            }
            None => self.u32(0),
        }
    }
}

/// The header names `decide` reads for this table, deduplicated, in a fixed order.
fn read_headers(
    experiments: &[CompiledExperiment],
    unit_header: &Option<String>,
    unit_cookie: &Option<String>,
    missing_unit: MissingUnit,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    if experiments.iter().any(|e| e.authority.is_some()) {
        add(":authority");
    }
    if experiments.iter().any(|e| e.path_prefix.is_some()) {
        add(":path");
    }
    if let Some(header) = unit_header {
        add(header);
    }
    if unit_cookie.is_some() {
        add("cookie");
    }
    let per_request = missing_unit == MissingUnit::Random
        || experiments.iter().any(|e| e.unit_kind == UnitKind::Request);
    if per_request {
        add(super::decide::REQUEST_ID_HEADER);
    }
    for experiment in experiments {
        if let Some(force) = &experiment.force_header {
            add(force);
        }
        for (name, _) in &experiment.headers {
            add(name);
        }
    }
    names
}
