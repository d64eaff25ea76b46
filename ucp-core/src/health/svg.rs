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
    let starts = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.start.timestamp()));
    let x_min = starts.clone().min().unwrap_or(0);
    // At least one bin wide, so a single point still has an axis.
    let x_max = starts.max().unwrap_or(0).max(x_min + bin.seconds());
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.records))
        .max()
        .unwrap_or(0);
    // Headroom above the highest point; at least 1 so an all-zero chart has a scale.
    let y_top = (y_max + y_max / 10).max(1);

    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x_min..x_max, 0u64..y_top)?;
    let time_format = match bin {
        BinSize::Minute | BinSize::Hour => "%m-%d %H:%M",
        BinSize::Day => "%Y-%m-%d",
    };
    let x_label = |x: &i64| {
        DateTime::<Utc>::from_timestamp(*x, 0)
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
        let color = Palette99::pick(i).to_rgba();
        let points = s.points.iter().map(|p| (p.start.timestamp(), p.records));
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
