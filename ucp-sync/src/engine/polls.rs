//! Polling both sides for what changed. Each page's changed incidents are saved as dirty in
//! the ledger together with the cursor after the page, in one transaction: a crash after it
//! loses nothing (the dirty ones are reconciled after the restart), a crash before it reads
//! the page again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ucp_core::{CollectRequest, Cursor, Source};
use ucp_sources::defender::INCIDENTS;

use super::{IncidentSync, Notes, SyncError};
use crate::sentinel::Incident;
use crate::xdr::XdrIncident;

/// The ledger's cursor names.
pub(crate) const XDR_CURSOR: &str = "xdr";
pub(crate) const SENTINEL_CURSOR: &str = "sentinel";

/// Pages followed in one poll at most (the rest waits for the next cycle).
const MAX_PAGES: usize = 500;

/// When a Sentinel incident last changed.
pub(crate) fn modified(incident: &Incident) -> Option<DateTime<Utc>> {
    incident.properties.last_modified_time_utc.or(incident
        .system_data
        .as_ref()
        .and_then(|s| s.last_modified_at))
}

impl IncidentSync {
    /// XDR incidents changed since the cursor (not our own last version of them), by id.
    pub(crate) async fn poll_xdr(
        &self,
        notes: &mut Notes,
    ) -> Result<HashMap<String, XdrIncident>, SyncError> {
        let mut cursor = match self.ledger.cursor(super::polls::XDR_CURSOR)? {
            Some(saved) => Cursor::new(saved),
            None => Cursor::start(),
        };
        let mut changed = HashMap::new();
        for _ in 0..MAX_PAGES {
            let request = CollectRequest {
                stream: INCIDENTS.into(),
                cursor: cursor.clone(),
                filter: None,
            };
            let page = self
                .retry(true, || {
                    let request = request.clone();
                    async move {
                        self.cx.budget().acquire().await;
                        self.defender.collect(&self.cx, request).await
                    }
                })
                .await?;
            let mut ids = Vec::new();
            for record in &page.records {
                let parsed = serde_json::from_slice(&record.payload)
                    .map_err(|e| e.to_string())
                    .and_then(|v| XdrIncident::parse(&v));
                let incident = match parsed {
                    Ok(incident) => incident,
                    Err(why) => {
                        notes.warnings.push(format!(
                            "a Defender XDR incident could not be read and is skipped ({why}); report it if it persists"
                        ));
                        continue;
                    }
                };
                let known = self.ledger.twin(&incident.id)?;
                if known.is_some_and(|t| t.xdr_version.as_deref() == Some(&incident.version)) {
                    continue; // the version the sync itself left
                }
                ids.push(incident.id.clone());
                changed.insert(incident.id.clone(), incident);
            }
            let caught_up = !page.more || (page.records.is_empty() && page.next == cursor);
            self.ledger.mark_dirty(
                &ids,
                true,
                page.next.as_str().map(|c| (XDR_CURSOR, c)),
                self.now(),
            )?;
            cursor = page.next;
            if caught_up {
                break;
            }
        }
        Ok(changed)
    }

    /// Twins changed in Sentinel since the last change seen (minus the overlap), not in the
    /// version the sync last reconciled, by XDR id.
    pub(crate) async fn poll_sentinel(
        &self,
        notes: &mut Notes,
    ) -> Result<HashMap<String, Incident>, SyncError> {
        let overlap = chrono::Duration::from_std(self.config.sentinel_overlap)
            .unwrap_or(chrono::Duration::minutes(2));
        let watermark = self
            .ledger
            .cursor(SENTINEL_CURSOR)?
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.to_utc())
            .unwrap_or_else(|| self.now());
        let since = watermark - overlap;
        let mut latest = watermark;
        let mut changed = HashMap::new();
        let mut ids = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let link = next.clone();
            let page = self
                .retry(false, || {
                    let link = link.clone();
                    async move {
                        self.sentinel
                            .changed_since(&self.cx, since, link.as_deref())
                            .await
                    }
                })
                .await?;
            for why in page.unreadable {
                notes.warnings.push(format!(
                    "{} sent an incident that could not be read ({why})",
                    self.sentinel.what()
                ));
            }
            for incident in page.incidents {
                if let Some(at) = modified(&incident) {
                    latest = latest.max(at);
                }
                let Some(xdr_id) = self.ledger.xdr_of(&incident.name)? else {
                    continue; // not a twin
                };
                let twin = self.ledger.twin(&xdr_id)?;
                if twin
                    .is_some_and(|t| t.sentinel_etag.is_some() && t.sentinel_etag == incident.etag)
                {
                    continue; // the version the sync itself left
                }
                ids.push(xdr_id.clone());
                changed.insert(xdr_id, incident);
            }
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        self.ledger.mark_dirty(
            &ids,
            false,
            Some((SENTINEL_CURSOR, &latest.to_rfc3339())),
            self.now(),
        )?;
        Ok(changed)
    }
}
