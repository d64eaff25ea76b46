//! [`DefenderSource`]: a tenant's Defender XDR incidents (with their alerts) and alerts,
//! from Microsoft Graph security.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, Url};
use ucp_core::{
    ActionInfo, ActionOutcome, ActionPlan, ActionRequest, BudgetKey, BudgetSpec, CollectRequest,
    Cursor, Page, Source, SourceCapabilities, SourceContext, SourceError, SourceInfo, StreamInfo,
};

use super::actions;
use super::config::{limits_problem, DefenderConfig, GraphLimits};
use super::cursor::SweepCursor;
use super::graph::{Call, Graph};
use super::sweep::{List, Reader};

/// The incidents stream.
pub const INCIDENTS: &str = "incidents";
/// The alerts stream.
pub const ALERTS: &str = "alerts";

/// The budget's provider name of Graph's security incidents and alerts.
pub const SECURITY_PROVIDER: &str = "microsoft-graph-security";

/// The largest `$top` asked for.
const MAX_TOP: u32 = 1_000;

/// Incidents and alerts of one Entra tenant. See the [module docs](super).
#[derive(Debug)]
pub struct DefenderSource {
    config: DefenderConfig,
    origin: Url,
    graph: Graph,
}

/// Graph's origin from `url`, or why it is unusable.
pub(crate) fn origin_of(url: &str, tenant: &str) -> Result<Url, SourceError> {
    let config_error = |why: String| SourceError::Config {
        message: format!("Defender XDR source for tenant {tenant}: Graph URL '{url}' {why}"),
    };
    let mut origin = Url::parse(url.trim_end_matches('/'))
        .map_err(|e| config_error(format!("is not a URL ({e})")))?;
    if !matches!(origin.scheme(), "https" | "http") || origin.host_str().is_none() {
        return Err(config_error(
            "must be an https URL with a host, e.g. https://graph.microsoft.com".into(),
        ));
    }
    origin.set_path("");
    origin.set_query(None);
    origin.set_fragment(None);
    Ok(origin)
}

/// The budget of `provider` for `tenant` at `limits`: the minute window, and the hour's
/// counted beside it.
pub(crate) fn budget(provider: &str, tenant: &str, limits: &GraphLimits) -> BudgetSpec {
    BudgetSpec::new(
        BudgetKey::new(provider, tenant),
        limits.per_minute,
        limits.minute,
    )
    .and_window(limits.per_hour, limits.hour)
    .share(limits.share)
}

impl DefenderSource {
    /// A source for `config`; refuses an unusable configuration, naming what is wrong.
    pub fn new(config: DefenderConfig) -> Result<Self, SourceError> {
        let what = format!("Defender XDR source for tenant {}", config.tenant_id);
        let origin = origin_of(&config.graph_url, &config.tenant_id)?;
        if config.tenant_id.trim().is_empty() {
            return Err(SourceError::Config {
                message: "Defender XDR source: the Entra tenant (directory) id is empty".into(),
            });
        }
        for (name, top) in [
            ("incidents", config.incidents_page),
            ("alerts", config.alerts_page),
        ] {
            if !(1..=MAX_TOP).contains(&top) {
                return Err(SourceError::Config {
                    message: format!(
                        "{what}: the {name} page size {top} must be between 1 and {MAX_TOP}"
                    ),
                });
            }
        }
        if let Some(problem) = limits_problem(&what, &config.limits) {
            return Err(SourceError::Config { message: problem });
        }
        let graph = Graph {
            tenant: config.tenant_id.clone(),
            credential: config.credential.clone(),
            timeout: config.request_timeout,
        };
        Ok(DefenderSource {
            config,
            origin,
            graph,
        })
    }

    /// The list stream `stream` reads, if it is one of this source's.
    fn list(&self, stream: &str) -> Option<List> {
        match stream {
            INCIDENTS => Some(List {
                call: Call::Incidents,
                path: "/v1.0/security/incidents",
                top: self.config.incidents_page,
                expand_alerts: true,
                filter: None,
            }),
            ALERTS => Some(List {
                call: Call::Alerts,
                path: "/v1.0/security/alerts_v2",
                top: self.config.alerts_page,
                expand_alerts: false,
                filter: None,
            }),
            _ => None,
        }
    }

    fn unknown_stream(&self, stream: &str) -> SourceError {
        SourceError::Config {
            message: format!(
                "Defender XDR source for tenant {} has no stream '{stream}' (it offers {INCIDENTS} and {ALERTS}; hunting tables come from DefenderHuntingSource)",
                self.config.tenant_id
            ),
        }
    }

    /// Incident `id` as Graph serves it now (`GET /security/incidents/{id}?$expand=alerts`),
    /// or `None` if the tenant has no such incident. One call: draw a permit first.
    pub async fn incident(
        &self,
        cx: &SourceContext,
        id: &str,
    ) -> Result<Option<serde_json::Value>, SourceError> {
        let mut url = self.origin.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .clear()
                .extend(["v1.0", "security", "incidents", id]);
        }
        url.query_pairs_mut().append_pair("$expand", "alerts");
        let body = self
            .graph
            .send_or_missing(cx, &Call::Incident, Method::GET, &url, None)
            .await?;
        body.map(|body| {
            serde_json::from_slice(&body).map_err(|e| SourceError::Malformed {
                message: format!(
                    "{}, incident {id}: the answer is not JSON ({e})",
                    self.graph.what()
                ),
            })
        })
        .transpose()
    }

    fn reader(&self, now: DateTime<Utc>) -> Reader<'_> {
        Reader {
            graph: &self.graph,
            origin: &self.origin,
            start: self.config.start.at(now),
            overlap: chrono::Duration::from_std(self.config.overlap)
                .unwrap_or(chrono::Duration::minutes(5)),
        }
    }
}

#[async_trait]
impl Source for DefenderSource {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "microsoft-defender-xdr".into(),
            streams: vec![
                StreamInfo::new(INCIDENTS, "Defender XDR incidents with their alerts, one record per version (GET /security/incidents)"),
                StreamInfo::new(ALERTS, "Defender XDR alerts of every product, one record per version (GET /security/alerts_v2)"),
            ],
            capabilities: SourceCapabilities::default(),
            budget: budget(SECURITY_PROVIDER, &self.config.tenant_id, &self.config.limits),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        // One cheap call: a single incident.
        let mut url = self.origin.clone();
        url.set_path("/v1.0/security/incidents");
        url.query_pairs_mut().append_pair("$top", "1");
        let body = self
            .graph
            .send(cx, &Call::Incidents, Method::GET, &url, None)
            .await?;
        super::page::parse(&body).map_err(|why| SourceError::Malformed {
            message: format!("{}, check request: {why}", self.graph.what()),
        })?;
        Ok(())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        let list = self
            .list(&req.stream)
            .ok_or_else(|| self.unknown_stream(&req.stream))?;
        self.reader(cx.clock().now_utc())
            .collect(cx, &list, &req)
            .await
    }

    fn cursor_at(&self, stream: &str, time: DateTime<Utc>) -> Result<Cursor, SourceError> {
        self.list(stream)
            .ok_or_else(|| self.unknown_stream(stream))?;
        Ok(SweepCursor::starting(time).encode())
    }

    fn actions(&self) -> Vec<ActionInfo> {
        actions::infos()
    }

    fn plan_action(&self, request: &ActionRequest) -> Result<ActionPlan, SourceError> {
        actions::plan(&self.origin, request)
    }

    async fn act(
        &self,
        cx: &SourceContext,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, SourceError> {
        actions::act(&self.graph, &self.origin, cx, request).await
    }
}
