//! One arbitrary request (headers, cookies, repeated and non-UTF-8 values, a body) through the
//! routing core with a fixed valid config. Checks the decision's invariants against an
//! independent reading of the rules: the variant belongs to the experiment, the experiment
//! matches and is the best match, forced only by a valid name, hashed into the variant's range,
//! deterministic; and the shadow body copy and comparison never panic and stay consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollgate_core::bucket::bucket;
use rollgate_core::config::UnitKind;
use rollgate_core::routing::{authority_host, cookie_value, CompiledExperiment};
use rollgate_core::shadow::body::{BodyCopy, CopyState, MemoryBudget};
use rollgate_core::shadow::compare::{compare, extract, Comparison, JsonScalar};
use rollgate_core::{DecisionReason, HeaderList, RequestView, RoutingTable};
use rollgate_fuzz::{FuzzRequest, FIXED_CONFIG};
use std::sync::OnceLock;

fn table() -> &'static RoutingTable {
    static TABLE: OnceLock<RoutingTable> = OnceLock::new();
    TABLE.get_or_init(|| match RoutingTable::from_json(FIXED_CONFIG.as_bytes()) {
        Ok(table) => table,
        Err(err) => panic!("fixed fuzz config refused: {err}"),
    })
}

fn rule_matches(experiment: &CompiledExperiment, request: &HeaderList) -> bool {
    let authority_ok = experiment
        .authority
        .as_ref()
        .is_none_or(|want| authority_host(request.authority()).to_ascii_lowercase() == *want);
    let path_ok = experiment
        .path_prefix
        .as_ref()
        .is_none_or(|prefix| request.path().starts_with(prefix));
    let headers_ok = experiment
        .headers
        .iter()
        .all(|(name, value)| request.header(name) == Some(value.as_slice()));
    authority_ok && path_ok && headers_ok
}

fn user_key(request: &HeaderList) -> Option<&[u8]> {
    let header = request.header("x-user-id").filter(|v| !v.is_empty());
    header.or_else(|| cookie_value(request.header("cookie")?, "uid"))
}

fn unit_key(experiment: &CompiledExperiment, request: &HeaderList, random: u64) -> Option<Vec<u8>> {
    let per_request = || match request.header("x-request-id").filter(|v| !v.is_empty()) {
        Some(id) => id.to_vec(),
        None => random.to_le_bytes().to_vec(),
    };
    match experiment.unit_kind {
        UnitKind::Request => Some(per_request()),
        // The fixed config has missing_unit: stable.
        UnitKind::User => user_key(request).map(<[u8]>::to_vec),
    }
}

fn check_body(body: &[u8]) {
    let (head, tail) = body.split_at(body.len() / 2);
    let mut budget = MemoryBudget::new(8192);
    let mut copy = BodyCopy::new(4096);
    copy.push(head, &mut budget);
    let state = copy.push(tail, &mut budget);
    if body.len() <= 4096 {
        assert_eq!(state, CopyState::Copying);
        assert_eq!(copy.bytes(), body);
    } else {
        assert_eq!(state, CopyState::TooLarge);
        assert!(copy.bytes().is_empty());
    }
    assert_eq!(budget.used(), copy.bytes().len());
    let released = copy.release(&mut budget);
    assert_eq!(budget.used(), 0);
    let value = extract(&released, "/prediction");
    let expected = match value {
        JsonScalar::Number(n) if n.is_nan() => Comparison::Disagree,
        JsonScalar::Number(_) | JsonScalar::String(_) | JsonScalar::Bool(_) => Comparison::Agree,
        JsonScalar::Other | JsonScalar::Absent => Comparison::Incomparable,
    };
    assert_eq!(compare(&value, &value, 0.0), expected);
    let _ = value.to_string();
}

fuzz_target!(|input: FuzzRequest| {
    let table = table();
    let pairs = input
        .pairs()
        .into_iter()
        .map(|(name, value)| (String::from_utf8_lossy(&name).into_owned(), value))
        .collect();
    let request = HeaderList::new(pairs);
    check_body(&input.body);

    // The catch-all experiment applies to every request.
    let Some(decision) = table.decide(&request, input.random) else {
        panic!("no decision although the catch-all experiment applies");
    };
    let experiments = table.experiments();
    let experiment = &experiments[decision.experiment_index];
    let variant = &experiment.variants[decision.variant_index];
    assert_eq!(decision.experiment_id, experiment.id);
    assert_eq!(decision.variant_name, variant.name);
    assert_eq!(decision.cluster, variant.cluster);
    assert_ne!(
        decision.reason,
        DecisionReason::Guarded,
        "nothing is tripped"
    );

    // The chosen experiment matches; every better (or equal and earlier) one that matches by
    // rule was excluded by its layer.
    assert!(
        rule_matches(experiment, &request),
        "chosen experiment does not match"
    );
    let chosen = experiment.specificity();
    for (index, other) in experiments.iter().enumerate() {
        let better = other.specificity() > chosen
            || (other.specificity() == chosen && index < decision.experiment_index);
        if better && rule_matches(other, &request) {
            let (layer, range) = other
                .layer
                .as_ref()
                .unwrap_or_else(|| panic!("better match {} skipped", other.id));
            let key = unit_key(other, &request, input.random);
            assert!(key.is_none_or(|key| !range.contains(bucket(layer, &key))));
        }
    }
    let key = unit_key(experiment, &request, input.random);
    if let Some((layer, range)) = &experiment.layer {
        let key = key
            .as_deref()
            .unwrap_or_else(|| panic!("layered without a key"));
        assert!(
            range.contains(bucket(layer, key)),
            "outside the layer range"
        );
    }

    // Forced only by a valid variant name, and always when one is given.
    let forced_name = experiment
        .force_header
        .as_deref()
        .and_then(|name| request.header(name))
        .filter(|wanted| {
            experiment
                .variants
                .iter()
                .any(|v| v.name.as_bytes() == *wanted)
        });
    match (decision.reason, forced_name) {
        (DecisionReason::Forced, Some(wanted)) => assert_eq!(variant.name.as_bytes(), wanted),
        (DecisionReason::Forced, None) => panic!("forced without a valid variant name"),
        (_, Some(_)) => panic!("valid force header ignored"),
        (DecisionReason::Hashed, None) => {
            let key = key
                .as_deref()
                .unwrap_or_else(|| panic!("hashed without a unit key"));
            assert!(variant.range.contains(bucket(&experiment.salt, key)));
        }
        (DecisionReason::MissingUnit, None) => {
            assert!(key.is_none());
            assert_eq!(
                decision.variant_index, 0,
                "missing_unit stable serves the first"
            );
        }
        (DecisionReason::Guarded, None) => unreachable!(),
    }
    assert!(
        !decision.shadow || experiment.shadow.is_some(),
        "shadowed without a shadow"
    );

    // Deterministic; user-keyed decisions ignore the per-request random.
    assert_eq!(table.decide(&request, input.random), Some(decision));
    if experiment.unit_kind == UnitKind::User && key.is_some() {
        let other = table.decide(&request, input.random.wrapping_add(1));
        assert_eq!(other, Some(decision));
    }

    // With every variant tripped, a guarded experiment's hashed users go to the first variant.
    let guarded = table.decide_guarded(&request, input.random, |_, _| true);
    let expected = match decision.reason {
        DecisionReason::Hashed if experiment.guard.is_some() && decision.variant_index > 0 => {
            (0, DecisionReason::Guarded)
        }
        _ => (decision.variant_index, decision.reason),
    };
    let guarded = guarded.unwrap_or_else(|| panic!("guarded decision missing"));
    assert_eq!((guarded.variant_index, guarded.reason), expected);
});
