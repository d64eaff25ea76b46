//! The partner's connector: a `Source` for the "Acme" events API, its catalog entry, and a
//! `Sink` for products that take NDJSON files. This is all a partner writes to plug Acme into
//! the platform; the example (`examples/custom_connector.rs`) runs it, and `conformance.rs`
//! next to it runs the testkit's suites on it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::AsyncWriteExt;
use ucp::catalog::{self, ConnectorDefinition, CredentialKind, Prerequisite};
use ucp::credentials::Credential;
use ucp::http::{self, HttpFailure};
use ucp::prelude::*;

// ---------------------------------------------------------------- the partner's Source

/// Acme's events API: `GET /v1/events?after=<position>&limit=<n>`, bearer token, rate-limit
/// headers, 429 when over the limit.
pub struct AcmeSource {
    base_url: String,
    account: String,
    credential: String,
    page_size: usize,
    timeout: Duration,
}

#[derive(Deserialize)]
struct AcmePage<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
    next: String,
    has_more: bool,
}

#[derive(Deserialize)]
struct AcmeEvent {
    uuid: String,
    published: DateTime<Utc>,
}

impl AcmeSource {
    /// Acme's API at `base_url` for `account`, with the API token stored under `credential`;
    /// 1,000 events per page, 30 s per request.
    pub fn new(
        base_url: impl Into<String>,
        account: impl Into<String>,
        credential: impl Into<String>,
    ) -> Self {
        AcmeSource {
            base_url: base_url.into(),
            account: account.into(),
            credential: credential.into(),
            page_size: 1000,
            timeout: Duration::from_secs(30),
        }
    }

    /// Ask for `events` per page.
    pub fn page_size(mut self, events: usize) -> Self {
        self.page_size = events;
        self
    }

    /// Give up on a request after `timeout` (a retryable error: the platform retries).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One GET of the events API with the platform's HTTP client. The HTTP kit reads the
    /// rate-limit headers (in any dialect) and turns a refusal into the error it means.
    async fn get(
        &self,
        cx: &SourceContext,
        query: &[(&str, String)],
    ) -> Result<(Option<RateLimitHint>, Bytes), SourceError> {
        let what = format!("Acme account {}", self.account);
        let token = match cx.credential(&self.credential).await? {
            Credential::ApiToken { token } => token,
            other => {
                return Err(SourceError::Config {
                    message: format!(
                        "credential '{}' is a {}, Acme needs an API token",
                        self.credential,
                        other.kind()
                    ),
                })
            }
        };
        let response = cx
            .http()
            .get(format!("{}/v1/events", self.base_url))
            .query(query)
            .timeout(self.timeout)
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| http::transport_source_error(&what, e))?;
        let received = cx.clock().now_utc();
        if !response.status().is_success() {
            // 401/403 → Auth, 400/404 → Config, 429 → RateLimited with the hint, 5xx → Retryable.
            let failure = HttpFailure::from_response(response, received).await;
            return Err(failure.source_error(&what));
        }
        let hint = http::rate_limit_hint(response.headers(), received);
        let body = response
            .bytes()
            .await
            .map_err(|e| http::transport_source_error(&what, e))?;
        Ok((hint, body))
    }
}

#[async_trait]
impl Source for AcmeSource {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "acme".into(),
            streams: vec![StreamInfo::new("events", "Acme's audit events")],
            capabilities: SourceCapabilities::default(),
            // Acme allows 120 calls a minute per account; leave half for other applications.
            budget: BudgetSpec::new(
                BudgetKey::new("acme", &self.account),
                120,
                Duration::from_secs(60),
            )
            .share(0.5),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        self.get(cx, &[("limit", "1".into())]).await.map(|_| ())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        let after = req.cursor.as_str().unwrap_or("0").to_string();
        let limit = self.page_size.to_string();
        let (hint, body) = self
            .get(cx, &[("after", after.clone()), ("limit", limit)])
            .await?;
        let malformed = |e: serde_json::Error| SourceError::Malformed {
            message: format!("Acme {}: page after {after}: {e}", self.account),
        };
        let page: AcmePage = serde_json::from_slice(&body).map_err(malformed)?;
        let mut records = Vec::with_capacity(page.events.len());
        for raw in page.events {
            let event: AcmeEvent = serde_json::from_str(raw.get()).map_err(malformed)?;
            // Keep the provider's bytes as they came: a slice of the body, not a copy.
            let payload = body.slice_ref(raw.get().as_bytes());
            records.push(Record::new(event.uuid, event.published, payload));
        }
        Ok(Page {
            records,
            next: Cursor::new(page.next),
            more: page.has_more,
            hint,
        })
    }
}

// ---------------------------------------------------------------- its catalog entry

/// Acme's configuration as a management API takes it (its JSON Schema is generated from it).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcmeSettings {
    /// Acme's API, e.g. `https://api.acme.example`.
    pub base_url: String,
    /// The Acme account.
    pub account: String,
    /// Events per page (default 1000).
    #[schemars(range(min = 1, max = 1000))]
    pub page_size: Option<usize>,
}

/// The catalog entry: what a management API shows, and how it builds an [`AcmeSource`] from
/// an instance's settings and its `api` credential.
pub fn definition() -> Result<ConnectorDefinition, catalog::DefinitionError> {
    ConnectorDefinition::builder("acme-events", "Acme events")
        .provider("acme")
        .publisher("Acme Inc.")
        .version("1.0.0")
        .description("Acme's audit events, collected once for every product")
        .stream("events", "Acme's audit events")
        .feeds(["sentinel", "mdi", "xspm"])
        .credential("api", "An Acme API token", [CredentialKind::ApiToken])
        .config_schema(schemars::schema_for!(AcmeSettings).to_value())
        .prerequisite(Prerequisite::source_check(
            "events-read",
            "The API token may read the account's events",
        ))
        .factory(catalog::factory(|s: AcmeSettings, credentials| {
            let credential = &credentials.get("api")?.name;
            let source = AcmeSource::new(s.base_url, s.account, credential)
                .page_size(s.page_size.unwrap_or(1000));
            Ok(Arc::new(source) as Arc<dyn Source>)
        }))
        .build()
}

// ---------------------------------------------------------------- the partner's Sink

/// A product that ingests NDJSON files: one line per record.
pub struct NdjsonProduct {
    path: PathBuf,
}

impl NdjsonProduct {
    /// Append to the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        NdjsonProduct { path: path.into() }
    }
}

#[async_trait]
impl Sink for NdjsonProduct {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("ndjson-file")
    }

    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| SinkError::Permanent {
                message: format!("cannot create {}: {e}", dir.display()),
            })
    }

    async fn deliver(&self, _cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let mut lines = Vec::with_capacity(batch.payload_bytes() + batch.len());
        for record in batch.records.iter() {
            lines.extend_from_slice(&record.payload);
            lines.push(b'\n');
        }
        let failed = |e: std::io::Error| SinkError::Retryable {
            message: format!("{}: {e}", self.path.display()),
            retry_after: None,
        };
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(failed)?;
        file.write_all(&lines).await.map_err(failed)?;
        file.flush().await.map_err(failed)?;
        Ok(Delivery::all())
    }
}
