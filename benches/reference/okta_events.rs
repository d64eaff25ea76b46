//! Okta-shaped records for the encode, filter and compression benches: the Okta simulator's
//! own generator (real field set and sizes, about 1.5 KiB of JSON each, keys in the order
//! the simulator serves them).

use chrono::{Duration, TimeZone, Utc};
use ucp::Record;
use ucp_testkit::okta::EventGenerator;

/// `n` events as records, one second apart.
pub fn records(n: usize) -> Vec<Record> {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("a valid date");
    let mut events = EventGenerator::new(2026, "contoso.com");
    (0..n)
        .map(|i| {
            let event = events.next_event(start + Duration::seconds(i as i64));
            let payload = serde_json::to_vec(&event.json).expect("an event serializes");
            Record::new(event.uuid, event.published, payload)
        })
        .collect()
}

/// The same records without their JSON views (as a fresh page has them).
pub fn fresh(records: &[Record]) -> Vec<Record> {
    records
        .iter()
        .map(|r| Record::new(r.id.clone(), r.time, r.payload.clone()))
        .collect()
}
