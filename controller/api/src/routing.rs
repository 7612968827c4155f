//! From stored experiments to the filter config of one service (pure).
//!
//! Every experiment of a service matches the same requests (`:authority` = the service), so
//! the experiments in the config must never claim the same user: they are the live A/B tests
//! and canaries (at most one, or several in exclusive layers, see [`crate::layers`]), then the
//! most recently finished ones whose final split must stay in force (promoted, rolled back,
//! expired), newest first, each only where it overlaps none taken before. An active shadow
//! rides on those experiments, or stands alone with one variant.

use crate::layers;
use crate::types::ab::{AbOutcome, AbStatus, AbTest};
use crate::types::deploy::{CanaryDoc, Shadow};
use rollgate_core::config::{
    CompareConfig, Experiment, ExperimentKind, FilterConfig, LayerConfig, MatchRule, ShadowConfig,
    Variant, DEFAULT_FORCE_HEADER, TOTAL_WEIGHT,
};

/// Everything stored about one service of one tenant.
#[derive(Debug, Clone, Default)]
pub struct ServiceSnapshot {
    /// Its A/B tests, oldest first.
    pub ab_tests: Vec<AbTest>,
    /// Its canaries, oldest first.
    pub canaries: Vec<CanaryDoc>,
    /// Its shadows, oldest first.
    pub shadows: Vec<Shadow>,
}

impl ServiceSnapshot {
    /// The live experiment (an active A/B test or an unfinished canary) a new one in `layer`
    /// would share users with, described for a 409; `None` when they are all in exclusive
    /// ranges of the same layer.
    pub fn live_conflict(&self, layer: Option<&LayerConfig>) -> Option<String> {
        let ab = self
            .ab_tests
            .iter()
            .filter(|t| t.status == AbStatus::Active)
            .map(|t| (format!("ab-test `{}`", t.experiment_id), t.layer.as_ref()));
        let canaries = self
            .canaries
            .iter()
            .filter(|c| !c.state.is_finished())
            .map(|c| (format!("canary `{}`", c.canary_id), c.layer.as_ref()));
        ab.chain(canaries)
            .find(|(_, live)| layers::overlaps(*live, layer))
            .map(|(what, live)| format!("{what} in {}", layers::describe(live)))
    }

    /// The active shadow, if any.
    pub fn active_shadow(&self) -> Option<&Shadow> {
        self.shadows.iter().rev().find(|s| s.active)
    }
}

fn match_service(service: &str) -> MatchRule {
    MatchRule {
        authority: Some(service.to_string()),
        ..MatchRule::default()
    }
}

fn routed_experiment(
    id: &str,
    kind: ExperimentKind,
    service: &str,
    arms: &[(&str, &str, u32)],
) -> Experiment {
    Experiment {
        id: id.to_string(),
        kind,
        salt: id.to_string(),
        match_rule: match_service(service),
        variants: arms
            .iter()
            .map(|(name, cluster, weight)| Variant {
                name: name.to_string(),
                cluster: cluster.to_string(),
                weight: *weight,
            })
            .collect(),
        force_header: Some(DEFAULT_FORCE_HEADER.to_string()),
        shadow: None,
        guard: None,
        layer: None,
        unit_kind: Default::default(),
    }
}

/// Treatment weight of an A/B test in basis points, given how it stands.
pub fn ab_treatment_bp(test: &AbTest) -> Option<u32> {
    match (test.status, test.outcome) {
        (AbStatus::Active, _) => {
            Some((test.treatment_fraction * f64::from(TOTAL_WEIGHT)).round() as u32)
        }
        (_, Some(AbOutcome::Promoted)) => Some(TOTAL_WEIGHT),
        (_, Some(AbOutcome::RolledBack | AbOutcome::Expired)) => Some(0),
        (_, Some(AbOutcome::Stopped) | None) => None,
    }
}

fn ab_experiment(test: &AbTest, treatment_bp: u32) -> Experiment {
    let mut experiment = routed_experiment(
        &test.experiment_id,
        ExperimentKind::Ab,
        &test.service,
        &[
            (
                "control",
                &test.control_cluster,
                TOTAL_WEIGHT - treatment_bp.min(TOTAL_WEIGHT),
            ),
            (
                "treatment",
                &test.treatment_cluster,
                treatment_bp.min(TOTAL_WEIGHT),
            ),
        ],
    );
    experiment.layer = test.layer.clone();
    experiment
}

fn canary_experiment(canary: &CanaryDoc) -> Experiment {
    let bp = canary
        .state
        .target_canary_bp()
        .unwrap_or(0)
        .min(TOTAL_WEIGHT);
    let mut experiment = routed_experiment(
        &canary.canary_id,
        ExperimentKind::Canary,
        &canary.model_id,
        &[
            ("stable", &canary.stable_cluster, TOTAL_WEIGHT - bp),
            ("canary", &canary.canary_cluster, bp),
        ],
    );
    experiment.layer = canary.layer.clone();
    experiment
}

fn shadow_config(shadow: &Shadow) -> ShadowConfig {
    ShadowConfig {
        cluster: shadow.shadow_cluster.clone(),
        authority: shadow.authority.clone(),
        sample: (shadow.sample * f64::from(TOTAL_WEIGHT)).round() as u32,
        timeout_ms: shadow.timeout_ms,
        max_body_bytes: shadow.max_body_bytes,
        compare: shadow.compare.as_ref().map(|c| CompareConfig {
            json_pointer: c.json_pointer.clone(),
            tolerance: c.tolerance,
        }),
    }
}

/// The experiments routing the service: live ones first (newest first), then ended ones still
/// pinning a split (most recently ended first); each taken only if it overlaps none before.
fn routing_experiments(snapshot: &ServiceSnapshot) -> Vec<Experiment> {
    // (live, time) ordering key: live before ended, newer before older.
    let mut candidates: Vec<(bool, i64, Experiment)> = Vec::new();
    for test in &snapshot.ab_tests {
        let Some(bp) = ab_treatment_bp(test) else {
            continue;
        };
        if test.status == AbStatus::Active {
            candidates.push((true, test.started_ms(), ab_experiment(test, bp)));
        } else if let Some(end) = test.ended_at.as_deref() {
            let at = crate::time::parse_rfc3339(end).unwrap_or(0);
            candidates.push((false, at, ab_experiment(test, bp)));
        }
    }
    for canary in &snapshot.canaries {
        let live = !canary.state.is_finished();
        let at = if live {
            canary.state.started_at_ms
        } else {
            canary.state.updated_at_ms
        };
        candidates.push((live, at as i64, canary_experiment(canary)));
    }
    candidates.sort_by_key(|(live, at, _)| std::cmp::Reverse((*live, *at)));
    let mut taken: Vec<Experiment> = Vec::new();
    for (_, _, experiment) in candidates {
        if taken
            .iter()
            .all(|t| !layers::overlaps(t.layer.as_ref(), experiment.layer.as_ref()))
        {
            taken.push(experiment);
        }
    }
    taken
}

/// The filter config of a service.
pub fn build_config(service: &str, snapshot: &ServiceSnapshot) -> FilterConfig {
    let mut experiments = routing_experiments(snapshot);
    match snapshot.active_shadow() {
        // Every routed user is in exactly one experiment; each carries the shadow, so the
        // sample share is the same for all of them.
        Some(shadow) if !experiments.is_empty() => {
            for experiment in &mut experiments {
                experiment.shadow = Some(shadow_config(shadow));
            }
        }
        Some(shadow) => {
            // A shadow alone routes every request to the primary: one variant, all buckets.
            let mut experiment = routed_experiment(
                &shadow.shadow_id,
                ExperimentKind::Ab,
                service,
                &[("primary", &shadow.primary_cluster, TOTAL_WEIGHT)],
            );
            experiment.shadow = Some(shadow_config(shadow));
            experiments.push(experiment);
        }
        None => {}
    }
    FilterConfig {
        experiments,
        ..FilterConfig::default()
    }
}
