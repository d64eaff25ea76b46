//! Shared set-up of the Defender XDR source tests: a simulated tenant, an app registered in
//! it, sources pointed at it and contexts holding the app's credential.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{
    Clock, CollectRequest, Context, Cursor, Page, RateBudget, Record, Source, SourceContext,
    SourceError,
};
use ucp_sources::defender::{DefenderConfig, HuntingConfig};
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, TENANT_ID};

pub const TENANT: &str = "contoso";
pub const CREDENTIAL: &str = "graph-app";
pub const CLIENT_ID: &str = "4a1b2c3d-defender-connector";
pub const SECRET: &str = "graph-app-secret-Qx7~v2";
pub const ALL_ROLES: &[&str] = &[
    "SecurityIncident.Read.All",
    "SecurityAlert.Read.All",
    "ThreatHunting.Read.All",
];

/// A tenant with `config`, and the app granted `roles`.
pub async fn tenant(config: GraphSimConfig, roles: &[&str]) -> GraphSimulator {
    let sim = GraphSimulator::start(config)
        .await
        .expect("the Graph simulator starts");
    sim.register_app(CLIENT_ID, SECRET, roles);
    sim
}

pub fn credential(sim: &GraphSimulator, secret: &str) -> Credential {
    Credential::ClientSecret {
        token_url: sim.token_url(),
        client_id: CLIENT_ID.into(),
        secret: SecretString::from(secret.to_string()),
    }
}

pub fn config(sim: &GraphSimulator) -> DefenderConfig {
    DefenderConfig::new(TENANT_ID, CREDENTIAL)
        .graph_url(sim.url())
        .start_ago(Duration::from_secs(30 * 24 * 3600))
        .request_timeout(Duration::from_secs(30))
}

pub fn hunting_config(sim: &GraphSimulator) -> HuntingConfig {
    HuntingConfig::new(TENANT_ID, CREDENTIAL)
        .graph_url(sim.url())
        .start_at(sim.hunting_origin())
        .request_timeout(Duration::from_secs(60))
}

/// A context of `source` holding `credential`, with a budget far from binding (the tests
/// are about the wire, not about waiting) unless `own_budget`.
pub async fn context(
    source: &dyn Source,
    credential: Credential,
    own_budget: bool,
) -> SourceContext {
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(CredentialRef::new(TENANT, CREDENTIAL), credential)
        .await
        .unwrap();
    let clock = Clock::new();
    let mut spec = source.describe().budget;
    if !own_budget {
        spec = ucp_core::BudgetSpec::new(spec.key, 1_000_000, Duration::from_secs(60));
    }
    SourceContext::new(
        "defender-contoso",
        Arc::new(RateBudget::new(spec, clock)),
        Context::standalone(TENANT, store, clock).expect("a standalone context"),
    )
}

pub async fn collect(
    source: &dyn Source,
    cx: &SourceContext,
    stream: &str,
    cursor: &Cursor,
) -> Result<Page, SourceError> {
    cx.budget().acquire().await;
    source
        .collect(
            cx,
            CollectRequest {
                stream: stream.into(),
                cursor: cursor.clone(),
                filter: None,
            },
        )
        .await
}

/// Follow pages until `more` is false: the records, the cursor after them and the pages.
pub async fn round(
    source: &dyn Source,
    cx: &SourceContext,
    stream: &str,
    cursor: Cursor,
) -> (Vec<Record>, Cursor, usize) {
    let mut cursor = cursor;
    let mut records = Vec::new();
    let mut pages = 0;
    loop {
        let page = collect(source, cx, stream, &cursor).await.unwrap();
        pages += 1;
        records.extend(page.records);
        cursor = page.next;
        if !page.more {
            return (records, cursor, pages);
        }
    }
}

pub fn ids(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.id.to_string()).collect()
}
