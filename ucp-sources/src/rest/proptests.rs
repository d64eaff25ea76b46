//! Every parser of the REST source, fuzzed: arbitrary input gives a value or an error,
//! never a panic. Pages of event-shaped items: the one-pass read takes a page only as the
//! general way reads it (same records: ids, times, bytes).

use bytes::Bytes;
use proptest::prelude::*;

use super::cursor::{RestCursor, Seen};
use super::definition::{Compression, CsvFormat, Format, RecordPaths, Response};
use super::json_path::{leaf_text, Path};
use super::request::relaxed_json;
use super::response::{parsed_events, records, viewed_events, Body, RecordRules};
use super::template::Template;
use super::time_format::{read_any, TimeFormat};

fn jsonish() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,120}",
        "[\\[\\]{}\":,a-z0-9 .$'\\\\-]{0,160}",
        Just(r#"{"a":{"b":[1,{"c":"d"}]},"e":null}"#.to_string()),
    ]
}

/// One item of a page: an event with an id and a time of several kinds, or something else.
fn item() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        "[a-z0-9]{1,8}".prop_map(|s| format!("\"{s}\"")),
        Just("\"\\u0041b\"".to_string()),
        Just("42".to_string()),
        Just("null".to_string()),
        Just("\"\"".to_string()),
        Just("{}".to_string()),
    ];
    let time = prop_oneof![
        Just("\"2024-01-01T00:00:00.000Z\"".to_string()),
        Just("\"2024-01-01T00:00:01+02:00\"".to_string()),
        Just("\"yesterday\"".to_string()),
        Just("1704067200".to_string()),
        Just("null".to_string()),
    ];
    let extra = prop_oneof![
        Just(String::new()),
        Just(r#","x":[1,{"y":"z"}]"#.to_string()),
        Just(r#","\u0075uid":"shadow""#.to_string()),
        Just(r#","uuid":"again""#.to_string()),
    ];
    prop_oneof![
        8 => (prop::option::of(id), prop::option::of(time), extra).prop_map(|(id, time, extra)| {
            let mut fields = vec![r#""n":1"#.to_string()];
            fields.extend(id.map(|id| format!(r#""uuid":{id}"#)));
            fields.extend(time.map(|time| format!(r#""published":{time}"#)));
            format!("{{{}{extra}}}", fields.join(","))
        }),
        1 => prop::sample::select(vec!["1", "\"s\"", "null", "[]"]).prop_map(String::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn the_one_pass_read_takes_a_page_only_as_the_general_way_reads_it(
        items in prop::collection::vec(item(), 0..6),
        with_paths in any::<bool>(),
    ) {
        let body = Body::decode(Bytes::from(format!("[{}]", items.join(" ,\n"))), None)
            .map_err(TestCaseError::fail)?;
        let paths = RecordPaths {
            id: with_paths.then(|| Path::parse("$.uuid").unwrap()),
            time: with_paths.then(|| Path::parse("$.published").unwrap()),
            time_format: None,
        };
        let now = chrono::DateTime::from_timestamp(1_772_442_307, 0).unwrap();
        let rules = RecordRules { paths: &paths, add_on: &[], now };
        if let Some(viewed) = viewed_events(&body, &rules) {
            let mut general = Vec::new();
            let read = parsed_events(&body, &Path::parse("$").unwrap(), &rules, &mut general);
            prop_assert_eq!(read, Ok(()));
            prop_assert_eq!(viewed, general);
        }
    }

    #[test]
    fn templates(text in ".{0,80}") {
        if let Ok(t) = Template::parse(&text) {
            let _ = t.render(|_| Ok(String::new()));
        }
    }

    #[test]
    fn time_formats(pattern in "[yMdHhmsfFtzK'T:.\\-/ Z%\\\\]{0,24}", text in ".{0,30}") {
        if let Ok(format) = TimeFormat::parse(&pattern) {
            let now = chrono::DateTime::from_timestamp(1_772_442_307, 0).unwrap();
            let _ = format.format(format.truncate(now));
            let _ = format.read(&text);
        }
        let _ = read_any(&text, false);
        let _ = read_any(&text, true);
    }

    #[test]
    fn json_paths_over_raw_text(path in "\\$[a-z.\\[\\]0-9'*?@=<> -]{0,20}", text in jsonish()) {
        if let Ok(path) = Path::parse(&path) {
            if let Ok(raw) = serde_json::from_str::<&serde_json::value::RawValue>(&text) {
                if let Ok(Some(node)) = path.first_raw(raw) {
                    let _ = leaf_text(node);
                }
            }
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                let _ = path.first(&value);
                let _ = path.select(&value);
            }
        }
    }

    #[test]
    fn cursors(text in jsonish(), seen in "[A-Za-z0-9+/]{0,64}") {
        let _ = RestCursor::decode(&text);
        let _ = Seen::decode(Some(&seen));
    }

    #[test]
    fn single_quoted_json(text in jsonish()) {
        let _ = relaxed_json(&text);
    }

    #[test]
    fn bodies(bytes in prop::collection::vec(any::<u8>(), 0..256), text in jsonish(), which in 0usize..4) {
        let paths = RecordPaths {
            id: Some(Path::parse("$.a").unwrap()),
            time: Some(Path::parse("$.e").unwrap()),
            time_format: None,
        };
        let rules = RecordRules { paths: &paths, add_on: &[("k".into(), "v".into())], now: chrono::Utc::now() };
        let (format, compression, events) = match which {
            0 => (Format::Json, None, "$"),
            1 => (Format::Json, Some(Compression::Deflate), "$.a.b"),
            2 => (Format::Csv(CsvFormat { delimiter: b';', header: true, quote: b'"', boundary: true }), Some(Compression::MultiGzip), "$"),
            _ => (Format::Json, Some(Compression::Gzip), "$..c"),
        };
        let response = Response { events: vec![Path::parse(events).unwrap()], success: None, compression, format };
        for input in [Bytes::from(bytes.clone()), Bytes::from(text.clone())] {
            if let Ok(body) = Body::decode(input.clone(), compression) {
                let _ = records(&body, &response, &rules);
            }
            if let Ok(body) = Body::decode(input, None) {
                let _ = records(&body, &Response { compression: None, ..response.clone() }, &rules);
            }
        }
    }
}
