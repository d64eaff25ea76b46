//! `ucp connector validate <file>` and `ucp connector preview <file> --credential <name>`:
//! check a definition, and show the first page of records it would collect. The binary
//! (`ucp-sources/src/bin/ucp.rs`) parses arguments and prints; the work is here, testable.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ucp_core::credentials::CredentialStore;
use ucp_core::{Clock, CollectRequest, Context, Cursor, RateBudget, Source, SourceContext};

use super::definition::{Auth, PagingKind, RestDefinition};
use super::{load_file, RestConfig, RestSource};

/// What `preview` needs besides the file.
#[derive(Clone, Debug)]
pub struct PreviewOptions {
    /// The credential's name (in the store given to [`preview`]).
    pub credential: Option<String>,
    /// The tenant it belongs to.
    pub tenant: String,
    /// Parameters, `name → value`.
    pub parameters: BTreeMap<String, String>,
    /// Start this long ago.
    pub start_ago: Duration,
    /// Show at most this many records.
    pub limit: usize,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        PreviewOptions {
            credential: None,
            tenant: ucp_core::DEFAULT_TENANT.into(),
            parameters: BTreeMap::new(),
            start_ago: Duration::from_secs(3600),
            limit: 10,
        }
    }
}

/// The definition at `path`, described for people (or its error).
pub fn validate(path: &Path) -> Result<String, String> {
    let definition = load_file(path).map_err(|e| e.to_string())?;
    Ok(describe(&definition))
}

/// A few lines about a valid definition.
pub fn describe(definition: &RestDefinition) -> String {
    let mut out = String::new();
    let meta = &definition.meta;
    let _ = writeln!(out, "{}: valid", definition.origin);
    let _ = writeln!(
        out,
        "  connector {} {} ({}): {}",
        meta.id, meta.version, definition.connector_definition_name, meta.description
    );
    let auth = match &definition.auth {
        Auth::None => "None",
        Auth::Basic { .. } => "Basic",
        Auth::ApiKey { .. } => "APIKey",
        Auth::OAuth2 { .. } => "OAuth2 client credentials (platform token provider)",
        Auth::JwtToken(_) => "JwtToken",
        Auth::Session(_) => "Session",
    };
    let paging = match &definition.paging.kind {
        PagingKind::None => "none",
        PagingKind::Link {
            persistent: true, ..
        } => "PersistentLinkHeader (polling)",
        PagingKind::Link { .. } => "LinkHeader",
        PagingKind::Token {
            persistent: true, ..
        } => "PersistentToken (polling)",
        PagingKind::Token { .. } => "NextPageToken",
        PagingKind::NextUrl { .. } => "NextPageUrl",
        PagingKind::Offset { .. } => "Offset",
        PagingKind::PageNumber { .. } => "CountBasedPaging",
    };
    let _ = writeln!(
        out,
        "  stream {} of provider {}; auth {auth}; paging {paging}",
        definition.stream, definition.provider
    );
    let minutes = |d: Duration| d.as_secs() / 60;
    let _ = write!(
        out,
        "  windows of {} min (up to {} min while catching up)",
        minutes(definition.request.window),
        minutes(definition.catch_up_window)
    );
    match definition.late_arrival {
        Some(late) => {
            let _ = writeln!(
                out,
                ", reaching back {} min for late events",
                minutes(late.lookback)
            );
        }
        None => out.push('\n'),
    }
    let budget = &definition.budget;
    let _ = writeln!(
        out,
        "  budget {} calls per {} s (share {})",
        budget.limit,
        budget.per.as_secs(),
        budget.share
    );
    let parameters: Vec<String> = definition
        .parameters()
        .into_iter()
        .map(|name| {
            match definition
                .parameter_specs
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(&name))
                .and_then(|p| p.default.clone())
            {
                Some(default) => format!("{name} (default {default})"),
                None => format!("{name} (required)"),
            }
        })
        .collect();
    if !parameters.is_empty() {
        let _ = writeln!(out, "  parameters: {}", parameters.join(", "));
    }
    if let Some(dcr) = &definition.dcr {
        let _ = writeln!(
            out,
            "  Sentinel: DCR {} stream {} at {}",
            dcr.rule_id, dcr.stream, dcr.endpoint
        );
    }
    for warning in &definition.warnings {
        let _ = writeln!(out, "  warning: {warning}");
    }
    out
}

/// The first page the definition at `path` would collect, as JSON lines (one per record,
/// `{"id", "time", "event"}`) and a closing line with the cursor.
pub async fn preview(
    path: &Path,
    options: &PreviewOptions,
    credentials: Arc<dyn CredentialStore>,
) -> Result<String, String> {
    let definition = Arc::new(load_file(path).map_err(|e| e.to_string())?);
    let mut config = match &options.credential {
        Some(name) => RestConfig::new(name.clone()),
        None => RestConfig::anonymous(),
    };
    config.parameters = options.parameters.clone();
    let source = RestSource::new(definition.clone(), config.start_ago(options.start_ago))
        .map_err(|e| e.to_string())?;
    let clock = Clock::new();
    let context =
        Context::standalone(&options.tenant, credentials, clock).map_err(|e| e.to_string())?;
    let budget = Arc::new(RateBudget::new(source.describe().budget, clock));
    let cx = SourceContext::new("preview", budget.clone(), context);
    budget.acquire().await;
    let request = CollectRequest {
        stream: definition.stream.clone(),
        cursor: Cursor::start(),
        filter: None,
    };
    let page = source
        .collect(&cx, request)
        .await
        .map_err(|e| format!("{e}; what to do: {}", e.action()))?;
    let mut out = String::new();
    for record in page.records.iter().take(options.limit) {
        let event =
            serde_json::from_slice::<serde_json::Value>(&record.payload).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&record.payload).into_owned())
            });
        let line = serde_json::json!({"id": record.id.as_str(), "time": record.time.to_rfc3339(), "event": event});
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "# {} records on the first page ({} shown), more: {}, next cursor: {}",
        page.records.len(),
        page.records.len().min(options.limit),
        page.more,
        page.next
    );
    Ok(out)
}
