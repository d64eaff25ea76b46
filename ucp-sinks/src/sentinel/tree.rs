//! A row built as a `serde_json` tree: the event parsed, mapped to a map of columns, values
//! cut to the field limit, serialized. The reading every row had before rows were copied;
//! now the fallback for what copying cannot do faithfully (see `row.rs`), and the reference
//! the copied rows are tested against.

use serde_json::{Map, Value};
use ucp_core::Record;

use super::mapping::ColumnMapping;

/// Write `record`'s row into `out`, or say why it cannot be sent.
pub(super) fn write_row(
    mapping: &ColumnMapping,
    record: &Record,
    max_field_bytes: usize,
    truncated: &mut u64,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let row = row(mapping, record, max_field_bytes, truncated)?;
    serde_json::to_writer(out, &row).map_err(|e| format!("row could not be serialized: {e}"))
}

fn row(
    mapping: &ColumnMapping,
    record: &Record,
    max_field_bytes: usize,
    truncated: &mut u64,
) -> Result<Map<String, Value>, String> {
    let event: Value =
        serde_json::from_slice(&record.payload).map_err(|e| format!("event is not JSON: {e}"))?;
    let mut columns = mapping.columns_of(record.id.as_str(), event)?;
    // A compact value is never longer than the payload it was parsed from, so small events
    // need no per-field check.
    if record.payload.len() > max_field_bytes {
        for value in columns.values_mut() {
            *truncated += u64::from(truncate(value, max_field_bytes));
        }
    }
    let mut row = Map::with_capacity(columns.len() + 1);
    row.insert(
        mapping.time_column_name().to_string(),
        Value::String(record.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
    );
    row.extend(columns);
    Ok(row)
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
