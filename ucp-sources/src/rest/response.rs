//! Reading a successful answer: the body decompressed (bounded), its success status checked,
//! its events found (`eventsJsonPaths` over JSON, or the rows of a CSV body) and turned into
//! records with ids and times from the definition's paths.
//!
//! A JSON event at a plain path keeps the provider's exact bytes (a slice of the body). An
//! event found by a general JSONPath, or a CSV row, is written as JSON by ucp. Without an id
//! path a record's id is a SHA-256 of its payload, so a re-read gives the same id.
//!
//! A body that is an array of plain events (`eventsJsonPaths` `$`, ids and times at
//! `$.name`, no added attributes) is read in one pass, as the Okta source reads its pages:
//! each event checked and indexed once, its id and time read through that view, and the view
//! handed on with the record for the products' filters and sinks. Anything else — or a page
//! that pass does not take as it is — goes the general way, which names what is wrong.

use std::borrow::Cow;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use ucp_core::json::{array_views, Json, JsonSlice};
use ucp_core::Record;

use super::definition::{Compression, CsvFormat, Format, RecordPaths, Response};
use super::json_path::{elements, leaf_text, pick, value_text, Path};

/// The largest body kept after decompression: a guard against compression bombs.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A body ready to read.
pub struct Body {
    text: Bytes,
    parsed: std::cell::OnceCell<Result<Value, String>>,
}

impl Body {
    /// Decompress `raw` as the definition (or the `Content-Encoding`) says, within
    /// [`MAX_BODY_BYTES`]; the text must be UTF-8.
    pub fn decode(raw: Bytes, compression: Option<Compression>) -> Result<Body, String> {
        let text = match compression {
            None => raw,
            Some(algorithm) => Bytes::from(inflate(&raw, algorithm)?),
        };
        if std::str::from_utf8(&text).is_err() {
            return Err("the body is not UTF-8 text".into());
        }
        Ok(Body {
            text,
            parsed: std::cell::OnceCell::new(),
        })
    }

    /// The text.
    pub fn text(&self) -> &str {
        // Checked in `decode`.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    fn raw(&self) -> Result<&RawValue, String> {
        serde_json::from_str(self.text()).map_err(|e| format!("the body is not JSON ({e})"))
    }

    fn value(&self) -> Result<&Value, String> {
        self.parsed
            .get_or_init(|| {
                serde_json::from_str(self.text()).map_err(|e| format!("the body is not JSON ({e})"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The text at `path` of a JSON body (`None` when absent or null).
    pub fn first(&self, path: &Path) -> Result<Option<String>, String> {
        if path.is_plain() {
            let node = path.first_raw(self.raw()?)?;
            return Ok(node.and_then(leaf_text).map(Cow::into_owned));
        }
        Ok(path
            .first(self.value()?)
            .and_then(value_text)
            .map(Cow::into_owned))
    }

    /// Whether the success status at `path` equals `expected` (text or number alike).
    pub fn succeeded(&self, path: &Path, expected: &str) -> Result<bool, String> {
        Ok(self
            .first(path)?
            .is_some_and(|found| found.eq_ignore_ascii_case(expected.trim())))
    }
}

fn inflate(raw: &[u8], algorithm: Compression) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let limit = MAX_BODY_BYTES as u64 + 1;
    let read = match algorithm {
        Compression::Gzip => flate2::read::GzDecoder::new(raw)
            .take(limit)
            .read_to_end(&mut out),
        Compression::MultiGzip => flate2::read::MultiGzDecoder::new(raw)
            .take(limit)
            .read_to_end(&mut out),
        Compression::Deflate => {
            let zlib = flate2::read::ZlibDecoder::new(raw)
                .take(limit)
                .read_to_end(&mut out);
            if zlib.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(raw)
                    .take(limit)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
    };
    read.map_err(|e| format!("the body is not valid {algorithm:?} data ({e})"))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the body inflates to more than {MAX_BODY_BYTES} bytes"
        ));
    }
    Ok(out)
}

/// How records are made from events.
pub struct RecordRules<'a> {
    /// Id and time paths.
    pub paths: &'a RecordPaths,
    /// `addOnAttributes`, rendered: members added to every object event.
    pub add_on: &'a [(String, String)],
    /// The time of collection (records without a time path get it).
    pub now: DateTime<Utc>,
}

/// The records of a body, in the provider's order.
pub fn records(
    body: &Body,
    response: &Response,
    rules: &RecordRules,
) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    match &response.format {
        Format::Csv(csv) => {
            for (index, row) in csv_rows(body.text(), csv)?.into_iter().enumerate() {
                out.push(
                    value_record(Value::Object(row), rules)
                        .map_err(|why| format!("row #{index}: {why}"))?,
                );
            }
        }
        Format::Json => {
            for path in &response.events {
                if path.is_plain() {
                    raw_events(body, path, rules, &mut out)?;
                } else {
                    for node in path.select(body.value()?) {
                        let items = match node {
                            Value::Array(items) => items.clone(),
                            other => vec![other.clone()],
                        };
                        for (index, item) in items.into_iter().enumerate() {
                            out.push(value_record(item, rules).map_err(|why| {
                                format!("event #{index} at {}: {why}", path.text())
                            })?);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Events at a plain path, kept as the provider's bytes.
fn raw_events(
    body: &Body,
    path: &Path,
    rules: &RecordRules,
    out: &mut Vec<Record>,
) -> Result<(), String> {
    let page = path.is_root() && body.text().trim_start().starts_with('[');
    if let Some(records) = page.then(|| viewed_events(body, rules)).flatten() {
        out.extend(records);
        return Ok(());
    }
    parsed_events(body, path, rules, out)
}

/// Events at a plain path the general way: `serde_json` finds them, and their ids and times.
pub(super) fn parsed_events(
    body: &Body,
    path: &Path,
    rules: &RecordRules,
    out: &mut Vec<Record>,
) -> Result<(), String> {
    let items: Vec<&RawValue> = if path.is_root() && body.text().trim_start().starts_with('[') {
        serde_json::from_str(body.text())
            .map_err(|e| format!("the body is not a JSON array of events ({e})"))?
    } else {
        let Some(node) = path.first_raw(body.raw()?)? else {
            return Ok(());
        };
        match elements(node)? {
            Some(items) => items,
            None if node.get().trim() == "null" => Vec::new(),
            None => vec![node],
        }
    };
    out.reserve(items.len());
    for (index, raw) in items.into_iter().enumerate() {
        out.push(
            raw_record(&body.text, raw, rules)
                .map_err(|why| format!("event #{index} at {}: {why}", path.text()))?,
        );
    }
    Ok(())
}

/// The one-pass read of a body that is an array of plain events (see the module's text);
/// `None` at anything it does not take as it is.
pub(super) fn viewed_events(body: &Body, rules: &RecordRules) -> Option<Vec<Record>> {
    let (id_name, time_name) = (
        single_member(&rules.paths.id)?,
        single_member(&rules.paths.time)?,
    );
    if !rules.add_on.is_empty() {
        return None;
    }
    let items = array_views(&body.text)?;
    let mut out = Vec::with_capacity(items.len());
    for (range, view) in items {
        let payload = body.text.slice(range);
        let view = Arc::new(view);
        let (id, time) = {
            let json = Json::with_view(&payload, view.clone());
            // Plain keys are the fields' names, as the general way's `pick` reads them.
            if !json.is_object() || !json.has_plain_keys() {
                return None;
            }
            let text = |name: Option<&str>| {
                let name = name?;
                json.fields()
                    .find(|field| field.key == name.as_bytes())
                    .and_then(|field| slice_text(field.value))
            };
            id_and_time(text(id_name), text(time_name), &payload, rules).ok()?
        };
        out.push(Record::with_view(id, time, payload, view));
    }
    Some(out)
}

/// `Some(None)` without a path, `Some(Some(name))` for `$.name`, `None` for other paths.
fn single_member(path: &Option<Path>) -> Option<Option<&str>> {
    match path {
        None => Some(None),
        Some(path) => path.single_member().map(Some),
    }
}

/// A value's text as [`leaf_text`] reads it: a string's text, `null` none, others as written.
fn slice_text(value: JsonSlice<'_>) -> Option<Cow<'_, str>> {
    if value.is_string() {
        value.as_str()
    } else if value.is_null() {
        None
    } else {
        std::str::from_utf8(value.raw()).ok().map(Cow::Borrowed)
    }
}

fn raw_record(body: &Bytes, raw: &RawValue, rules: &RecordRules) -> Result<Record, String> {
    let (id, time) = raw_fields(raw, rules.paths)?;
    let payload = if rules.add_on.is_empty() {
        body.slice_ref(raw.get().as_bytes())
    } else {
        with_attributes(raw.get(), rules.add_on)
    };
    finish(id, time, payload, rules)
}

/// The texts of a record's id and time, when found.
type IdAndTime<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>);

/// The id and time texts of a raw event, in one pass when both are members of the event.
fn raw_fields<'a>(raw: &'a RawValue, paths: &RecordPaths) -> Result<IdAndTime<'a>, String> {
    if let (Some(id), Some(time)) = (single_member(&paths.id), single_member(&paths.time)) {
        if id.is_none() && time.is_none() {
            return Ok((None, None));
        }
        if !raw.get().trim_start().starts_with('{') {
            return Err("is not a JSON object".into());
        }
        let [id_node, time_node] = pick(raw, &[id.unwrap_or("\u{0}"), time.unwrap_or("\u{0}")])?;
        return Ok((id_node.and_then(leaf_text), time_node.and_then(leaf_text)));
    }
    let one = |path: &Option<Path>| -> Result<Option<Cow<'a, str>>, String> {
        let Some(path) = path else { return Ok(None) };
        if path.is_plain() {
            return Ok(path.first_raw(raw)?.and_then(leaf_text));
        }
        let value: Value =
            serde_json::from_str(raw.get()).map_err(|e| format!("is not JSON ({e})"))?;
        Ok(path
            .first(&value)
            .and_then(value_text)
            .map(|t| Cow::Owned(t.into_owned())))
    };
    Ok((one(&paths.id)?, one(&paths.time)?))
}

fn value_record(mut event: Value, rules: &RecordRules) -> Result<Record, String> {
    if let Value::Object(map) = &mut event {
        for (name, value) in rules.add_on {
            map.insert(name.clone(), Value::String(value.clone()));
        }
    }
    let field = |path: &Option<Path>| {
        path.as_ref()
            .and_then(|p| p.first(&event))
            .and_then(value_text)
            .map(|t| Cow::Owned(t.into_owned()))
    };
    let (id, time) = (field(&rules.paths.id), field(&rules.paths.time));
    let payload =
        serde_json::to_vec(&event).map_err(|e| format!("cannot be written as JSON ({e})"))?;
    finish(id, time, Bytes::from(payload), rules)
}

fn finish(
    id: Option<Cow<str>>,
    time: Option<Cow<str>>,
    payload: Bytes,
    rules: &RecordRules,
) -> Result<Record, String> {
    let (id, time) = id_and_time(id, time, &payload, rules)?;
    Ok(Record::new(id, time, payload))
}

/// A record's id and time from the texts found at the definition's paths (or the payload's
/// content id, or the time of collection, where the definition names no path).
fn id_and_time(
    id: Option<Cow<str>>,
    time: Option<Cow<str>>,
    payload: &[u8],
    rules: &RecordRules,
) -> Result<(String, DateTime<Utc>), String> {
    let id = match (id, &rules.paths.id) {
        (Some(id), _) if !id.is_empty() => id.into_owned(),
        (_, Some(path)) => return Err(format!("has no id at {}", path.text())),
        (_, None) => content_id(payload),
    };
    let time = match (time, &rules.paths.time) {
        (Some(text), Some(path)) => {
            let read = match &rules.paths.time_format {
                Some(format) => format.read(&text),
                None => super::time_format::read_any(&text, false),
            };
            read.ok_or_else(|| {
                format!(
                    "has no readable time at {} ('{}')",
                    path.text(),
                    clip(&text)
                )
            })?
        }
        (None, Some(path)) => return Err(format!("has no time at {}", path.text())),
        (_, None) => rules.now,
    };
    Ok((id, time))
}

/// A record id from the payload: the first 16 bytes of its SHA-256, in hex.
pub fn content_id(payload: &[u8]) -> String {
    let digest = Sha256::digest(payload);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

/// `{"k":"v", …rest}`: attributes spliced into an object's text without re-encoding it.
fn with_attributes(event: &str, attributes: &[(String, String)]) -> Bytes {
    let trimmed = event.trim();
    let Some(inner) = trimmed.strip_prefix('{') else {
        return Bytes::copy_from_slice(event.as_bytes());
    };
    let mut out = String::with_capacity(event.len() + 64);
    out.push('{');
    for (name, value) in attributes {
        out.push_str(&Value::String(name.clone()).to_string());
        out.push(':');
        out.push_str(&Value::String(value.clone()).to_string());
        out.push(',');
    }
    if inner.trim_start().starts_with('}') {
        out.pop();
    }
    out.push_str(inner);
    Bytes::from(out)
}

/// The rows of a CSV body as objects (header names as keys, or `column1`, `column2`, …).
fn csv_rows(text: &str, format: &CsvFormat) -> Result<Vec<Map<String, Value>>, String> {
    let text = if format.boundary {
        without_boundary(text)
    } else {
        text
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(format.delimiter)
        .quote(format.quote)
        .has_headers(format.header)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Option<Vec<String>> = if format.header {
        Some(
            reader
                .headers()
                .map_err(|e| format!("the CSV header is unreadable ({e})"))?
                .iter()
                .map(str::to_string)
                .collect(),
        )
    } else {
        None
    };
    let mut rows = Vec::new();
    for (index, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("CSV row #{index} is unreadable ({e})"))?;
        let mut object = Map::new();
        for (column, value) in row.iter().enumerate() {
            let name = match &headers {
                Some(names) => names
                    .get(column)
                    .cloned()
                    .unwrap_or_else(|| format!("column{}", column + 1)),
                None => format!("column{}", column + 1),
            };
            object.insert(name, Value::String(value.to_string()));
        }
        rows.push(object);
    }
    Ok(rows)
}

/// The text between a boundary line at the start and one at the end (`hasCsvBoundary`).
fn without_boundary(text: &str) -> &str {
    let trimmed = text.trim_end_matches(['\r', '\n']);
    let start = trimmed.find('\n').map_or(trimmed.len(), |i| i + 1);
    let end = trimmed.rfind('\n').unwrap_or(0);
    if end > start {
        &trimmed[start..end]
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rules<'a>(paths: &'a RecordPaths, add_on: &'a [(String, String)]) -> RecordRules<'a> {
        RecordRules {
            paths,
            add_on,
            now: DateTime::from_timestamp(1_772_442_307, 0).unwrap(),
        }
    }

    fn json_response(paths: &[&str]) -> Response {
        Response {
            events: paths.iter().map(|p| Path::parse(p).unwrap()).collect(),
            success: None,
            compression: None,
            format: Format::Json,
        }
    }

    fn id_time(id: &str, time: &str) -> RecordPaths {
        RecordPaths {
            id: Some(Path::parse(id).unwrap()),
            time: Some(Path::parse(time).unwrap()),
            time_format: None,
        }
    }

    #[test]
    fn plain_paths_keep_the_event_bytes_and_read_ids_and_times() {
        let text = r#"{"data":{"events":[ {"uuid":"a","published":"2026-03-02T09:00:00Z","x": [1, 2]} ,{"published":1772442000,"uuid":7}]}}"#;
        let body = Body::decode(Bytes::from(text), None).unwrap();
        let paths = id_time("$.uuid", "$.published");
        let records = records(
            &body,
            &json_response(&["$.data.events"]),
            &rules(&paths, &[]),
        )
        .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(
            &records[0].payload[..],
            br#"{"uuid":"a","published":"2026-03-02T09:00:00Z","x": [1, 2]}"#
        );
        assert_eq!(records[1].id.as_str(), "7");
        assert_eq!(records[1].time.timestamp(), 1_772_442_000);
    }

    #[test]
    fn a_root_array_of_plain_events_is_read_in_one_pass_as_the_general_way_reads_it() {
        let text = r#"[ {"uuid":"a","published":"2026-03-02T09:00:00Z","x": [1, 2]} ,{"published":1772442000,"uuid":7}]"#;
        let body = Body::decode(Bytes::from(text), None).unwrap();
        let paths = id_time("$.uuid", "$.published");
        let viewed = viewed_events(&body, &rules(&paths, &[])).expect("plain events, one pass");
        let mut general = Vec::new();
        parsed_events(
            &body,
            &Path::parse("$").unwrap(),
            &rules(&paths, &[]),
            &mut general,
        )
        .unwrap();
        assert_eq!(viewed, general);
        assert_eq!(viewed[1].id.as_str(), "7");
        // Added attributes change the bytes: the general way writes them.
        let add = [("k".to_string(), "v".to_string())];
        assert!(viewed_events(&body, &rules(&paths, &add)).is_none());
        // A path deeper than one member is the general way's.
        let deep = id_time("$.actor.id", "$.published");
        assert!(viewed_events(&body, &rules(&deep, &[])).is_none());
    }

    #[test]
    fn general_paths_csv_gzip_and_content_ids() {
        let body = Body::decode(
            Bytes::from(r#"{"items":[{"kind":"x","n":1},{"kind":"y","n":2}]}"#),
            None,
        )
        .unwrap();
        let none = RecordPaths::default();
        let found = records(
            &body,
            &json_response(&["$.items[?@.kind == 'y']"]),
            &rules(&none, &[]),
        )
        .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id.as_str(), content_id(br#"{"kind":"y","n":2}"#));

        let csv = "id,time,name\n1,2026-03-02T09:00:00Z,\"a, b\"\n2,2026-03-02T09:01:00Z,c\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(csv.as_bytes()).unwrap();
        let body =
            Body::decode(Bytes::from(gz.finish().unwrap()), Some(Compression::Gzip)).unwrap();
        let response = Response {
            format: Format::Csv(CsvFormat {
                delimiter: b',',
                header: true,
                quote: b'"',
                boundary: false,
            }),
            ..json_response(&["$"])
        };
        let paths = id_time("$.id", "$.time");
        let rows = records(&body, &response, &rules(&paths, &[])).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            &rows[0].payload[..],
            br#"{"id":"1","name":"a, b","time":"2026-03-02T09:00:00Z"}"#
        );
        assert!(Body::decode(Bytes::from("not gzip"), Some(Compression::Gzip)).is_err());
    }

    #[test]
    fn add_on_attributes_are_spliced_and_missing_ids_are_errors() {
        let body = Body::decode(Bytes::from(r#"[{"a":1},{}]"#), None).unwrap();
        let none = RecordPaths::default();
        let add = [("DomainName".to_string(), "contoso".to_string())];
        let found = records(&body, &json_response(&["$"]), &rules(&none, &add)).unwrap();
        assert_eq!(&found[0].payload[..], br#"{"DomainName":"contoso","a":1}"#);
        assert_eq!(&found[1].payload[..], br#"{"DomainName":"contoso"}"#);
        let paths = id_time("$.uuid", "$.published");
        let error = records(&body, &json_response(&["$"]), &rules(&paths, &[])).unwrap_err();
        assert!(error.contains("has no id at $.uuid"), "{error}");
    }

    #[test]
    fn a_boundary_line_is_skipped() {
        assert_eq!(without_boundary("--b\na,b\n1,2\n--b\n"), "a,b\n1,2");
        assert_eq!(without_boundary("--b\n--b\n"), "");
    }
}
