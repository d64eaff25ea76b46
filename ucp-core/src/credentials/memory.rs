//! In-memory credential store for tests and examples.

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::{Credential, CredentialError, CredentialRef, CredentialStore};

/// Credentials held in process memory.
#[derive(Default)]
pub struct MemoryCredentials {
    entries: RwLock<BTreeMap<CredentialRef, Credential>>,
}

impl std::fmt::Debug for MemoryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.entries.read().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("MemoryCredentials")
            .field("count", &count)
            .finish()
    }
}

impl MemoryCredentials {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn get(&self, reference: &CredentialRef) -> Result<Credential, CredentialError> {
        let entries = self.entries.read().map_err(|_| poisoned())?;
        entries
            .get(reference)
            .cloned()
            .ok_or_else(|| CredentialError::NotFound(reference.clone()))
    }

    async fn put(
        &self,
        reference: CredentialRef,
        credential: Credential,
    ) -> Result<(), CredentialError> {
        self.entries
            .write()
            .map_err(|_| poisoned())?
            .insert(reference, credential);
        Ok(())
    }

    async fn remove(&self, reference: &CredentialRef) -> Result<bool, CredentialError> {
        Ok(self
            .entries
            .write()
            .map_err(|_| poisoned())?
            .remove(reference)
            .is_some())
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<CredentialRef>, CredentialError> {
        let entries = self.entries.read().map_err(|_| poisoned())?;
        Ok(entries
            .keys()
            .filter(|r| tenant.is_none_or(|t| r.tenant == t))
            .cloned()
            .collect())
    }
}

fn poisoned() -> CredentialError {
    CredentialError::Store("in-memory store lock poisoned by a panic".into())
}
