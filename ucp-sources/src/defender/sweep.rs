//! One page of an incidents or alerts stream, read in sweeps (see [`super::cursor`]): a new
//! sweep asks Graph for every item changed since the watermark less the overlap; the next
//! pages follow `@odata.nextLink`; each new version becomes a record whose id is
//! `<id>@<lastUpdateDateTime>`, so the platform's own dedup agrees with the cursor's.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, Url};
use ucp_core::http::resolve_link;
use ucp_core::{CollectRequest, Page, Record, SourceContext, SourceError};

use super::cursor::{Sweep, SweepCursor};
use super::graph::{Call, Graph};
use super::page;

/// Which list a stream reads.
#[derive(Clone, Debug)]
pub(crate) struct List {
    /// The call, for messages and permissions.
    pub call: Call,
    /// The path under the origin, e.g. `/v1.0/security/incidents`.
    pub path: &'static str,
    /// `$top`.
    pub top: u32,
    /// Ask for `$expand=alerts`.
    pub expand_alerts: bool,
    /// A further `$filter` clause, and-ed with the time bound (e.g. a service source).
    pub filter: Option<String>,
}

/// Where and how a sweep reads.
pub(crate) struct Reader<'a> {
    pub graph: &'a Graph,
    pub origin: &'a Url,
    pub start: DateTime<Utc>,
    pub overlap: chrono::Duration,
}

impl Reader<'_> {
    /// The page after `req.cursor` of `list`.
    pub async fn collect(
        &self,
        cx: &SourceContext,
        list: &List,
        req: &CollectRequest,
    ) -> Result<Page, SourceError> {
        let what = self.graph.what();
        let mut cursor =
            SweepCursor::decode(&req.cursor, self.start).map_err(|why| SourceError::Config {
                message: format!(
                    "{what}, stream {}: {why}; reset the stream's cursor",
                    req.stream
                ),
            })?;
        let url = match cursor.sweep.as_ref().and_then(|s| s.next.clone()) {
            Some(next) => resolve_link(self.origin, &next).map_err(|e| SourceError::Malformed {
                message: format!(
                    "{what}, stream {}: the next page's link cannot be followed: {e}",
                    req.stream
                ),
            })?,
            None => {
                cursor.sweep = Some(Sweep {
                    started: cx.clock().now_utc(),
                    latest: None,
                    next: None,
                });
                self.first_url(list, cursor.since - self.overlap)
            }
        };
        let body = self
            .graph
            .send(cx, &list.call, Method::GET, &url, None)
            .await?;
        let page = page::parse(&body).map_err(|why| SourceError::Malformed {
            message: format!("{what}, stream {}, page {url}: {why}", req.stream),
        })?;
        let mut records = Vec::with_capacity(page.items.len());
        let mut on_page = HashSet::with_capacity(page.items.len());
        for item in page.items {
            let summary = &item.summary;
            on_page.insert(summary.id.clone());
            if cursor.first_sighting(&summary.id, item.updated, &summary.last_update_date_time) {
                records.push(Record::new(
                    summary.version_id(),
                    item.updated,
                    item.payload,
                ));
            }
        }
        let more = page.next_link.is_some();
        match page.next_link {
            Some(next) => {
                if let Some(sweep) = &mut cursor.sweep {
                    sweep.next = Some(next);
                }
                cursor.forget_if_full(self.overlap, &on_page);
            }
            None => cursor.finish_sweep(self.overlap),
        }
        Ok(Page {
            records,
            next: cursor.encode(),
            more,
            hint: None,
        })
    }

    /// The first page of a sweep from `since`.
    fn first_url(&self, list: &List, since: DateTime<Utc>) -> Url {
        let mut url = self.origin.clone();
        url.set_path(list.path);
        let mut filter = format!(
            "lastUpdateDateTime ge {}",
            since.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        if let Some(extra) = &list.filter {
            filter = format!("{filter} and {extra}");
        }
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("$filter", &filter)
                .append_pair("$top", &list.top.to_string());
            if list.expand_alerts {
                query.append_pair("$expand", "alerts");
            }
        }
        url
    }
}

impl SweepCursor {
    /// Forget, mid-sweep, only when the cursor is over its bound.
    fn forget_if_full(&mut self, overlap: chrono::Duration, keep: &HashSet<String>) {
        if self.seen.len() > super::cursor::MAX_SEEN {
            self.forget(overlap, keep);
        }
    }
}
