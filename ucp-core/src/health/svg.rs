//! `render_volume_svg`: an SVG line chart of volume series, one line per stream.
//!
//! Drawn with `plotters` and only its SVG backend: text is written as SVG `<text>` elements
//! that the viewer renders, so no font library (fontconfig, freetype) is needed to build or
//! run. plotters only estimates label widths for layout, which is enough for axis labels.

use chrono::{DateTime, Utc};
use plotters::prelude::*;

use super::volume::{BinSize, VolumeSeries};

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing the volume chart {title:?} failed: {reason}")]
pub struct RenderError {
    title: String,
    reason: String,
}

const SIZE: (u32, u32) = (960, 480);

/// Line colours, distinct and readable on white.
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// An SVG line chart of `series` (records per bin over time), one line per series, with a
/// legend, a title and labelled axes. All series should share one bin width and range, as
/// [`Volumes::query`](super::Volumes::query) returns them.
pub fn render_volume_svg(series: &[VolumeSeries], title: &str) -> Result<String, RenderError> {
    let mut svg = String::new();
    draw(&mut svg, series, title).map_err(|e| RenderError {
        title: title.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(svg)
}

fn draw(
    svg: &mut String,
    series: &[VolumeSeries],
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let bin = series.first().map_or(BinSize::Hour, |s| s.bin);
    let width = bin.seconds();
    // x is the bin number from the first bin, so ticks fall on bin boundaries.
    let origin = series
        .iter()
        .filter_map(|s| s.points.first())
        .map(|p| p.start.timestamp())
        .min()
        .unwrap_or(0);
    let x_of = move |start: DateTime<Utc>| (start.timestamp() - origin) / width;
    let last = series
        .iter()
        .filter_map(|s| s.points.last())
        .map(|p| x_of(p.start))
        .max()
        .unwrap_or(0);
    // At least one bin wide, so a single point still has an axis.
    let x_max = last.max(1);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.records))
        .max()
        .unwrap_or(0);
    // Headroom above the highest point for the legend (about 6% per entry); at least 1 so an
    // all-zero chart has a scale.
    let headroom = 10 + 6 * series.len().min(8) as u64;
    let y_top = (y_max + y_max * headroom / 100).max(1);

    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0..x_max, 0u64..y_top)?;
    let time_format = match bin {
        BinSize::Minute | BinSize::Hour => "%m-%d %H:%M",
        BinSize::Day => "%Y-%m-%d",
    };
    let x_label = |x: &i64| {
        DateTime::<Utc>::from_timestamp(origin + x * width, 0)
            .map(|t| t.format(time_format).to_string())
            .unwrap_or_default()
    };
    let unit = match bin {
        BinSize::Minute => "minute",
        BinSize::Hour => "hour",
        BinSize::Day => "day",
    };
    chart
        .configure_mesh()
        .x_desc("time (UTC)")
        .y_desc(format!("records per {unit}"))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&x_label)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points = s.points.iter().map(|p| (x_of(p.start), p.records));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(s.label())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
