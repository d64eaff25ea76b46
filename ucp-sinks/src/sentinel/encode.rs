//! Records → JSON array bodies for the Logs Ingestion API: one row per record, field values
//! truncated to the service's 64 KB, bodies packed within 1 MB.

use serde_json::{Map, Value};
use ucp_core::{Record, RejectedRecord};

use super::mapping::ColumnMapping;
use crate::azure::{Chunk, Packer};

/// The Logs Ingestion API's limit on one call's body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The Logs Ingestion API's limit on one field value.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Turns records into request bodies. Cheap to clone; pure, so it can be benchmarked alone.
#[derive(Clone, Debug)]
pub struct SentinelEncoder {
    mapping: ColumnMapping,
    max_body_bytes: usize,
    max_field_bytes: usize,
}

/// What [`SentinelEncoder::encode`] produced.
#[derive(Debug)]
pub struct Encoded {
    pub(crate) chunks: Vec<Chunk>,
    /// Records that cannot be sent (not JSON, or a row over the body limit), with why.
    pub rejected: Vec<RejectedRecord>,
    /// Field values cut to the field limit.
    pub truncated_fields: u64,
}

impl Encoded {
    /// Number of request bodies.
    pub fn bodies(&self) -> usize {
        self.chunks.len()
    }

    /// Uncompressed size of each body.
    pub fn body_sizes(&self) -> Vec<usize> {
        self.chunks.iter().map(|c| c.body_len()).collect()
    }

    /// The bodies as sent (gzip-compressed when `gzip`).
    pub fn to_bodies(&self, gzip: bool) -> std::io::Result<Vec<bytes::Bytes>> {
        self.chunks.iter().map(|c| c.body(gzip)).collect()
    }
}

impl SentinelEncoder {
    /// An encoder with the service's limits.
    pub fn new(mapping: ColumnMapping) -> Self {
        SentinelEncoder {
            mapping,
            max_body_bytes: MAX_BODY_BYTES,
            max_field_bytes: MAX_FIELD_BYTES,
        }
    }

    /// Keep each body within `bytes` (at most the service's 1 MB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes.min(MAX_BODY_BYTES);
        self
    }

    /// Cut field values above `bytes` (at most the service's 64 KB).
    pub fn max_field_bytes(mut self, bytes: usize) -> Self {
        self.max_field_bytes = bytes.min(MAX_FIELD_BYTES);
        self
    }

    /// Encode `records` in order.
    pub fn encode(&self, records: &[Record]) -> Encoded {
        let mut packer = Packer::new(self.max_body_bytes);
        let mut rejected = Vec::new();
        let mut truncated_fields = 0;
        let mut row_bytes = Vec::with_capacity(2048);
        for record in records {
            row_bytes.clear();
            let result = self.row(record, &mut truncated_fields).and_then(|row| {
                serde_json::to_writer(&mut row_bytes, &row)
                    .map_err(|e| format!("row could not be serialized: {e}"))
            });
            if let Err(reason) = result {
                rejected.push(RejectedRecord {
                    id: record.id.clone(),
                    reason,
                });
                continue;
            }
            if !packer.fits_alone(row_bytes.len()) {
                rejected.push(RejectedRecord {
                    id: record.id.clone(),
                    reason: format!(
                        "row of {} bytes exceeds the Logs Ingestion API limit of {} bytes per call",
                        row_bytes.len(),
                        self.max_body_bytes
                    ),
                });
                continue;
            }
            packer.push(record.id.clone(), &row_bytes);
        }
        Encoded {
            chunks: packer.finish(),
            rejected,
            truncated_fields,
        }
    }

    fn row(&self, record: &Record, truncated: &mut u64) -> Result<Map<String, Value>, String> {
        let event: Value = serde_json::from_slice(&record.payload)
            .map_err(|e| format!("event is not JSON: {e}"))?;
        let mut columns = self.mapping.columns_of(record.id.as_str(), event)?;
        // A compact value is never longer than the payload it was parsed from, so small events
        // need no per-field check.
        if record.payload.len() > self.max_field_bytes {
            for value in columns.values_mut() {
                *truncated += u64::from(truncate(value, self.max_field_bytes));
            }
        }
        let mut row = Map::with_capacity(columns.len() + 1);
        row.insert(
            self.mapping.time_column_name().to_string(),
            Value::String(record.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        );
        row.extend(columns);
        Ok(row)
    }
}

/// Cut `value` to `max` bytes of JSON text; objects and arrays above it become their
/// (cut) JSON text. True when something was cut.
fn truncate(value: &mut Value, max: usize) -> bool {
    let text = match value {
        Value::String(s) if s.len() > max => std::mem::take(s),
        Value::Object(_) | Value::Array(_) => match serde_json::to_string(value) {
            Ok(text) if text.len() > max => text,
            _ => return false,
        },
        _ => return false,
    };
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    *value = Value::String(text[..end].to_string());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn record(i: usize, payload: Value) -> Record {
        Record::new(
            format!("r{i}"),
            Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
            serde_json::to_vec(&payload).unwrap(),
        )
    }

    #[test]
    fn rows_carry_time_generated_and_columns() {
        let encoded = SentinelEncoder::new(ColumnMapping::copy_top_level())
            .encode(&[record(1, json!({"eventType": "user.session.start"}))]);
        let rows: Vec<Value> =
            serde_json::from_slice(&encoded.to_bodies(false).unwrap()[0]).unwrap();
        assert_eq!(rows[0]["TimeGenerated"], "2026-11-01T12:00:00.000Z");
        assert_eq!(rows[0]["eventType"], "user.session.start");
    }

    #[test]
    fn long_fields_are_truncated_and_counted() {
        let long = "é".repeat(40_000); // 80 000 bytes
        let encoded = SentinelEncoder::new(ColumnMapping::copy_top_level()).encode(&[record(
            1,
            json!({"message": long, "nested": {"a": "x".repeat(70_000)}, "n": 1}),
        )]);
        assert_eq!(encoded.truncated_fields, 2);
        let rows: Vec<Value> =
            serde_json::from_slice(&encoded.to_bodies(false).unwrap()[0]).unwrap();
        let message = rows[0]["message"].as_str().unwrap();
        assert!(message.len() <= MAX_FIELD_BYTES && message.len() > MAX_FIELD_BYTES - 4);
        assert!(rows[0]["nested"]
            .as_str()
            .unwrap()
            .starts_with("{\"a\":\"xxx"));
        assert_eq!(rows[0]["n"], 1);
    }

    #[test]
    fn non_json_and_oversized_rows_are_rejected_with_reasons() {
        let encoder = SentinelEncoder::new(ColumnMapping::copy_top_level()).max_body_bytes(1000);
        let bad = Record::new("bad", Utc::now(), "not json");
        let big = record(2, json!({"a": "x".repeat(2000)}));
        let encoded = encoder.encode(&[bad, big, record(3, json!({"a": 1}))]);
        assert_eq!(encoded.rejected.len(), 2);
        assert!(encoded.rejected[0].reason.contains("not JSON"));
        assert!(encoded.rejected[1].reason.contains("exceeds"));
        assert_eq!(encoded.bodies(), 1);
    }
}
