//! A connector's status as people see it: its health (OK, Warning, Error, …) while it runs,
//! or its lifecycle state (Paused, Disconnected, Superseded) when stopped; shown as a badge with a
//! symbol and a word, so colour is never the only sign.

use maud::{html, Markup};

use crate::model::InstanceState;
use crate::views::ConnectorView;

/// What a badge says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Shown {
    /// Working.
    Ok,
    /// Registered, nothing reported yet.
    Starting,
    /// No health report at all (the server keeps no health table, or nothing happened).
    NoReport,
    /// Stopped by the platform (shutdown, unsubscribe).
    Stopped,
    /// Paused by a person.
    Paused,
    /// Disconnected by an Owner.
    Disconnected,
    /// Stopped because another connector collects the same data.
    Superseded,
    /// Working with a problem to watch.
    Warning,
    /// Not working until a person acts.
    Error,
}

impl Shown {
    /// Every status, in the order a filter lists them.
    pub(crate) const ALL: [Shown; 9] = [
        Shown::Ok,
        Shown::Warning,
        Shown::Error,
        Shown::Starting,
        Shown::Paused,
        Shown::Disconnected,
        Shown::Superseded,
        Shown::Stopped,
        Shown::NoReport,
    ];

    /// A health status as the manager words it (`Ok`, `Warning`, …).
    pub(crate) fn of_health(status: Option<&str>) -> Shown {
        match status {
            Some("Ok") => Shown::Ok,
            Some("Warning") => Shown::Warning,
            Some("Error") => Shown::Error,
            Some("Starting") => Shown::Starting,
            Some("Stopped") => Shown::Stopped,
            _ => Shown::NoReport,
        }
    }

    /// A connector's: its state when stopped, else its health.
    pub(crate) fn of(view: &ConnectorView) -> Shown {
        match view.state {
            InstanceState::Paused => Shown::Paused,
            InstanceState::Disconnected => Shown::Disconnected,
            InstanceState::Superseded => Shown::Superseded,
            InstanceState::Active => Shown::of_health(view.status.as_deref()),
        }
    }

    /// The word.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Shown::Ok => "OK",
            Shown::Warning => "Warning",
            Shown::Error => "Error",
            Shown::Starting => "Starting",
            Shown::Paused => "Paused",
            Shown::Disconnected => "Disconnected",
            Shown::Superseded => "Superseded",
            Shown::Stopped => "Stopped",
            Shown::NoReport => "No report",
        }
    }

    /// Its name in a URL.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Shown::Ok => "ok",
            Shown::Warning => "warning",
            Shown::Error => "error",
            Shown::Starting => "starting",
            Shown::Paused => "paused",
            Shown::Disconnected => "disconnected",
            Shown::Superseded => "superseded",
            Shown::Stopped => "stopped",
            Shown::NoReport => "none",
        }
    }

    /// The status called `key`, if any.
    pub(crate) fn parse(key: &str) -> Option<Shown> {
        Shown::ALL.into_iter().find(|s| s.key() == key)
    }

    /// A symbol beside the word, for a quick look.
    fn symbol(self) -> &'static str {
        match self {
            Shown::Ok => "✓",
            Shown::Warning => "!",
            Shown::Error => "✕",
            Shown::Starting => "…",
            Shown::Paused => "‖",
            Shown::Disconnected | Shown::Stopped => "■",
            Shown::Superseded => "↷",
            Shown::NoReport => "–",
        }
    }

    /// How much it needs a person: sorting by status puts the worst first.
    pub(crate) fn urgency(self) -> u8 {
        match self {
            Shown::Error => 0,
            Shown::Warning => 1,
            Shown::Starting => 2,
            Shown::NoReport => 3,
            Shown::Stopped => 4,
            Shown::Paused => 5,
            Shown::Disconnected => 6,
            Shown::Superseded => 7,
            Shown::Ok => 8,
        }
    }

    /// The badge.
    pub(crate) fn badge(self) -> Markup {
        html! {
            span class={ "badge badge-" (self.key()) } {
                span class="badge-symbol" aria-hidden="true" { (self.symbol()) }
                " " (self.label())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_word_and_key() {
        let labels: std::collections::BTreeSet<_> = Shown::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(labels.len(), Shown::ALL.len());
        for s in Shown::ALL {
            assert_eq!(Shown::parse(s.key()), Some(s));
        }
        assert_eq!(Shown::of_health(Some("Ok")), Shown::Ok);
        assert_eq!(Shown::of_health(None), Shown::NoReport);
        assert!(Shown::Error.urgency() < Shown::Ok.urgency());
    }
}
