//! The unit of data: a [`Record`] (one event), its [`RecordId`], the [`StreamKey`] it came
//! from, the opaque [`Cursor`] that says where collection stands, and the [`Batch`] shared by
//! every subscriber of a stream.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::json::{Json, JsonView};

/// A record's identity as given by the provider (Okta `uuid`, Graph `id`, …).
///
/// Used to drop duplicates after an at-least-once re-collection. Cloning is a reference-count
/// increment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordId(Arc<str>);

impl RecordId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for RecordId {
    fn from(value: &str) -> Self {
        RecordId(Arc::from(value))
    }
}

impl From<String> for RecordId {
    fn from(value: String) -> Self {
        RecordId(Arc::from(value))
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One event. The payload is the provider's bytes, untouched, and shared (never copied) by
/// every product that receives the record.
///
/// Its JSON is read at most once: [`Record::json`] checks and indexes the payload on first
/// use and keeps the view with the record, so every clone made after that (the fan-out's
/// per-product selections, a delivery's split) and every product sharing the record reads
/// the same view. Equality compares id, time and payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// The provider's id for the event.
    pub id: RecordId,
    /// When the event happened (the provider's event time, e.g. Okta `published`).
    pub time: DateTime<Utc>,
    /// The event as the provider sent it (JSON for every shipped connector).
    pub payload: Bytes,
    view: ViewCell,
}

impl Record {
    /// A record from its parts.
    pub fn new(id: impl Into<RecordId>, time: DateTime<Utc>, payload: impl Into<Bytes>) -> Self {
        Record {
            id: id.into(),
            time,
            payload: payload.into(),
            view: ViewCell::default(),
        }
    }

    /// A record whose payload's [`JsonView`] the source already built (it read the record's
    /// id and time through it), so the payload is not checked again. A view of other bytes
    /// than `payload` is dropped, and the view is built on first use as for [`Record::new`].
    pub fn with_view(
        id: impl Into<RecordId>,
        time: DateTime<Utc>,
        payload: Bytes,
        view: Arc<JsonView>,
    ) -> Self {
        let cell = ViewCell::default();
        if view.describes(&payload) {
            // A fresh cell: `set` cannot find it full.
            let _ = cell.0.set(view);
        }
        Record {
            id: id.into(),
            time,
            payload,
            view: cell,
        }
    }

    /// The payload's JSON: checked and indexed on the first call, then shared by this record
    /// and its clones. A payload replaced after that is read again (and not kept).
    pub fn json(&self) -> Json<'_> {
        let view = self
            .view
            .0
            .get_or_init(|| Arc::new(JsonView::of(&self.payload)));
        Json::with_view(&self.payload, view.clone())
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("time", &self.time)
            .field("payload", &self.payload)
            .finish()
    }
}

/// A record's JSON view once built; derived from the payload, so it takes no part in
/// equality.
#[derive(Clone, Default)]
struct ViewCell(OnceLock<Arc<JsonView>>);

impl PartialEq for ViewCell {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for ViewCell {}

/// Names one stream of one source instance, e.g. `okta-contoso/system_log`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamKey {
    /// The source instance's name as registered with the platform.
    pub source: Arc<str>,
    /// The stream's name as the source describes it.
    pub stream: Arc<str>,
}

impl StreamKey {
    /// A key from a source instance name and a stream name.
    pub fn new(source: impl AsRef<str>, stream: impl AsRef<str>) -> Self {
        StreamKey {
            source: Arc::from(source.as_ref()),
            stream: Arc::from(stream.as_ref()),
        }
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.source, self.stream)
    }
}

/// Where collection of a stream stands: an opaque string that only the source interprets
/// (Okta: the `next` link; others: a timestamp or a page token). `Cursor::start()` means
/// "from the beginning the source chooses".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor(Option<String>);

impl Cursor {
    /// The cursor before any collection.
    pub fn start() -> Self {
        Cursor(None)
    }

    /// A cursor holding the source's position token.
    pub fn new(position: impl Into<String>) -> Self {
        Cursor(Some(position.into()))
    }

    /// The position token, or `None` at the start.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// True before any collection.
    pub fn is_start(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(position) => f.write_str(position),
            None => f.write_str("<start>"),
        }
    }
}

/// What one collection produced for one subscriber: records in the provider's order and the
/// cursor that follows them. Batches travel as `Arc<Batch>`; records share their payloads.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The stream the records came from.
    pub stream: StreamKey,
    /// The records, in order.
    pub records: Arc<[Record]>,
    /// The stream's cursor once these records are accepted.
    pub cursor_after: Cursor,
}

impl Batch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Total payload bytes.
    pub fn payload_bytes(&self) -> usize {
        self.records.iter().map(|r| r.payload.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_of_the_payload_is_kept_and_a_view_of_other_bytes_is_not() {
        let time = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let payload = Bytes::from_static(br#"{"a":"x"}"#);
        let view = Arc::new(JsonView::of(&payload));
        let record = Record::with_view("1", time, payload.clone(), view.clone());
        let kept = record.view.0.get().expect("the source's view is kept");
        assert!(Arc::ptr_eq(kept, &view), "not built again");
        assert_eq!(
            record.json().pointer("/a").map(|v| v.raw()),
            Some(&br#""x""#[..])
        );

        // Equal bytes elsewhere in memory are other bytes: the view is built on first use.
        let elsewhere = Bytes::from(payload.to_vec());
        let record = Record::with_view("2", time, elsewhere, view);
        assert!(record.view.0.get().is_none());
        assert_eq!(
            record.json().pointer("/a").map(|v| v.raw()),
            Some(&br#""x""#[..])
        );
        assert!(record.view.0.get().is_some());
    }
}
