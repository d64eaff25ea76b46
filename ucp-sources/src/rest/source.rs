//! [`RestSource`]: a definition and an instance's settings, as a [`Source`].
//!
//! **Windows.** Without a persistent paging type, each query covers `[start, end)` where
//! `end` is the earlier of now and `start + queryWindowInMin` (`catchUpWindowInMin` while the
//! stream is more than one window behind), cut to the time format's resolution; the
//! window's pages are followed, then the next window starts at `end`. With `lateArrival`
//! each query reaches back `lookbackInMin` before `start` and records already delivered are
//! dropped by id (the ids travel in the cursor, so a restart dedups too).
//!
//! **Polling.** With `PersistentLinkHeader` or `PersistentToken` the first query carries
//! only the start time and the link or token it answers is followed from then on, across
//! rounds: an API whose cursor follows persistence order (Okta's `next` link) misses nothing
//! that is persisted late.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use ucp_core::credentials::Credential;
use ucp_core::{
    BudgetKey, BudgetSpec, CollectRequest, Cursor, Page, Record, Source, SourceCapabilities,
    SourceContext, SourceError, SourceInfo, StreamInfo,
};

use super::auth::{secrets, Logins};
use super::config::{RestConfig, StartAt};
use super::cursor::{Position, RestCursor, Seen};
use super::definition::{Auth, Format, RestDefinition};
use super::exchange::Exchange;
use super::paging::{self, PageFacts};
use super::request::{build, Values};
use super::response::{records, Body, RecordRules};
use super::template::Template;

/// A declarative REST connector: one definition, one instance. See the module docs.
#[derive(Debug)]
pub struct RestSource {
    pub(super) definition: Arc<RestDefinition>,
    pub(super) config: RestConfig,
    /// `<connectorDefinitionName> API at <host[:port]>`, for messages.
    pub(super) what: String,
    /// `host[:port]` of the API: the budget's account.
    account: String,
    pub(super) timeout: Duration,
    pub(super) logins: Logins,
}

/// One page read, before the cursor is decided.
struct Read {
    records: Vec<Record>,
    raw_count: usize,
    next: Option<Position>,
}

impl RestSource {
    /// An instance of `definition`; refuses missing parameters and an unusable endpoint,
    /// naming them.
    pub fn new(
        definition: Arc<RestDefinition>,
        mut config: RestConfig,
    ) -> Result<Self, SourceError> {
        let config_error = |message: String| SourceError::Config { message };
        for spec in &definition.parameter_specs {
            if let Some(default) = &spec.default {
                if !config
                    .parameters
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case(&spec.name))
                {
                    config.parameters.insert(spec.name.clone(), default.clone());
                }
            }
        }
        let missing: Vec<String> = definition
            .parameters()
            .into_iter()
            .filter(|name| {
                !config
                    .parameters
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case(name))
            })
            .collect();
        if !missing.is_empty() {
            return Err(config_error(format!(
                "connector {}: set parameter(s) {} of definition {}",
                definition.meta.id,
                missing.join(", "),
                definition.origin
            )));
        }
        let needs_credential = !matches!(definition.auth, Auth::None);
        if needs_credential && config.credential.as_deref().is_none_or(str::is_empty) {
            return Err(config_error(format!(
                "connector {}: name the credential its {} auth uses",
                definition.meta.id,
                auth_name(&definition.auth)
            )));
        }
        let endpoint = render_plain(&definition.request.endpoint, &config)?;
        let url = reqwest::Url::parse(endpoint.trim()).map_err(|e| {
            config_error(format!(
                "connector {}: apiEndpoint is not a URL once filled in ({e})",
                definition.meta.id
            ))
        })?;
        let host = match (url.scheme(), url.host_str()) {
            ("http" | "https", Some(host)) => host.to_string(),
            _ => {
                return Err(config_error(format!(
                    "connector {}: apiEndpoint must be an http(s) URL with a host",
                    definition.meta.id
                )))
            }
        };
        let account = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        if let Some(share) = config.quota_share {
            if !(share > 0.0 && share <= 1.0) {
                return Err(config_error(format!(
                    "connector {}: quota share {share} must be in (0, 1]",
                    definition.meta.id
                )));
            }
        }
        let timeout = config.request_timeout.unwrap_or(definition.request.timeout);
        Ok(RestSource {
            what: format!("{} API at {account}", definition.connector_definition_name),
            account,
            timeout,
            logins: Logins::default(),
            definition,
            config,
        })
    }

    /// The definition.
    pub fn definition(&self) -> &RestDefinition {
        &self.definition
    }

    pub(super) fn credential_name(&self) -> Result<&str, SourceError> {
        self.config
            .credential
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| SourceError::Config {
                message: format!("connector {}: no credential named", self.definition.meta.id),
            })
    }

    async fn credential(&self, cx: &SourceContext) -> Result<Option<Credential>, SourceError> {
        match self.config.credential.as_deref() {
            Some(name) if !name.is_empty() => Ok(Some(cx.credential(name).await?)),
            _ => Ok(None),
        }
    }

    fn first_start(&self, cx: &SourceContext) -> DateTime<Utc> {
        let now = cx.clock().now_utc();
        match &self.config.start {
            Some(StartAt::Time(time)) => *time,
            Some(StartAt::Ago(ago)) => {
                minus(now, chrono::Duration::from_std(*ago).unwrap_or_default())
            }
            None => minus(
                now,
                chrono::Duration::from_std(self.definition.request.window).unwrap_or_default(),
            ),
        }
    }

    fn lookback(&self) -> chrono::Duration {
        self.definition
            .late_arrival
            .map(|late| chrono::Duration::from_std(late.lookback).unwrap_or_default())
            .unwrap_or_default()
    }

    /// One request for `window` (`None`: polling from a saved position) at `position`.
    async fn fetch(
        &self,
        cx: &SourceContext,
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
        polling: bool,
        position: Option<&Position>,
    ) -> Result<Exchange, SourceError> {
        let credential = self.credential(cx).await?;
        let secrets = credential.as_ref().map(secrets).unwrap_or_default();
        let format = &self.definition.request.time_format;
        let values = Values {
            parameters: &self.config.parameters,
            secrets: &secrets,
            window: window.map(|(from, to)| (format.format(from), format.format(to))),
            api_key_name: match &self.definition.auth {
                Auth::ApiKey { name, .. } => Some(name.as_str()),
                _ => None,
            },
        };
        let mut call = build(&self.definition, &values, position)?;
        if polling && position.is_none() {
            // Polling asks from the start time only: no end time bounds it.
            if let Some((_, end_name)) = &self.definition.request.time_attributes {
                let kept: Vec<(String, String)> = call
                    .url
                    .query_pairs()
                    .filter(|(k, _)| k != end_name.as_str())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                call.url.query_pairs_mut().clear().extend_pairs(kept);
            }
        }
        self.authenticated(cx, call, &values, credential.as_ref())
            .await
    }

    /// Records and the next position of an answer.
    fn read(
        &self,
        exchange: &Exchange,
        asked: Option<&Position>,
        read_before: u64,
        now: DateTime<Utc>,
    ) -> Result<Read, SourceError> {
        let malformed = |why: String| SourceError::Malformed {
            message: format!("{}: {why}", self.what),
        };
        let response = &self.definition.response;
        let compression = response.compression.or_else(|| encoding(&exchange.headers));
        let body = Body::decode(exchange.body.clone(), compression).map_err(malformed)?;
        if let Some((path, expected)) = &response.success {
            if !body.succeeded(path, expected).map_err(malformed)? {
                return Err(malformed(format!(
                    "the answer's {} is not '{expected}': the API reports a failure",
                    path.text()
                )));
            }
        }
        let add_on: Vec<(String, String)> = self
            .definition
            .add_on_attributes
            .iter()
            .map(|(name, template)| Ok((name.clone(), render_plain(template, &self.config)?)))
            .collect::<Result<_, SourceError>>()?;
        let rules = RecordRules {
            paths: &self.definition.records,
            add_on: &add_on,
            now,
        };
        let found = records(&body, response, &rules).map_err(malformed)?;
        let raw_count = found.len();
        let facts = PageFacts {
            headers: &exchange.headers,
            body: matches!(response.format, Format::Json).then_some(&body),
            records: raw_count,
            read: read_before.saturating_add(raw_count as u64),
        };
        let next = paging::next(&self.definition.paging, asked, &facts).map_err(malformed)?;
        Ok(Read {
            records: found,
            raw_count,
            next,
        })
    }

    async fn poll(
        &self,
        cx: &SourceContext,
        cursor: RestCursor,
        asked: &Cursor,
    ) -> Result<Page, SourceError> {
        let now = cx.clock().now_utc();
        let start = cursor.start_time().unwrap_or_else(|| self.first_start(cx));
        let position = cursor.page.clone();
        let window = position.is_none().then_some((start, now));
        let exchange = self.fetch(cx, window, true, position.as_ref()).await?;
        let read = self.read(&exchange, position.as_ref(), 0, now)?;
        let full = self
            .definition
            .paging
            .page_size
            .is_none_or(|size| read.raw_count >= size as usize);
        let more = read.raw_count > 0 && read.next.is_some() && full;
        let next = match read.next {
            Some(position) => RestCursor {
                v: 1,
                start: Some(start.timestamp_millis()),
                page: Some(position),
                ..RestCursor::default()
            }
            .encode(),
            None if read.raw_count == 0 => match asked.as_str() {
                Some(text) => text.to_string(),
                None => RestCursor::at(start).encode(),
            },
            // Records but no position to go on from: the API said nothing; ask again from
            // the same place next round (the platform drops what it already delivered).
            None => RestCursor {
                v: 1,
                start: Some(start.timestamp_millis()),
                page: position,
                ..RestCursor::default()
            }
            .encode(),
        };
        Ok(Page {
            records: read.records,
            next: Cursor::new(next),
            more,
            hint: exchange.hint,
        })
    }

    async fn window(
        &self,
        cx: &SourceContext,
        cursor: RestCursor,
        asked: &Cursor,
    ) -> Result<Page, SourceError> {
        let format = &self.definition.request.time_format;
        let now = cx.clock().now_utc();
        let start = cursor
            .start_time()
            .unwrap_or_else(|| format.truncate(self.first_start(cx)));
        let end = match cursor.end_time() {
            Some(end) => end,
            None => {
                let behind = now - start;
                let window =
                    chrono::Duration::from_std(self.definition.request.window).unwrap_or_default();
                let span = if behind > window {
                    chrono::Duration::from_std(self.definition.catch_up_window).unwrap_or(window)
                } else {
                    window
                };
                format.truncate(now.min(plus(start, span)))
            }
        };
        if end <= start {
            let next = asked
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| RestCursor::at(start).encode());
            return Ok(Page {
                records: Vec::new(),
                next: Cursor::new(next),
                more: false,
                hint: None,
            });
        }
        let from = minus(start, self.lookback());
        let exchange = self
            .fetch(cx, Some((from, end)), false, cursor.page.as_ref())
            .await?;
        let read = self.read(&exchange, cursor.page.as_ref(), cursor.read, now)?;
        let mut records = read.records;
        let mut seen_text = cursor.seen.clone();
        if let Some(late) = self.definition.late_arrival {
            let mut seen =
                Seen::decode(cursor.seen.as_deref()).map_err(|why| self.bad_cursor(why))?;
            // The next window's query reaches back to `end - lookback`: only records from
            // there on can come again, so only they are remembered.
            let remember_from = minus(end, self.lookback());
            records
                .retain(|record| seen.first_time(record.id.as_str(), record.time, remember_from));
            let before = if read.next.is_none() {
                remember_from
            } else {
                DateTime::<Utc>::MIN_UTC
            };
            let dropped = seen.prune(before, late.max_ids);
            if dropped > 0 {
                tracing::warn!(api = %self.what, dropped, "late-arrival memory is full: the oldest ids were forgotten (their events may be delivered twice if returned again); raise maxRememberedIds");
            }
            seen_text = seen.encode();
        }
        let read_total = cursor.read.saturating_add(read.raw_count as u64);
        let (next, more) = match read.next {
            Some(position) => (
                RestCursor {
                    v: 1,
                    start: Some(start.timestamp_millis()),
                    end: Some(end.timestamp_millis()),
                    page: Some(position),
                    read: read_total,
                    seen: seen_text,
                },
                true,
            ),
            // Follow at once only while a whole window is already waiting (catching up);
            // otherwise the next round asks for what came since.
            None => (
                RestCursor {
                    v: 1,
                    start: Some(end.timestamp_millis()),
                    seen: seen_text,
                    ..RestCursor::default()
                },
                now - end
                    >= chrono::Duration::from_std(self.definition.request.window)
                        .unwrap_or_default(),
            ),
        };
        Ok(Page {
            records,
            next: Cursor::new(next.encode()),
            more,
            hint: exchange.hint,
        })
    }

    fn bad_cursor(&self, why: String) -> SourceError {
        SourceError::Config {
            message: format!(
                "the saved cursor of {} cannot be used: {why}; reset the stream's checkpoint",
                self.what
            ),
        }
    }
}

/// `time - by`, held at the earliest time chrono knows (times may come from a saved cursor).
fn minus(time: DateTime<Utc>, by: chrono::Duration) -> DateTime<Utc> {
    time.checked_sub_signed(by)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `time + by`, held at the latest time chrono knows.
fn plus(time: DateTime<Utc>, by: chrono::Duration) -> DateTime<Utc> {
    time.checked_add_signed(by)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A template that may only use parameters (no secret, no window).
fn render_plain(template: &Template, config: &RestConfig) -> Result<String, SourceError> {
    let secrets = std::collections::HashMap::new();
    Values {
        parameters: &config.parameters,
        secrets: &secrets,
        window: None,
        api_key_name: None,
    }
    .render(template, "the definition")
}

/// `Content-Encoding` as a compression, when the definition names none.
fn encoding(headers: &HeaderMap) -> Option<super::definition::Compression> {
    use super::definition::Compression;
    match headers
        .get(reqwest::header::CONTENT_ENCODING)?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "gzip" | "x-gzip" => Some(Compression::Gzip),
        "deflate" => Some(Compression::Deflate),
        _ => None,
    }
}

fn auth_name(auth: &Auth) -> &'static str {
    match auth {
        Auth::None => "None",
        Auth::Basic { .. } => "Basic",
        Auth::ApiKey { .. } => "APIKey",
        Auth::OAuth2 { .. } => "OAuth2",
        Auth::JwtToken(_) => "JwtToken",
        Auth::Session(_) => "Session",
    }
}

#[async_trait]
impl Source for RestSource {
    fn describe(&self) -> SourceInfo {
        let budget = &self.definition.budget;
        SourceInfo {
            provider: self.definition.provider.clone(),
            streams: vec![StreamInfo::new(
                self.definition.stream.clone(),
                self.definition.meta.description.clone(),
            )],
            capabilities: SourceCapabilities::default(),
            budget: BudgetSpec::new(
                BudgetKey::new(self.definition.provider.clone(), self.account.clone()),
                budget.limit,
                budget.per,
            )
            .share(self.config.quota_share.unwrap_or(budget.share)),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        let now = cx.clock().now_utc();
        let format = &self.definition.request.time_format;
        let window = (
            format.truncate(minus(now, chrono::Duration::minutes(1))),
            format.truncate(now),
        );
        let polling = self.definition.paging.kind.persistent();
        let exchange = self.fetch(cx, Some(window), polling, None).await?;
        self.read(&exchange, None, 0, now)?;
        Ok(())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        if req.stream != self.definition.stream {
            return Err(SourceError::Config {
                message: format!(
                    "{} has no stream '{}' (it offers: {})",
                    self.what, req.stream, self.definition.stream
                ),
            });
        }
        let cursor = match req.cursor.as_str() {
            None => RestCursor {
                v: 1,
                ..RestCursor::default()
            },
            Some(text) => RestCursor::decode(text).map_err(|why| self.bad_cursor(why))?,
        };
        if self.definition.paging.kind.persistent() {
            self.poll(cx, cursor, &req.cursor).await
        } else {
            self.window(cx, cursor, &req.cursor).await
        }
    }

    fn cursor_at(&self, stream: &str, time: DateTime<Utc>) -> Result<Cursor, SourceError> {
        if stream != self.definition.stream {
            return Err(SourceError::Config {
                message: format!("{} has no stream '{stream}'", self.what),
            });
        }
        Ok(Cursor::new(
            RestCursor::at(self.definition.request.time_format.truncate(time)).encode(),
        ))
    }
}
