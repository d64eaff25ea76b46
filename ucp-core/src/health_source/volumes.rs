//! The `volumes` stream: one record per minute per series of the tenant — what each stream
//! collected, and what each product received of it — zero-filled, complete minutes only.
//!
//! A minute goes out once it is over by the grace (samples are stamped when the engine
//! reports them, a moment after the fact). The cursor is the start of the last minute
//! emitted; each record's id names the series and the minute. A new stream starts with the
//! minute of the first sample the health service counted. The counts live in memory
//! ([`Volumes`]): after a restart, the minutes between the saved cursor and the first whole
//! minute counted by this process (and minutes older than the minute retention) are not
//! known, so they are skipped — said once as a Warning of this stream, never sent as zeros.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::position::{path_segment, SecondCursor};
use super::self_report::SelfReport;
use super::VOLUMES;
use crate::health::{BinSize, VolumeKey, VolumePoint, Volumes};
use crate::record::{Cursor, Record};
use crate::source::{Page, SourceContext, SourceError};

const MINUTE: i64 = 60;

/// Emits the tenant's minute bins for one health source.
pub(super) struct VolumesReader {
    grace: Duration,
    page_records: usize,
}

impl VolumesReader {
    pub(super) fn new(grace: Duration, page_records: usize) -> Self {
        VolumesReader {
            grace,
            page_records: page_records.max(1),
        }
    }

    pub(super) async fn collect(
        &self,
        cx: &SourceContext,
        volumes: &Volumes,
        reports: &SelfReport,
        cursor: &Cursor,
    ) -> Result<Page, SourceError> {
        let last = SecondCursor::parse(cursor, VOLUMES)?;
        let unchanged = Page {
            next: cursor.clone(),
            ..Page::default()
        };
        let Some(since) = volumes.counting_since().map(|t| t.timestamp()) else {
            return Ok(unchanged); // nothing counted yet
        };
        let now = cx.clock().now_utc().timestamp();
        let retained = volumes.retention().minutes.num_seconds().max(0);
        let horizon = ceil_minute(now.saturating_sub(retained));
        let wanted = last.map(|m| floor_minute(m).saturating_add(MINUTE));
        // A new stream starts with the first minute counted; a resumed one with the first
        // minute this process counted whole (an earlier process counted the one before).
        let known_from = match wanted {
            None => floor_minute(since),
            Some(_) => ceil_minute(since),
        }
        .max(horizon);
        let from = wanted.unwrap_or(known_from).max(known_from);
        match wanted {
            Some(wanted) if wanted < from => {
                let message = format!(
                    "{}/{VOLUMES}: the volume counts of tenant '{}' for the minutes from {} to {} were not kept (they live in memory, for {:?}: a restart or a long pause loses them); they are skipped, not sent as zeros, and the stream continues at {}. What to do: nothing for the past; collect {VOLUMES} at least as often as the minute retention",
                    cx.instance(),
                    cx.tenant(),
                    time(wanted),
                    time(from),
                    volumes.retention().minutes,
                    time(from),
                );
                reports.lost(cx, VOLUMES, message).await;
            }
            Some(_) => reports.whole(cx, VOLUMES).await,
            None => {}
        }
        let grace = i64::try_from(self.grace.as_secs()).unwrap_or(i64::MAX);
        // Minutes starting before `end` are over by the grace.
        let end = floor_minute(now.saturating_sub(grace));
        if from >= end {
            return Ok(unchanged);
        }
        let series = bins(volumes, cx.tenant(), from, from.saturating_add(MINUTE))?.len();
        let minutes = i64::try_from(self.page_records / series.max(1))
            .unwrap_or(i64::MAX)
            .clamp(1, 24 * 60);
        let to = end.min(from.saturating_add(minutes.saturating_mul(MINUTE)));
        let mut records = Vec::new();
        for series in bins(volumes, cx.tenant(), from, to)? {
            for point in &series.points {
                records.push(record(cx.tenant(), &series.key, point));
            }
        }
        Ok(Page {
            records,
            next: SecondCursor::at(to.saturating_sub(MINUTE)),
            more: to < end,
            hint: None,
        })
    }
}

fn bins(
    volumes: &Volumes,
    tenant: &str,
    from: i64,
    to: i64,
) -> Result<Vec<crate::health::VolumeSeries>, SourceError> {
    volumes
        .tenant_series(tenant, BinSize::Minute, time(from), time(to))
        .map_err(|e| SourceError::Permanent {
            message: e.to_string(),
        })
}

fn floor_minute(secs: i64) -> i64 {
    secs.div_euclid(MINUTE) * MINUTE
}

fn ceil_minute(secs: i64) -> i64 {
    floor_minute(secs.saturating_add(MINUTE - 1))
}

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// One bin's record: id `<tenant>/volumes/<connector>/<stream>/<product>/<minute>` (`-` for
/// no stream or no product), time the minute's start.
fn record(tenant: &str, key: &VolumeKey, point: &VolumePoint) -> Record {
    let segment = |name: &Option<String>| name.as_deref().map_or("-".into(), path_segment);
    let id = format!(
        "{}/volumes/{}/{}/{}/{}",
        path_segment(tenant),
        path_segment(&key.connector),
        segment(&key.stream),
        segment(&key.product),
        point.start.timestamp()
    );
    let payload = serde_json::json!({
        "time": point.start,
        "bin_seconds": MINUTE,
        "tenant": key.tenant,
        "connector": key.connector,
        "stream": key.stream,
        "product": key.product,
        "direction": if key.product.is_some() { "delivered" } else { "collected" },
        "records": point.records,
        "bytes": point.bytes,
    });
    Record::new(id, point.start, payload.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_round_both_ways_including_before_1970() {
        assert_eq!(floor_minute(119), 60);
        assert_eq!(ceil_minute(61), 120);
        assert_eq!(ceil_minute(120), 120);
        assert_eq!(floor_minute(-1), -60);
        assert_eq!(ceil_minute(i64::MAX), floor_minute(i64::MAX));
    }
}
