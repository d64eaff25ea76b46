//! A connector's status timeline over its page's window: a bar of periods (decoration, for a
//! quick look) above the same periods in words.

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::layout::time;
use super::status::Shown;
use crate::manager::StatusTimeline;

/// The bar's drawing width: periods are placed in thousandths of the window.
const WIDTH: i64 = 1000;

/// How long, for people: `3 h 05 min`, `12 min`, `40 s`.
fn span(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

/// The timeline's bar and periods.
pub(crate) fn render(timeline: &StatusTimeline) -> Markup {
    let (periods, since, now) = (&timeline.periods, timeline.since, timeline.until);
    if periods.is_empty() {
        return html! { p { "No status was reported in this window." } };
    }
    let total = (now - since).num_seconds().max(1);
    let x_of = |t: DateTime<Utc>| {
        ((t - since).num_seconds().clamp(0, total)).saturating_mul(WIDTH) / total
    };
    html! {
        svg class="timeline" viewBox={ "0 0 " (WIDTH) " 10" } preserveAspectRatio="none" aria-hidden="true" focusable="false" {
            rect class="tl-empty" x="0" y="0" width=(WIDTH) height="10" {}
            @for p in periods {
                @let from = x_of(p.from);
                @let to = x_of(p.to.unwrap_or(now));
                @let shown = Shown::of_health(Some(&p.status));
                rect class={ "tl-" (shown.key()) } x=(from) y="0" width=((to - from).max(1)) height="10" {}
            }
        }
        p class="timeline-ends" aria-hidden="true" { span { (time(since)) } span { "now" } }
        ol class="periods" {
            @for p in periods.iter().rev() {
                @let shown = Shown::of_health(Some(&p.status));
                li {
                    (shown.badge()) " from " (time(p.from))
                    @match p.to {
                        Some(to) => { " to " (time(to)) " (" (span((to - p.from).num_seconds())) ")" }
                        None => { " until now (" (span((now - p.from).num_seconds())) ")" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(40), "40 s");
        assert_eq!(span(12 * 60 + 5), "12 min");
        assert_eq!(span(3 * 3600 + 5 * 60), "3 h 05 min");
        assert_eq!(span(-5), "0 s");
    }
}
