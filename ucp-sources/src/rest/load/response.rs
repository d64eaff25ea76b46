//! `response` (events, success status, compression, JSON or CSV) and `dcrConfig`.

use serde_json::Value;

use super::super::definition::*;
use super::super::fields::{kind, problem, Checked, Object};
use super::super::json_path::Path;

pub(super) fn response(object: &Object, warnings: &mut Vec<String>) -> Checked<Response> {
    let at = object.at("eventsJsonPaths");
    let events = match object.get("eventsJsonPaths") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(text) => {
                    Path::parse(text.trim()).map_err(|why| problem(format!("{at}[{i}]"), why))
                }
                other => Err(problem(
                    format!("{at}[{i}]"),
                    format!("must be a JSONPath string, not {}", kind(other)),
                )),
            })
            .collect::<Checked<Vec<Path>>>()?,
        Some(Value::Array(_)) => {
            return Err(problem(
                at,
                "must list at least one JSONPath ($ for the whole body)",
            ))
        }
        Some(other) => {
            return Err(problem(
                at,
                format!("must be an array of JSONPaths, not {}", kind(other)),
            ))
        }
        None => {
            return Err(problem(
                at,
                "is required (e.g. [\"$\"] when the body is the list of events)",
            ))
        }
    };
    let success = match (
        object.json_path("successStatusJsonPath")?,
        object.string("successStatusValue")?,
    ) {
        (Some(path), Some(value)) => Some((path, value)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(problem(
                object.at("successStatusValue"),
                "is required when successStatusJsonPath is set",
            ))
        }
        (None, Some(_)) => {
            return Err(problem(
                object.at("successStatusJsonPath"),
                "is required when successStatusValue is set",
            ))
        }
    };
    let algorithm = object.string("compressionAlgo")?;
    let compression = if object.boolean("isGzipCompressed", false)? || algorithm.is_some() {
        Some(match algorithm.map(|a| a.to_ascii_lowercase()).as_deref() {
            None | Some("gzip") => Compression::Gzip,
            Some("multi-gzip") => Compression::MultiGzip,
            Some("deflate") => Compression::Deflate,
            Some(other) => {
                return Err(problem(
                    object.at("compressionAlgo"),
                    format!("is '{other}': use gzip, multi-gzip or deflate"),
                ))
            }
        })
    } else {
        None
    };
    let one_char = |name: &str, default: u8| -> Checked<u8> {
        match object.string(name)? {
            None => Ok(default),
            Some(text) if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
            Some(text) if text == "\\t" => Ok(b'\t'),
            Some(_) => Err(problem(object.at(name), "must be one ASCII character")),
        }
    };
    let format = match object
        .string("format")?
        .map(|f| f.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv(CsvFormat {
            delimiter: one_char("csvDelimiter", b',')?,
            header: object.boolean("hasCsvHeader", true)?,
            quote: one_char("csvEscape", b'"')?,
            boundary: object.boolean("hasCsvBoundary", false)?,
        }),
        Some("xml") => {
            return Err(problem(
                object.at("format"),
                "xml is not supported by ucp's REST source: use json or csv",
            ))
        }
        Some(other) => {
            return Err(problem(
                object.at("format"),
                format!("is '{other}': use json or csv"),
            ))
        }
    };
    object.get("convertChildPropertiesToArray");
    object.unread(warnings);
    Ok(Response {
        events,
        success,
        compression,
        format,
    })
}

pub(super) fn dcr(object: &Object) -> Checked<DcrConfig> {
    let stream = object.required("streamName")?;
    if !stream.starts_with("Custom-") {
        return Err(problem(
            object.at("streamName"),
            format!("is '{stream}': a DCR stream name starts with Custom-"),
        ));
    }
    Ok(DcrConfig {
        endpoint: object.required("dataCollectionEndpoint")?,
        rule_id: object.required("dataCollectionRuleImmutableId")?,
        stream,
    })
}
