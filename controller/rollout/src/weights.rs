//! Applying a canary weight to the base filter config.

use crate::error::RolloutError;
use rollgate_core::config::{FilterConfig, TOTAL_WEIGHT};

/// Returns `base` with the experiment's canary at `canary_bp` basis points and the stable
/// variant taking the rest; other variants and experiments keep their weights. The result is
/// validated with the filter's own validator.
pub fn apply_canary_weight(
    base: &FilterConfig,
    experiment: &str,
    stable: &str,
    canary: &str,
    canary_bp: u32,
) -> Result<FilterConfig, RolloutError> {
    let mut config = base.clone();
    let Some(exp) = config.experiments.iter_mut().find(|e| e.id == experiment) else {
        return Err(RolloutError::spec(
            "spec.experiment",
            format!("experiment {experiment:?} is not in the base config"),
        ));
    };
    let others: u32 = exp
        .variants
        .iter()
        .filter(|v| v.name != stable && v.name != canary)
        .map(|v| v.weight)
        .sum();
    let available = TOTAL_WEIGHT.saturating_sub(others);
    if canary_bp > available {
        return Err(RolloutError::spec(
            "spec.steps",
            format!(
                "canary weight {canary_bp} bp does not fit: other variants of {experiment:?} hold {others} bp of {TOTAL_WEIGHT}"
            ),
        ));
    }
    for variant in &mut exp.variants {
        if variant.name == canary {
            variant.weight = canary_bp;
        } else if variant.name == stable {
            variant.weight = available - canary_bp;
        }
    }
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> FilterConfig {
        let json = r#"{"version":1,"experiments":[
            {"id":"other","kind":"ab","salt":"o","variants":[
                {"name":"control","cluster":"c","weight":5000},{"name":"treatment","cluster":"t","weight":5000}]},
            {"id":"fraud-v2","kind":"canary","salt":"f","variants":[
                {"name":"stable","cluster":"s","weight":10000},{"name":"canary","cluster":"c","weight":0}]}]}"#;
        FilterConfig::from_json(json.as_bytes()).expect("valid base")
    }

    #[test]
    fn sets_canary_and_gives_the_rest_to_stable() {
        let config =
            apply_canary_weight(&base(), "fraud-v2", "stable", "canary", 500).expect("applies");
        let weights: Vec<u32> = config.experiments[1]
            .variants
            .iter()
            .map(|v| v.weight)
            .collect();
        assert_eq!(weights, vec![9_500, 500]);
        let untouched: Vec<u32> = config.experiments[0]
            .variants
            .iter()
            .map(|v| v.weight)
            .collect();
        assert_eq!(untouched, vec![5_000, 5_000]);
    }

    #[test]
    fn full_and_zero_weights_work() {
        for (bp, stable) in [(0, 10_000), (10_000, 0)] {
            let config =
                apply_canary_weight(&base(), "fraud-v2", "stable", "canary", bp).expect("applies");
            assert_eq!(config.experiments[1].variants[0].weight, stable);
        }
    }

    #[test]
    fn unknown_experiment_names_the_field() {
        let err = apply_canary_weight(&base(), "nope", "stable", "canary", 1).expect_err("refused");
        assert!(err.to_string().contains("spec.experiment"), "{err}");
    }

    #[test]
    fn weight_that_does_not_fit_is_refused() {
        let err =
            apply_canary_weight(&base(), "other", "control", "nope", 6_000).expect_err("refused");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}
