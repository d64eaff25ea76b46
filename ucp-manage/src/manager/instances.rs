//! Connector instances ("My connectors"): create, list, get, update, pause, resume,
//! restart, disconnect, delete.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ucp_core::catalog::CredentialKind;
use ucp_core::{Credential, CredentialError, CredentialRef, RateBudget, Source, SourceContext};

use super::{object_name, reason, Manager};
use crate::auth::Principal;
use crate::catalog::Registered;
use crate::error::{ManageError, ManageResult, Problem, UnmetPrerequisite};
use crate::model::{
    InstanceRecord, InstanceState, ProductSubscription, Role, MAX_INTERVAL_SECONDS,
};
use crate::views::{ConnectorView, CreateConnector, CredentialInput, Page, UpdateConnector};

/// Largest page of a list.
pub const MAX_PAGE_SIZE: usize = 100;
/// Page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// How long one prerequisite check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Credentials resolved for an instance.
#[derive(Default)]
struct ResolvedCredentials {
    /// Slot → credential name.
    names: BTreeMap<String, String>,
    /// Secrets given inline, to store under their names.
    to_store: Vec<(CredentialRef, Credential)>,
}

/// The page size asked for, checked.
pub(crate) fn page_size(asked: Option<usize>) -> ManageResult<usize> {
    match asked {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(_) => Err(ManageError::invalid(
            "page_size",
            format!("the page size is 1 to {MAX_PAGE_SIZE}"),
        )),
    }
}

impl Manager {
    /// The instance, or "not found".
    pub(super) async fn load(&self, tenant: &str, name: &str) -> ManageResult<InstanceRecord> {
        let found = if ucp_core::catalog::is_identifier(name) {
            self.inner.store.instance(tenant, name).await?
        } else {
            None
        };
        found.ok_or_else(|| {
            ManageError::NotFound(format!("connector '{name}' not found in tenant '{tenant}'"))
        })
    }

    /// One page of the tenant's connectors, by name.
    pub async fn list(
        &self,
        principal: &Principal,
        tenant: &str,
        page_size: Option<usize>,
        page_token: Option<&str>,
    ) -> ManageResult<Page<ConnectorView>> {
        self.authorize(principal, tenant, Role::Reader, "listing connectors")
            .await?;
        let size = self::page_size(page_size)?;
        let after = match page_token {
            None => None,
            Some(token) => Some(decode_token(token)?),
        };
        let mut records = self
            .inner
            .store
            .instances(tenant, after.as_deref(), size + 1)
            .await?;
        let next_page_token = if records.len() > size {
            records.truncate(size);
            records
                .last()
                .map(|r| URL_SAFE_NO_PAD.encode(r.name.as_bytes()))
        } else {
            None
        };
        let workspace = self.inner.store.workspace(tenant).await?;
        let tables = self.tables(tenant);
        let mut items = Vec::with_capacity(records.len());
        for record in &records {
            items.push(
                self.view(record, workspace.as_ref(), &tables, false)
                    .await?,
            );
        }
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// One connector, with its volumes.
    pub async fn get(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<ConnectorView> {
        self.authorize(principal, tenant, Role::Reader, "reading a connector")
            .await?;
        let record = self.load(tenant, name).await?;
        self.full_view(&record).await
    }

    pub(super) async fn full_view(&self, record: &InstanceRecord) -> ManageResult<ConnectorView> {
        let workspace = self.inner.store.workspace(&record.tenant).await?;
        let tables = self.tables(&record.tenant);
        self.view(record, workspace.as_ref(), &tables, true).await
    }

    /// Create a connector: validate everything, store inline secrets, check the
    /// definition's prerequisites, start it for its products, persist and audit it.
    pub async fn create(
        &self,
        principal: &Principal,
        tenant: &str,
        body: CreateConnector,
    ) -> ManageResult<ConnectorView> {
        let role = self
            .authorize(principal, tenant, Role::Contributor, "creating a connector")
            .await?;
        let _writes = self.inner.writes.lock().await;
        object_name("name", &body.name)?;
        let registered = self.inner.catalog.latest(&body.definition).ok_or_else(|| {
            ManageError::invalid(
                "definition",
                format!(
                    "no definition '{}' in the catalog (available: {})",
                    body.definition,
                    self.inner.catalog.ids().join(", ")
                ),
            )
        })?;
        let mut problems = registered.problems(&body.config);
        problems.extend(self.product_problems(&registered, &body.products));
        let credentials = self
            .resolve_credentials(
                role,
                tenant,
                &body.name,
                &registered,
                body.credentials,
                &[],
                &mut problems,
            )
            .await?;
        if !problems.is_empty() {
            return Err(ManageError::Invalid(problems));
        }
        if self
            .inner
            .store
            .instance(tenant, &body.name)
            .await?
            .is_some()
        {
            return Err(ManageError::Conflict(format!(
                "a connector named '{}' already exists in tenant '{tenant}': choose another name",
                body.name
            )));
        }
        self.require_workspace(tenant, &body.products).await?;
        let now = self.now();
        let record = InstanceRecord {
            tenant: tenant.to_string(),
            name: body.name.clone(),
            definition: registered.definition().id().to_string(),
            version: registered.definition().version().to_string(),
            config: body.config,
            credentials: credentials.names.clone(),
            owned_credentials: credentials
                .to_store
                .iter()
                .map(|(r, _)| r.name.clone())
                .collect(),
            products: body.products,
            state: InstanceState::Active,
            attention: None,
            disconnect_reason: None,
            created_by: principal.id.clone(),
            created_at: now,
            updated_by: principal.id.clone(),
            updated_at: now,
            revision: 1,
        };
        let source = self.build_source(&record, &registered)?;
        let previous = self.store_secrets(credentials.to_store).await?;
        let started = async {
            self.check_prerequisites(&record, &registered, &source)
                .await?;
            self.attach(
                &record,
                source.clone(),
                Self::subscriptions(&record, &registered),
            )
            .await
            .map_err(ManageError::Engine)?;
            let mut entry = self.audit(
                tenant,
                principal,
                "connector.create",
                format!("connector/{}", record.name),
            );
            entry.connector = Some(record.name.clone());
            entry.after = Some(serde_json::to_value(&record).unwrap_or_default());
            if let Err(e) = self.inner.store.put_instance(&record, None, entry).await {
                let _ = self.detach(&record).await;
                return Err(e.into());
            }
            Ok(())
        }
        .await;
        if let Err(e) = started {
            self.restore_secrets(previous).await;
            return Err(e);
        }
        self.full_view(&record).await
    }

    /// Replace a connector's configuration, credentials and products (moving it to the
    /// definition's newest version). `if_match` is the revision the change is based on.
    pub async fn update(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        if_match: Option<u64>,
        body: UpdateConnector,
    ) -> ManageResult<ConnectorView> {
        let role = self
            .authorize(principal, tenant, Role::Contributor, "updating a connector")
            .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        check_revision(&record, if_match)?;
        let registered = self.inner.catalog.latest(&record.definition).ok_or_else(|| {
            ManageError::Conflict(format!(
                "definition '{}' is no longer registered in this server: the connector cannot be changed, only disconnected",
                record.definition
            ))
        })?;
        let mut problems = registered.problems(&body.config);
        problems.extend(self.product_problems(&registered, &body.products));
        let credentials = self
            .resolve_credentials(
                role,
                tenant,
                name,
                &registered,
                body.credentials,
                &record.owned_credentials,
                &mut problems,
            )
            .await?;
        if !problems.is_empty() {
            return Err(ManageError::Invalid(problems));
        }
        self.require_workspace(tenant, &body.products).await?;
        let mut candidate = record.clone();
        candidate.config = body.config;
        candidate.products = body.products;
        candidate.credentials = credentials.names.clone();
        for (reference, _) in &credentials.to_store {
            if !candidate.owned_credentials.contains(&reference.name) {
                candidate.owned_credentials.push(reference.name.clone());
            }
        }
        candidate.version = registered.definition().version().to_string();
        candidate.attention = None;
        candidate.revision = record.revision.saturating_add(1);
        candidate.updated_by = principal.id.clone();
        candidate.updated_at = self.now();
        let source = if candidate.state.in_engine() {
            Some(self.build_source(&candidate, &registered)?)
        } else {
            None
        };
        let previous = self.store_secrets(credentials.to_store).await?;
        let applied = async {
            if let Some(source) = source {
                self.check_prerequisites(&candidate, &registered, &source)
                    .await?;
                let result = if self.is_attached(&record) {
                    self.swap(&record, &candidate, source, &registered).await
                } else {
                    self.attach(
                        &candidate,
                        source,
                        Self::subscriptions(&candidate, &registered),
                    )
                    .await
                };
                result.map_err(ManageError::Engine)?;
            }
            let mut entry = self.audit(
                tenant,
                principal,
                "connector.update",
                format!("connector/{name}"),
            );
            entry.connector = Some(name.to_string());
            entry.before = Some(serde_json::to_value(&record).unwrap_or_default());
            entry.after = Some(serde_json::to_value(&candidate).unwrap_or_default());
            self.inner
                .store
                .put_instance(&candidate, Some(record.revision), entry)
                .await?;
            Ok(())
        }
        .await;
        if let Err(e) = applied {
            self.restore_secrets(previous).await;
            return Err(e);
        }
        self.full_view(&candidate).await
    }

    /// Stop every provider call of the connector, keeping its cursor.
    pub async fn pause(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<ConnectorView> {
        self.set_running(principal, tenant, name, InstanceState::Paused)
            .await
    }

    /// Continue a paused connector from its cursor.
    pub async fn resume(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<ConnectorView> {
        self.set_running(principal, tenant, name, InstanceState::Active)
            .await
    }

    async fn set_running(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        to: InstanceState,
    ) -> ManageResult<ConnectorView> {
        let (verb, action) = match to {
            InstanceState::Paused => ("pausing a connector", "connector.pause"),
            _ => ("resuming a connector", "connector.resume"),
        };
        self.authorize(principal, tenant, Role::Contributor, verb)
            .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        if record.state == InstanceState::Disconnected {
            return Err(ManageError::Conflict(format!(
                "connector '{name}' is disconnected: create it again to collect, or delete it"
            )));
        }
        if record.state == to {
            return self.full_view(&record).await;
        }
        let engine = &self.inner.engine;
        let engine_name = record.engine_name();
        let attached = self.is_attached(&record);
        if attached {
            let done = match to {
                InstanceState::Paused => engine.pause_source(&engine_name).await,
                _ => engine.resume_source(&engine_name).await,
            };
            done.map_err(ManageError::Engine)?;
        }
        let mut changed = record.clone();
        changed.state = to;
        changed.revision = record.revision.saturating_add(1);
        changed.updated_by = principal.id.clone();
        changed.updated_at = self.now();
        let mut entry = self.audit(tenant, principal, action, format!("connector/{name}"));
        entry.connector = Some(name.to_string());
        entry.before = Some(serde_json::json!({ "state": record.state }));
        entry.after = Some(serde_json::json!({ "state": to }));
        if let Err(e) = self
            .inner
            .store
            .put_instance(&changed, Some(record.revision), entry)
            .await
        {
            if attached {
                let undo = match to {
                    InstanceState::Paused => engine.resume_source(&engine_name).await,
                    _ => engine.pause_source(&engine_name).await,
                };
                if let Err(undo) = undo {
                    tracing::warn!(connector = %name, error = %undo, "could not undo a pause or resume the store refused");
                }
            }
            return Err(e.into());
        }
        self.full_view(&changed).await
    }

    /// Restart the connector's collection and deliveries, or only those in error.
    pub async fn restart(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        only_failed: bool,
    ) -> ManageResult<ConnectorView> {
        self.authorize(
            principal,
            tenant,
            Role::Contributor,
            "restarting a connector",
        )
        .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        if record.state != InstanceState::Active || !self.is_attached(&record) {
            return Err(ManageError::Conflict(format!(
                "connector '{name}' is not running ({}): only a running connector restarts{}",
                match record.state {
                    InstanceState::Active => "it needs attention",
                    InstanceState::Paused => "paused",
                    InstanceState::Disconnected => "disconnected",
                },
                if record.state == InstanceState::Paused {
                    "; resume it instead"
                } else {
                    ""
                }
            )));
        }
        self.inner
            .engine
            .restart_source(&record.engine_name(), only_failed)
            .await
            .map_err(ManageError::Engine)?;
        let mut entry = self.audit(
            tenant,
            principal,
            "connector.restart",
            format!("connector/{name}"),
        );
        entry.connector = Some(name.to_string());
        entry.after = Some(serde_json::json!({ "only_failed": only_failed }));
        self.inner.store.append_audit(entry).await?;
        self.full_view(&record).await
    }

    /// Stop delivery for every product and remove the connector from the engine, keeping
    /// its record, cursors and audit. Needs a reason.
    pub async fn disconnect(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        given_reason: Option<String>,
    ) -> ManageResult<ConnectorView> {
        self.authorize(principal, tenant, Role::Owner, "disconnecting a connector")
            .await?;
        let why = reason(given_reason, "disconnecting a connector")?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        if record.state == InstanceState::Disconnected {
            return Err(ManageError::Conflict(format!(
                "connector '{name}' is already disconnected"
            )));
        }
        self.detach(&record).await.map_err(ManageError::Engine)?;
        let mut changed = record.clone();
        changed.state = InstanceState::Disconnected;
        changed.disconnect_reason = Some(why.clone());
        changed.revision = record.revision.saturating_add(1);
        changed.updated_by = principal.id.clone();
        changed.updated_at = self.now();
        let mut entry = self.audit(
            tenant,
            principal,
            "connector.disconnect",
            format!("connector/{name}"),
        );
        entry.connector = Some(name.to_string());
        entry.reason = Some(why);
        entry.before = Some(serde_json::json!({ "state": record.state }));
        entry.after = Some(serde_json::json!({ "state": InstanceState::Disconnected }));
        self.inner
            .store
            .put_instance(&changed, Some(record.revision), entry)
            .await?;
        self.full_view(&changed).await
    }

    /// Delete a disconnected connector and the credentials stored for it.
    pub async fn delete(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<()> {
        self.authorize(principal, tenant, Role::Owner, "deleting a connector")
            .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        if record.state != InstanceState::Disconnected {
            return Err(ManageError::Conflict(format!(
                "connector '{name}' is connected: disconnect it first (with a reason), then delete it"
            )));
        }
        let mut entry = self.audit(
            tenant,
            principal,
            "connector.delete",
            format!("connector/{name}"),
        );
        entry.connector = Some(name.to_string());
        entry.before = Some(serde_json::to_value(&record).unwrap_or_default());
        self.inner
            .store
            .delete_instance(tenant, name, record.revision, entry)
            .await?;
        for owned in &record.owned_credentials {
            let reference = CredentialRef::new(tenant, owned);
            if let Err(e) = self.inner.credentials.remove(&reference).await {
                tracing::warn!(credential = %reference, error = %e, "credential of a deleted connector not removed");
            }
        }
        Ok(())
    }

    /// Problems with the products asked for.
    fn product_problems(
        &self,
        registered: &Registered,
        products: &[ProductSubscription],
    ) -> Vec<Problem> {
        let d = registered.definition();
        let host: BTreeSet<String> = self
            .inner
            .products
            .products()
            .into_iter()
            .map(|p| p.id)
            .collect();
        let streams: BTreeSet<&str> = d.streams().iter().map(|s| s.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        let mut problems = Vec::new();
        for (i, p) in products.iter().enumerate() {
            let field = |f: &str| format!("products.{i}.{f}");
            if !host.contains(&p.product) {
                problems.push(Problem::new(
                    field("product"),
                    format!(
                        "no product '{}' (available: {})",
                        p.product,
                        host.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            } else if !d.products().contains(&p.product) {
                problems.push(Problem::new(
                    field("product"),
                    format!(
                        "{} cannot feed '{}' (it feeds: {})",
                        d.display_name(),
                        p.product,
                        d.products().join(", ")
                    ),
                ));
            } else if !seen.insert(p.product.as_str()) {
                problems.push(Problem::new(
                    field("product"),
                    format!("product '{}' is listed twice", p.product),
                ));
            }
            let mut seen_streams = BTreeSet::new();
            for stream in &p.streams {
                if !streams.contains(stream.as_str()) {
                    problems.push(Problem::new(
                        field("streams"),
                        format!(
                            "no stream '{stream}' (it offers: {})",
                            streams.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                } else if !seen_streams.insert(stream.as_str()) {
                    problems.push(Problem::new(
                        field("streams"),
                        format!("stream '{stream}' is listed twice"),
                    ));
                }
            }
            if !(1..=MAX_INTERVAL_SECONDS).contains(&p.interval_seconds) {
                problems.push(Problem::new(
                    field("interval_seconds"),
                    format!("the interval is 1 to {MAX_INTERVAL_SECONDS} seconds"),
                ));
            }
        }
        problems
    }

    /// Delivering to products needs the tenant's workspace.
    async fn require_workspace(
        &self,
        tenant: &str,
        products: &[ProductSubscription],
    ) -> ManageResult<()> {
        if !products.is_empty() && self.inner.store.workspace(tenant).await?.is_none() {
            return Err(ManageError::Conflict(format!(
                "tenant '{tenant}' has no connected workspace for its products to deliver to: connect one first (PUT …/workspace)"
            )));
        }
        Ok(())
    }

    /// Resolve each slot to a credential name; an inline secret (Owner only) is to be
    /// stored as `<connector>-<slot>`. `owned` are credentials the connector already owns
    /// (an inline secret may replace those).
    #[allow(clippy::too_many_arguments)]
    async fn resolve_credentials(
        &self,
        role: Role,
        tenant: &str,
        connector: &str,
        registered: &Registered,
        mut inputs: BTreeMap<String, CredentialInput>,
        owned: &[String],
        problems: &mut Vec<Problem>,
    ) -> ManageResult<ResolvedCredentials> {
        let mut resolved = ResolvedCredentials::default();
        for slot in registered.definition().credentials() {
            let field = format!("credentials.{}", slot.name);
            let kinds: Vec<&str> = slot.kinds.iter().map(|k| k.as_str()).collect();
            let Some(input) = inputs.remove(&slot.name) else {
                problems.push(Problem::new(
                    field,
                    format!(
                        "required: {} ({}); give the name of a stored credential",
                        slot.description,
                        kinds.join(" or ")
                    ),
                ));
                continue;
            };
            match (input.name, input.secret) {
                (Some(name), None) => {
                    if !ucp_core::catalog::is_identifier(&name) {
                        problems.push(Problem::new(
                            field,
                            "a credential name has 1 to 63 lowercase letters, digits or '-'",
                        ));
                        continue;
                    }
                    let reference = CredentialRef::new(tenant, &name);
                    match self.inner.credentials.get(&reference).await {
                        Ok(credential) if slot.kinds.contains(&CredentialKind::of(&credential)) => {
                            resolved.names.insert(slot.name.clone(), name);
                        }
                        Ok(credential) => problems.push(Problem::new(
                            field,
                            format!(
                                "credential '{name}' is a {}, but this slot takes {}",
                                CredentialKind::of(&credential),
                                kinds.join(" or ")
                            ),
                        )),
                        Err(CredentialError::NotFound(_)) => problems.push(Problem::new(
                            field,
                            format!("no credential '{name}' in tenant '{tenant}': an Owner stores it first (PUT …/credentials/{name})"),
                        )),
                        Err(e) => return Err(ManageError::Internal(e.to_string())),
                    }
                }
                (None, Some(secret)) => {
                    if role < Role::Owner {
                        return Err(ManageError::Forbidden {
                            tenant: tenant.to_string(),
                            action: "storing a credential".into(),
                            needed: Role::Owner,
                            have: role,
                        });
                    }
                    let credential = secret.into_credential();
                    if !slot.kinds.contains(&CredentialKind::of(&credential)) {
                        problems.push(Problem::new(
                            field,
                            format!(
                                "a {} was given, but this slot takes {}",
                                CredentialKind::of(&credential),
                                kinds.join(" or ")
                            ),
                        ));
                        continue;
                    }
                    let name = format!("{connector}-{}", slot.name);
                    let reference = CredentialRef::new(tenant, &name);
                    if !owned.contains(&name) {
                        match self.inner.credentials.get(&reference).await {
                            Ok(_) => {
                                problems.push(Problem::new(
                                    field,
                                    format!("a credential named '{name}' already exists: reference it by name instead"),
                                ));
                                continue;
                            }
                            Err(CredentialError::NotFound(_)) => {}
                            Err(e) => return Err(ManageError::Internal(e.to_string())),
                        }
                    }
                    resolved.names.insert(slot.name.clone(), name);
                    resolved.to_store.push((reference, credential));
                }
                _ => problems.push(Problem::new(
                    field,
                    "give either `name` (a stored credential) or `secret`, not both or neither",
                )),
            }
        }
        for slot in inputs.keys() {
            problems.push(Problem::new(
                format!("credentials.{slot}"),
                format!(
                    "{} has no credential slot '{slot}' (it has: {})",
                    registered.definition().display_name(),
                    registered
                        .definition()
                        .credentials()
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(resolved)
    }

    /// Store inline secrets; returns what each name held before, to undo.
    async fn store_secrets(
        &self,
        secrets: Vec<(CredentialRef, Credential)>,
    ) -> ManageResult<Vec<(CredentialRef, Option<Credential>)>> {
        let mut previous = Vec::new();
        for (reference, credential) in secrets {
            let before = match self.inner.credentials.get(&reference).await {
                Ok(c) => Some(c),
                Err(CredentialError::NotFound(_)) => None,
                Err(e) => return Err(ManageError::Internal(e.to_string())),
            };
            if let Err(e) = self
                .inner
                .credentials
                .put(reference.clone(), credential)
                .await
            {
                self.restore_secrets(previous).await;
                return Err(ManageError::Internal(format!(
                    "the credential could not be stored: {e}"
                )));
            }
            previous.push((reference, before));
        }
        Ok(previous)
    }

    async fn restore_secrets(&self, previous: Vec<(CredentialRef, Option<Credential>)>) {
        for (reference, before) in previous {
            let undone = match before {
                Some(credential) => {
                    self.inner
                        .credentials
                        .put(reference.clone(), credential)
                        .await
                }
                None => self.inner.credentials.remove(&reference).await.map(|_| ()),
            };
            if let Err(e) = undone {
                tracing::warn!(credential = %reference, error = %e, "a credential stored for a refused change could not be undone");
            }
        }
    }

    /// Run each prerequisite's check with the instance's source, drawing from the
    /// account's shared budget.
    async fn check_prerequisites(
        &self,
        record: &InstanceRecord,
        registered: &Registered,
        source: &Arc<dyn Source>,
    ) -> ManageResult<()> {
        let prerequisites = registered.definition().prerequisites();
        if prerequisites.is_empty() {
            return Ok(());
        }
        let spec = source.describe().budget;
        let budget = self
            .inner
            .engine
            .budget(&spec.key)
            .unwrap_or_else(|| Arc::new(RateBudget::new(spec, self.inner.clock)));
        let cx = SourceContext::new(
            record.engine_name(),
            &record.tenant,
            budget,
            self.inner.credentials.clone(),
            self.inner.clock,
        );
        let mut unmet = Vec::new();
        for prerequisite in prerequisites {
            let run = async {
                cx.budget().acquire().await;
                prerequisite.check.check(source.as_ref(), &cx).await
            };
            let message = match tokio::time::timeout(CHECK_TIMEOUT, run).await {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => format!("{e}; what to do: {}", e.action()),
                Err(_) => format!(
                    "the check did not finish within {} s: check that the provider is reachable",
                    CHECK_TIMEOUT.as_secs()
                ),
            };
            unmet.push(UnmetPrerequisite {
                id: prerequisite.id.clone(),
                description: prerequisite.description.clone(),
                message,
            });
        }
        if unmet.is_empty() {
            Ok(())
        } else {
            Err(ManageError::Prerequisites(unmet))
        }
    }
}

/// An update must name the revision it read.
pub(super) fn check_revision(record: &InstanceRecord, if_match: Option<u64>) -> ManageResult<()> {
    match if_match {
        None => Err(ManageError::PreconditionRequired),
        Some(given) if given != record.revision => Err(ManageError::Stale {
            given,
            current: record.revision,
        }),
        Some(_) => Ok(()),
    }
}

/// The name a page token carries.
fn decode_token(token: &str) -> ManageResult<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|name| ucp_core::catalog::is_identifier(name))
        .ok_or_else(|| {
            ManageError::invalid(
                "page_token",
                "not a page token: pass the next_page_token of the previous page as it was",
            )
        })
}
