//! How a Defender XDR source reaches its tenant: the Entra directory, the credential of the
//! app, Graph's address, where collection starts, page sizes, the overlap, and the limits
//! its budget keeps to.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Microsoft Graph's public origin.
pub const GRAPH_URL: &str = "https://graph.microsoft.com";

/// The scope of every Graph token: all the app's application permissions on Graph.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Where a stream's collection starts when it has no cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// At this time.
    Time(DateTime<Utc>),
    /// This long before the first collection.
    Ago(Duration),
}

impl StartAt {
    /// The start as a time, at `now`.
    pub fn at(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            StartAt::Time(t) => t,
            StartAt::Ago(ago) => {
                now - chrono::Duration::from_std(ago).unwrap_or(chrono::Duration::days(30))
            }
        }
    }
}

/// The throttling limits of one Graph API family for one app in one tenant, and the share
/// of them this source may use.
///
/// Graph sends no remaining-calls headers on these APIs, only `Retry-After` on a 429, so
/// the budget cannot learn what else uses the quota: the share leaves room for other
/// instances of the same app and for the budget's own rounding (its even spacing allows one
/// call more than its allowance in a window).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GraphLimits {
    /// Calls allowed per minute.
    pub per_minute: u32,
    /// Calls allowed per hour.
    pub per_hour: u32,
    /// Length of the provider's minute (60 s; shorter only against a time-compressed simulator).
    pub minute: Duration,
    /// Length of the provider's hour (3,600 s; shorter only against a time-compressed simulator).
    pub hour: Duration,
    /// Share of both limits this source may use, in (0, 1].
    pub share: f64,
}

impl GraphLimits {
    /// Incidents and alerts: 50 calls a minute and 1,500 an hour (the documented Defender
    /// XDR incident API limits; Graph publishes no number of its own), 90 % of them used.
    pub const SECURITY: GraphLimits = GraphLimits {
        per_minute: 50,
        per_hour: 1_500,
        minute: Duration::from_secs(60),
        hour: Duration::from_secs(3_600),
        share: 0.9,
    };

    /// Advanced hunting: 45 calls a minute and 1,500 an hour (the documented hunting API
    /// limits), 90 % of them used.
    pub const HUNTING: GraphLimits = GraphLimits {
        per_minute: 45,
        per_hour: 1_500,
        minute: Duration::from_secs(60),
        hour: Duration::from_secs(3_600),
        share: 0.9,
    };

    /// The same limits over windows `speed` times shorter, to match a time-compressed
    /// simulator.
    pub fn compressed(mut self, speed: f64) -> Self {
        if speed.is_finite() && speed > 0.0 {
            self.minute = self.minute.div_f64(speed).max(Duration::from_millis(1));
            self.hour = self.hour.div_f64(speed).max(Duration::from_millis(1));
        }
        self
    }

    /// Use `share` of the limits.
    pub fn share(mut self, share: f64) -> Self {
        self.share = share;
        self
    }
}

/// A Defender XDR source's configuration. Build it with [`DefenderConfig::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct DefenderConfig {
    /// The Entra directory (tenant) id, e.g. `2f2d7b4c-…`: names the budget's account and
    /// the messages.
    pub tenant_id: String,
    /// Name of the Entra app's credential in the credential store (a client secret or a
    /// certificate's private key, with the tenant's token URL).
    pub credential: String,
    /// Graph's origin (default [`GRAPH_URL`]).
    pub graph_url: String,
    /// Where streams without a cursor start (default 30 days back).
    pub start: StartAt,
    /// Incidents per page (`$top`, default 50: each carries its alerts).
    pub incidents_page: u32,
    /// Alerts per page (`$top`, default 200).
    pub alerts_page: u32,
    /// How far before the last sweep's watermark each sweep asks again (default 5 min):
    /// covers items Graph makes visible a little after their `lastUpdateDateTime`.
    pub overlap: Duration,
    /// Throttling limits of incidents and alerts.
    pub limits: GraphLimits,
    /// Timeout of each request (default: the platform client's).
    pub request_timeout: Option<Duration>,
}

impl DefenderConfig {
    /// A configuration for directory `tenant_id` reading credential `credential`, with the
    /// defaults.
    pub fn new(tenant_id: impl Into<String>, credential: impl Into<String>) -> Self {
        DefenderConfig {
            tenant_id: tenant_id.into(),
            credential: credential.into(),
            graph_url: GRAPH_URL.into(),
            start: StartAt::Ago(Duration::from_secs(30 * 24 * 3600)),
            incidents_page: 50,
            alerts_page: 200,
            overlap: Duration::from_secs(300),
            limits: GraphLimits::SECURITY,
            request_timeout: None,
        }
    }

    /// Call Graph at `url` (a simulator's, a national cloud's).
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.graph_url = url.into();
        self
    }

    /// Start streams without a cursor at `time`.
    pub fn start_at(mut self, time: DateTime<Utc>) -> Self {
        self.start = StartAt::Time(time);
        self
    }

    /// Start streams without a cursor `ago` before their first collection.
    pub fn start_ago(mut self, ago: Duration) -> Self {
        self.start = StartAt::Ago(ago);
        self
    }

    /// Page sizes of incidents and alerts.
    pub fn pages(mut self, incidents: u32, alerts: u32) -> Self {
        self.incidents_page = incidents;
        self.alerts_page = alerts;
        self
    }

    /// Ask again this far before each sweep's watermark.
    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self
    }

    /// Keep to these limits.
    pub fn limits(mut self, limits: GraphLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Give each request at most `timeout`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }
}

/// Why `limits` cannot be used, naming `what`.
pub(crate) fn limits_problem(what: &str, limits: &GraphLimits) -> Option<String> {
    if limits.per_minute == 0 || limits.per_hour == 0 {
        return Some(format!(
            "{what}: the limits must allow at least one call a minute and an hour"
        ));
    }
    if limits.minute.is_zero() || limits.hour.is_zero() {
        return Some(format!(
            "{what}: the limits' windows must be longer than zero"
        ));
    }
    if !(limits.share > 0.0 && limits.share <= 1.0) {
        return Some(format!(
            "{what}: the share of the limits ({}) must be in (0, 1]",
            limits.share
        ));
    }
    None
}
