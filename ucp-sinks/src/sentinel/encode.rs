//! Records → JSON array bodies for the Logs Ingestion API: one row per record, field values
//! truncated to the service's 64 KB, bodies packed within 1 MB.
//!
//! A row is written by copying the event's bytes (`row.rs`) whenever that gives the row the
//! tree-building mapping gives; otherwise (not JSON, values to cut, keys that need the
//! tree's reading) by the tree (`tree.rs`), which also says why a record cannot be sent.

use ucp_core::{Record, RejectedRecord};

use super::mapping::ColumnMapping;
use super::row::RowWriter;
use super::tree;
use crate::azure::{Chunk, Packer, DEFAULT_GZIP_LEVEL};

/// The Logs Ingestion API's limit on one call's body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The Logs Ingestion API's limit on one field value.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Turns records into request bodies. Cheap to clone; pure, so it can be benchmarked alone.
#[derive(Clone, Debug)]
pub struct SentinelEncoder {
    mapping: ColumnMapping,
    rows: std::sync::Arc<RowWriter>,
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

    /// The bodies as sent (gzip-compressed at the default level when `gzip`).
    pub fn to_bodies(&self, gzip: bool) -> std::io::Result<Vec<bytes::Bytes>> {
        self.to_bodies_at(gzip.then_some(DEFAULT_GZIP_LEVEL))
    }

    /// The bodies as sent, gzip-compressed at `level` (0–9) when given.
    pub fn to_bodies_at(&self, gzip_level: Option<u32>) -> std::io::Result<Vec<bytes::Bytes>> {
        self.chunks.iter().map(|c| c.body(gzip_level)).collect()
    }
}

impl SentinelEncoder {
    /// An encoder with the service's limits.
    pub fn new(mapping: ColumnMapping) -> Self {
        SentinelEncoder {
            rows: std::sync::Arc::new(RowWriter::new(&mapping)),
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
        self.encode_with(records, |record, row| {
            // A compact value is never longer than the payload it came from: only larger
            // events can have values to cut, which the tree does.
            record.payload.len() <= self.max_field_bytes && self.rows.write(record, row)
        })
    }

    /// Encode with the tree for every row: the encoder as it was before rows were copied,
    /// kept as the reference the byte-copying rows are tested against.
    #[cfg(test)]
    pub(crate) fn encode_by_tree(&self, records: &[Record]) -> Encoded {
        self.encode_with(records, |_, _| false)
    }

    /// Encode, trying `copy` on each row first and the tree when it says no.
    fn encode_with(
        &self,
        records: &[Record],
        copy: impl Fn(&Record, &mut Vec<u8>) -> bool,
    ) -> Encoded {
        let mut packer = Packer::new(self.max_body_bytes);
        let mut rejected = Vec::new();
        let mut truncated_fields = 0;
        let mut row_bytes = Vec::with_capacity(4096);
        for record in records {
            row_bytes.clear();
            // A copied row keeps the event's own spacing: one too large for a body is
            // written by the tree (compact) before it is refused, as it always was.
            if !copy(record, &mut row_bytes) || !packer.fits_alone(row_bytes.len()) {
                row_bytes.clear();
                let written = tree::write_row(
                    &self.mapping,
                    record,
                    self.max_field_bytes,
                    &mut truncated_fields,
                    &mut row_bytes,
                );
                if let Err(reason) = written {
                    rejected.push(RejectedRecord {
                        id: record.id.clone(),
                        reason,
                    });
                    continue;
                }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::{json, Value};

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
