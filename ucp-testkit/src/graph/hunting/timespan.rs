//! The `Timespan` of a hunting request: an ISO 8601 interval (`start/end`, `duration/end`,
//! `start/duration`), a duration back from now, or a start up to now.

use chrono::{DateTime, Utc};

/// The interval `text` means at `now`, or `None` when it is not one.
pub fn parse_timespan(text: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let text = text.trim();
    let (from, to) = match text.split_once('/') {
        Some((a, b)) => match (instant(a), instant(b)) {
            (Some(a), Some(b)) => (a, b),
            (None, Some(b)) => (b - duration(a)?, b),
            (Some(a), None) => (a, a + duration(b)?),
            (None, None) => return None,
        },
        None => match instant(text) {
            Some(start) => (start, now),
            None => (now - duration(text)?, now),
        },
    };
    (from <= to).then_some((from, to))
}

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.to_utc())
}

/// `P30D`, `PT1H`, `P1DT2H30M`, `PT90S` (no years or months: their length varies).
fn duration(text: &str) -> Option<chrono::Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = chrono::Duration::zero();
    let mut any = false;
    for (part, units) in [
        (days, &[('W', 604_800i64), ('D', 86_400)][..]),
        (time, &[('H', 3_600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (_, secs) = units.iter().find(|(u, _)| *u == c)?;
            let n: i64 = number.parse().ok()?;
            total = total.checked_add(&chrono::Duration::seconds(n.checked_mul(*secs)?))?;
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return None;
        }
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn every_documented_form() {
        let now = at("2024-02-15T08:00:00Z");
        let start = at("2024-02-01T08:00:00Z");
        assert_eq!(
            parse_timespan("2024-02-01T08:00:00Z/2024-02-15T08:00:00Z", now),
            Some((start, now))
        );
        assert_eq!(
            parse_timespan("P14D/2024-02-15T08:00:00Z", now),
            Some((start, now))
        );
        assert_eq!(
            parse_timespan("2024-02-01T08:00:00Z/P14D", now),
            Some((start, now))
        );
        assert_eq!(parse_timespan("P14D", now), Some((start, now)));
        assert_eq!(
            parse_timespan("2024-02-01T08:00:00Z", now),
            Some((start, now))
        );
        assert_eq!(
            parse_timespan("PT1H30M", now),
            Some((now - chrono::Duration::minutes(90), now))
        );
        for bad in [
            "",
            "P",
            "yesterday",
            "P1Y",
            "PT5X",
            "2024-02-15T08:00:00Z/2024-02-01T08:00:00Z",
        ] {
            assert_eq!(parse_timespan(bad, now), None, "{bad}");
        }
    }
}
