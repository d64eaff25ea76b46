//! Shared set-up of the sync tests: a simulated Entra tenant with its Graph security API and
//! a simulated Sentinel workspace accepting the same tenant's tokens, one app with the roles
//! the sync needs on both, and the sync (or its parts) pointed at them.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{BudgetSpec, Clock, Context, RateBudget, Source, SourceContext};
use ucp_sources::defender::{DefenderConfig, DefenderSource, GraphLimits};
use ucp_sync::sentinel::{ArmLimits, SentinelConfig, SentinelIncidents};
use ucp_sync::{IncidentSync, Ledger, SyncConfig};
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, TENANT_ID};
use ucp_testkit::sentinel::{
    Role, SentinelSimConfig, SentinelSimulator, RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE,
};

pub const TENANT: &str = "contoso";
pub const CREDENTIAL: &str = "entra-app";
pub const CLIENT_ID: &str = "7d1e0c52-sync-app";
pub const SECRET: &str = "sync-app-secret-9Qp~x";
pub mod checker;
pub mod scenario;

pub const GRAPH_ROLES: &[&str] = &["SecurityIncident.ReadWrite.All"];

/// Both simulators on one clock, the app registered in both.
pub struct Lab {
    pub graph: GraphSimulator,
    pub sentinel: SentinelSimulator,
    pub clock: Clock,
}

impl Lab {
    pub async fn start(graph: GraphSimConfig, sentinel: SentinelSimConfig) -> Lab {
        Self::start_wrapped(graph, sentinel, |r| r).await
    }

    /// With Graph's router wrapped (a fault layer).
    pub async fn start_wrapped(
        graph: GraphSimConfig,
        sentinel: SentinelSimConfig,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Lab {
        let clock = graph.clock;
        let graph = GraphSimulator::start_wrapped(graph, wrap)
            .await
            .expect("the Graph simulator starts");
        graph.register_app(CLIENT_ID, SECRET, GRAPH_ROLES);
        let sentinel =
            SentinelSimulator::start_with(sentinel.clock(clock), graph.tokens().verifier(), |r| r)
                .await
                .expect("the Sentinel simulator starts");
        sentinel.grant(CLIENT_ID, Role::Contributor);
        Lab {
            graph,
            sentinel,
            clock,
        }
    }

    pub async fn context(&self) -> Context {
        let store = Arc::new(MemoryCredentials::new());
        store
            .put(
                CredentialRef::new(TENANT, CREDENTIAL),
                Credential::ClientSecret {
                    token_url: self.graph.token_url(),
                    client_id: CLIENT_ID.into(),
                    secret: SecretString::from(SECRET.to_string()),
                },
            )
            .await
            .unwrap();
        Context::standalone(TENANT, store, self.clock).expect("a standalone context")
    }

    pub fn defender_config(&self) -> DefenderConfig {
        DefenderConfig::new(TENANT_ID, CREDENTIAL)
            .graph_url(self.graph.url())
            .start_ago(Duration::from_secs(30 * 24 * 3600))
            .request_timeout(Duration::from_secs(30))
    }

    pub fn sentinel_config(&self) -> SentinelConfig {
        SentinelConfig::new(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, CREDENTIAL)
            .arm_url(self.sentinel.url())
    }

    pub fn client(&self) -> SentinelIncidents {
        SentinelIncidents::new(self.sentinel_config(), self.clock).expect("a valid client")
    }

    /// A sync of the lab with `config`, its ledger `ledger`.
    pub async fn sync(&self, config: SyncConfig, ledger: Ledger) -> IncidentSync {
        self.sync_with(config, ledger, GraphLimits::SECURITY, ArmLimits::DEFAULT)
            .await
    }

    pub async fn sync_with(
        &self,
        config: SyncConfig,
        ledger: Ledger,
        graph: GraphLimits,
        arm: ArmLimits,
    ) -> IncidentSync {
        let defender = Arc::new(
            DefenderSource::new(self.defender_config().limits(graph)).expect("a valid source"),
        );
        let budget = Arc::new(RateBudget::new(defender.describe().budget, self.clock));
        let cx = SourceContext::new("defender-contoso", budget, self.context().await);
        let sentinel = SentinelIncidents::new(self.sentinel_config().limits(arm), self.clock)
            .expect("a valid client");
        IncidentSync::new(config, defender, cx, sentinel, ledger).expect("a valid sync")
    }
}

/// A budget that never binds, for tests about the wire.
pub fn free_budget(spec: BudgetSpec, clock: Clock) -> Arc<RateBudget> {
    Arc::new(RateBudget::new(
        BudgetSpec::new(spec.key, 1_000_000, Duration::from_secs(60)),
        clock,
    ))
}
