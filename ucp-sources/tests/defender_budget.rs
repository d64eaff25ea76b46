//! The Defender XDR sources use most of Graph's per-minute and per-hour limits without a
//! 429: one tenant collected through the platform against the simulated Graph security API
//! over loopback, on tokio's paused clock, for 80 minutes of the tenant's time, at
//! Graph's real limits and the sources' default budgets (90 % of them). Collection asks for
//! more than Graph allows: a backlog of incidents and alerts in small pages, swept again
//! as soon as a sweep ends, and a day of hunting rows in one-minute windows, for several
//! products. The figures are the simulator's, counted per family as the calls arrived.

mod defender_support;

use std::sync::Arc;
use std::time::Duration;

use defender_support::{credential, ALL_ROLES, CLIENT_ID, CREDENTIAL, SECRET, TENANT};
use ucp_core::credentials::{CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::health::MemoryHealth;
use ucp_core::store::MemoryCheckpoints;
use ucp_core::{Clock, Platform, Subscription};
use ucp_sources::defender::{
    DefenderConfig, DefenderHuntingSource, DefenderSource, HuntingConfig, MdiAlertsSource, ALERTS,
    INCIDENTS,
};
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, Limits, PeakUse, TENANT_ID};
use ucp_testkit::RecordingSink;

const XDR: &str = "defender-contoso";
const MDI: &str = "mdi-contoso";
const HUNTING: &str = "defender-contoso-hunting";
const TABLES: [&str; 3] = ["DeviceProcessEvents", "IdentityLogonEvents", "EmailEvents"];

/// The share of a limit the budget must reach in its busiest window.
const MOST: f64 = 0.8;

/// Asserts `peak` of a family reaches [`MOST`] of `limits` in some minute and some hour,
/// and never goes above either.
fn assert_most_of(family: &str, (minute, hour): (u32, u32), limits: Limits, peak: &PeakUse) {
    let floor = |limit: u32| (f64::from(limit) * MOST).ceil() as u32;
    assert!(
        minute >= floor(limits.per_minute),
        "{family}: {minute} calls in the busiest minute, under 80 % of {} ({peak:?})",
        limits.per_minute
    );
    assert!(
        hour >= floor(limits.per_hour),
        "{family}: {hour} calls in the busiest hour, under 80 % of {} ({peak:?})",
        limits.per_hour
    );
    assert!(
        minute <= limits.per_minute && hour <= limits.per_hour,
        "{family}: over a limit ({peak:?})"
    );
}

#[tokio::test(start_paused = true)]
async fn collection_uses_most_of_both_windows_of_both_families_without_a_429() {
    let clock = Clock::new();
    // Graph's documented limits, in real time (the paused clock makes the hour cheap).
    let sim = GraphSimulator::start(
        GraphSimConfig::default()
            .clock(clock)
            .incidents(200)
            .alerts(800)
            // A row a minute per table, from a day back: 1,440 one-minute windows each.
            .hunting(60.0, Duration::from_secs(24 * 3600))
            .security_limits(Limits::SECURITY)
            .hunting_limits(Limits::HUNTING),
    )
    .await
    .unwrap();
    sim.register_app(CLIENT_ID, SECRET, ALL_ROLES);
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(
            CredentialRef::new(TENANT, CREDENTIAL),
            credential(&sim, SECRET),
        )
        .await
        .unwrap();

    // The sources' default limits (GraphLimits::SECURITY and ::HUNTING, 90 % share): small
    // pages, so a sweep of the backlog is 80 calls.
    let security = DefenderConfig::new(TENANT_ID, CREDENTIAL)
        .graph_url(sim.url())
        .pages(5, 20)
        .request_timeout(Duration::from_secs(30));
    let hunting = HuntingConfig::new(TENANT_ID, CREDENTIAL)
        .graph_url(sim.url())
        .start_at(sim.hunting_origin())
        .windows(Duration::from_secs(60), Duration::from_secs(300))
        .request_timeout(Duration::from_secs(30));
    let (sentinel, lake, identity) = (
        RecordingSink::new("sentinel"),
        RecordingSink::new("lake"),
        RecordingSink::new("identity"),
    );
    // Every stream is asked again a second after its round ends: far more than Graph allows.
    let every = Duration::from_secs(1);
    let mut builder = Platform::builder()
        .clock(clock)
        .credentials(credentials)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .max_jitter(Duration::ZERO)
        .tenant_source(
            TENANT,
            XDR,
            Arc::new(DefenderSource::new(security.clone()).unwrap()),
        )
        .tenant_source(
            TENANT,
            MDI,
            Arc::new(MdiAlertsSource::new(security).unwrap()),
        )
        .tenant_source(
            TENANT,
            HUNTING,
            Arc::new(DefenderHuntingSource::new(hunting).unwrap()),
        )
        .tenant_sink(TENANT, "sentinel", Arc::new(sentinel.clone()))
        .tenant_sink(TENANT, "lake", Arc::new(lake.clone()))
        .tenant_sink(TENANT, "identity", Arc::new(identity.clone()))
        .subscribe(Subscription::new("identity", MDI, ALERTS).every(every));
    for product in ["sentinel", "lake"] {
        for stream in [INCIDENTS, ALERTS] {
            builder = builder.subscribe(Subscription::new(product, XDR, stream).every(every));
        }
        for table in TABLES {
            builder = builder.subscribe(Subscription::new(product, HUNTING, table).every(every));
        }
    }
    let running = builder.build().unwrap().start().await.unwrap();

    // The hour window fills after about half an hour at the minute's pace; its first calls
    // age out from the 60th minute on, when the budget may hurry again.
    tokio::time::sleep(Duration::from_secs(80 * 60)).await;
    let stats = running.stats().await;
    running.shutdown().await.unwrap();

    let counts = sim.counts();
    let peak = sim.peak_use();
    println!("{peak:?} {counts:?}");
    assert_eq!(counts.throttled, 0, "{counts:?} {stats:?}");
    assert_eq!(counts.bad_requests + counts.forbidden, 0, "{counts:?}");
    // The figures below come from the simulator's sliding windows of the calls it answered.
    assert_most_of(
        "security",
        (peak.security_minute, peak.security_hour),
        Limits::SECURITY,
        &peak,
    );
    assert_most_of(
        "hunting",
        (peak.hunting_minute, peak.hunting_hour),
        Limits::HUNTING,
        &peak,
    );
    // The calls delivered data to every product.
    for sink in [&sentinel, &lake, &identity] {
        assert!(!sink.ids().is_empty());
    }
}
