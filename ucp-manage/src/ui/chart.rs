//! Volume charts of a connector's page: one chart of what it collected (a line per stream)
//! and one of what its products received (a line per product and stream), zero-filled over
//! the window, drawn by ucp-core's SVG renderer and each followed by its numbers as a table
//! (the chart's text alternative).

use maud::{html, Markup, PreEscaped};
use ucp_core::health::{render_volume_svg, BinSize, VolumeSeries};

use crate::manager::{ConnectorVolumes, Window};

/// The renderer's drawing size (see `ucp_core::health::render_volume_svg`).
const VIEW_BOX: &str = "0 0 960 480";

fn bin_word(bin: BinSize) -> &'static str {
    match bin {
        BinSize::Minute => "minute",
        BinSize::Hour => "hour",
        BinSize::Day => "day",
    }
}

fn window_words(window: Window) -> &'static str {
    match window {
        Window::Hour => "the last hour",
        Window::Day => "the last day",
        Window::Week => "the last week",
    }
}

/// The renderer's SVG made to scale with the page and read as one image: a `viewBox`, and
/// `role="img"` with a label.
fn scalable(svg: &str, label: &str) -> String {
    let label = label
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    match svg.find("<svg") {
        Some(at) => {
            let (head, tail) = svg.split_at(at + 4);
            format!(
                "{head} viewBox=\"{VIEW_BOX}\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{label}\" focusable=\"false\"{tail}"
            )
        }
        None => String::new(),
    }
}

/// One chart with its table; `id` names both.
fn chart(id: &str, title: &str, series: &[VolumeSeries], window: Window) -> Markup {
    let totals: Vec<(String, u64, u64)> = series
        .iter()
        .map(|s| {
            let peak = s.points.iter().map(|p| p.records).max().unwrap_or(0);
            (s.label(), s.total_records(), peak)
        })
        .collect();
    let bin = series.first().map_or(window.bin(), |s| s.bin);
    let label = format!(
        "{title} over {}, records per {}: {}",
        window_words(window),
        bin_word(bin),
        if totals.is_empty() {
            "no series".to_string()
        } else {
            totals
                .iter()
                .map(|(l, total, _)| format!("{l} {total} in all"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let svg = match render_volume_svg(series, title) {
        Ok(svg) => scalable(&svg, &label),
        Err(e) => {
            tracing::warn!(error = %e, "volume chart not drawn");
            String::new()
        }
    };
    html! {
        figure class="chart" id=(id) aria-labelledby={ (id) "-caption" } {
            figcaption id={ (id) "-caption" } { (title) " — " (window_words(window)) ", per " (bin_word(bin)) }
            @if svg.is_empty() {
                p class="problem" { "The chart could not be drawn; the numbers are below." }
            } @else {
                (PreEscaped(svg))
            }
            div class="scroll" {
                table class="chart-data" {
                    caption { "Numbers of the chart “" (title) "”" }
                    thead { tr {
                        th scope="col" { "Series" }
                        th scope="col" class="number" { "Records in all" }
                        th scope="col" class="number" { "Most in one " (bin_word(bin)) }
                    } }
                    tbody {
                        @for (l, total, peak) in &totals {
                            tr { th scope="row" { (l) } td class="number total" { (total) } td class="number" { (peak) } }
                        }
                    }
                }
            }
        }
    }
}

/// The connector's charts over its window.
pub(crate) fn charts(volumes: &ConnectorVolumes) -> Markup {
    html! {
        (chart("chart-collected", "Records collected, per stream", &volumes.collected, volumes.window))
        @if volumes.delivered.is_empty() {
            p { "It feeds no product, so nothing is delivered." }
        } @else {
            (chart("chart-delivered", "Records delivered, per product", &volumes.delivered, volumes.window))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_scales_and_reads_as_one_labelled_image() {
        let svg = r#"<svg width="960" height="480" xmlns="http://www.w3.org/2000/svg"><text>x</text></svg>"#;
        let out = scalable(svg, "Records \"collected\" <1>");
        assert!(out.starts_with(r#"<svg viewBox="0 0 960 480""#), "{out}");
        assert!(
            out.contains(r#"aria-label="Records &quot;collected&quot; &lt;1>""#),
            "{out}"
        );
        assert!(out.contains(r#"role="img""#));
        assert_eq!(scalable("not svg", "x"), "");
    }
}
