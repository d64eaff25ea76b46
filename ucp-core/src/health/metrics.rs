//! Prometheus metrics in the text exposition format, named after Vector's instrumentation
//! spec (`ucp_component_received_events_total`, `ucp_component_errors_total{error_type,stage}`).
//!
//! Component labels are `tenant`, `connector`, `product` and `stream`; a missing product or
//! stream is an empty label, which Prometheus treats as absent.

use std::fmt;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{Component, Status};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    tenant: String,
    connector: String,
    product: String,
    stream: String,
}

impl From<&Component> for ComponentLabels {
    fn from(c: &Component) -> Self {
        ComponentLabels {
            tenant: c.tenant.clone(),
            connector: c.connector.clone(),
            product: c.product.clone().unwrap_or_default(),
            stream: c.stream.clone().unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    #[prometheus(flatten)]
    component: ComponentLabels,
    error_type: String,
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    #[prometheus(flatten)]
    component: ComponentLabels,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BudgetLabels {
    budget: String,
}

/// The platform's Prometheus metrics. All methods are cheap and take `&self`.
pub struct Metrics {
    registry: Registry,
    received_events: Family<ComponentLabels, Counter>,
    received_bytes: Family<ComponentLabels, Counter>,
    sent_events: Family<ComponentLabels, Counter>,
    sent_bytes: Family<ComponentLabels, Counter>,
    dropped_events: Family<ComponentLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    queue_depth: Family<ComponentLabels, Gauge>,
    budget_remaining: Family<BudgetLabels, Gauge>,
    status: Family<StatusLabels, Gauge>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered (and none reported yet).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            registry: Registry::default(),
            received_events: Family::default(),
            received_bytes: Family::default(),
            sent_events: Family::default(),
            sent_bytes: Family::default(),
            dropped_events: Family::default(),
            errors: Family::default(),
            queue_depth: Family::default(),
            budget_remaining: Family::default(),
            status: Family::default(),
        };
        // Counters get the `_total` suffix from the encoder.
        registry.register(
            "ucp_component_received_events",
            "Records collected from the provider",
            m.received_events.clone(),
        );
        registry.register(
            "ucp_component_received_event_bytes",
            "Payload bytes collected from the provider",
            m.received_bytes.clone(),
        );
        registry.register(
            "ucp_component_sent_events",
            "Records delivered to the product",
            m.sent_events.clone(),
        );
        registry.register(
            "ucp_component_sent_event_bytes",
            "Payload bytes delivered to the product",
            m.sent_bytes.clone(),
        );
        registry.register(
            "ucp_component_dropped_events",
            "Records dropped by a queue policy or dead-lettered",
            m.dropped_events.clone(),
        );
        registry.register(
            "ucp_component_errors",
            "Errors by type and stage",
            m.errors.clone(),
        );
        registry.register(
            "ucp_queue_depth",
            "Batches waiting in a subscription's queue",
            m.queue_depth.clone(),
        );
        registry.register(
            "ucp_budget_remaining",
            "Calls left in a provider account's rate budget",
            m.budget_remaining.clone(),
        );
        registry.register(
            "ucp_component_status",
            "1 for the component's current status, 0 for the others",
            m.status.clone(),
        );
        Metrics { registry, ..m }
    }

    /// `events` records of `bytes` bytes collected for `component`.
    pub fn received(&self, component: &Component, events: u64, bytes: u64) {
        let labels = ComponentLabels::from(component);
        self.received_events.get_or_create(&labels).inc_by(events);
        self.received_bytes.get_or_create(&labels).inc_by(bytes);
    }

    /// `events` records of `bytes` bytes delivered for `component` (a product subscription).
    pub fn sent(&self, component: &Component, events: u64, bytes: u64) {
        let labels = ComponentLabels::from(component);
        self.sent_events.get_or_create(&labels).inc_by(events);
        self.sent_bytes.get_or_create(&labels).inc_by(bytes);
    }

    /// `events` records dropped (queue policy) or dead-lettered for `component`.
    pub fn dropped(&self, component: &Component, events: u64) {
        self.dropped_events
            .get_or_create(&component.into())
            .inc_by(events);
    }

    /// One error of `error_type` (e.g. `rate_limited`, `auth`) at `stage` (e.g. `collect`,
    /// `deliver`).
    pub fn error(&self, component: &Component, error_type: &str, stage: &str) {
        let labels = ErrorLabels {
            component: component.into(),
            error_type: error_type.to_owned(),
            stage: stage.to_owned(),
        };
        self.errors.get_or_create(&labels).inc();
    }

    /// Batches now waiting in `component`'s queue.
    pub fn queue_depth(&self, component: &Component, depth: usize) {
        let depth = i64::try_from(depth).unwrap_or(i64::MAX);
        self.queue_depth.get_or_create(&component.into()).set(depth);
    }

    /// Calls left in the budget `key` (e.g. `okta:contoso.okta.com`).
    pub fn budget_remaining(&self, key: &str, remaining: u64) {
        let labels = BudgetLabels {
            budget: key.to_owned(),
        };
        let remaining = i64::try_from(remaining).unwrap_or(i64::MAX);
        self.budget_remaining.get_or_create(&labels).set(remaining);
    }

    /// `component` is now in `status` (one-hot over every status).
    pub fn status(&self, component: &Component, status: Status) {
        let component = ComponentLabels::from(component);
        for s in Status::ALL {
            let labels = StatusLabels {
                component: component.clone(),
                status: s.as_str().to_owned(),
            };
            self.status
                .get_or_create(&labels)
                .set(i64::from(s == status));
        }
    }

    /// The text exposition (OpenMetrics format, which Prometheus scrapes).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Writing into a String cannot fail; log rather than panic if it ever does.
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn okta(product: Option<&str>) -> Component {
        Component {
            tenant: "contoso".into(),
            connector: "okta".into(),
            product: product.map(Into::into),
            stream: Some("system_log".into()),
        }
    }

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn exposition_has_counters_gauges_and_one_hot_status() {
        let m = Metrics::new();
        m.received(&okta(None), 100, 5_000);
        m.received(&okta(None), 20, 1_000);
        m.sent(&okta(Some("sentinel")), 90, 4_000);
        m.dropped(&okta(Some("mdi")), 3);
        m.error(&okta(None), "rate_limited", "collect");
        m.error(&okta(None), "rate_limited", "collect");
        m.queue_depth(&okta(Some("sentinel")), 7);
        m.budget_remaining("okta:contoso.okta.com", 42);
        m.status(&okta(None), Status::Ok);
        m.status(&okta(None), Status::Warning);
        let text = m.encode();

        let c = r#"tenant="contoso",connector="okta""#;
        assert_eq!(
            line(&text, "ucp_component_received_events_total{"),
            Some(format!(r#"ucp_component_received_events_total{{{c},product="",stream="system_log"}} 120"#).as_str())
        );
        assert!(text.contains(&format!(
            r#"ucp_component_received_event_bytes_total{{{c},product="",stream="system_log"}} 6000"#
        )));
        assert!(text.contains(&format!(
            r#"ucp_component_sent_events_total{{{c},product="sentinel",stream="system_log"}} 90"#
        )));
        assert!(text.contains(&format!(
            r#"ucp_component_dropped_events_total{{{c},product="mdi",stream="system_log"}} 3"#
        )));
        assert!(text.contains(&format!(
            r#"ucp_component_errors_total{{{c},product="",stream="system_log",error_type="rate_limited",stage="collect"}} 2"#
        )));
        assert!(text.contains(&format!(
            r#"ucp_queue_depth{{{c},product="sentinel",stream="system_log"}} 7"#
        )));
        assert!(text.contains(r#"ucp_budget_remaining{budget="okta:contoso.okta.com"} 42"#));
        assert!(text.contains("# TYPE ucp_component_received_events counter"));
        assert!(text.contains("# TYPE ucp_component_status gauge"));
        for (status, value) in [("Ok", 0), ("Warning", 1), ("Error", 0), ("Starting", 0)] {
            let want = format!(
                r#"ucp_component_status{{{c},product="",stream="system_log",status="{status}"}} {value}"#
            );
            assert!(text.contains(&want), "missing {want} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        let mut c = okta(None);
        c.connector = "we\"ird\nname".into();
        m.dropped(&c, 1);
        assert!(m.encode().contains(r#"connector="we\"ird\nname""#));
    }
}
