//! The volume chart is well-formed SVG with one line per stream, a legend and labelled axes.

use chrono::{DateTime, Duration, Utc};
use ucp_core::health::{
    render_volume_svg, BinSize, Component, VolumeQuery, VolumeSample, VolumeSeries, Volumes,
};

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_699_920_000, 0).unwrap()
}

fn series() -> Vec<VolumeSeries> {
    let v = Volumes::default();
    let add = |hour: i64, stream: &str, records: u64| {
        v.record(VolumeSample {
            time: start() + Duration::hours(hour),
            component: Component {
                tenant: "contoso".into(),
                connector: "defender".into(),
                product: None,
                stream: Some(stream.into()),
            },
            records,
            bytes: records * 512,
        })
    };
    for h in 0..24 {
        add(h, "alerts", 40 + (h as u64 % 6) * 10);
        if h % 3 == 0 {
            add(h, "incidents", 120);
        }
    }
    let q = VolumeQuery::collected(
        "contoso",
        "defender",
        BinSize::Hour,
        start(),
        start() + Duration::hours(24),
    )
    .expect_streams(["events"]);
    v.query(&q).unwrap()
}

/// (x, y) pairs of a polyline's `points` attribute.
fn points(node: roxmltree::Node<'_, '_>) -> Vec<(f64, f64)> {
    node.attribute("points")
        .unwrap_or_default()
        .split_whitespace()
        .map(|pair| {
            let (x, y) = pair.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

#[test]
fn chart_is_well_formed_svg_with_a_line_per_stream() {
    let series = series();
    let svg = render_volume_svg(&series, "defender: records collected per hour").unwrap();
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("volume.svg"),
        &svg,
    )
    .unwrap();

    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("960"));

    // Data lines have one point per bin; legend samples have two.
    let lines: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(points)
        .filter(|p| p.len() == 24)
        .collect();
    assert_eq!(lines.len(), 3, "alerts, events, incidents");

    // Order follows the series: alerts, events (all zero), incidents.
    let [alerts, events, incidents] = &lines[..] else {
        unreachable!()
    };
    let baseline = events[0].1;
    assert!(events.iter().all(|p| p.1 == baseline), "zero line is flat");
    // Higher values sit higher on the chart (smaller y).
    assert!(incidents[0].1 < alerts[0].1 && alerts[0].1 < baseline);
    assert_eq!(incidents[1].1, baseline, "quiet hour drops to zero");
    // x advances monotonically.
    assert!(alerts.windows(2).all(|w| w[0].0 < w[1].0));

    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect();
    for want in [
        "defender: records collected per hour",
        "time (UTC)",
        "records per hour",
        "alerts",
        "events",
        "incidents",
        "11-14 00:00",
    ] {
        assert!(
            texts.iter().any(|t| t == want),
            "missing text {want:?} in {texts:?}"
        );
    }
}

#[test]
fn empty_and_hostile_titles_still_render() {
    let svg = render_volume_svg(&[], "a < b & \"c\"").unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("escaped title");
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some("a < b & \"c\"")));
}
