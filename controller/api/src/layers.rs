//! Exclusive layers (pure): several experiments may route one service when each sits in the
//! same named layer with a disjoint bucket range `[from, to)` (the filter config's `layer`
//! field, DESIGN.md): a user's layer bucket (salt = layer name) falls in at most one range, so
//! no user is in two of them. Anything else on one service overlaps.

use crate::error::{ApiError, ApiResult};
use crate::validate;
use rollgate_core::config::{LayerConfig, TOTAL_WEIGHT};

/// Whether two experiments of one service could both claim a user: true unless both are in
/// the same layer with disjoint ranges.
pub fn overlaps(a: Option<&LayerConfig>, b: Option<&LayerConfig>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.name != b.name || (a.from < b.to && b.from < a.to),
        _ => true,
    }
}

/// `layer "ranking" [0, 5000)`, or `no layer (all users)`.
pub fn describe(layer: Option<&LayerConfig>) -> String {
    match layer {
        Some(l) => format!("layer {:?} [{}, {})", l.name, l.from, l.to),
        None => "no layer (all users)".to_string(),
    }
}

/// 422 naming `field.name|from|to` unless the layer is a label and `from < to <= 10000`.
pub fn check(field: &str, layer: &LayerConfig) -> ApiResult<()> {
    validate::label(&format!("{field}.name"), &layer.name)?;
    if layer.to > TOTAL_WEIGHT {
        return Err(ApiError::invalid(
            format!("{field}.to"),
            format!(
                "must be at most {TOTAL_WEIGHT} (layer buckets), found {}",
                layer.to
            ),
        ));
    }
    if layer.from >= layer.to {
        return Err(ApiError::invalid(
            format!("{field}.from"),
            format!("must be below to ({} >= {})", layer.from, layer.to),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str, from: u32, to: u32) -> LayerConfig {
        LayerConfig {
            name: name.into(),
            from,
            to,
        }
    }

    #[test]
    fn only_disjoint_ranges_of_one_layer_are_exclusive() {
        let a = layer("ranking", 0, 5_000);
        assert!(!overlaps(Some(&a), Some(&layer("ranking", 5_000, 10_000))));
        assert!(overlaps(Some(&a), Some(&layer("ranking", 4_999, 10_000))));
        assert!(overlaps(Some(&a), Some(&layer("pricing", 5_000, 10_000))));
        assert!(overlaps(Some(&a), None));
        assert!(overlaps(None, None));
    }

    #[test]
    fn bad_ranges_name_the_field() {
        assert!(check("layer", &layer("ranking", 0, 10_000)).is_ok());
        let err = check("layer", &layer("ranking", 10, 10)).expect_err("empty");
        assert!(format!("{err:?}").contains("layer.from"), "{err:?}");
        let err = check("layer", &layer("ranking", 0, 10_001)).expect_err("too far");
        assert!(format!("{err:?}").contains("layer.to"), "{err:?}");
    }
}
