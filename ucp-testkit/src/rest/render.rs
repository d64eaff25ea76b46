//! Answers of the simulated REST API: JSON (an array, or an envelope with the paging facts of
//! its style) or CSV, gzipped when configured.

use std::io::Write;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::{RestApiConfig, SimEvent, SimFormat, SimPaging};

#[allow(clippy::too_many_arguments)]
pub(super) fn render(
    config: &RestApiConfig,
    status: &str,
    page: &[&SimEvent],
    matching: &[SimEvent],
    position: usize,
    size: usize,
    more: bool,
    next_url: Option<&str>,
    token: Option<&str>,
) -> Response {
    match &config.format {
        SimFormat::Csv { gzip, delimiter } => {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(*delimiter)
                .from_writer(Vec::new());
            let _ = writer.write_record([
                config.id_field.as_str(),
                config.time_field.as_str(),
                "actor",
                "action",
            ]);
            for e in page {
                let time = e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                let _ = writer.write_record([
                    e.id.as_str(),
                    time.as_str(),
                    e.actor.as_str(),
                    e.action.as_str(),
                ]);
            }
            let text = writer.into_inner().unwrap_or_default();
            if *gzip {
                (
                    [(header::CONTENT_TYPE, "application/gzip")],
                    gzip_bytes(&text),
                )
                    .into_response()
            } else {
                ([(header::CONTENT_TYPE, "text/csv")], text).into_response()
            }
        }
        SimFormat::Json { events_path, gzip } => {
            let items: Vec<Value> = page
                .iter()
                .map(|e| {
                    let mut m = Map::new();
                    m.insert(config.id_field.clone(), e.id.clone().into());
                    m.insert(
                        config.time_field.clone(),
                        e.time
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                            .into(),
                    );
                    m.insert("actor".into(), e.actor.clone().into());
                    m.insert("action".into(), e.action.clone().into());
                    Value::Object(m)
                })
                .collect();
            let body = if events_path.is_empty() {
                Value::Array(items)
            } else {
                let mut events = Value::Array(items);
                for key in events_path.iter().rev() {
                    events = json!({ key.clone(): events });
                }
                let mut object = events.as_object().cloned().unwrap_or_default();
                object.insert("status".into(), status.into());
                match &config.paging {
                    SimPaging::TokenInBody { .. } => {
                        object.insert(
                            "paging".into(),
                            json!({"nextPageToken": token, "hasMore": more}),
                        );
                    }
                    SimPaging::LinkInBody => {
                        object.insert("links".into(), json!({"next": next_url}));
                    }
                    SimPaging::NextUrlInBody => {
                        object.insert("next".into(), json!(next_url));
                    }
                    SimPaging::PageNumber { zero_based } => {
                        let pages = matching.len().div_ceil(size.max(1));
                        object.insert("total".into(), matching.len().into());
                        object.insert("pageCount".into(), pages.into());
                        object.insert("hasMore".into(), more.into());
                        object.insert(
                            "page".into(),
                            (position / size.max(1) + usize::from(!*zero_based)).into(),
                        );
                    }
                    _ => {}
                }
                Value::Object(object)
            };
            let text = body.to_string();
            if *gzip {
                (
                    [(header::CONTENT_TYPE, "application/gzip")],
                    gzip_bytes(text.as_bytes()),
                )
                    .into_response()
            } else {
                ([(header::CONTENT_TYPE, "application/json")], text).into_response()
            }
        }
    }
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}
