//! The three products and what they subscribe to: each one's event filter, its collection
//! interval, and its sink (the product's ingestion endpoint, or NDJSON files with
//! `--output files`). Where the endpoints are and how they authenticate is `endpoints.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ucp::credentials::token::TokenProvider;
use ucp::sinks::eventhubs::{EventHubsAuth, EventHubsConfig, EventHubsSink};
use ucp::sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp::sinks::{FileSink, FileSinkConfig};
use ucp::*;

use crate::demo_time::DemoTime;
use crate::endpoints::{Targets, ENTRA_CREDENTIAL, HUBS_CREDENTIAL};

/// One product's subscription to the System Log, and its sink.
pub struct Product {
    /// The product, also its sink's name.
    pub name: &'static str,
    /// Its filter in words, for the printout.
    pub rule: &'static str,
    /// The events it wants; `None` for all of them.
    pub filter: Option<Filter>,
    /// How often it wants new events (real time).
    pub every: Duration,
    /// Where its events go.
    pub sink: ProductSink,
}

/// One product's sink; the handle shares the sink's counters.
#[derive(Clone)]
pub enum ProductSink {
    /// NDJSON files (`--output files`).
    File(FileSink),
    /// Sentinel's Logs Ingestion API, into a DCR stream.
    Sentinel { sink: SentinelSink, stream: String },
    /// An event hub (MDI's or XSPM's).
    Hub {
        sink: EventHubsSink,
        hub: String,
        /// How it authenticates, for the summary.
        auth: &'static str,
    },
}

impl ProductSink {
    /// The sink, for the platform.
    pub fn shared(&self) -> Arc<dyn Sink> {
        match self {
            ProductSink::File(s) => Arc::new(s.clone()),
            ProductSink::Sentinel { sink, .. } => Arc::new(sink.clone()),
            ProductSink::Hub { sink, .. } => Arc::new(sink.clone()),
        }
    }

    /// Where it delivers, for the start of the demo.
    pub fn target(&self) -> String {
        match self {
            ProductSink::File(_) => "NDJSON files".into(),
            ProductSink::Sentinel { stream, .. } => format!("Logs Ingestion, DCR stream {stream}"),
            ProductSink::Hub { hub, auth, .. } => format!("Event Hubs, hub {hub} ({auth})"),
        }
    }
}

/// The sinks of sentinel, mdi and xspm, in that order.
pub type Sinks = [ProductSink; 3];

/// NDJSON files per product under `out`.
pub fn file_sinks(out: &Path, time: DemoTime) -> Result<Sinks, Box<dyn std::error::Error>> {
    let sink = |name: &str| {
        FileSink::open(
            FileSinkConfig::new(name, out)
                // One file per 10 demo minutes, or per 16 MiB.
                .max_age(time.real(Duration::from_secs(600)))
                .max_bytes(16 * 1024 * 1024),
        )
        .map(ProductSink::File)
    };
    Ok([sink("sentinel")?, sink("mdi")?, sink("xspm")?])
}

/// The product sinks: Sentinel through the Logs Ingestion API (gzip), MDI through its event
/// hub with SAS, XSPM through its event hub with an Entra token; tokens from the platform's
/// one provider.
pub fn endpoint_sinks(
    to: &Targets,
    tokens: &Arc<TokenProvider>,
) -> Result<Sinks, Box<dyn std::error::Error>> {
    let sentinel = SentinelConfig {
        gzip: true,
        ..SentinelConfig::new(&to.dce_url, &to.dcr_id, &to.stream, ENTRA_CREDENTIAL)
    };
    let mdi = EventHubsConfig::new(
        "mdi",
        &to.namespace_url,
        &to.mdi_hub,
        EventHubsAuth::SharedAccessKey {
            credential: HUBS_CREDENTIAL.into(),
        },
    )
    .partition_key("/actor/id");
    let xspm = EventHubsConfig::new(
        "xspm",
        &to.namespace_url,
        &to.xspm_hub,
        EventHubsAuth::Entra {
            credential: ENTRA_CREDENTIAL.into(),
        },
    );
    Ok([
        ProductSink::Sentinel {
            sink: SentinelSink::new(sentinel, tokens.clone()),
            stream: to.stream.clone(),
        },
        ProductSink::Hub {
            sink: EventHubsSink::new(mdi, tokens.clone()),
            hub: to.mdi_hub.clone(),
            auth: "SAS",
        },
        ProductSink::Hub {
            sink: EventHubsSink::new(xspm, tokens.clone()),
            hub: to.xspm_hub.clone(),
            auth: "Entra token",
        },
    ])
}

/// The three subscriptions: Sentinel takes everything, MDI sign-ins and sessions, XSPM
/// account, group and application changes (every 10 demo minutes).
pub fn products(time: DemoTime, sinks: Sinks) -> Vec<Product> {
    let prefix = |p: &str| Filter::starts_with("/eventType", p);
    let [sentinel, mdi, xspm] = sinks;
    vec![
        Product {
            name: "sentinel",
            rule: "everything",
            filter: None,
            every: time.real(Duration::from_secs(300)),
            sink: sentinel,
        },
        Product {
            name: "mdi",
            rule: "user.authentication*, user.session*",
            filter: Some(prefix("user.authentication").or(prefix("user.session"))),
            every: time.real(Duration::from_secs(300)),
            sink: mdi,
        },
        Product {
            name: "xspm",
            rule: "user.account*, group.*, application.*",
            filter: Some(
                prefix("user.account")
                    .or(prefix("group."))
                    .or(prefix("application.")),
            ),
            every: time.real(Duration::from_secs(600)),
            sink: xspm,
        },
    ]
}
