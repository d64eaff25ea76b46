//! A connector's credential slots: each filled with a stored credential's name, or with a
//! secret given inline (Owner only) that is stored write-only under `<connector>-<slot>`,
//! and put back as it was when the change is refused.

use std::collections::BTreeMap;

use ucp_core::catalog::CredentialKind;
use ucp_core::credentials::{Credential, CredentialError, CredentialRef};

use super::Manager;
use crate::catalog::Registered;
use crate::error::{ManageError, ManageResult, Problem};
use crate::model::Role;
use crate::views::CredentialInput;

/// Credentials resolved for an instance.
#[derive(Default)]
pub(super) struct ResolvedCredentials {
    /// Slot → credential name.
    pub(super) names: BTreeMap<String, String>,
    /// Secrets given inline, to store under their names.
    pub(super) to_store: Vec<(CredentialRef, Credential)>,
}

impl Manager {
    /// Resolve each slot to a credential name; an inline secret (Owner only) is to be
    /// stored as `<connector>-<slot>`. `owned` are credentials the connector already owns
    /// (an inline secret may replace those).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn resolve_credentials(
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
    pub(super) async fn store_secrets(
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

    pub(super) async fn restore_secrets(&self, previous: Vec<(CredentialRef, Option<Credential>)>) {
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
}
