//! Where a declarative stream stands, saved as the platform's opaque cursor (JSON text).
//!
//! - `start`: the start of the current query window (epoch ms).
//! - `end`: the window's end while its pages are being read (fixed at its first page, so a
//!   restart mid-window asks the same window).
//! - `page`: the paging position inside the window, or — with a persistent paging type —
//!   across windows (the polling mode).
//! - `read`: records read in the window (offsets and totals).
//! - `seen`: with `lateArrival`, the ids (SHA-256, 8 bytes) and times of records already
//!   delivered that a later, overlapping query may return again; bounded by
//!   `maxRememberedIds`, oldest first out.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A paging position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// A URL to ask next (link paging, next-page URL).
    Url(String),
    /// A token to send.
    Token(String),
    /// The next offset.
    Offset(u64),
    /// The next page number.
    Number(u64),
}

/// The cursor of a declarative stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RestCursor {
    /// Format version.
    pub v: u8,
    /// Start of the current window, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    /// End of the current window while paging, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    /// Paging position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Position>,
    /// Records read in the current window.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read: u64,
    /// Ids delivered that an overlapping query may return again (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The largest cursor text accepted.
const MAX_CURSOR_BYTES: usize = 32 * 1024 * 1024;

impl RestCursor {
    /// A cursor whose window starts at `start`.
    pub fn at(start: DateTime<Utc>) -> RestCursor {
        RestCursor {
            v: 1,
            start: Some(start.timestamp_millis()),
            ..RestCursor::default()
        }
    }

    /// Read a saved cursor; the error says what is wrong.
    pub fn decode(text: &str) -> Result<RestCursor, String> {
        if text.len() > MAX_CURSOR_BYTES {
            return Err("it is larger than any cursor this source writes".into());
        }
        let cursor: RestCursor = serde_json::from_str(text)
            .map_err(|e| format!("it is not a declarative REST cursor ({e})"))?;
        if cursor.v != 1 {
            return Err(format!("it has version {}, this source writes 1", cursor.v));
        }
        if let Some(ms) = cursor.start.or(cursor.end) {
            DateTime::from_timestamp_millis(ms).ok_or("its window is out of range")?;
        }
        Ok(cursor)
    }

    /// The cursor as text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The window start, if set.
    pub fn start_time(&self) -> Option<DateTime<Utc>> {
        self.start.and_then(DateTime::from_timestamp_millis)
    }

    /// The window end, if set.
    pub fn end_time(&self) -> Option<DateTime<Utc>> {
        self.end.and_then(DateTime::from_timestamp_millis)
    }
}

/// Ids of records delivered, with their times, for late-arrival deduplication.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seen {
    ids: HashMap<u64, i64>,
}

impl Seen {
    /// Read `seen` from a cursor.
    pub fn decode(text: Option<&str>) -> Result<Seen, String> {
        let Some(text) = text else {
            return Ok(Seen::default());
        };
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text)
            .map_err(|e| format!("its remembered ids are not base64 ({e})"))?;
        if bytes.len() % 16 != 0 {
            return Err("its remembered ids are cut short".into());
        }
        let ids = bytes
            .chunks_exact(16)
            .map(|c| {
                let mut id = [0u8; 8];
                let mut time = [0u8; 8];
                id.copy_from_slice(&c[..8]);
                time.copy_from_slice(&c[8..]);
                (u64::from_le_bytes(id), i64::from_le_bytes(time))
            })
            .collect();
        Ok(Seen { ids })
    }

    /// The text for a cursor, `None` when empty.
    pub fn encode(&self) -> Option<String> {
        if self.ids.is_empty() {
            return None;
        }
        let mut entries: Vec<(&u64, &i64)> = self.ids.iter().collect();
        entries.sort_unstable_by_key(|(id, time)| (**time, **id));
        let mut bytes = Vec::with_capacity(entries.len() * 16);
        for (id, time) in entries {
            bytes.extend_from_slice(&id.to_le_bytes());
            bytes.extend_from_slice(&time.to_le_bytes());
        }
        Some(base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
    }

    /// True when `id` was not delivered before; remembered when its `time` is at or after
    /// `remember_from` (what a later overlapping query can return again).
    pub fn first_time(
        &mut self,
        id: &str,
        time: DateTime<Utc>,
        remember_from: DateTime<Utc>,
    ) -> bool {
        let key = key(id);
        if self.ids.contains_key(&key) {
            return false;
        }
        if time >= remember_from {
            self.ids.insert(key, time.timestamp_millis());
        }
        true
    }

    /// Forget ids older than `before`, then the oldest beyond `max`.
    pub fn prune(&mut self, before: DateTime<Utc>, max: usize) -> usize {
        let cut = before.timestamp_millis();
        self.ids.retain(|_, time| *time >= cut);
        let over = self.ids.len().saturating_sub(max);
        if over > 0 {
            let mut times: Vec<i64> = self.ids.values().copied().collect();
            times.sort_unstable();
            let limit = times[over - 1];
            let mut dropped = 0;
            self.ids.retain(|_, time| {
                if *time <= limit && dropped < over {
                    dropped += 1;
                    false
                } else {
                    true
                }
            });
        }
        over
    }

    /// Ids remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

fn key(id: &str) -> u64 {
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let mut cursor = RestCursor::at(DateTime::from_timestamp(1_772_442_000, 0).unwrap());
        cursor.page = Some(Position::Url("https://x/y?after=1".into()));
        cursor.read = 40;
        let text = cursor.encode();
        assert_eq!(RestCursor::decode(&text).unwrap(), cursor);
        for bad in [
            "",
            "https://x",
            r#"{"v":2}"#,
            r#"{"v":1,"start":9223372036854775807}"#,
            "[]",
        ] {
            assert!(RestCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seen_ids_dedup_survive_encoding_and_stay_bounded() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        let mut seen = Seen::default();
        assert!(seen.first_time("a", t(10), t(0)));
        assert!(!seen.first_time("a", t(11), t(0)));
        assert!(seen.first_time("b", t(20), t(0)));
        assert!(seen.first_time("c", t(30), t(0)));
        assert!(
            seen.first_time("old", t(5), t(8)),
            "new, but too old to remember"
        );
        assert!(seen.first_time("old", t(5), t(8)));
        let mut again = Seen::decode(seen.encode().as_deref()).unwrap();
        assert!(!again.first_time("b", t(20), t(0)));
        assert_eq!(again.prune(t(15), 10), 0);
        assert_eq!(again.len(), 2);
        assert_eq!(again.prune(t(0), 1), 1);
        assert!(again.first_time("b", t(20), t(0)), "the oldest was dropped");
        assert!(Seen::decode(Some("not base64!")).is_err());
        assert!(Seen::decode(Some("AAAA")).is_err());
    }
}
