//! Shared set-up of the Okta source tests: a simulated org, a source pointed at it and a
//! context with its credential.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::Context;
use ucp_core::{
    Clock, CollectRequest, Cursor, Filter, Page, RateBudget, Record, Source, SourceContext,
    SourceError,
};
use ucp_sources::okta::{OktaConfig, OktaSource, SYSTEM_LOG};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};

pub const TOKEN: &str = "00aTestTokenForTheSimulatedOrg";
pub const TENANT: &str = "contoso";
pub const CREDENTIAL: &str = "okta-contoso";

/// A fixed wall time so runs are reproducible.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn clock() -> Clock {
    Clock::at(t0())
}

pub async fn org(config: OktaSimConfig) -> OktaSimulator {
    OktaSimulator::start(config.token(TOKEN)).await.unwrap()
}

pub fn source_config(sim: &OktaSimulator) -> OktaConfig {
    OktaConfig::new(sim.base_url(), CREDENTIAL)
        .start_at(t0() - chrono::Duration::hours(2))
        .request_timeout(Duration::from_secs(10))
}

/// A context whose credential store holds `credential` under [`CREDENTIAL`].
pub async fn context_with(
    source: &OktaSource,
    credential: Option<Credential>,
    clock: Clock,
) -> SourceContext {
    let store = Arc::new(MemoryCredentials::new());
    if let Some(credential) = credential {
        store
            .put(CredentialRef::new(TENANT, CREDENTIAL), credential)
            .await
            .unwrap();
    }
    let budget = Arc::new(RateBudget::new(source.describe().budget, clock));
    SourceContext::new(
        "okta-contoso",
        budget,
        Context::standalone(TENANT, store, clock).expect("a standalone context"),
    )
}

pub fn api_token(token: &str) -> Credential {
    Credential::ApiToken {
        token: SecretString::from(token.to_string()),
    }
}

pub async fn context(source: &OktaSource, clock: Clock) -> SourceContext {
    context_with(source, Some(api_token(TOKEN)), clock).await
}

pub async fn collect(
    source: &OktaSource,
    cx: &SourceContext,
    cursor: &Cursor,
    filter: Option<&Filter>,
) -> Result<Page, SourceError> {
    source
        .collect(
            cx,
            CollectRequest {
                stream: SYSTEM_LOG.into(),
                cursor: cursor.clone(),
                filter: filter.cloned(),
            },
        )
        .await
}

/// Follow pages until `more` is false, as the scheduler does within one round; returns the
/// records, the cursor after them and the number of pages fetched.
pub async fn round(
    source: &OktaSource,
    cx: &SourceContext,
    cursor: Cursor,
    filter: Option<&Filter>,
) -> (Vec<Record>, Cursor, usize) {
    let mut cursor = cursor;
    let mut records = Vec::new();
    let mut pages = 0;
    loop {
        let page = collect(source, cx, &cursor, filter).await.unwrap();
        pages += 1;
        records.extend(page.records);
        cursor = page.next;
        if !page.more {
            return (records, cursor, pages);
        }
    }
}
