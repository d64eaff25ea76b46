//! A batch's records as the bytes of one queue row.

use bytes::Bytes;
use chrono::DateTime;

use crate::record::Record;

/// Batch body: per record, `u32` id length, id, `i64` seconds, `u32` nanoseconds, `u32`
/// payload length, payload (little-endian). A row value, not a file format: SQLite keeps
/// the file consistent.
pub(super) fn encode(records: &[Record]) -> Vec<u8> {
    let size: usize = records
        .iter()
        .map(|r| 20 + r.id.as_str().len() + r.payload.len())
        .sum();
    let mut out = Vec::with_capacity(size);
    for r in records {
        out.extend_from_slice(&(r.id.as_str().len() as u32).to_le_bytes());
        out.extend_from_slice(r.id.as_str().as_bytes());
        out.extend_from_slice(&r.time.timestamp().to_le_bytes());
        out.extend_from_slice(&r.time.timestamp_subsec_nanos().to_le_bytes());
        out.extend_from_slice(&(r.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&r.payload);
    }
    out
}

pub(super) fn decode(body: Bytes) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<std::ops::Range<usize>, String> {
        let end = at
            .checked_add(n)
            .filter(|end| *end <= body.len())
            .ok_or_else(|| format!("cut short at byte {at}"))?;
        let range = *at..end;
        *at = end;
        Ok(range)
    };
    let u32_at = |range: std::ops::Range<usize>| {
        u32::from_le_bytes(body[range].try_into().unwrap_or([0; 4]))
    };
    while at < body.len() {
        let id_len = u32_at(take(&mut at, 4)?) as usize;
        let id = std::str::from_utf8(&body[take(&mut at, id_len)?])
            .map_err(|e| format!("record id: {e}"))?
            .to_string();
        let secs = i64::from_le_bytes(body[take(&mut at, 8)?].try_into().unwrap_or([0; 8]));
        let nanos = u32_at(take(&mut at, 4)?);
        let time = DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| format!("record {id}: time out of range"))?;
        let len = u32_at(take(&mut at, 4)?) as usize;
        let payload = body.slice(take(&mut at, len)?);
        records.push(Record::new(id, time, payload));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::super::test_data::record;
    use super::*;

    #[test]
    fn encoding_round_trips_and_refuses_truncation() {
        let records: Vec<Record> = (0..5).map(record).collect();
        let body = encode(&records);
        assert_eq!(decode(Bytes::from(body.clone())).unwrap(), records);
        let err = decode(Bytes::from(body[..body.len() - 3].to_vec())).unwrap_err();
        assert!(err.contains("cut short"), "{err}");
    }
}
