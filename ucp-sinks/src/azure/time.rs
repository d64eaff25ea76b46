//! Record times as the Azure sinks write them, straight into a body: the digits are written
//! by hand for years 0–9999 (chrono's formatter is the fallback for anything else), with the
//! exact text chrono would give.

use std::io::Write;

use chrono::{DateTime, Datelike, Timelike, Utc};

/// `2026-11-01T12:00:00.000Z`: chrono's `%Y-%m-%dT%H:%M:%S%.3fZ`.
pub(crate) fn write_millis_z(out: &mut Vec<u8>, time: &DateTime<Utc>) {
    let nanos = time.nanosecond();
    // A leap second (nanoseconds past 10⁹) is left to chrono.
    if nanos >= 1_000_000_000 || !write_seconds(out, time) {
        let _ = write!(out, "{}", time.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
        return;
    }
    out.push(b'.');
    digits(out, nanos / 1_000_000, 3);
    out.push(b'Z');
}

/// `2026-11-01T12:00:00.250+00:00`: chrono's `to_rfc3339` for UTC (a fraction of 0, 3, 6 or
/// 9 digits, as needed).
pub(crate) fn write_rfc3339(out: &mut Vec<u8>, time: &DateTime<Utc>) {
    let nanos = time.nanosecond();
    if nanos >= 1_000_000_000 || !write_seconds(out, time) {
        out.extend_from_slice(time.to_rfc3339().as_bytes());
        return;
    }
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            digits(out, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            digits(out, nanos / 1_000, 6);
        } else {
            digits(out, nanos, 9);
        }
    }
    out.extend_from_slice(b"+00:00");
}

/// `YYYY-MM-DDTHH:MM:SS`, or nothing and false outside years 0–9999.
fn write_seconds(out: &mut Vec<u8>, time: &DateTime<Utc>) -> bool {
    let Ok(year) = u32::try_from(time.year()) else {
        return false;
    };
    if year > 9999 {
        return false;
    }
    digits(out, year, 4);
    out.push(b'-');
    digits(out, time.month(), 2);
    out.push(b'-');
    digits(out, time.day(), 2);
    out.push(b'T');
    digits(out, time.hour(), 2);
    out.push(b':');
    digits(out, time.minute(), 2);
    out.push(b':');
    digits(out, time.second(), 2);
    true
}

/// `value` in `width` decimal digits, zero-padded (`value` has at most `width` digits).
fn digits(out: &mut Vec<u8>, value: u32, width: u32) {
    let mut divisor = 10u32.pow(width.saturating_sub(1));
    while divisor > 0 {
        out.push(b'0' + (value / divisor % 10) as u8);
        divisor /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn time() -> impl Strategy<Value = DateTime<Utc>> {
        let (min, max) = (
            DateTime::<Utc>::MIN_UTC.timestamp(),
            DateTime::<Utc>::MAX_UTC.timestamp(),
        );
        prop_oneof![
            Just(DateTime::<Utc>::MIN_UTC),
            Just(DateTime::<Utc>::MAX_UTC),
            Just(DateTime::<Utc>::UNIX_EPOCH),
            (
                -62_167_219_200i64..253_402_300_800,
                prop_oneof![
                    Just(0u32),
                    (0u32..1000).prop_map(|m| m * 1_000_000),
                    (0u32..1_000_000).prop_map(|u| u * 1000),
                    0u32..2_000_000_000
                ]
            )
                .prop_filter_map("a time chrono holds", |(s, n)| {
                    DateTime::from_timestamp(s, n)
                }),
            (min..=max, 0u32..2_000_000_000).prop_filter_map("a time chrono holds", |(s, n)| {
                DateTime::from_timestamp(s, n)
            }),
        ]
    }

    proptest! {
        #[test]
        fn times_are_written_as_chrono_writes_them(t in time()) {
            let mut out = Vec::new();
            write_millis_z(&mut out, &t);
            prop_assert_eq!(String::from_utf8(out).unwrap(), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
            let mut out = Vec::new();
            write_rfc3339(&mut out, &t);
            prop_assert_eq!(String::from_utf8(out).unwrap(), t.to_rfc3339());
        }
    }
}
