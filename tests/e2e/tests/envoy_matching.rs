//! Request matching and unit keys in real Envoy (`--concurrency 2`): best match, force header,
//! cookie fallback, both `missing_unit` policies, `unit_kind: request`, spoofed route/variant
//! headers replaced, exclusive layers. Every decision is checked against the bucket formula.

mod envoy_support;

use envoy_support::{
    chi_squared_fit, expected_variant, two_variant_experiment, users, Seen, Stack,
};
use rollgate_e2e::envoy::{bucket, Request};
use rollgate_e2e::E2eError;
use serde_json::{json, Value};

const HALF: [u32; 2] = [5_000, 5_000];

/// The config's experiments: two variants `{prefix}a` / `{prefix}b` on clusters c0 / c1.
fn experiment(id: &str, prefix: &str, extra: Value) -> Value {
    two_variant_experiment(id, prefix, HALF, extra)
}

fn config(missing_unit: &str) -> Value {
    json!({
        "version": 1,
        "unit": { "header": "x-user-id", "cookie": "uid", "missing_unit": missing_unit },
        "experiments": [
            experiment("generic", "g", json!({ "force_header": "x-rollgate-force" })),
            experiment("by-path", "p", json!({ "match": { "path_prefix": "/predict" } })),
            experiment("by-longer-path", "l", json!({ "match": { "path_prefix": "/predict/v2" } })),
            experiment("by-authority", "h", json!({ "match": { "authority": "fraud-detector", "path_prefix": "/predict" } })),
            experiment("per-request", "r", json!({ "match": { "path_prefix": "/req" }, "unit_kind": "request" })),
            experiment("layer-x", "x", json!({ "match": { "path_prefix": "/layer" }, "layer": { "name": "ranking", "from": 0, "to": 5_000 } })),
            experiment("layer-y", "y", json!({ "match": { "path_prefix": "/layer" }, "layer": { "name": "ranking", "from": 5_000, "to": 10_000 } })),
        ]
    })
}

/// The variant name the formula gives `unit` in experiment `salt` with variant `prefix`.
fn want(salt: &str, prefix: &str, unit: &str) -> String {
    let v = ["a", "b"][expected_variant(salt, unit, &HALF)];
    format!("{prefix}{v}")
}

fn variant(seen: &Seen) -> &str {
    seen.variant().unwrap_or("<none>")
}

async fn stack() -> Result<Stack, E2eError> {
    Stack::start(&["c0", "c1", "c2"], &config("stable")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_match_wins_not_first_match() -> Result<(), E2eError> {
    let stack = stack().await?;
    let users = users("match", 400);
    // (path, authority, experiment salt, variant prefix)
    let cases = [
        ("/other", None, "generic", "g"),
        ("/predict/x", None, "by-path", "p"),
        ("/predict/v2/x", None, "by-longer-path", "l"),
        ("/predict", Some("fraud-detector:8080"), "by-authority", "h"),
        ("/predict/v2/x", Some("FRAUD-DETECTOR"), "by-authority", "h"),
        ("/predict", Some("other-service"), "by-path", "p"),
    ];
    for (path, authority, salt, prefix) in cases {
        let requests: Vec<Request> = users
            .iter()
            .map(|u| {
                let r = Request::get(path).user(u);
                match authority {
                    Some(a) => r.authority(a),
                    None => r,
                }
            })
            .collect();
        let seen = stack.send_seen(&requests).await?;
        for (user, s) in users.iter().zip(&seen) {
            assert_eq!(
                variant(s),
                want(salt, prefix, user),
                "{path} {authority:?} {user}"
            );
            let cluster = if variant(s).ends_with('a') {
                "c0"
            } else {
                "c1"
            };
            assert_eq!(s.upstream.as_deref(), Some(cluster), "{path} {user}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_header_cookie_fallback_and_spoofed_headers() -> Result<(), E2eError> {
    let stack = stack().await?;
    let users = users("force", 300);
    // Force: the named variant, whatever the bucket; an unknown name changes nothing; an
    // experiment without force_header ignores it.
    let forced: Vec<Request> = users
        .iter()
        .map(|u| {
            Request::get("/other")
                .user(u)
                .header("x-rollgate-force", "gb")
        })
        .collect();
    assert!(stack
        .send_seen(&forced)
        .await?
        .iter()
        .all(|s| variant(s) == "gb"));
    let unknown: Vec<Request> = users
        .iter()
        .map(|u| {
            Request::get("/other")
                .user(u)
                .header("x-rollgate-force", "nope")
        })
        .collect();
    for (u, s) in users.iter().zip(stack.send_seen(&unknown).await?) {
        assert_eq!(variant(&s), want("generic", "g", u));
    }
    let ignored: Vec<Request> = users
        .iter()
        .map(|u| {
            Request::get("/predict")
                .user(u)
                .header("x-rollgate-force", "pb")
        })
        .collect();
    for (u, s) in users.iter().zip(stack.send_seen(&ignored).await?) {
        assert_eq!(
            variant(&s),
            want("by-path", "p", u),
            "no force_header on by-path"
        );
    }
    // Cookie fallback: no header (or an empty one) -> the `uid` cookie; the header wins.
    let cookie: Vec<Request> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let r = Request::get("/other").header("cookie", &format!("theme=dark; uid={u}; x=1"));
            if i % 2 == 0 {
                r
            } else {
                r.header("x-user-id", "")
            }
        })
        .collect();
    for (u, s) in users.iter().zip(stack.send_seen(&cookie).await?) {
        assert_eq!(variant(&s), want("generic", "g", u), "cookie {u}");
    }
    let both: Vec<Request> = users
        .iter()
        .map(|u| {
            Request::get("/other")
                .user(u)
                .header("cookie", "uid=someone-else")
        })
        .collect();
    for (u, s) in users.iter().zip(stack.send_seen(&both).await?) {
        assert_eq!(
            variant(&s),
            want("generic", "g", u),
            "header over cookie {u}"
        );
    }
    // Spoofing: a client's route and variant headers are replaced, not kept or duplicated.
    let spoofed: Vec<Request> = users
        .iter()
        .map(|u| {
            Request::get("/predict")
                .user(u)
                .header("x-rollgate-cluster", "c2")
                .header("x-rollgate-variant", "evil")
        })
        .collect();
    for (u, s) in users.iter().zip(stack.send_seen(&spoofed).await?) {
        let expected = want("by-path", "p", u);
        let cluster = if expected.ends_with('a') { "c0" } else { "c1" };
        assert_eq!(
            s.upstream.as_deref(),
            Some(cluster),
            "spoofed cluster header {u}"
        );
        let got = s.request.as_ref().map(|r| {
            let values = |name: &str| -> Vec<String> {
                r.headers
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .collect()
            };
            (values("x-rollgate-cluster"), values("x-rollgate-variant"))
        });
        assert_eq!(
            got,
            Some((vec![cluster.to_string()], vec![expected])),
            "{u}"
        );
    }
    assert_eq!(
        stack.upstream("c2").count(),
        0,
        "nothing reached the spoofed cluster"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_unit_policies_and_request_units() -> Result<(), E2eError> {
    let stack = stack().await?;
    const N: usize = 2_000;
    // stable: no header, no cookie -> the first variant, always.
    let anonymous: Vec<Request> = (0..N).map(|_| Request::get("/other")).collect();
    let seen = stack.send_seen(&anonymous).await?;
    assert!(
        seen.iter().all(|s| variant(s) == "ga"),
        "missing_unit stable"
    );
    // unit_kind request: the same user, yet split per request by x-request-id.
    let same_user: Vec<Request> = (0..N)
        .map(|_| Request::get("/req").user("one-user"))
        .collect();
    check_per_request(&stack.send_seen(&same_user).await?, "per-request", "r")?;
    // random: anonymous requests hash their x-request-id.
    stack.push(&config("random")).await?;
    check_per_request(&stack.send_seen(&anonymous).await?, "generic", "g")?;
    // A user still hashes on the user key under `random`.
    let users = users("still-user", 200);
    let requests: Vec<Request> = users
        .iter()
        .map(|u| Request::get("/other").user(u))
        .collect();
    for (u, s) in users.iter().zip(stack.send_seen(&requests).await?) {
        assert_eq!(variant(&s), want("generic", "g", u));
    }
    Ok(())
}

/// Every decision follows the formula on the request's `x-request-id`, and the split is even.
fn check_per_request(seen: &[Seen], salt: &str, prefix: &str) -> Result<(), E2eError> {
    let mut counts = [0u64; 2];
    for s in seen {
        let id = s.request_id().unwrap_or_default();
        assert!(!id.is_empty(), "Envoy sets x-request-id");
        assert_eq!(variant(s), want(salt, prefix, id), "request {id}");
        counts[expected_variant(salt, id, &HALF)] += 1;
    }
    let (stat, p) = chi_squared_fit(&counts, &HALF);
    eprintln!("{salt} per request: {counts:?}, chi-squared {stat:.3}, p = {p:.4}");
    assert!(p > 0.001, "{salt}: {counts:?} (p = {p})");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_are_exclusive() -> Result<(), E2eError> {
    let stack = stack().await?;
    let users = users("layer", 4_000);
    let requests: Vec<Request> = users
        .iter()
        .map(|u| Request::get("/layer").user(u))
        .collect();
    let mut per_layer = [0u64; 2];
    for (u, s) in users.iter().zip(stack.send_seen(&requests).await?) {
        let in_x = bucket("ranking", u.as_bytes()) < 5_000;
        let expected = if in_x {
            want("layer-x", "x", u)
        } else {
            want("layer-y", "y", u)
        };
        assert_eq!(variant(&s), expected, "{u}");
        per_layer[usize::from(!in_x)] += 1;
    }
    let (stat, p) = chi_squared_fit(&per_layer, &HALF);
    eprintln!("layers: {per_layer:?}, chi-squared {stat:.3}, p = {p:.4}");
    assert!(p > 0.001);
    Ok(())
}
