//! What each product ended up holding, for the summary: rows in the DCR stream's table or
//! messages per hub as the emulators counted them (for real endpoints, as the sinks counted
//! the answers), with the calls each endpoint received; or the NDJSON files written.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::endpoints::Endpoints;
use crate::products::{Product, ProductSink};

/// Where one product's records landed.
pub enum Landed {
    /// NDJSON files, complete.
    Files(Vec<PathBuf>),
    /// A product endpoint: how many rows or messages it holds, where, and its calls.
    Endpoint {
        count: u64,
        unit: &'static str,
        place: String,
        calls: String,
        emulated: bool,
    },
}

/// What one product endpoint holds (counted by the emulator; for a real one, as the sink
/// counted its answers), or the product's files.
pub async fn landed_at(
    p: &Product,
    endpoints: Option<&Endpoints>,
) -> Result<Landed, Box<dyn std::error::Error>> {
    let emulated = match endpoints {
        Some(Endpoints::Emulated(e)) => Some(e),
        _ => None,
    };
    Ok(match (&p.sink, emulated) {
        (ProductSink::File(sink), _) => {
            sink.close().await?;
            Landed::Files(sink.completed_files()?)
        }
        (ProductSink::Sentinel { sink, stream }, Some(e)) => {
            let dcr = endpoints.map(|e| e.targets().dcr_id).unwrap_or_default();
            let splits = match sink.stats().splits {
                0 => String::new(),
                n => format!(", {n} split after 413"),
            };
            Landed::Endpoint {
                count: e.logs.rows(&dcr, stream).len() as u64,
                unit: "rows",
                place: format!("Logs Ingestion, DCR stream {stream} (gzip{splits})"),
                calls: by_status(e.logs.calls().iter().map(|c| c.status)),
                emulated: true,
            }
        }
        (ProductSink::Hub { hub, auth, .. }, Some(e)) => {
            let messages = e.hubs.messages(hub);
            let keys: HashSet<_> = messages
                .iter()
                .filter_map(|m| m.partition_key.as_deref())
                .collect();
            let keys = match keys.len() {
                0 => String::new(),
                n => format!(", {n} partition keys"),
            };
            let calls = e.hubs.calls();
            Landed::Endpoint {
                count: messages.len() as u64,
                unit: "messages",
                place: format!("Event Hubs, hub {hub} ({auth}{keys})"),
                calls: by_status(calls.iter().filter(|c| &c.hub == hub).map(|c| c.status)),
                emulated: true,
            }
        }
        (ProductSink::Sentinel { sink, stream }, None) => {
            let stats = sink.stats();
            Landed::Endpoint {
                count: stats.rows_accepted,
                unit: "rows",
                place: format!("Logs Ingestion, DCR stream {stream} (gzip)"),
                calls: format!("{} calls", stats.calls),
                emulated: false,
            }
        }
        (ProductSink::Hub { sink, hub, auth }, None) => {
            let stats = sink.stats();
            Landed::Endpoint {
                count: stats.messages_accepted,
                unit: "messages",
                place: format!("Event Hubs, hub {hub} ({auth})"),
                calls: format!("{} calls", stats.calls),
                emulated: false,
            }
        }
    })
}

/// `14 calls (204 ×14)`, `16 calls (204 ×14, 429 ×2)`, `no calls`.
fn by_status(statuses: impl Iterator<Item = u16>) -> String {
    let mut counts = std::collections::BTreeMap::<u16, u64>::new();
    for status in statuses {
        *counts.entry(status).or_default() += 1;
    }
    let total: u64 = counts.values().sum();
    if total == 0 {
        return "no calls".into();
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{s} ×{n}")).collect();
    format!("{total} calls ({})", parts.join(", "))
}

/// The files in one column: the one file, or how many and the first and last.
pub fn files_line(files: &[PathBuf]) -> String {
    match files {
        [] => "no file written".to_string(),
        [one] => one.display().to_string(),
        [first, .., last] => format!(
            "{} files: {} .. {}",
            files.len(),
            first.display(),
            last.file_name().map_or("".into(), |n| n.to_string_lossy())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_per_status() {
        assert_eq!(
            by_status([204, 429, 204].into_iter()),
            "3 calls (204 ×2, 429 ×1)"
        );
        assert_eq!(by_status(std::iter::empty()), "no calls");
    }
}
