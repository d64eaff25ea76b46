//! The NDJSON envelope of a record: one line per record, payload compacted onto it.

use serde_json::value::RawValue;
use ucp_core::Record;

/// The NDJSON lines of `records` from `stream`.
pub fn encode_lines(stream: &str, records: &[Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.payload.len() + 128).sum());
    let stream = json_string(stream);
    for record in records {
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(json_string(record.id.as_str()).as_bytes());
        out.extend_from_slice(b",\"time\":\"");
        out.extend_from_slice(
            record
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                .as_bytes(),
        );
        out.extend_from_slice(b"\",\"stream\":");
        out.extend_from_slice(stream.as_bytes());
        out.extend_from_slice(b",\"event\":");
        push_event(&mut out, &record.payload);
        out.extend_from_slice(b"}\n");
    }
    out
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The payload as JSON, on one line.
fn push_event(out: &mut Vec<u8>, payload: &[u8]) {
    let is_json = serde_json::from_slice::<&RawValue>(payload).is_ok();
    if !is_json {
        out.extend_from_slice(json_string(&String::from_utf8_lossy(payload)).as_bytes());
        return;
    }
    if !payload.iter().any(|b| matches!(b, b'\n' | b'\r')) {
        out.extend_from_slice(payload.trim_ascii());
        return;
    }
    // Valid JSON has no raw line breaks inside strings, so dropping whitespace outside
    // strings is enough to put it on one line, keeping member order and values.
    let mut in_string = false;
    let mut escaped = false;
    for &b in payload {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_json_is_compacted_without_touching_strings() {
        let mut out = Vec::new();
        push_event(
            &mut out,
            b"{\n  \"a\": \"x y\\\" z\",\n  \"b\": [1, 2]\n}\n",
        );
        assert_eq!(out, b"{\"a\":\"x y\\\" z\",\"b\":[1,2]}");
    }

    #[test]
    fn non_json_payload_becomes_a_string() {
        let mut out = Vec::new();
        push_event(&mut out, b"plain \"text\"\nline");
        assert_eq!(out, b"\"plain \\\"text\\\"\\nline\"");
    }
}
