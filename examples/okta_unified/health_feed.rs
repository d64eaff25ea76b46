//! `--health-to sentinel`: the platform's health as a stream Sentinel subscribes to, like
//! the System Log. A health source for the tenant offers `health_events` (every status
//! transition, once); a second Sentinel sink sends it to the DCR stream
//! `Custom-UcpHealth_CL` with its documented columns; the summary shows the rows the table
//! holds.

use std::sync::Arc;
use std::time::Duration;

use ucp::credentials::token::TokenProvider;
use ucp::health::HealthService;
use ucp::health_source::{HealthSource, HEALTH_EVENTS};
use ucp::sinks::sentinel::health::HEALTH_EVENTS_DCR;
use ucp::sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp::*;

use crate::demo_time::DemoTime;
use crate::endpoints::{Endpoints, Targets, ENTRA_CREDENTIAL};
use crate::TENANT;

/// The health source's connector name.
pub const HEALTH_CONNECTOR: &str = "ucp-health";
/// The product that receives the health stream.
pub const HEALTH_PRODUCT: &str = "sentinel-health";

/// The health stream's source, sink and subscription.
pub struct HealthFeed {
    source: HealthSource,
    sink: SentinelSink,
    stream: String,
    every: Duration,
}

impl HealthFeed {
    /// The feed of `health`'s rows into Sentinel's health DCR stream, every demo minute; the
    /// inventory comes from the platform being built.
    pub fn new(
        health: Arc<HealthService>,
        inventory: PlatformInventory,
        to: &Targets,
        tokens: &Arc<TokenProvider>,
        time: DemoTime,
    ) -> Self {
        let mut config =
            SentinelConfig::new(&to.dce_url, &to.dcr_id, &to.health_stream, ENTRA_CREDENTIAL);
        config.product = HEALTH_PRODUCT.into();
        config.mapping = HEALTH_EVENTS_DCR.mapping();
        config.gzip = true;
        HealthFeed {
            source: HealthSource::new(TENANT, health).with_inventory(Arc::new(inventory)),
            sink: SentinelSink::new(config, tokens.clone()),
            stream: to.health_stream.clone(),
            every: time.real(Duration::from_secs(60)),
        }
    }

    /// Registers the source, the sink and the subscription (durable when `durable`).
    pub fn register(&self, builder: PlatformBuilder, durable: bool) -> PlatformBuilder {
        let mut subscription =
            Subscription::new(HEALTH_PRODUCT, HEALTH_CONNECTOR, HEALTH_EVENTS).every(self.every);
        if durable {
            subscription = subscription.durable(64 << 20);
        }
        builder
            .tenant_source(TENANT, HEALTH_CONNECTOR, Arc::new(self.source.clone()))
            .tenant_sink(TENANT, HEALTH_PRODUCT, Arc::new(self.sink.clone()))
            .subscribe(subscription)
    }

    /// One line for the setup.
    pub fn describe(&self) -> String {
        format!(
            "subscribe {HEALTH_PRODUCT} to {HEALTH_CONNECTOR}/{HEALTH_EVENTS} every demo minute -> Logs Ingestion, DCR stream {}",
            self.stream
        )
    }

    /// What Sentinel holds of the health stream: its rows (from the emulator) against the
    /// health table's.
    pub async fn summary(
        &self,
        health: &HealthService,
        endpoints: &Endpoints,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let in_table = health.table().read_after(TENANT, 0, 100_000).await?.rows;
        let rows = match endpoints {
            Endpoints::Emulated(e) => e.logs.rows(&endpoints.targets().dcr_id, &self.stream),
            Endpoints::Real(_) => {
                println!(
                    "\nhealth in Sentinel (DCR stream {}): {} rows accepted of the {} transitions in the health table",
                    self.stream,
                    self.sink.stats().rows_accepted,
                    in_table.len()
                );
                return Ok(());
            }
        };
        let pending = match in_table.len().saturating_sub(rows.len()) {
            0 => String::new(),
            n => format!("; {n} newer ones go at the next collection"),
        };
        println!(
            "\nhealth in Sentinel (DCR stream {}, emulated): {} rows, one per transition, of the {} in the health table{pending}",
            self.stream,
            rows.len(),
            in_table.len()
        );
        println!(
            "  {:<8} {:>16}  {:<20} {:<16} {:<10} {:<18} message",
            "time", "sequence", "connector", "product", "kind", "status"
        );
        for row in &rows {
            let text = |column: &str| row[column].as_str().unwrap_or("-").to_string();
            let time = text("TimeGenerated");
            let message = text("Message");
            println!(
                "  {:<8} {:>16}  {:<20} {:<16} {:<10} {:<18} {}",
                time.get(11..19).unwrap_or(&time),
                row["Sequence"],
                text("Connector"),
                text("Product"),
                text("Kind"),
                format!("{} <- {}", text("Status"), text("PreviousStatus")),
                shorten(&message, 90)
            );
        }
        Ok(())
    }
}

/// At most `max` characters of `text`, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
