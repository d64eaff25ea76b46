//! A page of a Graph security list (`{"value": […], "@odata.nextLink": "…"}`), each item
//! kept as the bytes Graph sent, with the few properties the source reads: its `id`,
//! `lastUpdateDateTime`, and the enums products filter on.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::enums::{
    AlertStatus, Classification, Determination, IncidentStatus, ServiceSource, Severity,
};

/// One incident or alert of a page.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Its properties read by the source.
    pub summary: Summary,
    /// When this version was made, parsed from `lastUpdateDateTime`.
    pub updated: DateTime<Utc>,
    /// The item's JSON, as sent.
    pub payload: Bytes,
}

/// The properties of an incident or alert the source and products read. Every enum is open:
/// a value this version does not know is kept, never refused.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The item's id.
    pub id: String,
    /// When it last changed, as Graph wrote it (part of the record id).
    pub last_update_date_time: String,
    /// Incident status (`active`, `redirected`, …) or alert status (`new`, …), as sent.
    #[serde(default)]
    pub status: Option<String>,
    /// How severe.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// An analyst's classification.
    #[serde(default)]
    pub classification: Option<Classification>,
    /// Why it was so classified.
    #[serde(default)]
    pub determination: Option<Determination>,
    /// The product that raised an alert.
    #[serde(default)]
    pub service_source: Option<ServiceSource>,
    /// The incident an alert belongs to.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// The incident a merged incident was redirected to.
    #[serde(default)]
    pub redirect_incident_id: Option<String>,
}

impl Summary {
    /// The status of an incident.
    pub fn incident_status(&self) -> Option<IncidentStatus> {
        self.status.as_deref().map(IncidentStatus::parse)
    }

    /// The status of an alert.
    pub fn alert_status(&self) -> Option<AlertStatus> {
        self.status.as_deref().map(AlertStatus::parse)
    }

    /// The record id of this version: `<id>@<lastUpdateDateTime>`.
    pub fn version_id(&self) -> String {
        format!("{}@{}", self.id, self.last_update_date_time)
    }
}

/// A parsed page.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub items: Vec<Item>,
    pub next_link: Option<String>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    value: Vec<&'a RawValue>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// Parse `body`; an error says what is wrong (never quoting the body).
pub(crate) fn parse(body: &[u8]) -> Result<ListPage, String> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not a Graph list (a JSON object with a 'value' array): {e}")
    })?;
    let mut items = Vec::with_capacity(wire.value.len());
    for (n, raw) in wire.value.iter().enumerate() {
        let summary: Summary = serde_json::from_str(raw.get())
            .map_err(|e| format!("item {n} lacks a string 'id' or 'lastUpdateDateTime': {e}"))?;
        let updated = DateTime::parse_from_rfc3339(&summary.last_update_date_time)
            .map_err(|e| {
                format!(
                    "item {} has lastUpdateDateTime '{}', not an ISO 8601 time: {e}",
                    summary.id, summary.last_update_date_time
                )
            })?
            .to_utc();
        if summary.id.is_empty() {
            return Err(format!("item {n} has an empty id"));
        }
        items.push(Item {
            summary,
            updated,
            payload: Bytes::copy_from_slice(raw.get().as_bytes()),
        });
    }
    Ok(ListPage {
        items,
        next_link: wire.next_link,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn items_keep_their_bytes_and_read_their_enums_in_any_case() {
        let body = br#"{"@odata.context":"x","value":[{"id":"29","lastUpdateDateTime":"2026-03-02T09:00:00.1234567Z","status":"Redirected","severity":"High","redirectIncidentId":"30","alerts":[]}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/security/incidents?$skip=1"}"#;
        let page = parse(body).unwrap();
        let item = &page.items[0];
        assert_eq!(item.summary.version_id(), "29@2026-03-02T09:00:00.1234567Z");
        assert_eq!(
            item.summary.incident_status(),
            Some(IncidentStatus::Redirected)
        );
        assert_eq!(item.summary.severity, Some(Severity::High));
        assert_eq!(item.summary.redirect_incident_id.as_deref(), Some("30"));
        assert!(item.payload.starts_with(b"{\"id\":\"29\""));
        assert!(page.next_link.unwrap().ends_with("$skip=1"));
    }

    #[test]
    fn broken_pages_say_what_is_wrong() {
        assert!(parse(b"[]").is_err());
        assert!(parse(br#"{"value":[{"id":"1"}]}"#)
            .unwrap_err()
            .contains("item 0"));
        assert!(
            parse(br#"{"value":[{"id":"1","lastUpdateDateTime":"soon"}]}"#)
                .unwrap_err()
                .contains("'soon'")
        );
        assert!(
            parse(br#"{"value":[{"id":"","lastUpdateDateTime":"2026-03-02T09:00:00Z"}]}"#).is_err()
        );
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_page_or_an_error(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&body);
        }

        #[test]
        fn any_item_values_give_a_page_or_an_error(id in ".{0,10}", time in ".{0,30}", status in ".{0,12}") {
            let body = serde_json::json!({"value": [{"id": id, "lastUpdateDateTime": time, "status": status}]}).to_string();
            let _ = parse(body.as_bytes());
        }
    }
}
