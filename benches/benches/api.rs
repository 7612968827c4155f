//! Load benchmark of the REST API over loopback HTTP (`rollgate serve`'s router):
//! - event ingestion in batches of 100 (target: at least 2,000 events/s);
//! - `GET /ab-tests/{id}/results` with 1,000,000 recorded events per metric, for the
//!   proportion test (binary metric) and the mean test (continuous metric), target < 200 ms;
//!   the rank test (which rescans raw values) is measured too, for the record.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rollgate_api::store::{ab_tests, events};
use rollgate_api::types::events::ValidEvent;
use rollgate_api::{app, AppState, MemorySink, Store, TenantTokens};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "bench-token";
const PRELOADED: usize = 1_000_000;

struct Bench {
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    state: AppState,
    base: String,
    client: reqwest::Client,
}

impl Bench {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let store = Store::open(&dir.path().join("bench.db")).expect("store");
        let state = AppState::new(
            store,
            TenantTokens::from_plain_tokens([("acme", TOKEN)]),
            Arc::new(MemorySink::default()),
        );
        let router = app(state.clone());
        let base = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let base = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move { axum::serve(listener, router).await });
            base
        });
        Bench {
            _dir: dir,
            runtime,
            state,
            base,
            client: reqwest::Client::new(),
        }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.runtime.block_on(async {
            let response = self
                .client
                .post(format!("{}{path}", self.base))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .expect("post");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json().await.expect("json")
        })
    }

    fn get(&self, path: &str) -> Value {
        self.runtime.block_on(async {
            let response = self
                .client
                .get(format!("{}{path}", self.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("get");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json().await.expect("json")
        })
    }

    fn experiment(&self, model: &str) -> String {
        for version in ["v1", "v2"] {
            self.post(
                &format!("/api/v1/models/{model}/versions"),
                json!({"version": version, "cluster": format!("c-{model}-{version}")}),
            );
        }
        let test = self.post(
            "/api/v1/ab-tests",
            json!({"name": model, "control_model_id": model, "control_version": "v1",
            "treatment_model_id": model, "treatment_version": "v2", "treatment_fraction": 0.5}),
        );
        test["experiment_id"].as_str().expect("id").to_string()
    }

    /// Stores `PRELOADED` events per metric straight through the store (the same code path the
    /// handler uses, without a million HTTP requests).
    fn preload(&self, id: &str) {
        self.runtime.block_on(async {
            let conn = self.state.store.lock().await;
            let (seq, _) = ab_tests::get(&conn, "acme", id)
                .expect("query")
                .expect("test");
            let chunk = 50_000;
            for start in (0..PRELOADED).step_by(chunk) {
                let batch: Vec<ValidEvent> = (start..start + chunk)
                    .flat_map(|i| {
                        let variant = if i % 2 == 0 { "control" } else { "treatment" };
                        let unit = format!("u{i}");
                        [
                            ValidEvent {
                                unit: unit.clone(),
                                variant,
                                metric: "conversion".into(),
                                value: f64::from(u8::from(i % 9 == 0)),
                                ts_ms: 0,
                            },
                            ValidEvent {
                                unit,
                                variant,
                                metric: "latency_ms".into(),
                                value: (i % 97) as f64 + 20.0,
                                ts_ms: 0,
                            },
                        ]
                    })
                    .collect();
                conn.execute_batch("BEGIN").expect("begin");
                events::insert_batch(&conn, seq, &batch).expect("insert");
                conn.execute_batch("COMMIT").expect("commit");
            }
        });
    }
}

fn api(c: &mut Criterion) {
    let bench = Bench::start();
    let ingest_id = bench.experiment("ingest");
    let mut group = c.benchmark_group("api");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(100));
    let mut counter = 0u64;
    group.bench_function("events_batch_100", |b| {
        b.iter(|| {
            counter += 1;
            let batch: Vec<Value> = (0..100)
                .map(|i| json!({"unit": format!("b{counter}-{i}"), "variant": if i % 2 == 0 {"control"} else {"treatment"},
                    "metric": "accuracy", "value": f64::from(i % 10) / 10.0}))
                .collect();
            bench.post(&format!("/api/v1/ab-tests/{ingest_id}/events"), Value::Array(batch))
        })
    });
    group.finish();

    let results_id = bench.experiment("results");
    bench.preload(&results_id);
    let mut group = c.benchmark_group("api_results_1m_events");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    for (name, query) in [
        ("two_proportion_z", "metric=conversion"),
        ("welch_t", "metric=latency_ms"),
    ] {
        let answer = bench.get(&format!("/api/v1/ab-tests/{results_id}/results?{query}"));
        let n = answer["control"]["count"].as_u64().unwrap_or(0)
            + answer["treatment"]["count"].as_u64().unwrap_or(0);
        assert_eq!(n as usize, PRELOADED, "{answer}");
        assert_eq!(answer["test"], name);
        group.bench_function(name, |b| {
            b.iter(|| bench.get(&format!("/api/v1/ab-tests/{results_id}/results?{query}")))
        });
    }
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.bench_function("mann_whitney_u_rescan", |b| {
        b.iter(|| {
            bench.get(&format!(
                "/api/v1/ab-tests/{results_id}/results?metric=latency_ms&test=mann_whitney_u"
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, api);
criterion_main!(benches);
