//! The durable store's batch codec under arbitrary input (issue 12, item 6).
//!
//! Inputs covered:
//! - any records (any Unicode id including empty, any time chrono can hold down to the
//!   nanosecond, any payload bytes) encode and decode back to themselves;
//! - arbitrary bytes, every truncation of a valid body and bit flips in it decode to records
//!   or to an error saying what is wrong, never a panic; a cut inside a record is always an
//!   error, a cut between records gives exactly the records before it.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::codec::{decode, encode};
use crate::record::Record;

/// Any instant chrono holds: the calendar's ends, the epoch, and anything between, with
/// nanoseconds (a leap second's too).
fn time() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) = (
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
    );
    prop_oneof![
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::MAX_UTC),
        Just(DateTime::<Utc>::UNIX_EPOCH),
        (min..=max, 0u32..2_000_000_000).prop_filter_map("a time chrono holds", |(s, n)| {
            DateTime::from_timestamp(s, n)
        }),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (any::<String>(), time(), vec(any::<u8>(), 0..96))
        .prop_map(|(id, time, payload)| Record::new(id, time, payload))
}

/// Where each encoded record ends in the body.
fn record_ends(records: &[Record]) -> Vec<usize> {
    records
        .iter()
        .scan(0, |at, r| {
            *at += 20 + r.id.as_str().len() + r.payload.len();
            Some(*at)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_records_round_trip(records in vec(record(), 0..8)) {
        let body = encode(&records);
        prop_assert_eq!(decode(Bytes::from(body)).unwrap(), records);
    }

    #[test]
    fn any_bytes_decode_to_records_or_an_error(bytes in vec(any::<u8>(), 0..256)) {
        if let Ok(records) = decode(Bytes::from(bytes.clone())) {
            // Whatever decoded is exactly what the bytes encode.
            prop_assert_eq!(encode(&records), bytes);
        }
    }

    #[test]
    fn a_truncated_body_is_refused_unless_cut_between_records(
        records in vec(record(), 1..6),
        cut in any::<Index>(),
    ) {
        let body = encode(&records);
        let len = cut.index(body.len());
        let ends = record_ends(&records);
        match decode(Bytes::from(body[..len].to_vec())) {
            Ok(decoded) => {
                let whole = ends.iter().take_while(|end| **end <= len).count();
                prop_assert!(len == 0 || ends.contains(&len), "cut at {} decoded", len);
                prop_assert_eq!(&decoded[..], &records[..whole]);
            }
            Err(reason) => {
                prop_assert!(!ends.contains(&len) && len != 0, "cut at {}: {}", len, reason);
                prop_assert!(reason.contains("cut short"), "{}", reason);
            }
        }
    }

    #[test]
    fn flipped_bits_decode_to_records_or_an_error(
        records in vec(record(), 1..6),
        flips in vec((any::<Index>(), 0u8..8), 1..4),
    ) {
        let mut body = encode(&records);
        for (at, bit) in flips {
            let at = at.index(body.len());
            body[at] ^= 1 << bit;
        }
        if let Ok(decoded) = decode(Bytes::from(body.clone())) {
            prop_assert_eq!(encode(&decoded), body);
        }
    }
}
