//! From the raw YAML to a [`Rollout`]: every rule, with errors that name the field.

use super::model::{
    default_steps, Plan, PrometheusTarget, Rollout, SecretRef, SinkTarget, SourceAuth, Step,
};
use super::raw::{RawGate, RawPrometheus, RawRollout, RawSecret, RawSink, RawStep};
use crate::duration::{format_duration_ms, parse_duration_ms};
use crate::error::RolloutError;
use crate::gates::sequential::SequentialSettings;
use crate::gates::{
    render_query, BuiltinTemplate, CompareOp, Condition, Gate, GateQueries, GateSource,
    NoDataPolicy, QueryVars, DEFAULT_MIN_SAMPLES, MIN_SRM_EXPOSURES, SRM_P_THRESHOLD,
};
use crate::weights::apply_canary_weight;
use rollgate_core::config::{FilterConfig, TOTAL_WEIGHT};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// API version of the Rollout contract.
pub const API_VERSION: &str = "rollgate.dev/v1";

/// `template:` value of the built-in sample-ratio-mismatch gate.
pub const SRM_TEMPLATE: &str = "srm";
/// Kind of the Rollout contract.
pub const KIND: &str = "Rollout";
/// Default `.wasm` path in the ECDS file.
pub const DEFAULT_WASM_FILENAME: &str = "/etc/envoy/rollgate_filter.wasm";
const DEFAULT_INTERVAL_MS: u64 = 60_000;
const DEFAULT_PROMETHEUS_TIMEOUT_MS: u64 = 5_000;
/// Default `spec.prometheus.scrape_interval`.
pub const DEFAULT_SCRAPE_INTERVAL_MS: u64 = 15_000;
/// Gate windows span at least this many scrape intervals (so `rate()` has samples).
pub const MIN_WINDOW_SCRAPES: u64 = 4;

/// Validates `raw`; relative paths are resolved against `spec_dir`, and `base_config` is the
/// already parsed and validated filter config `spec.base_config` points at.
pub fn validate(
    raw: RawRollout,
    spec_dir: &Path,
    base_config: FilterConfig,
) -> Result<Rollout, RolloutError> {
    if raw.api_version != API_VERSION {
        return Err(RolloutError::spec(
            "apiVersion",
            format!("must be {API_VERSION:?}, found {:?}", raw.api_version),
        ));
    }
    if raw.kind != KIND {
        return Err(RolloutError::spec(
            "kind",
            format!("must be {KIND:?}, found {:?}", raw.kind),
        ));
    }
    non_empty("metadata.name", &raw.metadata.name)?;
    let namespace = raw.metadata.namespace.clone().unwrap_or_default();
    let spec = raw.spec;
    non_empty("spec.experiment", &spec.experiment)?;
    check_variants(&base_config, &spec.experiment, &spec.stable, &spec.canary)?;
    let sink = validate_sink(&spec.sink, spec_dir, &namespace)?;
    let state_file = spec.state_file.as_deref().map(|p| resolve(spec_dir, p));
    if state_file.is_none() && !matches!(sink, SinkTarget::Kubernetes { .. }) {
        return Err(RolloutError::spec(
            "spec.state_file",
            "required with the ecds_file and stdout sinks (progress is kept there so a restart resumes)",
        ));
    }
    let prometheus = spec
        .prometheus
        .as_ref()
        .map(|p| validate_prometheus(p, spec_dir))
        .transpose()?;
    let scrape_ms = prometheus
        .as_ref()
        .map_or(DEFAULT_SCRAPE_INTERVAL_MS, |p| p.scrape_interval_ms);
    let gates = spec
        .gates
        .iter()
        .enumerate()
        .map(|(i, g)| validate_gate(&format!("spec.gates[{i}]"), g, scrape_ms))
        .collect::<Result<Vec<_>, _>>()?;
    let mut names = BTreeSet::new();
    for (i, gate) in gates.iter().enumerate() {
        if !names.insert(gate.name.as_str()) {
            return Err(RolloutError::spec(
                format!("spec.gates[{i}].name"),
                format!("duplicate gate name {:?}", gate.name),
            ));
        }
        GateQueries::render(
            gate,
            &spec.experiment,
            &namespace,
            &spec.canary,
            &spec.stable,
        )
        .map_err(|e| RolloutError::spec(format!("spec.gates[{i}].query"), e))?;
    }
    let steps = match &spec.steps {
        Some(steps) => validate_steps(steps, &gates)?,
        None => default_steps()
            .into_iter()
            .map(|(canary_bp, pause_ms)| Step {
                canary_bp,
                pause_ms,
                gates: all_gates(&gates, canary_bp),
            })
            .collect(),
    };
    for (i, step) in steps.iter().enumerate() {
        apply_canary_weight(
            &base_config,
            &spec.experiment,
            &spec.stable,
            &spec.canary,
            step.canary_bp,
        )
        .map_err(|e| RolloutError::spec(format!("spec.steps[{i}].weight"), e.to_string()))?;
    }
    if prometheus.is_none() && !gates.is_empty() {
        return Err(RolloutError::spec(
            "spec.prometheus",
            "required when spec.gates is not empty",
        ));
    }
    Ok(Rollout {
        name: raw.metadata.name,
        namespace,
        experiment: spec.experiment,
        stable: spec.stable,
        canary: spec.canary,
        base_config,
        base_config_path: resolve(spec_dir, &spec.base_config),
        sink,
        prometheus,
        state_file,
        plan: Plan { steps, gates },
    })
}

/// Resolves `path` against `dir` unless it is absolute.
pub fn resolve(dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

fn non_empty(field: &str, value: &str) -> Result<(), RolloutError> {
    if value.trim().is_empty() {
        Err(RolloutError::spec(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn check_variants(
    base: &FilterConfig,
    experiment: &str,
    stable: &str,
    canary: &str,
) -> Result<(), RolloutError> {
    let Some(exp) = base.experiments.iter().find(|e| e.id == experiment) else {
        let known: Vec<&str> = base.experiments.iter().map(|e| e.id.as_str()).collect();
        return Err(RolloutError::spec(
            "spec.experiment",
            format!("experiment {experiment:?} is not in spec.base_config (it has {known:?})"),
        ));
    };
    let known: Vec<&str> = exp.variants.iter().map(|v| v.name.as_str()).collect();
    for (field, name) in [("spec.stable", stable), ("spec.canary", canary)] {
        if !known.contains(&name) {
            return Err(RolloutError::spec(
                field,
                format!("variant {name:?} is not in experiment {experiment:?} (it has {known:?})"),
            ));
        }
    }
    if stable == canary {
        return Err(RolloutError::spec(
            "spec.canary",
            "must differ from spec.stable",
        ));
    }
    Ok(())
}

fn validate_sink(
    sink: &RawSink,
    spec_dir: &Path,
    namespace: &str,
) -> Result<SinkTarget, RolloutError> {
    let set = [
        sink.ecds_file.is_some(),
        sink.kubernetes.is_some(),
        sink.stdout.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err(RolloutError::spec(
            "spec.sink",
            "set exactly one of ecds_file, kubernetes, stdout",
        ));
    }
    if let Some(ecds) = &sink.ecds_file {
        non_empty("spec.sink.ecds_file.path", &ecds.path)?;
        let name = ecds.name.clone().unwrap_or_else(|| "rollgate".to_string());
        non_empty("spec.sink.ecds_file.name", &name)?;
        return Ok(SinkTarget::EcdsFile {
            path: resolve(spec_dir, &ecds.path),
            name,
            wasm_filename: ecds
                .wasm_filename
                .clone()
                .unwrap_or_else(|| DEFAULT_WASM_FILENAME.to_string()),
        });
    }
    if let Some(k8s) = &sink.kubernetes {
        non_empty("spec.sink.kubernetes.wasm_plugin", &k8s.wasm_plugin)?;
        let ns = k8s
            .namespace
            .clone()
            .unwrap_or_else(|| namespace.to_string());
        if ns.is_empty() {
            return Err(RolloutError::spec(
                "spec.sink.kubernetes.namespace",
                "required (or set metadata.namespace)",
            ));
        }
        return Ok(SinkTarget::Kubernetes {
            wasm_plugin: k8s.wasm_plugin.clone(),
            namespace: ns,
        });
    }
    Ok(SinkTarget::Stdout)
}

fn validate_prometheus(
    raw: &RawPrometheus,
    spec_dir: &Path,
) -> Result<PrometheusTarget, RolloutError> {
    let (timeout, scrape_interval) = (raw.timeout.as_deref(), raw.scrape_interval.as_deref());
    let url = raw.url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(RolloutError::spec(
            "spec.prometheus.url",
            format!("{url:?} must be an http:// or https:// URL (e.g. http://127.0.0.1:9090)"),
        ));
    }
    if raw.ca_file.is_some() && !url.starts_with("https://") {
        return Err(RolloutError::spec(
            "spec.prometheus.ca_file",
            "only with an https:// url",
        ));
    }
    let auth = match (&raw.bearer_token, &raw.basic_auth) {
        (Some(_), Some(_)) => {
            return Err(RolloutError::spec(
                "spec.prometheus",
                "set at most one of bearer_token, basic_auth",
            ))
        }
        (Some(token), None) => {
            SourceAuth::Bearer(secret("spec.prometheus.bearer_token", token, spec_dir)?)
        }
        (None, Some(basic)) => {
            non_empty("spec.prometheus.basic_auth.username", &basic.username)?;
            SourceAuth::Basic {
                username: basic.username.clone(),
                password: secret(
                    "spec.prometheus.basic_auth.password",
                    &basic.password,
                    spec_dir,
                )?,
            }
        }
        (None, None) => SourceAuth::None,
    };
    let mut headers = Vec::with_capacity(raw.headers.len());
    for (name, value) in &raw.headers {
        let field = format!("spec.prometheus.headers.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(RolloutError::spec(field, "not a valid HTTP header name"));
        }
        if name.eq_ignore_ascii_case("authorization") {
            return Err(RolloutError::spec(
                field,
                "credentials never go in the spec in clear; use bearer_token or basic_auth \
                 with a file or env",
            ));
        }
        if http::HeaderValue::from_str(value).is_err() {
            return Err(RolloutError::spec(field, "not a valid HTTP header value"));
        }
        headers.push((name.clone(), value.clone()));
    }
    let timeout_ms = match timeout {
        Some(text) => duration("spec.prometheus.timeout", text)?,
        None => DEFAULT_PROMETHEUS_TIMEOUT_MS,
    };
    if timeout_ms == 0 {
        return Err(RolloutError::spec(
            "spec.prometheus.timeout",
            "must be more than 0",
        ));
    }
    let scrape_interval_ms = match scrape_interval {
        Some(text) => duration("spec.prometheus.scrape_interval", text)?,
        None => DEFAULT_SCRAPE_INTERVAL_MS,
    };
    if scrape_interval_ms == 0 {
        return Err(RolloutError::spec(
            "spec.prometheus.scrape_interval",
            "must be more than 0",
        ));
    }
    Ok(PrometheusTarget {
        url: url.to_string(),
        ca_file: raw.ca_file.as_deref().map(|p| resolve(spec_dir, p)),
        auth,
        headers,
        timeout_ms,
        scrape_interval_ms,
    })
}

fn secret(field: &str, raw: &RawSecret, spec_dir: &Path) -> Result<SecretRef, RolloutError> {
    match (&raw.file, &raw.env) {
        (Some(file), None) => {
            non_empty(&format!("{field}.file"), file)?;
            Ok(SecretRef::File(resolve(spec_dir, file)))
        }
        (None, Some(env)) => {
            non_empty(&format!("{field}.env"), env)?;
            Ok(SecretRef::Env(env.clone()))
        }
        _ => Err(RolloutError::spec(
            field,
            "set exactly one of file, env (the secret itself never goes in the spec)",
        )),
    }
}

fn duration(field: &str, text: &str) -> Result<u64, RolloutError> {
    parse_duration_ms(text).map_err(|e| RolloutError::spec(field, e))
}

fn validate_gate(field: &str, raw: &RawGate, scrape_ms: u64) -> Result<Gate, RolloutError> {
    non_empty(&format!("{field}.name"), &raw.name)?;
    let builtin = |sub: &str, name: &str| {
        BuiltinTemplate::from_name(name).ok_or_else(|| {
            let mut names: Vec<&str> = BuiltinTemplate::ALL.iter().map(|t| t.name()).collect();
            let message = if sub == "template" {
                names.push(SRM_TEMPLATE);
                format!("unknown template {name:?}; built-ins are {names:?}")
            } else if name == SRM_TEMPLATE {
                format!("srm cannot be compared; write `template: srm`. Comparable built-ins are {names:?}")
            } else {
                format!("unknown template {name:?}; comparable built-ins are {names:?}")
            };
            RolloutError::spec(format!("{field}.{sub}"), message)
        })
    };
    let source = if let Some(metric) = &raw.sequential {
        sequential_source(field, raw, metric)?
    } else if raw.confidence.is_some() || raw.n_star.is_some() {
        return Err(RolloutError::spec(
            field,
            "confidence and n_star belong to `sequential:` gates",
        ));
    } else {
        match (&raw.template, &raw.query, &raw.compare) {
            (Some(t), None, None) if t == SRM_TEMPLATE => GateSource::Srm,
            (Some(t), None, None) => GateSource::Template(builtin("template", t)?),
            (None, Some(q), None) => {
                non_empty(&format!("{field}.query"), q)?;
                GateSource::Query(q.clone())
            }
            (None, None, Some(c)) => GateSource::Compare(builtin("compare", c)?),
            _ => {
                return Err(RolloutError::spec(
                    field,
                    "set exactly one of template, query, compare, sequential",
                ));
            }
        }
    };
    let condition = match (&source, &raw.condition) {
        (GateSource::Srm, None) => Condition {
            op: CompareOp::GreaterOrEqual,
            threshold: SRM_P_THRESHOLD,
        },
        (GateSource::Srm, Some(_)) => {
            return Err(RolloutError::spec(
                format!("{field}.condition"),
                "the srm gate has a fixed condition (p-value >= 0.001; below it the step is \
                 invalid and the rollout pauses); remove condition",
            ))
        }
        (_, Some(text)) => Condition::parse(text)
            .map_err(|e| RolloutError::spec(format!("{field}.condition"), e))?,
        (_, None) => {
            return Err(RolloutError::spec(
                format!("{field}.condition"),
                "required (e.g. \"< 0.01\"); only template: srm has none",
            ))
        }
    };
    if matches!(source, GateSource::Srm) && raw.failure_limit.is_some() {
        return Err(RolloutError::spec(
            format!("{field}.failure_limit"),
            "the srm gate never rolls back (a mismatch pauses the rollout); remove failure_limit",
        ));
    }
    let interval_ms = match &raw.interval {
        Some(text) => duration(&format!("{field}.interval"), text)?,
        None => DEFAULT_INTERVAL_MS,
    };
    if interval_ms == 0 {
        return Err(RolloutError::spec(
            format!("{field}.interval"),
            "must be more than 0",
        ));
    }
    let failure_limit = raw.failure_limit.unwrap_or(1);
    if failure_limit == 0 {
        return Err(RolloutError::spec(
            format!("{field}.failure_limit"),
            "must be at least 1",
        ));
    }
    let no_data = match raw.no_data.as_deref() {
        None | Some("inconclusive") => NoDataPolicy::Inconclusive,
        Some("fail") => NoDataPolicy::Fail,
        Some("pass") => NoDataPolicy::Pass,
        Some(other) => {
            return Err(RolloutError::spec(
                format!("{field}.no_data"),
                format!("{other:?} is not a policy; use fail, pass or inconclusive"),
            ))
        }
    };
    let min_window = MIN_WINDOW_SCRAPES * scrape_ms;
    let window_ms = match &raw.window {
        Some(text) => {
            let window = duration(&format!("{field}.window"), text)?;
            if window < min_window {
                return Err(RolloutError::spec(
                    format!("{field}.window"),
                    format!(
                        "{text} is shorter than {MIN_WINDOW_SCRAPES} scrape intervals ({}, \
                         spec.prometheus.scrape_interval {}); rate() needs several samples, \
                         use at least {}",
                        format_duration_ms(min_window),
                        format_duration_ms(scrape_ms),
                        format_duration_ms(min_window)
                    ),
                ));
            }
            window
        }
        None => interval_ms.max(min_window),
    };
    if matches!(source, GateSource::Srm) && raw.window.is_some() {
        return Err(RolloutError::spec(
            format!("{field}.window"),
            "the srm gate counts exposures since the step's weight was pushed; remove window",
        ));
    }
    if raw.samples_query.is_some() && !matches!(source, GateSource::Query(_)) {
        return Err(RolloutError::spec(
            format!("{field}.samples_query"),
            "only for custom `query` gates (the built-ins count responses themselves)",
        ));
    }
    if let Some(q) = &raw.samples_query {
        non_empty(&format!("{field}.samples_query"), q)?;
        let vars = QueryVars {
            experiment: "e",
            variant: "v",
            namespace: "n",
            interval: "1m",
        };
        render_query(q, &vars)
            .map_err(|e| RolloutError::spec(format!("{field}.samples_query"), e))?;
    }
    let min_samples = match (&source, raw.min_samples) {
        (GateSource::Query(_), Some(n)) if n > 0 && raw.samples_query.is_none() => {
            return Err(RolloutError::spec(
                format!("{field}.min_samples"),
                "a custom query gate needs samples_query to count its samples",
            ))
        }
        (_, Some(n)) => n,
        (GateSource::Query(_), None) if raw.samples_query.is_some() => DEFAULT_MIN_SAMPLES,
        (GateSource::Query(_), None) => 0,
        (GateSource::Srm, None) => MIN_SRM_EXPOSURES,
        (_, None) => DEFAULT_MIN_SAMPLES,
    };
    Ok(Gate {
        name: raw.name.clone(),
        source,
        condition,
        interval_ms,
        window_ms,
        min_samples,
        samples_query: raw.samples_query.clone(),
        failure_limit,
        no_data,
    })
}

/// `sequential: error_rate` with `condition: "< tolerance"` and optional `confidence`,
/// `n_star`.
fn sequential_source(field: &str, raw: &RawGate, metric: &str) -> Result<GateSource, RolloutError> {
    if raw.template.is_some() || raw.query.is_some() || raw.compare.is_some() {
        return Err(RolloutError::spec(
            field,
            "set exactly one of template, query, compare, sequential",
        ));
    }
    if metric != "error_rate" {
        return Err(RolloutError::spec(
            format!("{field}.sequential"),
            format!("{metric:?} is not supported; the sequential gate compares error_rate"),
        ));
    }
    let condition_field = format!("{field}.condition");
    let text = raw.condition.as_deref().ok_or_else(|| {
        RolloutError::spec(
            &condition_field,
            "required: \"< tolerance\", e.g. \"< 0.005\"",
        )
    })?;
    let condition = Condition::parse(text).map_err(|e| RolloutError::spec(&condition_field, e))?;
    if condition.op != CompareOp::Less || condition.threshold < 0.0 {
        return Err(RolloutError::spec(
            condition_field,
            "must be \"< tolerance\" with tolerance >= 0 (canary minus stable error rate)",
        ));
    }
    let defaults = SequentialSettings::default();
    let confidence = raw.confidence.unwrap_or(defaults.confidence);
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(RolloutError::spec(
            format!("{field}.confidence"),
            "must be strictly between 0 and 1 (e.g. 0.95)",
        ));
    }
    let n_star = raw.n_star.unwrap_or(defaults.n_star);
    if !(n_star.is_finite() && n_star > 0.0) {
        return Err(RolloutError::spec(
            format!("{field}.n_star"),
            "must be a positive expected number of responses (both variants)",
        ));
    }
    Ok(GateSource::Sequential(SequentialSettings {
        tolerance: condition.threshold,
        confidence,
        n_star,
    }))
}

fn all_gates(gates: &[Gate], canary_bp: u32) -> Vec<String> {
    // At 100 % there is no stable traffic left to compare with; a final pause still checks
    // the canary's own gates.
    gates
        .iter()
        .filter(|g| {
            canary_bp < TOTAL_WEIGHT
                || !matches!(g.source, GateSource::Compare(_) | GateSource::Sequential(_))
        })
        .map(|g| g.name.clone())
        .collect()
}

fn validate_steps(raw: &[RawStep], all: &[Gate]) -> Result<Vec<Step>, RolloutError> {
    if raw.is_empty() {
        return Err(RolloutError::spec(
            "spec.steps",
            "must not be empty (omit it for the default six stages)",
        ));
    }
    let mut steps = Vec::with_capacity(raw.len());
    for (i, step) in raw.iter().enumerate() {
        let field = format!("spec.steps[{i}]");
        let bp = step.weight * 100.0;
        if !(step.weight > 0.0 && step.weight <= 100.0) || (bp - bp.round()).abs() > 1e-6 {
            return Err(RolloutError::spec(
                format!("{field}.weight"),
                format!(
                    "{} is not a percent in (0, 100] with at most two decimals",
                    step.weight
                ),
            ));
        }
        let canary_bp = bp.round() as u32;
        let pause_ms = match &step.pause {
            Some(text) => duration(&format!("{field}.pause"), text)?,
            None => 0,
        };
        let gates = match &step.gates {
            Some(names) => {
                for (j, name) in names.iter().enumerate() {
                    if !all.iter().any(|g| &g.name == name) {
                        return Err(RolloutError::spec(
                            format!("{field}.gates[{j}]"),
                            format!("no gate named {name:?} in spec.gates"),
                        ));
                    }
                }
                names.clone()
            }
            None => all_gates(all, canary_bp),
        };
        steps.push(Step {
            canary_bp,
            pause_ms,
            gates,
        });
    }
    if steps.last().map(|s| s.canary_bp) != Some(TOTAL_WEIGHT) {
        return Err(RolloutError::spec(
            format!("spec.steps[{}].weight", raw.len() - 1),
            "the last step must be 100 (the rollout is promoted there)",
        ));
    }
    Ok(steps)
}
