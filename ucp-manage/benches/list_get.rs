//! Listing and reading connectors through the REST API with 10,000 instances across 1,000
//! tenants (issue 13).
//!
//! `cargo bench -p ucp-manage --bench list_get`
//!
//! The server is the real one: the running platform holding every instance's source, the
//! SQLite management store and health table in files, an API key per caller, loopback HTTP.
//! Tenant `t0000` has 1,000 connectors (so a page of 100 is a full page among many); the
//! other 999 tenants share 9,000. Every connector has three health rows. Besides criterion's
//! estimate, each benchmark records every request's latency and prints p50, p99 and max.
//! Under `cargo test --benches` it runs at a small size as a smoke test.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::Criterion;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use ucp_core::catalog::{factory, ConnectorDefinition, CredentialKind};
use ucp_core::credentials::MemoryCredentials;
use ucp_core::health::{HealthKind, HealthRow, HealthTable, Retention, SqliteHealthTable, Status};
use ucp_core::{Clock, Platform, Source};
use ucp_manage::{
    ApiKeys, AuditEntry, Authenticator, InstanceRecord, InstanceState, Manager, Principal,
    ProductInfo, ProductSink, Products, Role, SqliteStore, Store, Workspace,
};
use ucp_testkit::{EventLog, EventLogSource};

#[derive(Deserialize)]
struct Settings {
    account: String,
}

fn definition(log: EventLog) -> ConnectorDefinition {
    ConnectorDefinition::builder("events", "Events")
        .provider("eventlog")
        .publisher("bench")
        .description("An in-process event log")
        .version("1.0.0")
        .stream("events", "Every event")
        .feeds(["sentinel"])
        .credential("api", "token", [CredentialKind::ApiToken])
        .config_schema(json!({"type": "object", "required": ["account"],
                              "properties": {"account": {"type": "string"}}}))
        .factory(factory(move |s: Settings, _| {
            Ok(
                Arc::new(EventLogSource::new(s.account, log.clone(), Clock::new()))
                    as Arc<dyn Source>,
            )
        }))
        .build()
        .expect("the bench definition is valid")
}

/// No products: the bench reads connectors, it does not deliver.
struct NoProducts;

impl Products for NoProducts {
    fn products(&self) -> Vec<ProductInfo> {
        Vec::new()
    }
    fn workspace_schema(&self) -> serde_json::Value {
        json!({"type": "object"})
    }
    fn sinks(&self, _: &Workspace) -> Result<Vec<ProductSink>, ucp_core::catalog::FactoryError> {
        Ok(Vec::new())
    }
}

fn record(tenant: &str, name: &str, i: usize) -> InstanceRecord {
    let now = Utc::now();
    InstanceRecord {
        tenant: tenant.into(),
        name: name.into(),
        definition: "events".into(),
        version: "1.0.0".into(),
        config: json!({"account": format!("acct-{tenant}")}),
        credentials: [("api".to_string(), "token".to_string())].into(),
        owned_credentials: Vec::new(),
        products: Vec::new(),
        state: if i.is_multiple_of(10) {
            InstanceState::Paused
        } else {
            InstanceState::Active
        },
        attention: None,
        disconnect_reason: None,
        superseded_by: None,
        created_by: "bench".into(),
        created_at: now,
        updated_by: "bench".into(),
        updated_at: now,
        revision: 1,
    }
}

fn audit(tenant: &str, name: &str) -> AuditEntry {
    AuditEntry {
        id: 0,
        time: Utc::now(),
        tenant: tenant.into(),
        actor: "bench".into(),
        action: "connector.create".into(),
        target: format!("connector/{name}"),
        connector: Some(name.into()),
        reason: None,
        before: None,
        after: None,
    }
}

fn health_rows(tenant: &str, name: &str) -> Vec<HealthRow> {
    let connector = format!("{tenant}.{name}");
    [Status::Starting, Status::Warning, Status::Ok]
        .into_iter()
        .enumerate()
        .map(|(i, status)| HealthRow {
            seq: 0,
            previous: None,
            time: Utc::now() - chrono::Duration::seconds(60 - i as i64),
            tenant: tenant.into(),
            connector: connector.clone(),
            product: None,
            workspace: None,
            stream: Some("events".into()),
            status,
            kind: HealthKind::Collection,
            message: format!("{connector}/events is collecting"),
            details: None,
        })
        .collect()
}

/// The connectors: (tenant, name) for `total` spread over `tenants`, `big` in the first.
fn layout(total: usize, tenants: usize, big: usize) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(total);
    for i in 0..big {
        out.push(("t0000".to_string(), format!("c{i:04}")));
    }
    let rest = total - big;
    for i in 0..rest {
        let tenant = 1 + i % (tenants - 1);
        out.push((
            format!("t{tenant:04}"),
            format!("c{:04}", i / (tenants - 1)),
        ));
    }
    out
}

/// Latencies recorded by one benchmark.
#[derive(Default)]
struct Latencies(Mutex<Vec<Duration>>);

impl Latencies {
    fn report(&self, name: &str) {
        let mut all = self.0.lock().unwrap().clone();
        if all.is_empty() {
            return;
        }
        all.sort();
        let at = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize];
        println!(
            "{name}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            all.len(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            all[all.len() - 1].as_secs_f64() * 1e3,
        );
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (total, tenants, big) = if full {
        (10_000, 1_000, 1_000)
    } else {
        (300, 30, 120)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (base, keys) = runtime.block_on(async {
        let store = Arc::new(SqliteStore::open(dir.path().join("manage.sqlite")).unwrap());
        let health = Arc::new(
            SqliteHealthTable::open(dir.path().join("health.sqlite"), Retention::default())
                .unwrap(),
        );
        let started = Instant::now();
        let mut rows = Vec::new();
        for (i, (tenant, name)) in layout(total, tenants, big).iter().enumerate() {
            store
                .put_instance(&record(tenant, name, i), None, audit(tenant, name))
                .await
                .unwrap();
            rows.extend(health_rows(tenant, name));
        }
        health.insert(rows).await.unwrap();
        eprintln!("stored {total} connectors in {:?}", started.elapsed());

        let credentials = Arc::new(MemoryCredentials::new());
        let platform = Arc::new(
            Platform::builder()
                .credentials(credentials.clone())
                .build()
                .unwrap()
                .start()
                .await
                .unwrap(),
        );
        let keys = ApiKeys::new(ApiKeys::random_pepper()).unwrap();
        let auth = Authenticator::new(store.clone(), keys, None, Vec::<String>::new());
        let started = Instant::now();
        let manager = Manager::builder(store, platform, Arc::new(NoProducts), credentials, auth)
            .health(health)
            .definition(definition(EventLog::new()))
            .start()
            .await
            .unwrap();
        eprintln!(
            "restored {total} connectors into the platform in {:?}",
            started.elapsed()
        );
        let admin = Principal::system();
        let mut keys = Vec::new();
        for tenant in ["t0000", &format!("t{:04}", tenants / 2)] {
            let who = format!("reader-{tenant}");
            let (_, key) = manager.create_api_key(&admin, &who).await.unwrap();
            manager
                .set_role(&admin, tenant, &who, Some(Role::Reader))
                .await
                .unwrap();
            keys.push(key.expose_secret().to_string());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = ucp_manage::api::router(manager);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (base, keys)
    });

    let http = reqwest::Client::new();
    let small = format!("t{:04}", tenants / 2);
    // The page after c0499: a page token is the last name of the previous page.
    let middle = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("c{:04}", big / 2 - 1))
    };
    let in_small = layout(total, tenants, big)
        .iter()
        .filter(|(t, _)| *t == small)
        .count();
    let cases: Vec<(&str, String, &String, usize)> = vec![
        (
            "list/t0000/first_page_of_100",
            format!("{base}/api/v1/tenants/t0000/connectors?page_size=100"),
            &keys[0],
            big.min(100),
        ),
        (
            "list/t0000/middle_page_of_100",
            format!("{base}/api/v1/tenants/t0000/connectors?page_size=100&page_token={middle}"),
            &keys[0],
            (big - big / 2).min(100),
        ),
        (
            "list/small_tenant/all",
            format!("{base}/api/v1/tenants/{small}/connectors?page_size=100"),
            &keys[1],
            in_small,
        ),
        (
            "get/t0000/one_connector",
            format!("{base}/api/v1/tenants/t0000/connectors/c{:04}", big / 2),
            &keys[0],
            1,
        ),
    ];
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    let mut reports = Vec::new();
    for (name, url, key, expected) in cases {
        // Check the answer once: the bench measures what it claims to.
        let body: serde_json::Value = runtime.block_on(async {
            http.get(&url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        // A list answers its items; a get, one connector.
        let items = body["items"].as_array().map_or(1, Vec::len);
        assert_eq!(items, expected, "{name}: {body}");
        let latencies = Arc::new(Latencies::default());
        criterion.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let (http, url, key, latencies) =
                    (http.clone(), url.clone(), key.clone(), latencies.clone());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let response = http.get(&url).bearer_auth(&key).send().await.unwrap();
                        assert!(response.status().is_success());
                        let _ = response.bytes().await.unwrap();
                        let took = start.elapsed();
                        latencies.0.lock().unwrap().push(took);
                        total += took;
                    }
                    total
                }
            })
        });
        reports.push((name, latencies));
    }
    criterion.final_summary();
    for (name, latencies) in reports {
        latencies.report(name);
    }
}
