//! Where a hunting table's collection stands: the start of the next time window on
//! `Timestamp`, and the window length learned so far.
//!
//! Windows are half-open (`Timestamp >= from and Timestamp < to`) and follow each other
//! without overlap, so every row is in exactly one. A window whose answer reaches the row
//! cap may have been cut: its rows are not delivered, the window is halved and asked again
//! (and again, down to [`MIN_SPAN`]); a window well under the cap lets the next one grow
//! back towards the configured length. The cursor is JSON (`{"v":1,"from":…,"span_ms":…}`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ucp_core::Cursor;

/// The shortest window: one millisecond (the precision of the query's time literals).
pub const MIN_SPAN: Duration = Duration::from_millis(1);

const VERSION: u8 = 1;

/// The decoded cursor of a hunting stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Window {
    v: u8,
    /// The next window starts here.
    pub from: DateTime<Utc>,
    /// The next window's length, in milliseconds.
    pub span_ms: u64,
}

impl Window {
    /// A cursor at `from`, with windows of `span`.
    pub fn starting(from: DateTime<Utc>, span: Duration) -> Self {
        Window {
            v: VERSION,
            from,
            span_ms: span_ms(span),
        }
    }

    /// The cursor `cursor` holds, or [`Window::starting`] for [`Cursor::start`].
    pub fn decode(cursor: &Cursor, from: DateTime<Utc>, span: Duration) -> Result<Self, String> {
        let Some(text) = cursor.as_str() else {
            return Ok(Self::starting(from, span));
        };
        let window: Window = serde_json::from_str(text)
            .map_err(|e| format!("the saved cursor is not a hunting window: {e}"))?;
        if window.v != VERSION {
            return Err(format!(
                "the saved cursor has version {}, this source reads {VERSION}",
                window.v
            ));
        }
        Ok(Window {
            span_ms: window.span_ms.clamp(span_ms(MIN_SPAN), span_ms(span)),
            ..window
        })
    }

    /// The cursor as saved.
    pub fn encode(&self) -> Cursor {
        Cursor::new(serde_json::to_string(self).unwrap_or_default())
    }

    /// The next window's end: its length from `from`, but not past `until`.
    pub fn end(&self, until: DateTime<Utc>) -> DateTime<Utc> {
        let span = chrono::Duration::milliseconds(i64::try_from(self.span_ms).unwrap_or(i64::MAX));
        self.from
            .checked_add_signed(span)
            .unwrap_or(until)
            .min(until)
    }

    /// Halve the window after a cut answer; `false` when it is already the shortest.
    pub fn halve(&mut self) -> bool {
        if self.span_ms <= span_ms(MIN_SPAN) {
            return false;
        }
        self.span_ms = (self.span_ms / 2).max(span_ms(MIN_SPAN));
        true
    }

    /// The window up to `to` was read with `rows` rows of at most `cap`: move on, and let
    /// a light window's successor grow back towards `max`.
    pub fn advance(&mut self, to: DateTime<Utc>, rows: usize, cap: usize, max: Duration) {
        self.from = to;
        if rows < cap / 4 {
            self.span_ms = self.span_ms.saturating_mul(2).min(span_ms(max));
        }
    }
}

fn span_ms(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn windows_halve_to_the_shortest_and_grow_back() {
        let hour = Duration::from_secs(3600);
        let mut w = Window::starting(at("2026-03-02T08:00:00Z"), hour);
        assert_eq!(
            w.end(at("2026-03-02T12:00:00Z")),
            at("2026-03-02T09:00:00Z")
        );
        assert_eq!(
            w.end(at("2026-03-02T08:20:00Z")),
            at("2026-03-02T08:20:00Z")
        );
        assert!(w.halve());
        assert_eq!(
            w.end(at("2026-03-02T12:00:00Z")),
            at("2026-03-02T08:30:00Z")
        );
        w.advance(at("2026-03-02T08:30:00Z"), 10, 100_000, hour);
        assert_eq!(w.span_ms, 3_600_000);
        w.advance(at("2026-03-02T09:30:00Z"), 90_000, 100_000, hour);
        assert_eq!(w.span_ms, 3_600_000);
        let mut tiny = Window::starting(at("2026-03-02T08:00:00Z"), Duration::from_millis(3));
        assert!(tiny.halve());
        assert!(!tiny.halve());
        let back = Window::decode(&w.encode(), at("2000-01-01T00:00:00Z"), hour).unwrap();
        assert_eq!(back, w);
    }

    proptest! {
        #[test]
        fn any_text_decodes_or_is_refused(text in ".{0,120}") {
            let _ = Window::decode(&Cursor::new(text), at("2026-03-02T08:00:00Z"), Duration::from_secs(60));
        }

        #[test]
        fn any_saved_span_is_held_to_the_configured_bounds(span in any::<u64>()) {
            let text = format!(r#"{{"v":1,"from":"2026-03-02T08:00:00Z","span_ms":{span}}}"#);
            let w = Window::decode(&Cursor::new(text), at("2026-03-02T08:00:00Z"), Duration::from_secs(60)).unwrap();
            prop_assert!(w.span_ms >= 1 && w.span_ms <= 60_000);
            let _ = w.end(at("2026-03-02T09:00:00Z"));
        }
    }
}
