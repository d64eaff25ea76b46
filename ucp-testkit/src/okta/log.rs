//! The org's event log: events in the order they became visible (persisted), which is the
//! order polling requests read them in. Events are generated lazily as the clock advances.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::events::{EventGenerator, LogEvent};

/// One persisted event.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    /// When it became visible to the API (its persistence time).
    pub visible_at: DateTime<Utc>,
    /// Generation order, breaks ties.
    pub seq: u64,
    /// The event.
    pub event: LogEvent,
    /// The event's JSON text as served.
    pub text: Arc<str>,
}

/// Live traffic: `rate` events per second from `start`, every `late_every`-th one persisted
/// `late_by` after it was published.
#[derive(Clone, Debug)]
pub(crate) struct Live {
    pub start: DateTime<Utc>,
    pub per_second: f64,
    pub late_every: Option<u64>,
    pub late_by: Duration,
    pub next_index: u64,
}

#[derive(Debug)]
pub(crate) struct EventLog {
    generator: EventGenerator,
    visible: Vec<Stored>,
    /// Generated but not yet visible, kept sorted by (visible_at, seq).
    pending: Vec<Stored>,
    next_seq: u64,
    live: Option<Live>,
}

impl EventLog {
    pub fn new(generator: EventGenerator, live: Option<Live>) -> Self {
        EventLog {
            generator,
            visible: Vec::new(),
            pending: Vec::new(),
            next_seq: 0,
            live,
        }
    }

    /// The visible events, in persistence order.
    pub fn visible(&self) -> &[Stored] {
        &self.visible
    }

    /// Generate and persist `count` events published evenly over `[from, to)`, visible when
    /// published.
    pub fn backlog(&mut self, count: usize, from: DateTime<Utc>, to: DateTime<Utc>) {
        let span = (to - from).num_milliseconds().max(0);
        for i in 0..count {
            let offset = span * i as i64 / count.max(1) as i64;
            let published = from + chrono::Duration::milliseconds(offset);
            let event = self.generator.next_event(published);
            self.schedule(event, published);
        }
    }

    /// An event published at `published` and persisted at `visible_at`.
    pub fn schedule(&mut self, event: LogEvent, visible_at: DateTime<Utc>) -> String {
        let uuid = event.uuid.clone();
        let text: Arc<str> = Arc::from(event.json.to_string());
        let stored = Stored {
            visible_at,
            seq: self.next_seq,
            event,
            text,
        };
        self.next_seq += 1;
        let at = self
            .pending
            .partition_point(|p| (p.visible_at, p.seq) <= (visible_at, stored.seq));
        self.pending.insert(at, stored);
        uuid
    }

    /// A generated event of `event_type` (any type when `None`) published at `published`.
    pub fn generate(&mut self, event_type: Option<&str>, published: DateTime<Utc>) -> LogEvent {
        match event_type {
            Some(t) => self.generator.event_of_type(t, published),
            None => self.generator.next_event(published),
        }
    }

    /// Bring the log up to `now`: generate live events published so far and persist every
    /// pending event whose time has come. Persistence order only moves forward because
    /// nothing visible at an earlier `now` can be generated later (visible_at ≥ published).
    pub fn advance(&mut self, now: DateTime<Utc>) {
        if let Some(mut live) = self.live.take() {
            if live.per_second > 0.0 {
                loop {
                    let at_ms = (live.next_index as f64 * 1000.0 / live.per_second) as i64;
                    let published = live.start + chrono::Duration::milliseconds(at_ms);
                    if published > now {
                        break;
                    }
                    live.next_index += 1;
                    let late = live
                        .late_every
                        .is_some_and(|every| every > 0 && live.next_index % every == 0);
                    let visible_at = if late {
                        published
                            + chrono::Duration::from_std(live.late_by)
                                .unwrap_or(chrono::Duration::zero())
                    } else {
                        published
                    };
                    let event = self.generator.next_event(published);
                    self.schedule(event, visible_at);
                }
            }
            self.live = Some(live);
        }
        let due = self.pending.partition_point(|p| p.visible_at <= now);
        self.visible.extend(self.pending.drain(..due));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_events_are_appended_when_they_become_visible() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let live = Live {
            start,
            per_second: 1.0,
            late_every: Some(3),
            late_by: Duration::from_secs(10),
            next_index: 0,
        };
        let mut log = EventLog::new(EventGenerator::new(1, "example.com"), Some(live));
        log.advance(start + chrono::Duration::seconds(5));
        // Six published (t=0..=5); the 3rd and 6th are late.
        assert_eq!(log.visible().len(), 4);
        log.advance(start + chrono::Duration::seconds(12));
        let visible = log.visible();
        // The late event published at t=2 shows up after events published later.
        let late = visible
            .iter()
            .position(|s| s.event.published == start + chrono::Duration::seconds(2))
            .unwrap();
        assert!(visible[..late]
            .iter()
            .any(|s| s.event.published > visible[late].event.published));
        assert!(visible
            .windows(2)
            .all(|w| w[0].visible_at <= w[1].visible_at));
    }
}
