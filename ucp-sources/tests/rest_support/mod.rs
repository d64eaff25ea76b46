//! Shared set-up of the declarative REST source tests: definitions (shipped or edited),
//! contexts on a given clock, and reading a round as the scheduler does.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::Value;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{
    Clock, CollectRequest, Context, Cursor, Page, RateBudget, Record, Source, SourceContext,
    SourceError,
};
use ucp_sources::rest::{load, shipped, RestDefinition, RestSource};

pub const TENANT: &str = "contoso";
pub const CREDENTIAL: &str = "api";

/// A fixed wall time so runs are reproducible.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// A shipped definition's JSON, edited by `edit`, loaded.
pub fn edited(name: &str, text: &str, edit: impl FnOnce(&mut Value)) -> Arc<RestDefinition> {
    let mut value: Value = serde_json::from_str(text).unwrap();
    edit(&mut value);
    Arc::new(load(name, &value.to_string()).unwrap_or_else(|e| panic!("{e}")))
}

/// The shipped Okta definition (with its late-arrival lookback).
pub fn okta_lookback() -> Arc<RestDefinition> {
    Arc::new(shipped::okta_system_log().unwrap())
}

/// The shipped Okta definition without `ucp.lateArrival`: CCF's plain windows.
pub fn okta_plain() -> Arc<RestDefinition> {
    edited("okta_plain.json", shipped::OKTA_SYSTEM_LOG, |v| {
        v["properties"]["ucp"]
            .as_object_mut()
            .unwrap()
            .remove("lateArrival");
    })
}

pub fn api_token(token: &str) -> Credential {
    Credential::ApiToken {
        token: SecretString::from(token.to_string()),
    }
}

/// A store holding `credential` under [`CREDENTIAL`].
pub async fn store(credential: Credential) -> Arc<MemoryCredentials> {
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(CredentialRef::new(TENANT, CREDENTIAL), credential)
        .await
        .unwrap();
    store
}

/// A context of `source` whose wall clock reads `now` (the simulator's time).
pub fn context_at(
    source: &RestSource,
    store: Arc<MemoryCredentials>,
    now: DateTime<Utc>,
) -> SourceContext {
    let clock = Clock::at(now);
    let budget = Arc::new(RateBudget::new(source.describe().budget, clock));
    SourceContext::new(
        "rest",
        budget,
        Context::standalone(TENANT, store, clock).unwrap(),
    )
}

pub async fn collect(
    source: &RestSource,
    cx: &SourceContext,
    cursor: &Cursor,
) -> Result<Page, SourceError> {
    let stream = source.describe().streams[0].name.clone();
    source
        .collect(
            cx,
            CollectRequest {
                stream,
                cursor: cursor.clone(),
                filter: None,
            },
        )
        .await
}

/// Follow pages until the round ends (the `Page` contract): records and the cursor after.
pub async fn round(
    source: &RestSource,
    cx: &SourceContext,
    cursor: Cursor,
) -> (Vec<Record>, Cursor) {
    let mut cursor = cursor;
    let mut records = Vec::new();
    for _ in 0..10_000 {
        let page = collect(source, cx, &cursor)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let stop = !page.more || (page.records.is_empty() && page.next == cursor);
        records.extend(page.records);
        cursor = page.next;
        if stop {
            return (records, cursor);
        }
    }
    panic!("the round did not end");
}

pub fn ids(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.id.to_string()).collect()
}

/// A loopback server answering every request with `body` (and `status`), after `delay`.
pub async fn answering_after(
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    delay: std::time::Duration,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            tokio::time::sleep(delay).await;
            let status =
                axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
            (
                status,
                [(axum::http::header::CONTENT_TYPE, content_type)],
                body,
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A loopback server answering every request with `body` (and `status`) at once.
pub async fn answering(status: u16, content_type: &'static str, body: Vec<u8>) -> String {
    answering_after(status, content_type, body, std::time::Duration::ZERO).await
}
