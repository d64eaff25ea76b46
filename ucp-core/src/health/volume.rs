//! Volume series: records and bytes per stream (and per product) per time bin.
//!
//! Each sample adds to one minute, one hour and one day bin, so any resolution is a lookup.
//! Queries return **zero-filled** bins over the requested range, the shape of a KQL
//! `range … | summarize by bin_at(…)` query: a quiet bin shows as 0, not as a gap.
//! Memory is bounded: each resolution keeps only bins within its horizon of the newest one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Component, VolumeSample};
use crate::sync::lock;

/// The width of a time bin. Bins are aligned to the Unix epoch (days start at 00:00 UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinSize {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day (UTC).
    Day,
}

impl BinSize {
    /// Width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            BinSize::Minute => 60,
            BinSize::Hour => 3_600,
            BinSize::Day => 86_400,
        }
    }

    /// Start (epoch seconds) of the bin holding `time`.
    fn floor_secs(self, time: DateTime<Utc>) -> i64 {
        time.timestamp().div_euclid(self.seconds()) * self.seconds()
    }

    /// Start of the bin holding `time`.
    pub fn floor(self, time: DateTime<Utc>) -> DateTime<Utc> {
        DateTime::from_timestamp(self.floor_secs(time), 0).unwrap_or(time)
    }
}

/// How far back each resolution is kept, measured from the newest bin of the same series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VolumeRetention {
    /// Minute bins (default 2 days).
    pub minutes: chrono::Duration,
    /// Hour bins (default 31 days).
    pub hours: chrono::Duration,
    /// Day bins (default 400 days).
    pub days: chrono::Duration,
}

impl Default for VolumeRetention {
    fn default() -> Self {
        VolumeRetention {
            minutes: chrono::Duration::days(2),
            hours: chrono::Duration::days(31),
            days: chrono::Duration::days(400),
        }
    }
}

/// Identifies a series: a stream's collection (`product: None`) or its delivery to a product.
pub type VolumeKey = Component;

/// One bin of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumePoint {
    /// Start of the bin.
    pub start: DateTime<Utc>,
    /// Records in the bin.
    pub records: u64,
    /// Payload bytes in the bin.
    pub bytes: u64,
}

/// A zero-filled series for one stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSeries {
    /// What the series counts.
    pub key: VolumeKey,
    /// Bin width.
    pub bin: BinSize,
    /// One point per bin over the requested range, oldest first, none missing.
    pub points: Vec<VolumePoint>,
}

impl VolumeSeries {
    /// A short label for a chart legend: the stream, and the product for deliveries.
    pub fn label(&self) -> String {
        let stream = self.key.stream.as_deref().unwrap_or("(all streams)");
        match &self.key.product {
            Some(product) => format!("{stream} → {product}"),
            None => stream.to_owned(),
        }
    }

    /// Total records over the series.
    pub fn total_records(&self) -> u64 {
        self.points.iter().map(|p| p.records).sum()
    }
}

/// Which series to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeQuery {
    /// Tenant.
    pub tenant: String,
    /// Connector.
    pub connector: String,
    /// `None`: what the connector collected per stream; `Some(p)`: what product `p` received.
    pub product: Option<String>,
    /// Streams to include even with no samples at all (they show as all zeros).
    pub streams: Vec<String>,
    /// Bin width.
    pub bin: BinSize,
    /// Range start; its bin is the first point.
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
}

impl VolumeQuery {
    /// What `connector` collected, per stream, in `bin`s over `[from, to)`.
    pub fn collected(
        tenant: impl Into<String>,
        connector: impl Into<String>,
        bin: BinSize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Self {
        VolumeQuery {
            tenant: tenant.into(),
            connector: connector.into(),
            product: None,
            streams: Vec::new(),
            bin,
            from,
            to,
        }
    }

    /// What `product` received from the connector instead.
    pub fn delivered_to(mut self, product: impl Into<String>) -> Self {
        self.product = Some(product.into());
        self
    }

    /// Include these streams even if they never reported.
    pub fn expect_streams<S: Into<String>>(mut self, streams: impl IntoIterator<Item = S>) -> Self {
        self.streams.extend(streams.into_iter().map(Into::into));
        self
    }
}

/// Why a volume query was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    /// The range holds more bins than one query may return.
    #[error("volume query for {connector} asks for {bins} bins (at most {max}); use a wider bin or a shorter range")]
    TooManyBins {
        /// Connector queried.
        connector: String,
        /// Bins asked for.
        bins: i64,
        /// The limit.
        max: i64,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    records: u64,
    bytes: u64,
}

/// Bins of one resolution, keyed by start (epoch seconds).
type Bins = BTreeMap<i64, Counts>;

#[derive(Debug, Default)]
struct Resolutions {
    minute: Bins,
    hour: Bins,
    day: Bins,
}

impl Resolutions {
    fn bins(&self, bin: BinSize) -> &Bins {
        match bin {
            BinSize::Minute => &self.minute,
            BinSize::Hour => &self.hour,
            BinSize::Day => &self.day,
        }
    }
}

/// Adds to the bin of `time`, then drops bins older than `horizon` before the newest.
fn add(bins: &mut Bins, bin: BinSize, horizon: chrono::Duration, sample: &VolumeSample) {
    let start = bin.floor_secs(sample.time);
    let counts = bins.entry(start).or_default();
    counts.records = counts.records.saturating_add(sample.records);
    counts.bytes = counts.bytes.saturating_add(sample.bytes);
    let Some((&newest, _)) = bins.last_key_value() else {
        return;
    };
    let oldest_kept = newest.saturating_sub(horizon.num_seconds());
    while let Some(entry) = bins.first_entry() {
        if *entry.key() >= oldest_kept {
            break;
        }
        entry.remove();
    }
}

/// The bins a query covers: `[from, to)` widened to whole bins.
struct BinRange {
    bin: BinSize,
    /// Start of the first bin (epoch seconds).
    first: i64,
    bins: i64,
    from: DateTime<Utc>,
}

impl BinRange {
    fn new(
        bin: BinSize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        asker: &str,
    ) -> Result<Self, VolumeError> {
        let width = bin.seconds();
        let first = bin.floor_secs(from);
        let end = to.timestamp();
        let bins = if end > first {
            (end - first + width - 1) / width
        } else {
            0
        };
        if bins > MAX_BINS {
            return Err(VolumeError::TooManyBins {
                connector: asker.to_owned(),
                bins,
                max: MAX_BINS,
            });
        }
        Ok(BinRange {
            bin,
            first,
            bins,
            from,
        })
    }

    /// One point per bin of the range, zero where `data` has none.
    fn series(&self, key: VolumeKey, data: Option<&Bins>) -> VolumeSeries {
        let width = self.bin.seconds();
        VolumeSeries {
            key,
            bin: self.bin,
            points: (0..self.bins)
                .map(|i| {
                    let start = self.first + i * width;
                    let c = data
                        .and_then(|d| d.get(&start))
                        .copied()
                        .unwrap_or_default();
                    VolumePoint {
                        start: DateTime::from_timestamp(start, 0).unwrap_or(self.from),
                        records: c.records,
                        bytes: c.bytes,
                    }
                })
                .collect(),
        }
    }
}

/// Volume series for every stream and product. Cheap to record into from the hot path.
#[derive(Debug, Default)]
pub struct Volumes {
    retention: VolumeRetention,
    series: Mutex<HashMap<VolumeKey, Resolutions>>,
    /// The time of the first sample: counts are whole from there on.
    since: std::sync::OnceLock<DateTime<Utc>>,
}

/// The most bins one query returns (a week of minutes).
const MAX_BINS: i64 = 7 * 24 * 60;

impl Volumes {
    /// Empty series with the given retention.
    pub fn new(retention: VolumeRetention) -> Self {
        Volumes {
            retention,
            series: Mutex::default(),
            since: std::sync::OnceLock::new(),
        }
    }

    /// Adds one sample to its minute, hour and day bins.
    pub fn record(&self, sample: VolumeSample) {
        let _ = self.since.get_or_init(|| sample.time);
        let r = self.retention;
        let apply = |res: &mut Resolutions, sample: &VolumeSample| {
            add(&mut res.minute, BinSize::Minute, r.minutes, sample);
            add(&mut res.hour, BinSize::Hour, r.hours, sample);
            add(&mut res.day, BinSize::Day, r.days, sample);
        };
        let mut series = lock(&self.series);
        // Look up by reference first so the common case allocates nothing.
        if let Some(res) = series.get_mut(&sample.component) {
            apply(res, &sample);
            return;
        }
        let res = series.entry(sample.component.clone()).or_default();
        apply(res, &sample);
    }

    /// The time of the first sample recorded (`None` before any): everything reported to
    /// these volumes since is counted, nothing before.
    pub fn counting_since(&self) -> Option<DateTime<Utc>> {
        self.since.get().copied()
    }

    /// How long each resolution is kept.
    pub fn retention(&self) -> VolumeRetention {
        self.retention
    }

    /// Zero-filled series, one per stream, ordered by stream name.
    pub fn query(&self, q: &VolumeQuery) -> Result<Vec<VolumeSeries>, VolumeError> {
        let range = BinRange::new(q.bin, q.from, q.to, &q.connector)?;
        let series = lock(&self.series);
        let mut found: BTreeMap<Option<String>, Option<&Bins>> =
            q.streams.iter().map(|s| (Some(s.clone()), None)).collect();
        for (key, res) in series.iter() {
            if key.tenant == q.tenant && key.connector == q.connector && key.product == q.product {
                found.insert(key.stream.clone(), Some(res.bins(q.bin)));
            }
        }
        Ok(found
            .into_iter()
            .map(|(stream, data)| {
                let key = Component {
                    tenant: q.tenant.clone(),
                    connector: q.connector.clone(),
                    product: q.product.clone(),
                    stream,
                };
                range.series(key, data)
            })
            .collect())
    }

    /// Zero-filled series of every stream and product of `tenant` that has reported, ordered
    /// by (connector, product, stream): what the tenant's volume records are made of.
    pub fn tenant_series(
        &self,
        tenant: &str,
        bin: BinSize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VolumeSeries>, VolumeError> {
        let range = BinRange::new(bin, from, to, tenant)?;
        let series = lock(&self.series);
        let mut keys: Vec<(&VolumeKey, &Resolutions)> = series
            .iter()
            .filter(|(key, _)| key.tenant == tenant)
            .collect();
        keys.sort_by(|(a, _), (b, _)| {
            (&a.connector, &a.product, &a.stream).cmp(&(&b.connector, &b.product, &b.stream))
        });
        Ok(keys
            .into_iter()
            .map(|(key, res)| range.series(key.clone(), Some(res.bins(bin))))
            .collect())
    }

    /// Number of bins held over all series and resolutions (to check memory stays bounded).
    pub fn bins_held(&self) -> usize {
        lock(&self.series)
            .values()
            .map(|r| r.minute.len() + r.hour.len() + r.day.len())
            .sum()
    }
}
