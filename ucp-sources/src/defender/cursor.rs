//! Where collection of incidents or alerts stands: the watermark, the sweep under way, and
//! the versions already delivered near the watermark.
//!
//! Graph lists have no documented `$orderby`, so a stream is read in **sweeps**: all items
//! with `lastUpdateDateTime ge <watermark − overlap>`, page after page along
//! `@odata.nextLink`. Each item is a version `(id, lastUpdateDateTime)`; it is delivered
//! unless the same or a later version of that id was already delivered. When a sweep ends,
//! the watermark moves to the latest version it saw, but never past the moment the sweep
//! began (an item changed while the sweep ran may have moved on the pages behind it), and
//! the versions older than the new `watermark − overlap` are forgotten: no sweep asks for
//! them again. So an incident updated twice is delivered twice, an unchanged one never again,
//! and the cursor stays small: it holds the versions of the overlap window, at most
//! [`MAX_SEEN`] of them.
//!
//! The cursor is JSON (`{"v":1,"since":…,"seen":{id: lastUpdateDateTime},"sweep":…}`), so it
//! survives restarts in any checkpoint store.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ucp_core::Cursor;

/// The most versions a cursor remembers. Past it the oldest are forgotten first (they are
/// the least likely to be listed again); a forgotten version listed again is delivered again.
pub const MAX_SEEN: usize = 2_000;

const VERSION: u8 = 1;

/// A sweep under way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sweep {
    /// When it began, on the platform clock.
    pub started: DateTime<Utc>,
    /// The latest version it saw so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<DateTime<Utc>>,
    /// The next page to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The decoded cursor of an incidents or alerts stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepCursor {
    v: u8,
    /// The watermark: every version before it was delivered (up to the overlap).
    pub since: DateTime<Utc>,
    /// Delivered versions near the watermark: id → `lastUpdateDateTime` as Graph wrote it.
    #[serde(default)]
    pub seen: BTreeMap<String, String>,
    /// The sweep under way, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
}

impl SweepCursor {
    /// A cursor that starts at `since`.
    pub fn starting(since: DateTime<Utc>) -> Self {
        SweepCursor {
            v: VERSION,
            since,
            seen: BTreeMap::new(),
            sweep: None,
        }
    }

    /// The cursor `cursor` holds, or one starting at `start` for [`Cursor::start`].
    pub fn decode(cursor: &Cursor, start: DateTime<Utc>) -> Result<Self, String> {
        let Some(text) = cursor.as_str() else {
            return Ok(Self::starting(start));
        };
        let decoded: SweepCursor = serde_json::from_str(text)
            .map_err(|e| format!("the saved cursor is not one of this source's: {e}"))?;
        if decoded.v != VERSION {
            return Err(format!(
                "the saved cursor has version {}, this source reads {VERSION}",
                decoded.v
            ));
        }
        Ok(decoded)
    }

    /// The cursor as saved.
    pub fn encode(&self) -> Cursor {
        Cursor::new(serde_json::to_string(self).unwrap_or_default())
    }

    /// Whether version `(id, updated)` is new, i.e. later than any delivered version of `id`;
    /// if so it is remembered.
    pub fn first_sighting(&mut self, id: &str, updated: DateTime<Utc>, text: &str) -> bool {
        if let Some(seen) = self.seen.get(id).and_then(|t| parse(t)) {
            if seen >= updated {
                return false;
            }
        }
        self.seen.insert(id.to_string(), text.to_string());
        if let Some(sweep) = &mut self.sweep {
            sweep.latest = Some(sweep.latest.map_or(updated, |l| l.max(updated)));
        }
        true
    }

    /// End the sweep: move the watermark and forget what no sweep asks for again.
    pub fn finish_sweep(&mut self, overlap: chrono::Duration) {
        if let Some(sweep) = self.sweep.take() {
            if let Some(latest) = sweep.latest {
                self.since = self.since.max(latest.min(sweep.started));
            }
        }
        self.forget(overlap, &HashSet::new());
    }

    /// Forget versions older than the floor of the next sweep (keeping `keep`, the page just
    /// read, whose items a shifted next page may list again) and, past [`MAX_SEEN`], the
    /// oldest ones.
    pub fn forget(&mut self, overlap: chrono::Duration, keep: &HashSet<String>) {
        let watermark = match &self.sweep {
            Some(sweep) => sweep
                .latest
                .map_or(self.since, |l| self.since.max(l.min(sweep.started))),
            None => self.since,
        };
        let floor = watermark - overlap;
        self.seen
            .retain(|id, t| keep.contains(id) || parse(t).is_some_and(|t| t >= floor));
        if self.seen.len() > MAX_SEEN {
            let mut by_age: Vec<(DateTime<Utc>, String)> = self
                .seen
                .iter()
                .filter(|(id, _)| !keep.contains(*id))
                .map(|(id, t)| (parse(t).unwrap_or(DateTime::<Utc>::MIN_UTC), id.clone()))
                .collect();
            by_age.sort();
            let excess = self.seen.len() - MAX_SEEN;
            tracing::warn!(forgotten = excess, "more versions near the watermark than a cursor keeps: the oldest may be delivered again if listed again");
            for (_, id) in by_age.into_iter().take(excess) {
                self.seen.remove(&id);
            }
        }
    }
}

fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse(text).unwrap()
    }

    #[test]
    fn versions_are_new_once_and_later_versions_again() {
        let mut c = SweepCursor::starting(at("2026-03-02T08:00:00Z"));
        c.sweep = Some(Sweep {
            started: at("2026-03-02T09:00:00Z"),
            latest: None,
            next: None,
        });
        let v1 = "2026-03-02T08:30:00.0000001Z";
        assert!(c.first_sighting("7", at(v1), v1));
        assert!(!c.first_sighting("7", at(v1), v1));
        assert!(!c.first_sighting("7", at("2026-03-02T08:29:00Z"), "2026-03-02T08:29:00Z"));
        let v2 = "2026-03-02T08:45:00Z";
        assert!(c.first_sighting("7", at(v2), v2));
        c.finish_sweep(chrono::Duration::minutes(5));
        assert_eq!(c.since, at(v2));
        assert_eq!(c.seen.len(), 1);
    }

    #[test]
    fn the_watermark_never_passes_the_start_of_its_sweep_and_old_versions_are_forgotten() {
        let mut c = SweepCursor::starting(at("2026-03-02T08:00:00Z"));
        c.seen.insert("old".into(), "2026-03-02T07:00:00Z".into());
        c.sweep = Some(Sweep {
            started: at("2026-03-02T09:00:00Z"),
            latest: None,
            next: None,
        });
        // Changed while the sweep ran: later than its start.
        let late = "2026-03-02T09:00:05Z";
        assert!(c.first_sighting("8", at(late), late));
        c.finish_sweep(chrono::Duration::minutes(5));
        assert_eq!(c.since, at("2026-03-02T09:00:00Z"));
        assert!(!c.seen.contains_key("old"));
        assert!(c.seen.contains_key("8"));
        let back = SweepCursor::decode(&c.encode(), at("2000-01-01T00:00:00Z")).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn the_cursor_stays_bounded() {
        let mut c = SweepCursor::starting(at("2026-03-02T08:00:00Z"));
        for n in 0..MAX_SEEN + 500 {
            let t = at("2026-03-02T08:00:00Z") + chrono::Duration::milliseconds(n as i64);
            c.seen.insert(n.to_string(), t.to_rfc3339());
        }
        c.forget(chrono::Duration::minutes(5), &HashSet::new());
        assert_eq!(c.seen.len(), MAX_SEEN);
        assert!(!c.seen.contains_key("0"));
        assert!(c.seen.contains_key(&(MAX_SEEN + 499).to_string()));
    }

    #[test]
    fn foreign_cursors_are_refused() {
        let start = at("2026-03-02T08:00:00Z");
        assert!(SweepCursor::decode(&Cursor::new("https://example.com/?after=1"), start).is_err());
        assert!(SweepCursor::decode(
            &Cursor::new(r#"{"v":9,"since":"2026-03-02T08:00:00Z"}"#),
            start
        )
        .is_err());
        assert_eq!(
            SweepCursor::decode(&Cursor::start(), start).unwrap().since,
            start
        );
    }

    proptest! {
        #[test]
        fn any_text_decodes_or_is_refused(text in ".{0,200}") {
            let _ = SweepCursor::decode(&Cursor::new(text), at("2026-03-02T08:00:00Z"));
        }
    }
}
