//! Building a platform: collect sources, sinks, subscriptions and stores, then check all of
//! it at once in [`PlatformBuilder::build`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::inventory::PlatformInventory;
use super::registry::Registry;
use super::{Platform, Shared};
use crate::budget::SharedBudget;
use crate::checkpoint::{CheckpointStore, MemoryCheckpoints};
use crate::clock::Clock;
use crate::context::{http_client, token_client, DEFAULT_TENANT};
use crate::credentials::token::{HttpTokenFetcher, TokenProvider};
use crate::credentials::{CredentialStore, MemoryCredentials};
use crate::dead_letter::{DeadLetterStore, MemoryDeadLetters};
use crate::error::ConfigError;
use crate::health::{HealthReporter, MemoryHealth};
use crate::reporting::HealthHub;
use crate::sink::Sink;
use crate::source::Source;
use crate::store::DurableStore;
use crate::subscription::{Subscription, SubscriptionId};

/// Tunables with sensible defaults.
#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) max_jitter: Duration,
    pub(super) dedup_ttl: Duration,
    pub(super) dedup_capacity: usize,
    pub(super) shutdown_timeout: Duration,
    pub(super) finish_call_on_stop: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_jitter: Duration::from_secs(10),
            dedup_ttl: Duration::from_secs(3600),
            dedup_capacity: 100_000,
            shutdown_timeout: Duration::from_secs(30),
            finish_call_on_stop: false,
        }
    }
}

/// Collects the platform's configuration; [`PlatformBuilder::build`] checks all of it.
#[derive(Default)]
pub struct PlatformBuilder {
    credentials: Option<Arc<dyn CredentialStore>>,
    health: Option<Arc<dyn HealthReporter>>,
    checkpoints: Option<Arc<dyn CheckpointStore>>,
    dead_letters: Option<Arc<dyn DeadLetterStore>>,
    durable: Option<Arc<DurableStore>>,
    tokens: Option<Arc<TokenProvider>>,
    shared_budget: Option<Arc<dyn SharedBudget>>,
    clock: Option<Clock>,
    sources: Vec<(String, String, Arc<dyn Source>)>,
    sinks: Vec<(String, String, Arc<dyn Sink>)>,
    subscriptions: Vec<Subscription>,
    settings: Settings,
    inventory: PlatformInventory,
}

impl PlatformBuilder {
    /// The connectors of the platform being built, per tenant, answered once it runs (empty
    /// before and after): give it to a health source registered here, for its `inventory`
    /// stream.
    pub fn inventory(&self) -> PlatformInventory {
        self.inventory.clone()
    }

    /// The credential store every connector resolves its credentials from
    /// (default: an empty in-memory store).
    pub fn credentials(mut self, store: Arc<dyn CredentialStore>) -> Self {
        self.credentials = Some(store);
        self
    }

    /// Where status transitions and volumes go (default: in memory).
    pub fn health(mut self, reporter: Arc<dyn HealthReporter>) -> Self {
        self.health = Some(reporter);
        self
    }

    /// Where cursors are saved (default: in memory, lost on exit).
    pub fn checkpoints(mut self, store: Arc<dyn CheckpointStore>) -> Self {
        self.checkpoints = Some(store);
        self
    }

    /// Where undeliverable records go (default: in memory).
    pub fn dead_letters(mut self, store: Arc<dyn DeadLetterStore>) -> Self {
        self.dead_letters = Some(store);
        self
    }

    /// The durable store for subscriptions with `.durable(max_bytes)` queues. Unless set
    /// otherwise, it also becomes the checkpoint and dead-letter store, so that a page's
    /// appends to every durable queue and the stream's cursor commit together.
    pub fn durable(mut self, store: Arc<DurableStore>) -> Self {
        self.durable = Some(store);
        self
    }

    /// The one OAuth token provider every connector and sink gets through its context
    /// (default: Entra ID and Okta over HTTPS, reporting token failures to the health
    /// reporter): a token is minted once per credential and scope for all of them.
    pub fn tokens(mut self, tokens: Arc<TokenProvider>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// A job told to stop lets the provider call it has in flight finish (and fans its page
    /// out) instead of abandoning it (default: abandoned). A provider keeps serving a call
    /// its client gave up, so a process handing the stream to another one (cluster mode)
    /// finishes it: the next owner's first call never overlaps it.
    pub fn finish_call_on_stop(mut self, finish: bool) -> Self {
        self.settings.finish_call_on_stop = finish;
        self
    }

    /// Cluster mode: every provider account's budget takes its permits' slots and shares
    /// its pauses through `shared`, so the nodes of a cluster together stay within each
    /// account's limit (default: each budget on its own).
    pub fn shared_budget(mut self, shared: Arc<dyn SharedBudget>) -> Self {
        self.shared_budget = Some(shared);
        self
    }

    /// The clock (default: the system clock on tokio's time).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Register a source instance under `name` in the default tenant
    /// ([`DEFAULT_TENANT`], whose credentials it reads).
    pub fn source(self, name: impl Into<String>, source: impl Source) -> Self {
        self.tenant_source(DEFAULT_TENANT, name, Arc::new(source))
    }

    /// Register a shared source instance under `name` for `tenant`.
    pub fn tenant_source(
        mut self,
        tenant: impl Into<String>,
        name: impl Into<String>,
        source: Arc<dyn Source>,
    ) -> Self {
        self.sources.push((tenant.into(), name.into(), source));
        self
    }

    /// Register a product sink under `name` in the default tenant.
    pub fn sink(self, name: impl Into<String>, sink: impl Sink) -> Self {
        self.tenant_sink(DEFAULT_TENANT, name, Arc::new(sink))
    }

    /// Register a shared product sink under `name` for `tenant`.
    pub fn tenant_sink(
        mut self,
        tenant: impl Into<String>,
        name: impl Into<String>,
        sink: Arc<dyn Sink>,
    ) -> Self {
        self.sinks.push((tenant.into(), name.into(), sink));
        self
    }

    /// Subscribe a product to a stream.
    pub fn subscribe(mut self, subscription: Subscription) -> Self {
        self.subscriptions.push(subscription);
        self
    }

    /// Jobs start at a stable offset of up to this much (capped by their interval), so jobs
    /// with the same interval do not call out together (default 10 s; zero disables).
    pub fn max_jitter(mut self, jitter: Duration) -> Self {
        self.settings.max_jitter = jitter;
        self
    }

    /// Remember fanned-out record ids for `ttl`, at most `capacity` per job, to drop
    /// duplicates (default 1 hour, 100,000; capacity 0 disables).
    pub fn dedup_window(mut self, ttl: Duration, capacity: usize) -> Self {
        self.settings.dedup_ttl = ttl;
        self.settings.dedup_capacity = capacity;
        self
    }

    /// How long `shutdown` waits for in-flight deliveries (default 30 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    /// Check the whole configuration; every mistake is reported by name.
    pub fn build(self) -> Result<Platform, ConfigError> {
        let clock = self.clock.unwrap_or_default();
        let health = self.health.unwrap_or_else(|| Arc::new(MemoryHealth::new()));
        let tokens = match self.tokens {
            Some(tokens) => tokens,
            None => Arc::new(
                TokenProvider::new(Arc::new(HttpTokenFetcher::with_client(token_client()?)))
                    .with_health(health.clone())
                    .with_clock(clock),
            ),
        };
        let durable = self.durable;
        let checkpoints: Arc<dyn CheckpointStore> = match (self.checkpoints, &durable) {
            (Some(store), _) => store,
            (None, Some(store)) => store.clone(),
            (None, None) => Arc::new(MemoryCheckpoints::new()),
        };
        let dead_letters: Arc<dyn DeadLetterStore> = match (self.dead_letters, &durable) {
            (Some(store), _) => store,
            (None, Some(store)) => store.clone(),
            (None, None) => Arc::new(MemoryDeadLetters::new()),
        };
        let checkpoints_are_durable = durable
            .as_ref()
            .is_some_and(|d| std::ptr::addr_eq(Arc::as_ptr(d), Arc::as_ptr(&checkpoints)));
        let shared = Arc::new(Shared {
            tokens,
            http: http_client()?,
            durable,
            checkpoints_are_durable,
            credentials: self
                .credentials
                .unwrap_or_else(|| Arc::new(MemoryCredentials::new())),
            health: HealthHub::new(health, clock),
            checkpoints,
            dead_letters,
            clock,
            settings: self.settings,
            actions: Default::default(),
            shared_budget: self.shared_budget,
        });
        let mut registry = Registry::default();
        for (tenant, name, source) in self.sources {
            registry.add_source(&shared, name, tenant, source, false)?;
        }
        for (tenant, name, sink) in self.sinks {
            registry.add_sink(&shared, name, tenant, sink)?;
        }
        let mut subscriptions: BTreeMap<SubscriptionId, Subscription> = BTreeMap::new();
        for sub in self.subscriptions {
            registry.validate(&sub, shared.durable.is_some())?;
            let id = sub.id();
            if subscriptions.contains_key(&id) {
                return Err(ConfigError::DuplicateSubscription {
                    product: id.product,
                    stream: id.stream,
                });
            }
            subscriptions.insert(id, sub);
        }
        Ok(Platform {
            shared,
            registry,
            subscriptions,
            inventory: self.inventory,
        })
    }
}
