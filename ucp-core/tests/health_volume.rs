//! Volume series are zero-filled over the requested range, per stream and per product.

use chrono::{DateTime, Duration, Utc};
use ucp_core::health::{
    BinSize, Component, VolumeError, VolumeQuery, VolumeRetention, VolumeSample, VolumeSeries,
    Volumes,
};

/// 2023-11-14 00:00:00 UTC, a day boundary.
fn day0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_699_920_000, 0).unwrap()
}

fn sample(at: Duration, stream: &str, product: Option<&str>, records: u64) -> VolumeSample {
    VolumeSample {
        time: day0() + at,
        component: Component {
            tenant: "contoso".into(),
            connector: "defender".into(),
            product: product.map(Into::into),
            stream: Some(stream.into()),
        },
        records,
        bytes: records * 100,
    }
}

fn records(series: &[VolumeSeries]) -> Vec<(String, Vec<u64>)> {
    series
        .iter()
        .map(|s| (s.label(), s.points.iter().map(|p| p.records).collect()))
        .collect()
}

fn named(pairs: &[(&str, &[u64])]) -> Vec<(String, Vec<u64>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect()
}

#[test]
fn minute_bins_are_zero_filled_per_stream() {
    let v = Volumes::default();
    let min = Duration::minutes;
    v.record(sample(min(0), "incidents", None, 10));
    v.record(sample(min(0) + Duration::seconds(59), "incidents", None, 1));
    v.record(sample(min(2), "incidents", None, 5));
    v.record(sample(min(2), "alerts", None, 3));
    v.record(sample(min(3), "alerts", Some("sentinel"), 3));

    let q = VolumeQuery::collected(
        "contoso",
        "defender",
        BinSize::Minute,
        day0(),
        day0() + min(5),
    )
    .expect_streams(["events", "alerts"]);
    let series = v.query(&q).unwrap();
    assert_eq!(
        records(&series),
        named(&[
            ("alerts", &[0, 0, 3, 0, 0]),
            ("events", &[0, 0, 0, 0, 0]),
            ("incidents", &[11, 0, 5, 0, 0]),
        ])
    );
    let starts: Vec<_> = series[0].points.iter().map(|p| p.start).collect();
    let want: Vec<_> = (0..5).map(|m| day0() + min(m)).collect();
    assert_eq!(starts, want);
    assert_eq!(series[2].points[0].bytes, 1_100);

    // What the product received is its own series.
    let delivered = v.query(&q.clone().delivered_to("sentinel")).unwrap();
    assert_eq!(
        records(&delivered),
        named(&[
            ("alerts → sentinel", &[0, 0, 0, 3, 0]),
            ("events → sentinel", &[0, 0, 0, 0, 0]),
        ])
    );
}

#[test]
fn day_and_hour_bins_show_quiet_days_as_zero() {
    let v = Volumes::default();
    v.record(sample(Duration::hours(1), "incidents", None, 100));
    v.record(sample(Duration::hours(23), "incidents", None, 20));
    v.record(sample(
        Duration::days(2) + Duration::hours(5),
        "incidents",
        None,
        50,
    ));

    // A range that starts mid-day still starts at that day's bin (like bin_at).
    let q = VolumeQuery::collected(
        "contoso",
        "defender",
        BinSize::Day,
        day0() + Duration::hours(12),
        day0() + Duration::days(4),
    );
    assert_eq!(
        records(&v.query(&q).unwrap()),
        named(&[("incidents", &[120, 0, 50, 0])])
    );

    let q = VolumeQuery::collected(
        "contoso",
        "defender",
        BinSize::Hour,
        day0(),
        day0() + Duration::minutes(150),
    );
    assert_eq!(
        records(&v.query(&q).unwrap()),
        named(&[("incidents", &[0, 100, 0])])
    );
}

#[test]
fn other_connectors_and_tenants_are_not_mixed_in() {
    let v = Volumes::default();
    let mut other = sample(Duration::zero(), "incidents", None, 7);
    other.component.tenant = "fabrikam".into();
    v.record(other);
    let mut graph = sample(Duration::zero(), "incidents", None, 9);
    graph.component.connector = "graph".into();
    v.record(graph);
    let q = VolumeQuery::collected(
        "contoso",
        "defender",
        BinSize::Minute,
        day0(),
        day0() + Duration::minutes(1),
    );
    assert!(v.query(&q).unwrap().is_empty());
}

#[test]
fn memory_is_bounded_by_retention() {
    let v = Volumes::new(VolumeRetention {
        minutes: Duration::minutes(10),
        hours: Duration::hours(2),
        days: Duration::days(1),
    });
    for m in 0..600 {
        v.record(sample(Duration::minutes(m), "incidents", None, 1));
    }
    // 11 minute bins (0..=10 back), 3 hour bins, 2 day bins at most.
    assert!(v.bins_held() <= 11 + 3 + 2, "held {}", v.bins_held());
    // Minutes beyond the horizon read as zero; recent ones are kept.
    let q = VolumeQuery::collected(
        "contoso",
        "defender",
        BinSize::Minute,
        day0() + Duration::minutes(585),
        day0() + Duration::minutes(600),
    );
    let got = &records(&v.query(&q).unwrap())[0].1;
    let mut want = vec![0; 4];
    want.extend([1; 11]);
    assert_eq!(got, &want);
}

#[test]
fn huge_ranges_are_refused_with_advice() {
    let v = Volumes::default();
    let q = VolumeQuery::collected(
        "contoso",
        "defender",
        BinSize::Minute,
        day0(),
        day0() + Duration::days(30),
    );
    let err = v.query(&q).unwrap_err();
    assert!(matches!(err, VolumeError::TooManyBins { .. }));
    assert!(err.to_string().contains("wider bin"));
    let empty = VolumeQuery { to: day0(), ..q };
    assert!(v.query(&empty).unwrap().is_empty());
}

#[test]
fn a_tenants_series_cover_every_stream_and_product_and_no_other_tenant() {
    let v = Volumes::default();
    let min = Duration::minutes;
    v.record(sample(min(0), "incidents", None, 4));
    v.record(sample(min(1), "incidents", Some("sentinel"), 4));
    v.record(sample(min(1), "alerts", None, 2));
    let mut other = sample(min(0), "incidents", None, 99);
    other.component.tenant = "fabrikam".into();
    v.record(other);

    let series = v
        .tenant_series("contoso", BinSize::Minute, day0(), day0() + min(3))
        .unwrap();
    assert_eq!(
        records(&series),
        named(&[
            ("alerts", &[0, 2, 0]),
            ("incidents", &[4, 0, 0]),
            ("incidents → sentinel", &[0, 4, 0]),
        ])
    );
    assert!(series.iter().all(|s| s.key.tenant == "contoso"));
    assert!(v
        .tenant_series("nobody", BinSize::Minute, day0(), day0() + min(3))
        .unwrap()
        .is_empty());
    assert!(matches!(
        v.tenant_series(
            "contoso",
            BinSize::Minute,
            day0(),
            day0() + Duration::days(30)
        ),
        Err(VolumeError::TooManyBins { .. })
    ));
}
