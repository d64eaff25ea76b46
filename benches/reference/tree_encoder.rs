//! The Sentinel encoder as it was before rows were copied (ucp-sinks at commit 992f2ce,
//! `sentinel/encode.rs` with `ColumnMapping::columns_of`), restated with public APIs only:
//! each event parsed into a `serde_json` tree, its columns cloned into a map with
//! `TimeGenerated`, the map serialized into a row, the row copied into a chunk of at most
//! 1 MB, each body framed again with commas and gzip'd by a fresh `GzEncoder` at level 1.
//! Kept as the reference the new encoder is measured against in the same run.

use std::io::Write;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{Map, Value};
use ucp::Record;

/// The two mappings the benches use.
pub enum Mapping {
    /// Every top-level field a column.
    CopyTopLevel,
    /// `TimeGenerated` plus the whole event in this column.
    Raw(&'static str),
}

const MAX_BODY: usize = 1024 * 1024;

fn columns(mapping: &Mapping, event: Value) -> Option<Map<String, Value>> {
    let mut row = Map::new();
    match mapping {
        Mapping::CopyTopLevel => {
            let Value::Object(fields) = &event else {
                return None;
            };
            let renames: [(String, String); 0] = [];
            for (field, value) in fields {
                let column = renames
                    .iter()
                    .find(|(from, _)| from == field)
                    .map(|(_, to)| to.as_str())
                    .unwrap_or(field);
                if column != "TimeGenerated" && !row.contains_key(column) {
                    row.insert(column.to_string(), value.clone());
                }
            }
        }
        Mapping::Raw(column) => {
            row.insert(column.to_string(), event);
        }
    }
    Some(row)
}

/// Rows of one body and where each row is.
struct Chunk {
    bytes: Vec<u8>,
    bounds: Vec<(usize, usize)>,
}

/// The bodies as the old sink sent them.
pub fn encode(mapping: &Mapping, records: &[Record], gzip: bool) -> Vec<Bytes> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current = Chunk {
        bytes: Vec::new(),
        bounds: Vec::new(),
    };
    let mut row_bytes = Vec::with_capacity(2048);
    for record in records {
        row_bytes.clear();
        let Ok(event) = serde_json::from_slice::<Value>(&record.payload) else {
            continue;
        };
        let Some(columns) = columns(mapping, event) else {
            continue;
        };
        let mut row = Map::with_capacity(columns.len() + 1);
        row.insert(
            "TimeGenerated".to_string(),
            Value::String(record.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        );
        row.extend(columns);
        if serde_json::to_writer(&mut row_bytes, &row).is_err() || row_bytes.len() + 2 > MAX_BODY {
            continue;
        }
        let body_with = current.bytes.len() + current.bounds.len() + row_bytes.len() + 2;
        if !current.bounds.is_empty() && body_with > MAX_BODY {
            chunks.push(std::mem::replace(
                &mut current,
                Chunk {
                    bytes: Vec::new(),
                    bounds: Vec::new(),
                },
            ));
        }
        let start = current.bytes.len();
        current.bytes.extend_from_slice(&row_bytes);
        current.bounds.push((start, current.bytes.len()));
    }
    if !current.bounds.is_empty() {
        chunks.push(current);
    }
    chunks.iter().map(|c| body(c, gzip)).collect()
}

fn body(chunk: &Chunk, gzip: bool) -> Bytes {
    let len = chunk.bytes.len() + chunk.bounds.len().saturating_sub(1) + 2;
    let mut plain = Vec::with_capacity(len);
    plain.push(b'[');
    for (i, (start, end)) in chunk.bounds.iter().enumerate() {
        if i > 0 {
            plain.push(b',');
        }
        plain.extend_from_slice(&chunk.bytes[*start..*end]);
    }
    plain.push(b']');
    if !gzip {
        return Bytes::from(plain);
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(plain.len() / 4), Compression::fast());
    encoder.write_all(&plain).expect("writing to memory");
    Bytes::from(encoder.finish().expect("writing to memory"))
}
