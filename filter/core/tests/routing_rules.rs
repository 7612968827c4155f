//! Routing rules: best match, force header, missing unit, cookie fallback, guard, hostile input.

mod common;

use common::{config_with, experiment, Req};
use rollgate_core::guard::GuardSet;
use rollgate_core::routing::{HeaderList, RequestView, RoutingTable};
use rollgate_core::DecisionReason;
use serde_json::json;

fn table(experiments: Vec<serde_json::Value>) -> RoutingTable {
    RoutingTable::compile(&config_with(experiments)).unwrap_or_else(|e| panic!("{e}"))
}

fn decided_id(t: &RoutingTable, req: &Req) -> Option<String> {
    t.decide(req, 0).map(|d| d.experiment_id.to_string())
}

#[test]
fn best_match_wins_not_first_match() {
    let any = experiment("any", "s0", &[10_000]);
    let mut host = experiment("host", "s1", &[10_000]);
    host["match"] = json!({"authority": "fraud-detector"});
    let mut host_short = experiment("host-short", "s2", &[10_000]);
    host_short["match"] = json!({"authority": "fraud-detector", "path_prefix": "/p"});
    let mut host_long = experiment("host-long", "s3", &[10_000]);
    host_long["match"] = json!({"authority": "fraud-detector", "path_prefix": "/predict"});
    let mut long_no_host = experiment("long-no-host", "s4", &[10_000]);
    long_no_host["match"] = json!({"path_prefix": "/predict/v2/very/long"});
    let mut header = experiment("header", "s5", &[10_000]);
    header["match"] = json!({"authority": "fraud-detector", "path_prefix": "/predict", "headers": {"x-region": "eu"}});
    let t = table(vec![any, host, host_short, host_long, long_no_host, header]);
    let cases = [
        (Req::new("other", "/", &[]), "any"),
        (Req::new("fraud-detector:8080", "/", &[]), "host"),
        (Req::new("FRAUD-DETECTOR", "/x", &[]), "host"),
        (Req::new("fraud-detector", "/pa", &[]), "host-short"),
        (Req::new("fraud-detector", "/predict?x=1", &[]), "host-long"),
        (
            Req::new("fraud-detector", "/predict/v2/very/long", &[]),
            "host-long",
        ),
        (
            Req::new("other", "/predict/v2/very/long", &[]),
            "long-no-host",
        ),
        (
            Req::new("fraud-detector", "/predict", &[("x-region", "eu")]),
            "header",
        ),
        (
            Req::new("fraud-detector", "/predict", &[("x-region", "us")]),
            "host-long",
        ),
    ];
    for (req, expected) in cases {
        assert_eq!(decided_id(&t, &req).as_deref(), Some(expected), "{req:?}");
    }
}

#[test]
fn no_match_means_no_decision() {
    let mut e = experiment("e", "s", &[10_000]);
    e["match"] = json!({"authority": "svc"});
    let t = table(vec![e]);
    assert_eq!(t.decide(&Req::new("other", "/", &[]), 0), None);
    assert_eq!(t.decide(&Req::default(), 0), None);
}

#[test]
fn force_header_pins_a_variant() {
    let mut e = experiment("e", "s", &[10_000, 0]);
    e["force_header"] = json!("x-force");
    let t = table(vec![e]);
    let d = t.decide(
        &Req::new("svc", "/", &[("x-user-id", "u"), ("x-force", "v1")]),
        0,
    );
    let d = d.unwrap_or_else(|| panic!("no decision"));
    assert_eq!(
        (d.variant_name, d.cluster, d.reason),
        ("v1", "cluster-e-1", DecisionReason::Forced)
    );
    let unknown = t.decide(
        &Req::new("svc", "/", &[("x-user-id", "u"), ("x-force", "nope")]),
        0,
    );
    assert_eq!(
        unknown.map(|d| (d.variant_index, d.reason)),
        Some((0, DecisionReason::Hashed))
    );
    // no force header configured: the header is ignored
    let plain = table(vec![experiment("e", "s", &[10_000, 0])]);
    let d = plain.decide(
        &Req::new("svc", "/", &[("x-user-id", "u"), ("x-force", "v1")]),
        0,
    );
    assert_eq!(d.map(|d| d.variant_index), Some(0));
}

#[test]
fn missing_unit_policies() {
    let stable = table(vec![experiment("e", "s", &[0, 10_000])]);
    let d = stable
        .decide(&Req::new("svc", "/", &[]), 42)
        .unwrap_or_else(|| panic!("none"));
    assert_eq!(
        (d.variant_index, d.reason),
        (0, DecisionReason::MissingUnit)
    );
    let empty = stable
        .decide(&Req::new("svc", "/", &[("x-user-id", "")]), 42)
        .unwrap_or_else(|| panic!("none"));
    assert_eq!(empty.reason, DecisionReason::MissingUnit);

    let random_config = json!({"version": 1, "unit": {"header": "x-user-id", "missing_unit": "random"},
        "experiments": [experiment("e", "s", &[5000, 5000])]});
    let t = RoutingTable::from_json(random_config.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    // x-request-id decides, so the same id gives the same variant
    let by_id = |id: &str| {
        t.decide(&Req::new("svc", "/", &[("x-request-id", id)]), 0)
            .map(|d| d.variant_index)
    };
    assert_eq!(by_id("req-1"), by_id("req-1"));
    let mut seen = [false; 2];
    for i in 0..64u64 {
        let d = t
            .decide(
                &Req::new("svc", "/", &[]),
                u64::wrapping_mul(i, 0x9e37_79b9_7f4a_7c15),
            )
            .unwrap_or_else(|| panic!("none"));
        assert_eq!(d.reason, DecisionReason::MissingUnit);
        seen[d.variant_index] = true;
    }
    assert_eq!(seen, [true, true], "random policy must use both variants");
}

/// The caller's random value is computed only when a decision needs it (no unit and no
/// `x-request-id` under `missing_unit: random`), once however often the decision reads it,
/// and a lazy source decides exactly as the plain value does.
#[test]
fn random_is_asked_for_only_when_the_decision_needs_it() {
    let mut layered = experiment("e", "s", &[5000, 5000]);
    layered["layer"] = json!({"name": "l", "from": 0, "to": 10_000});
    let config = json!({"version": 1, "unit": {"header": "x-user-id", "missing_unit": "random"},
        "experiments": [layered]});
    let t =
        RoutingTable::from_json(config.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let value = 0x9e37_79b9_7f4a_7c15_u64;
    let cases = [
        (Req::new("svc", "/", &[("x-user-id", "u-1")]), 0),
        (Req::new("svc", "/", &[("x-request-id", "r-1")]), 0),
        (Req::new("svc", "/", &[]), 1),
    ];
    for (req, wanted_calls) in cases {
        let calls = std::cell::Cell::new(0);
        let cached = std::cell::OnceCell::new();
        let lazy = || {
            *cached.get_or_init(|| {
                calls.set(calls.get() + 1);
                value
            })
        };
        let decided = t.decide_guarded(&req, lazy, |_, _| false);
        assert_eq!(calls.get(), wanted_calls, "{req:?}");
        assert_eq!(decided, t.decide(&req, value), "{req:?}");
    }
}

#[test]
fn cookie_is_the_fallback_unit_key() {
    let t = table(vec![experiment("e", "s", &[5000, 5000])]);
    for user in ["alice", "bob", "carol", "dave", "erin", "frank"] {
        let by_header = t
            .decide(&Req::new("svc", "/", &[("x-user-id", user)]), 0)
            .map(|d| d.variant_index);
        let cookie = format!("theme=dark; uid={user}; other=1");
        let by_cookie = t.decide(&Req::new("svc", "/", &[("cookie", &cookie)]), 0);
        assert_eq!(by_cookie.map(|d| d.variant_index), by_header, "{user}");
        assert_eq!(by_cookie.map(|d| d.reason), Some(DecisionReason::Hashed));
        // the header wins over the cookie
        let both = t.decide(
            &Req::new(
                "svc",
                "/",
                &[("x-user-id", user), ("cookie", "uid=someone-else")],
            ),
            0,
        );
        assert_eq!(both.map(|d| d.variant_index), by_header);
    }
}

#[test]
fn guard_trips_after_exactly_the_expected_count() {
    let mut e = experiment("e", "s", &[0, 10_000]);
    e["guard"] = json!({"max_error_rate": 0.2, "min_requests": 10, "window": 20});
    let t = table(vec![e]);
    let mut guards = GuardSet::new(&t);
    // 8 good responses then errors: at n responses with k errors the rate is k/n;
    // it first exceeds 0.2 at n >= 10 when k > 0.2 n: k = 3 at n = 11 (8 good + 3 bad).
    for _ in 0..8 {
        assert_eq!(guards.record(0, 1, 200), None);
    }
    assert_eq!(guards.record(0, 1, 503), None); // 1/9
    assert_eq!(guards.record(0, 1, 500), None); // 2/10 = 0.2, not above
    let trip = guards
        .record(0, 1, 502)
        .unwrap_or_else(|| panic!("should trip at 3/11"));
    assert_eq!((trip.errors, trip.responses), (3, 11));
    assert_eq!(guards.record(0, 1, 500), None, "a trip is reported once");
    assert!(guards.is_tripped(0, 1));
    // first variant never trips
    for _ in 0..30 {
        assert_eq!(guards.record(0, 0, 500), None);
    }
    // decisions now revert to the first variant
    let d = t
        .decide_guarded(&Req::user("u"), 0, |e, v| guards.is_tripped(e, v))
        .unwrap_or_else(|| panic!("none"));
    assert_eq!((d.variant_index, d.reason), (0, DecisionReason::Guarded));
    // a new config (new table, new guard set) starts untripped
    assert!(!GuardSet::new(&t).is_tripped(0, 1));
}

#[test]
fn guard_window_forgets_old_errors() {
    let mut e = experiment("e", "s", &[0, 10_000]);
    e["guard"] = json!({"max_error_rate": 0.5, "min_requests": 4, "window": 4});
    let t = table(vec![e]);
    let mut guards = GuardSet::new(&t);
    for status in [500, 500, 200, 200, 200, 200, 500, 500] {
        assert_eq!(guards.record(0, 1, status), None, "2 of 4 is not above 0.5");
    }
    assert!(guards.record(0, 1, 500).is_some(), "3 of the last 4");
}

#[test]
fn hostile_inputs_get_sane_decisions() {
    let mut e = experiment("e", "s", &[5000, 5000]);
    e["match"] = json!({"headers": {"x-region": "eu"}});
    e["force_header"] = json!("x-force");
    let t = table(vec![e]);
    let big = "x".repeat(64 * 1024);
    let big_req = Req::new(
        &big,
        &big,
        &[
            ("x-user-id", &big),
            ("cookie", &big),
            ("x-region", "eu"),
            ("x-force", &big),
        ],
    );
    let d = t.decide(&big_req, 0).unwrap_or_else(|| panic!("none"));
    assert_eq!(d.reason, DecisionReason::Hashed);

    let mut many: Vec<(String, Vec<u8>)> = (0..1_000)
        .map(|i| (format!("x-h-{i}"), vec![b'v'; 10]))
        .collect();
    many.push(("x-region".into(), b"eu".to_vec()));
    many.push(("x-user-id".into(), b"u-1".to_vec()));
    let d = t
        .decide(&HeaderList::new(many), 0)
        .unwrap_or_else(|| panic!("none"));
    assert_eq!(d.reason, DecisionReason::Hashed);

    let bytes = Req(vec![
        (":authority".into(), vec![0xff, 0xfe, b':', 0x80]),
        (":path".into(), vec![0xc3, 0x28]),
        ("x-region".into(), b"eu".to_vec()),
        ("x-user-id".into(), vec![0xff, 0x00, 0xfe]),
        ("cookie".into(), vec![b';', b'=', 0xff, b';', b'=']),
    ]);
    let d = t.decide(&bytes, 0).unwrap_or_else(|| panic!("none"));
    assert_eq!(d.reason, DecisionReason::Hashed);
    assert_eq!(t.decide(&bytes, 0), Some(d), "deterministic");

    let empty = Req(vec![
        (":authority".into(), vec![]),
        (":path".into(), vec![]),
        ("x-region".into(), b"eu".to_vec()),
        ("x-user-id".into(), vec![]),
        ("cookie".into(), vec![]),
        ("x-force".into(), vec![]),
    ]);
    let d = t.decide(&empty, 0).unwrap_or_else(|| panic!("none"));
    assert_eq!(
        (d.variant_index, d.reason),
        (0, DecisionReason::MissingUnit)
    );
}

#[test]
fn header_list_lowercases_names() {
    let list = HeaderList::new(vec![("X-User-Id".into(), b"u".to_vec())]);
    assert_eq!(list.header("x-user-id"), Some(&b"u"[..]));
}

#[test]
fn generation_changes_with_the_config() {
    let a = table(vec![experiment("e", "s", &[5000, 5000])]);
    let b = table(vec![experiment("e", "s", &[4000, 6000])]);
    let a2 = table(vec![experiment("e", "s", &[5000, 5000])]);
    assert_eq!(a.generation(), a2.generation());
    assert_ne!(a.generation(), b.generation());
}

/// A view that records every header name `decide` asks for.
struct Recording<'a> {
    inner: &'a Req,
    asked: std::cell::RefCell<Vec<String>>,
}

impl RequestView for Recording<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.asked.borrow_mut().push(name.to_string());
        self.inner.header(name)
    }
}

/// `request_headers()` lists every header a decision reads, so the glue may fetch only those:
/// deciding on just them gives the same decision as deciding on the whole request.
#[test]
fn request_headers_cover_every_header_decide_reads() {
    let mut per_request = common::base_config();
    per_request["unit"]["missing_unit"] = json!("random");
    per_request["experiments"][0]["unit_kind"] = json!("request");
    for config in [common::base_config(), per_request] {
        let table = match common::parse(&config).map(|c| RoutingTable::compile(&c)) {
            Ok(Ok(table)) => table,
            other => panic!("{other:?}"),
        };
        let names = table.request_headers();
        for i in 0..500 {
            let user = format!("u-{i}");
            let force = if i % 7 == 0 { "canary" } else { "none" };
            let region = if i % 3 == 0 { "us" } else { "eu" };
            let mut headers = vec![
                ("x-region", region),
                ("x-rollgate-force", force),
                ("x-request-id", "r-1"),
                ("x-other", "1"),
            ];
            if i % 2 == 0 {
                headers.push(("x-user-id", &user));
            } else {
                headers.push(("cookie", "a=1; uid=c-9"));
            }
            let path = if i % 5 == 0 { "/health" } else { "/predict/v1" };
            let req = Req::new("fraud-detector:80", path, &headers);
            let recording = Recording {
                inner: &req,
                asked: Default::default(),
            };
            let full = table.decide(&recording, i);
            for asked in recording.asked.borrow().iter() {
                assert!(
                    names.contains(asked),
                    "decide read {asked}, not in {names:?}"
                );
            }
            let only: Vec<(String, Vec<u8>)> = req
                .0
                .iter()
                .filter(|(n, _)| names.contains(n))
                .cloned()
                .collect();
            let fetched = HeaderList::new(only);
            let part = table.decide(&fetched, i);
            assert_eq!(
                full.map(|d| (d.variant_index, d.reason, d.shadow)),
                part.map(|d| (d.variant_index, d.reason, d.shadow))
            );
        }
    }
}
