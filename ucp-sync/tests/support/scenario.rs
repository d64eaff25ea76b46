//! A seeded day of people's work on both sides: edits of every synchronized field, comments,
//! new alerts, merges, new incidents, pairs of concurrent edits of one field on both sides,
//! and injected 409s and 429s. The same seed gives the same day.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ucp_sync::twin_id;
use ucp_testkit::graph::{GraphSimulator, IncidentEdit, TENANT_ID};
use ucp_testkit::sentinel::{IncidentChange, SentinelSimulator};

const USERS: &[&str] = &[
    "ann@contoso.com",
    "bob@contoso.com",
    "chen@contoso.com",
    "dana@contoso.com",
];
const TAGS: &[&str] = &["vip", "finance", "ransomware", "phishing", "tier-2", "exec"];

/// One thing that happens.
#[derive(Clone, Debug)]
pub enum Event {
    /// A person's edit in the Defender portal of the `n`-th incident.
    Xdr(usize, IncidentEdit),
    /// A person's comment in the Defender portal.
    XdrComment(usize, String),
    /// A new alert in the `n`-th incident.
    Alert(usize),
    /// Defender merges incident `a` into `b`.
    Merge(usize, usize),
    /// A new incident with alerts.
    NewIncident(usize),
    /// A person's change in Sentinel of the `n`-th incident's twin.
    Sentinel(usize, IncidentChange),
    /// A person's comment in Sentinel.
    SentinelComment(usize, String),
    /// The next write of an incident in Sentinel meets a newer version.
    Conflict,
    /// The next Sentinel request is throttled.
    ThrottleSentinel(Duration),
    /// The next Graph request is throttled.
    ThrottleGraph(Duration),
}

/// A day of events, in time order, and what it holds.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    pub events: Vec<(Duration, Event)>,
    pub xdr_edits: usize,
    pub sentinel_edits: usize,
    pub concurrent: usize,
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

fn tags(rng: &mut StdRng) -> Vec<String> {
    let mut t: Vec<String> = (0..rng.random_range(0..3))
        .map(|_| pick(rng, TAGS).to_string())
        .collect();
    t.sort();
    t.dedup();
    t
}

fn xdr_edit(rng: &mut StdRng, n: usize) -> Event {
    let mut edit = IncidentEdit::default();
    match rng.random_range(0..8) {
        0 => edit.title = Some(format!("Incident renamed {}", rng.random_range(0..10_000))),
        1 => {
            edit.description = Some(format!(
                "Notes of the investigation, take {}",
                rng.random_range(0..10_000)
            ))
        }
        2 => edit.severity = Some(pick(rng, &["low", "medium", "high", "informational"]).into()),
        3 => edit.status = Some(pick(rng, &["active", "inProgress", "resolved"]).into()),
        4 => {
            let (c, d) = [
                ("truePositive", "malware"),
                ("truePositive", "phishing"),
                ("falsePositive", "notMalicious"),
                ("falsePositive", "notEnoughDataToValidate"),
                ("informationalExpectedActivity", "securityTesting"),
            ][rng.random_range(0..5)];
            edit.classification = Some(c.into());
            edit.determination = Some(d.into());
        }
        5 => edit.assigned_to = Some(Some(pick(rng, USERS).into())),
        6 => edit.custom_tags = Some(tags(rng)),
        _ => {
            return Event::XdrComment(
                n,
                format!(
                    "Checked the device timeline ({})",
                    rng.random_range(0..1_000_000)
                ),
            )
        }
    }
    Event::Xdr(n, edit)
}

fn sentinel_edit(rng: &mut StdRng, n: usize) -> Event {
    let mut change = IncidentChange::default();
    match rng.random_range(0..7) {
        0 => change.status = Some(pick(rng, &["New", "Active", "Closed"]).into()),
        1 => {
            let (c, r) = [
                ("TruePositive", Some("SuspiciousActivity")),
                ("BenignPositive", Some("SuspiciousButExpected")),
                ("FalsePositive", Some("IncorrectAlertLogic")),
                ("FalsePositive", Some("InaccurateData")),
                ("Undetermined", None),
            ][rng.random_range(0..5)];
            change.classification = Some((c.into(), r.map(str::to_string)));
        }
        2 => {
            change.owner = Some(if rng.random_bool(0.2) {
                None
            } else {
                Some(pick(rng, USERS).into())
            })
        }
        3 => change.labels = Some(tags(rng)),
        // One-way by necessity: put back, reported.
        4 => change.title = Some(format!("Sentinel title {}", rng.random_range(0..10_000))),
        _ => {
            return Event::SentinelComment(
                n,
                format!("Escalated to tier 2 ({})", rng.random_range(0..1_000_000)),
            )
        }
    }
    Event::Sentinel(n, change)
}

impl Scenario {
    /// `edits` edits on each side over `span`, on `incidents` incidents, from `seed`.
    pub fn generate(seed: u64, incidents: usize, edits: usize, span: Duration) -> Scenario {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut s = Scenario::default();
        let at =
            |rng: &mut StdRng| Duration::from_millis(rng.random_range(0..span.as_millis() as u64));
        // Concurrent edits of the same field: 10 % of each side's edits, in pairs.
        let pairs = edits / 10;
        for _ in 0..pairs {
            let n = rng.random_range(0..incidents);
            let t = at(&mut rng);
            let gap = Duration::from_secs(rng.random_range(1..20));
            let who = pick(&mut rng, USERS).to_string();
            let other = pick(&mut rng, USERS).to_string();
            let (x, y) = match rng.random_range(0..3) {
                0 => (
                    Event::Xdr(
                        n,
                        IncidentEdit {
                            assigned_to: Some(Some(who)),
                            ..IncidentEdit::default()
                        },
                    ),
                    Event::Sentinel(
                        n,
                        IncidentChange {
                            owner: Some(Some(other)),
                            ..IncidentChange::default()
                        },
                    ),
                ),
                1 => (
                    Event::Xdr(
                        n,
                        IncidentEdit {
                            custom_tags: Some(tags(&mut rng)),
                            ..IncidentEdit::default()
                        },
                    ),
                    Event::Sentinel(
                        n,
                        IncidentChange {
                            labels: Some(tags(&mut rng)),
                            ..IncidentChange::default()
                        },
                    ),
                ),
                _ => (
                    Event::Xdr(
                        n,
                        IncidentEdit {
                            status: Some("resolved".into()),
                            classification: Some("truePositive".into()),
                            determination: Some("malware".into()),
                            ..IncidentEdit::default()
                        },
                    ),
                    Event::Sentinel(
                        n,
                        IncidentChange {
                            status: Some("Active".into()),
                            ..IncidentChange::default()
                        },
                    ),
                ),
            };
            if rng.random_bool(0.5) {
                s.events.push((t, x));
                s.events.push((t + gap, y));
            } else {
                s.events.push((t, y));
                s.events.push((t + gap, x));
            }
            s.concurrent += 1;
        }
        for _ in 0..edits - pairs {
            let n = rng.random_range(0..incidents);
            let event = match rng.random_range(0..20) {
                0 => Event::Alert(n),
                1 => Event::Merge(n, rng.random_range(0..incidents)),
                2 => Event::NewIncident(rng.random_range(1..4)),
                _ => xdr_edit(&mut rng, n),
            };
            s.events.push((at(&mut rng), event));
        }
        for _ in 0..edits - pairs {
            let n = rng.random_range(0..incidents);
            s.events.push((at(&mut rng), sentinel_edit(&mut rng, n)));
        }
        for _ in 0..20 {
            s.events.push((at(&mut rng), Event::Conflict));
            s.events.push((
                at(&mut rng),
                Event::ThrottleSentinel(Duration::from_secs(rng.random_range(1..5))),
            ));
            s.events.push((
                at(&mut rng),
                Event::ThrottleGraph(Duration::from_secs(rng.random_range(1..5))),
            ));
        }
        s.xdr_edits = edits;
        s.sentinel_edits = edits;
        s.events.sort_by_key(|(t, _)| *t);
        s
    }

    /// Scale every time by `factor` (a day in seconds for real-time runs).
    pub fn compressed(mut self, factor: f64) -> Scenario {
        for (t, _) in &mut self.events {
            *t = t.div_f64(factor);
        }
        self
    }
}

/// Apply `event` to the simulators; `ids` are the XDR incidents' ids at the start, in order.
/// `throttle_graph` throttles Graph's next request (the test's fault layer). False when it
/// could not happen (a merged incident, a twin not made yet).
pub fn apply(
    event: &Event,
    graph: &GraphSimulator,
    sentinel: &SentinelSimulator,
    ids: &[String],
    throttle_graph: &dyn Fn(Duration),
) -> bool {
    let merged = |n: usize| {
        graph
            .incident(&ids[n])
            .is_some_and(|i| i["status"] == "redirected")
    };
    match event {
        Event::Xdr(n, edit) if !merged(*n) => {
            graph.edit_incident(&ids[*n], "ann@contoso.com", edit.clone())
        }
        Event::XdrComment(n, text) => graph.comment_on_incident(&ids[*n], "dana@contoso.com", text),
        Event::Alert(n) if !merged(*n) => graph.add_alert(&ids[*n]).is_some(),
        Event::Merge(a, b) => graph.merge(&ids[*a], &ids[*b]),
        Event::NewIncident(alerts) => {
            graph.open_incident(*alerts);
            true
        }
        Event::Sentinel(n, change) => sentinel.edit_incident(
            &twin_id(TENANT_ID, &ids[*n]),
            "bob@contoso.com",
            change.clone(),
        ),
        Event::SentinelComment(n, text) => sentinel
            .comment_on_incident(&twin_id(TENANT_ID, &ids[*n]), "chen@contoso.com", text)
            .is_some(),
        Event::Conflict => {
            sentinel.conflict_next(1);
            true
        }
        Event::ThrottleSentinel(wait) => {
            sentinel.throttle_next(*wait);
            true
        }
        Event::ThrottleGraph(wait) => {
            throttle_graph(*wait);
            true
        }
        _ => false,
    }
}
