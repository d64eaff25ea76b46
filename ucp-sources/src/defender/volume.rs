//! The connector page's volume chart: one line each for incidents, alerts and events, the
//! events line being the sum over the enabled hunting tables.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ucp_core::health::{BinSize, VolumePoint, VolumeSeries};

use super::hunting::table;
use super::source::{ALERTS, INCIDENTS};

/// The events line's name.
pub const EVENTS: &str = "events";

/// The three lines of the chart, from the collection series of the connector's sources
/// (as [`Volumes::query`](ucp_core::health::Volumes::query) returns them, one range and bin
/// for all): `incidents`, `alerts`, and `events` adding up every hunting table's series,
/// named after `connector`. Series of other streams are left out.
pub fn xdr_volume_lines(connector: &str, series: &[VolumeSeries]) -> Vec<VolumeSeries> {
    let bin = series.first().map_or(BinSize::Hour, |s| s.bin);
    let tenant = series
        .first()
        .map(|s| s.key.tenant.clone())
        .unwrap_or_default();
    let line = |name: &str, keep: &dyn Fn(&str) -> bool| {
        let mut bins: BTreeMap<DateTime<Utc>, (u64, u64)> = BTreeMap::new();
        for s in series {
            let stream = s.key.stream.as_deref().unwrap_or_default();
            for p in &s.points {
                let entry = bins.entry(p.start).or_default();
                if keep(stream) {
                    entry.0 = entry.0.saturating_add(p.records);
                    entry.1 = entry.1.saturating_add(p.bytes);
                }
            }
        }
        let mut key =
            series
                .first()
                .map(|s| s.key.clone())
                .unwrap_or(ucp_core::health::Component {
                    tenant: tenant.clone(),
                    connector: connector.to_string(),
                    product: None,
                    stream: None,
                });
        key.connector = connector.to_string();
        key.product = None;
        key.stream = Some(name.to_string());
        VolumeSeries {
            key,
            bin,
            points: bins
                .into_iter()
                .map(|(start, (records, bytes))| VolumePoint {
                    start,
                    records,
                    bytes,
                })
                .collect(),
        }
    };
    vec![
        line(INCIDENTS, &|s| s == INCIDENTS),
        line(ALERTS, &|s| s == ALERTS),
        line(EVENTS, &|s| table(s).is_some()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucp_core::health::Component;

    fn series(connector: &str, stream: &str, counts: &[u64]) -> VolumeSeries {
        let t0 = DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")
            .unwrap()
            .to_utc();
        VolumeSeries {
            key: Component {
                tenant: "contoso".into(),
                connector: connector.into(),
                product: None,
                stream: Some(stream.into()),
            },
            bin: BinSize::Hour,
            points: counts
                .iter()
                .enumerate()
                .map(|(i, n)| VolumePoint {
                    start: t0 + chrono::Duration::hours(i as i64),
                    records: *n,
                    bytes: n * 10,
                })
                .collect(),
        }
    }

    #[test]
    fn events_add_up_the_tables_and_other_streams_stay_apart() {
        let lines = xdr_volume_lines(
            "defender-contoso",
            &[
                series("defender-contoso", "incidents", &[1, 0, 2]),
                series("defender-contoso", "alerts", &[5, 1, 0]),
                series("defender-contoso-hunting", "DeviceEvents", &[10, 20, 30]),
                series("defender-contoso-hunting", "EmailEvents", &[1, 2, 3]),
                series("defender-contoso", "something_else", &[100, 100, 100]),
            ],
        );
        let names: Vec<_> = lines.iter().map(|l| l.label()).collect();
        assert_eq!(names, ["incidents", "alerts", "events"]);
        let records = |l: &VolumeSeries| l.points.iter().map(|p| p.records).collect::<Vec<_>>();
        assert_eq!(records(&lines[0]), [1, 0, 2]);
        assert_eq!(records(&lines[1]), [5, 1, 0]);
        assert_eq!(records(&lines[2]), [11, 22, 33]);
        assert_eq!(lines[2].points[1].bytes, 220);
        assert!(lines.iter().all(|l| l.key.connector == "defender-contoso"));
    }
}
