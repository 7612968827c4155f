//! From stored experiments to the filter config of one service (pure).
//!
//! Every experiment of a service matches the same requests (`:authority` = the service), so
//! at most one *owner* routes them: the live A/B test or canary, else the most recently
//! finished one whose final split must stay in force (promoted, rolled back, expired). An
//! active shadow rides on the owner's experiment, or stands alone with one variant.

use crate::types::ab::{AbOutcome, AbStatus, AbTest};
use crate::types::deploy::{CanaryDoc, Shadow};
use rollgate_core::config::{
    CompareConfig, Experiment, ExperimentKind, FilterConfig, MatchRule, ShadowConfig, Variant,
    DEFAULT_FORCE_HEADER, TOTAL_WEIGHT,
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
    /// What routes the service right now and cannot be overridden (an active A/B test or an
    /// unfinished canary), described for a 409.
    pub fn live_owner(&self) -> Option<String> {
        let ab = self
            .ab_tests
            .iter()
            .find(|t| t.status == AbStatus::Active)
            .map(|t| format!("ab-test `{}`", t.experiment_id));
        let canary = || {
            self.canaries
                .iter()
                .find(|c| !c.state.is_finished())
                .map(|c| format!("canary `{}`", c.canary_id))
        };
        ab.or_else(canary)
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
    routed_experiment(
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
    )
}

fn canary_experiment(canary: &CanaryDoc) -> Experiment {
    let bp = canary
        .state
        .target_canary_bp()
        .unwrap_or(0)
        .min(TOTAL_WEIGHT);
    routed_experiment(
        &canary.canary_id,
        ExperimentKind::Canary,
        &canary.model_id,
        &[
            ("stable", &canary.stable_cluster, TOTAL_WEIGHT - bp),
            ("canary", &canary.canary_cluster, bp),
        ],
    )
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

/// The owner experiment: live first, else the most recently ended one still pinning a split.
fn owner(snapshot: &ServiceSnapshot) -> Option<Experiment> {
    if let Some(test) = snapshot
        .ab_tests
        .iter()
        .rev()
        .find(|t| t.status == AbStatus::Active)
    {
        return ab_treatment_bp(test).map(|bp| ab_experiment(test, bp));
    }
    if let Some(canary) = snapshot
        .canaries
        .iter()
        .rev()
        .find(|c| !c.state.is_finished())
    {
        return Some(canary_experiment(canary));
    }
    let mut ended: Vec<(i64, Experiment)> = Vec::new();
    for test in &snapshot.ab_tests {
        if let (Some(bp), Some(end)) = (ab_treatment_bp(test), test.ended_at.as_deref()) {
            ended.push((
                crate::time::parse_rfc3339(end).unwrap_or(0),
                ab_experiment(test, bp),
            ));
        }
    }
    for canary in &snapshot.canaries {
        ended.push((canary.state.updated_at_ms as i64, canary_experiment(canary)));
    }
    ended.into_iter().max_by_key(|(at, _)| *at).map(|(_, e)| e)
}

/// The filter config of a service.
pub fn build_config(service: &str, snapshot: &ServiceSnapshot) -> FilterConfig {
    let mut experiments = Vec::new();
    let owner = owner(snapshot);
    match (owner, snapshot.active_shadow()) {
        (Some(mut experiment), Some(shadow)) => {
            experiment.shadow = Some(shadow_config(shadow));
            experiments.push(experiment);
        }
        (Some(experiment), None) => experiments.push(experiment),
        (None, Some(shadow)) => {
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
        (None, None) => {}
    }
    FilterConfig {
        experiments,
        ..FilterConfig::default()
    }
}
