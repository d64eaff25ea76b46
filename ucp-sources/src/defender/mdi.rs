//! [`MdiAlertsSource`]: the Microsoft Defender for Identity alerts component connector, the
//! kind of connector Defender XDR supersedes: `alerts_v2` filtered on
//! `serviceSource eq 'microsoftDefenderForIdentity'`.
//!
//! It reads the same list as [`DefenderSource`](super::DefenderSource)'s `alerts` stream, in
//! the same sweeps, with the same record ids (`<id>@<lastUpdateDateTime>`) and on the same
//! budget (the tenant's Graph security quota is one, whichever connector calls): so when
//! both are connected, a product receiving both gets the same records, and superseding the
//! component (disconnecting it while XDR is connected) loses nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Url;
use ucp_core::{
    CollectRequest, Cursor, Page, Source, SourceCapabilities, SourceContext, SourceError,
    SourceInfo, StreamInfo,
};

use super::config::DefenderConfig;
use super::cursor::SweepCursor;
use super::graph::{Call, Graph};
use super::source::{budget, origin_of, ALERTS, SECURITY_PROVIDER};
use super::sweep::{List, Reader};

/// The service source this connector reads.
pub const MDI_SERVICE_SOURCE: &str = "microsoftDefenderForIdentity";

/// Defender for Identity alerts of one tenant. See the [`defender`](crate::defender) module docs.
#[derive(Debug)]
pub struct MdiAlertsSource {
    config: DefenderConfig,
    origin: Url,
    graph: Graph,
}

impl MdiAlertsSource {
    /// A source for `config` (its incidents page size is not used).
    pub fn new(config: DefenderConfig) -> Result<Self, SourceError> {
        let origin = origin_of(&config.graph_url, &config.tenant_id)?;
        let graph = Graph {
            tenant: config.tenant_id.clone(),
            credential: config.credential.clone(),
            timeout: config.request_timeout,
        };
        Ok(MdiAlertsSource {
            config,
            origin,
            graph,
        })
    }

    fn list(&self) -> List {
        List {
            call: Call::Alerts,
            path: "/v1.0/security/alerts_v2",
            top: self.config.alerts_page.clamp(1, 1_000),
            expand_alerts: false,
            filter: Some(format!("serviceSource eq '{MDI_SERVICE_SOURCE}'")),
        }
    }

    fn check_stream(&self, stream: &str) -> Result<(), SourceError> {
        if stream == ALERTS {
            return Ok(());
        }
        Err(SourceError::Config {
            message: format!(
                "Defender for Identity alerts source for tenant {} has no stream '{stream}' (it offers {ALERTS})",
                self.config.tenant_id
            ),
        })
    }
}

#[async_trait]
impl Source for MdiAlertsSource {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "microsoft-defender-for-identity".into(),
            streams: vec![StreamInfo::new(
                ALERTS,
                "Defender for Identity alerts, one record per version (alerts_v2, serviceSource microsoftDefenderForIdentity)",
            )],
            capabilities: SourceCapabilities::default(),
            budget: budget(SECURITY_PROVIDER, &self.config.tenant_id, &self.config.limits),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        let mut url = self.origin.clone();
        url.set_path("/v1.0/security/alerts_v2");
        url.query_pairs_mut().append_pair("$top", "1");
        self.graph
            .send(cx, &Call::Alerts, reqwest::Method::GET, &url, None)
            .await?;
        Ok(())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        self.check_stream(&req.stream)?;
        let reader = Reader {
            graph: &self.graph,
            origin: &self.origin,
            start: self.config.start.at(cx.clock().now_utc()),
            overlap: chrono::Duration::from_std(self.config.overlap)
                .unwrap_or(chrono::Duration::minutes(5)),
        };
        reader.collect(cx, &self.list(), &req).await
    }

    fn cursor_at(&self, stream: &str, time: DateTime<Utc>) -> Result<Cursor, SourceError> {
        self.check_stream(stream)?;
        Ok(SweepCursor::starting(time).encode())
    }
}
