//! The per-request decision: which experiment applies, which variant the unit gets, and why.

use super::request::{authority_host, cookie_value, RequestView};
use super::table::{CompiledExperiment, RoutingTable};
use crate::bucket::bucket_parts;
use crate::config::{MissingUnit, UnitKind};
use crate::shadow::is_shadowed;

/// Header carrying the request id Envoy generates; the unit key of request-level experiments.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Why a request got its variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionReason {
    /// The unit key's bucket fell in the variant's range.
    Hashed,
    /// The experiment's force header named the variant.
    Forced,
    /// No unit key: the `missing_unit` policy chose.
    MissingUnit,
    /// The hashed variant was tripped by the guard; the first variant serves instead.
    Guarded,
}

/// The routing decision for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'t> {
    /// Index of the experiment in the config.
    pub experiment_index: usize,
    /// Experiment id.
    pub experiment_id: &'t str,
    /// Index of the variant in the experiment.
    pub variant_index: usize,
    /// Variant name (value of the variant header).
    pub variant_name: &'t str,
    /// Cluster (value of the route header).
    pub cluster: &'t str,
    /// Why this variant.
    pub reason: DecisionReason,
    /// Whether a copy of this request goes to the experiment's shadow cluster.
    pub shadow: bool,
}

/// Where the unit key came from; borrowed from the request or derived from the caller's random.
enum UnitKey<'r> {
    Borrowed(&'r [u8]),
    Random([u8; 8]),
}

impl UnitKey<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            UnitKey::Borrowed(bytes) => bytes,
            UnitKey::Random(bytes) => bytes,
        }
    }
}

/// The caller's per-request random value, asked for only when a decision needs it (a
/// request-level unit or `missing_unit: random` without `x-request-id`): a plain `u64`, or a
/// closure that computes it on first use. A closure must return the same value on every call
/// within one decision (the layer check and the variant choice hash the same key).
pub trait RandomSource {
    /// The request's random value.
    fn random(&self) -> u64;
}

impl RandomSource for u64 {
    fn random(&self) -> u64 {
        *self
    }
}

impl<F: Fn() -> u64> RandomSource for F {
    fn random(&self) -> u64 {
        self()
    }
}

fn non_empty(value: Option<&[u8]>) -> Option<&[u8]> {
    value.filter(|v| !v.is_empty())
}

impl RoutingTable {
    /// Decides the variant of `request`, or `None` when no experiment applies.
    ///
    /// `random` is a per-request random value from the caller, used only for request-level
    /// units (and `missing_unit: random`) when the request has no `x-request-id`.
    pub fn decide<'t, R: RequestView + ?Sized>(
        &'t self,
        request: &R,
        random: u64,
    ) -> Option<Decision<'t>> {
        self.decide_guarded(request, random, |_, _| false)
    }

    /// Like [`RoutingTable::decide`], with `is_tripped(experiment_index, variant_index)` telling
    /// which variants the guard has reverted: their units go to the first variant. `random`
    /// is read only when the decision needs it (see [`RandomSource`]).
    pub fn decide_guarded<'t, R, G, F>(
        &'t self,
        request: &R,
        random: G,
        is_tripped: F,
    ) -> Option<Decision<'t>>
    where
        R: RequestView + ?Sized,
        G: RandomSource,
        F: Fn(usize, usize) -> bool,
    {
        let user_key = self.user_key(request);
        let mut best: Option<(usize, &CompiledExperiment, (bool, usize, usize))> = None;
        for (index, experiment) in self.experiments.iter().enumerate() {
            let specificity = experiment.specificity();
            if best
                .as_ref()
                .is_some_and(|(_, _, current)| *current >= specificity)
            {
                continue;
            }
            if !matches(experiment, request) {
                continue;
            }
            if let Some((layer, range)) = &experiment.layer {
                let key = unit_key(experiment, user_key, self.missing_unit, request, &random);
                let in_layer = key.as_ref().is_some_and(|key| {
                    range.contains(bucket_parts(&[layer.as_bytes(), b":", key.bytes()]))
                });
                if !in_layer {
                    continue;
                }
            }
            best = Some((index, experiment, specificity));
        }
        let (index, experiment, _) = best?;
        Some(self.choose(index, experiment, user_key, request, &random, &is_tripped))
    }

    fn choose<'t, R, G, F>(
        &'t self,
        index: usize,
        experiment: &'t CompiledExperiment,
        user_key: Option<&[u8]>,
        request: &R,
        random: &G,
        is_tripped: &F,
    ) -> Decision<'t>
    where
        R: RequestView + ?Sized,
        G: RandomSource,
        F: Fn(usize, usize) -> bool,
    {
        let key = unit_key(experiment, user_key, self.missing_unit, request, random);
        let shadow = match (&experiment.shadow, &key) {
            (Some(shadow), Some(key)) => is_shadowed(&experiment.salt, key.bytes(), shadow.sample),
            _ => false,
        };
        let forced = experiment.force_header.as_deref().and_then(|name| {
            let wanted = request.header(name)?;
            experiment
                .variants
                .iter()
                .position(|v| v.name.as_bytes() == wanted)
        });
        let (variant_index, reason) = match (forced, &key) {
            (Some(forced), _) => (forced, DecisionReason::Forced),
            (None, None) => (0, DecisionReason::MissingUnit),
            (None, Some(key)) => {
                let bucket = bucket_parts(&[experiment.salt.as_bytes(), b":", key.bytes()]);
                let hashed = experiment
                    .variants
                    .iter()
                    .position(|v| v.range.contains(bucket))
                    .unwrap_or(0);
                let missing = experiment.unit_kind == UnitKind::User && user_key.is_none();
                if hashed > 0 && experiment.guard.is_some() && is_tripped(index, hashed) {
                    (0, DecisionReason::Guarded)
                } else if missing {
                    (hashed, DecisionReason::MissingUnit)
                } else {
                    (hashed, DecisionReason::Hashed)
                }
            }
        };
        let (variant_name, cluster) = experiment
            .variants
            .get(variant_index)
            .map_or(("", ""), |v| (v.name.as_str(), v.cluster.as_str()));
        Decision {
            experiment_index: index,
            experiment_id: &experiment.id,
            variant_index,
            variant_name,
            cluster,
            reason,
            shadow,
        }
    }

    /// The user's key: the unit header when present and non-empty, else the unit cookie.
    fn user_key<'r, R: RequestView + ?Sized>(&self, request: &'r R) -> Option<&'r [u8]> {
        let from_header = self
            .unit_header
            .as_deref()
            .and_then(|name| non_empty(request.header(name)));
        from_header.or_else(|| {
            let cookie = self.unit_cookie.as_deref()?;
            cookie_value(request.header("cookie")?, cookie)
        })
    }
}

/// The key an experiment buckets on; `None` means "no unit" (the first variant serves).
fn unit_key<'r, R: RequestView + ?Sized, G: RandomSource>(
    experiment: &CompiledExperiment,
    user_key: Option<&'r [u8]>,
    missing_unit: MissingUnit,
    request: &'r R,
    random: &G,
) -> Option<UnitKey<'r>> {
    let per_request = || match non_empty(request.header(REQUEST_ID_HEADER)) {
        Some(id) => UnitKey::Borrowed(id),
        None => UnitKey::Random(random.random().to_le_bytes()),
    };
    match (experiment.unit_kind, user_key, missing_unit) {
        (UnitKind::Request, _, _) => Some(per_request()),
        (UnitKind::User, Some(key), _) => Some(UnitKey::Borrowed(key)),
        (UnitKind::User, None, MissingUnit::Random) => Some(per_request()),
        (UnitKind::User, None, MissingUnit::Stable) => None,
    }
}

fn matches<R: RequestView + ?Sized>(experiment: &CompiledExperiment, request: &R) -> bool {
    if let Some(authority) = &experiment.authority {
        if !authority_host(request.authority()).eq_ignore_ascii_case(authority) {
            return false;
        }
    }
    if let Some(prefix) = &experiment.path_prefix {
        if !request.path().starts_with(prefix) {
            return false;
        }
    }
    experiment
        .headers
        .iter()
        .all(|(name, value)| request.header(name) == Some(value.as_slice()))
}
