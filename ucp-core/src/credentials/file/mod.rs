//! Credentials in one encrypted file.
//!
//! The file holds every credential of every tenant, encrypted with XChaCha20-Poly1305 under a
//! key that is either read from a 32-byte key file or derived from a passphrase with Argon2id
//! (salt and cost in the file's header). Every `put` and `remove` rewrites the whole file
//! atomically: a temporary file in the same folder is written, flushed to disk, renamed over
//! the old one, and the folder is flushed, so a crash leaves either the old or the new file.
//! On Unix the file is created with mode 0600. One process owns the file: the store keeps
//! the decrypted entries in memory and does not notice another process's writes.
//!
//! A wrong key, a truncated file and a file with a changed byte are each refused with their
//! own [`FileError`]; nothing is read from a file that does not verify.

mod format;
#[cfg(test)]
mod format_proptests;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::wire::{WireCredential, WireEntry};
use super::{Credential, CredentialError, CredentialRef, CredentialStore};
use format::KeySource;

/// Why the credential file could not be used. Never contains key or secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Reading or writing failed.
    #[error("could not {action}: {detail}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The I/O error's text.
        detail: String,
    },
    /// The file is shorter than its header says: it was cut off.
    #[error(
        "truncated: {actual} bytes where {expected} are needed; restore the file from a backup"
    )]
    Truncated {
        /// Bytes the file should have.
        expected: u64,
        /// Bytes it has.
        actual: u64,
    },
    /// The file does not start like a credential file.
    #[error("not a ucp credential file (unknown magic bytes): check the path")]
    NotACredentialFile,
    /// The file was written by a newer format version.
    #[error("format version {version} is not supported: use a newer ucp")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// A byte of the file changed (disk error, a stray edit).
    #[error("corrupted: {detail}; restore the file from a backup")]
    Corrupted {
        /// What check failed.
        detail: &'static str,
    },
    /// The key or passphrase does not open this file.
    #[error("wrong key: the passphrase or key file given does not open this file")]
    WrongKey,
    /// The file was opened with a passphrase but was written with a key file, or vice versa.
    #[error("the file was encrypted with {file}, but {given} was given")]
    KeyKindMismatch {
        /// What the file needs.
        file: &'static str,
        /// What was given.
        given: &'static str,
    },
    /// The key checks out but the payload fails authentication: it was edited on purpose.
    #[error("tampered: the encrypted payload fails authentication although the key is right; restore the file from a backup")]
    Tampered,
    /// The key file is unusable.
    #[error("key file {}: {detail}", .path.display())]
    BadKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong (never the key).
        detail: String,
    },
    /// Argon2id cost parameters out of range.
    #[error("key derivation parameters refused: {detail}")]
    BadParams {
        /// What is wrong.
        detail: String,
    },
    /// Encryption failed (should not happen).
    #[error("encryption failed")]
    Encrypt,
    /// The decrypted payload is not a list of credentials.
    #[error("payload unreadable after decryption: {detail}")]
    Payload {
        /// The parser's message (positions only, never content).
        detail: String,
    },
}

/// How to get the file's key.
#[derive(Debug)]
pub enum FileKey {
    /// Derive the key from a passphrase with Argon2id.
    Passphrase(SecretString),
    /// Read a file holding exactly 32 random bytes.
    KeyFile(PathBuf),
    /// A 32-byte key already in memory.
    Key(SecretBox<[u8; 32]>),
}

impl FileKey {
    /// A passphrase.
    pub fn passphrase(passphrase: impl Into<String>) -> Self {
        FileKey::Passphrase(SecretString::from(passphrase.into()))
    }

    /// A key file path.
    pub fn key_file(path: impl Into<PathBuf>) -> Self {
        FileKey::KeyFile(path.into())
    }

    /// Write a new key file of 32 random bytes (mode 0600 on Unix; refuses to overwrite)
    /// and return it as a key source.
    pub fn generate_key_file(path: impl Into<PathBuf>) -> Result<Self, CredentialError> {
        let path = path.into();
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        let fail = |action, e: std::io::Error| CredentialError::File {
            path: path.clone(),
            error: io_error(action, e),
        };
        let mut file = create_private(&path).map_err(|e| fail("create the key file", e))?;
        file.write_all(key.as_ref())
            .and_then(|_| file.sync_all())
            .map_err(|e| fail("write the key file", e))?;
        Ok(FileKey::KeyFile(path))
    }
}

/// Argon2id cost for new passphrase-protected files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 19 MiB, 2 passes, 1 lane (the OWASP recommendation for Argon2id).
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// Upper bounds on costs read from a file header, so a crafted file cannot exhaust memory.
const MAX_M_COST_KIB: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 16;

/// Credentials kept in one encrypted file (see the module docs).
pub struct FileCredentials {
    path: PathBuf,
    key: Arc<Zeroizing<[u8; 32]>>,
    source: KeySource,
    entries: Mutex<BTreeMap<CredentialRef, Credential>>,
}

impl fmt::Debug for FileCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCredentials")
            .field("path", &self.path)
            .field("key", &self.source.name())
            .finish_non_exhaustive()
    }
}

impl FileCredentials {
    /// Open the file at `path`, or start an empty store there if it does not exist (the
    /// file is written at the first `put`). New passphrase files use [`KdfParams::default`].
    pub async fn open(path: impl Into<PathBuf>, key: FileKey) -> Result<Self, CredentialError> {
        Self::open_with_params(path, key, KdfParams::default()).await
    }

    /// Like [`open`](Self::open), with the Argon2id cost to use if the file is new (an existing
    /// file keeps the cost recorded in its header).
    pub async fn open_with_params(
        path: impl Into<PathBuf>,
        key: FileKey,
        params: KdfParams,
    ) -> Result<Self, CredentialError> {
        let path = path.into();
        let task_path = path.clone();
        let opened = tokio::task::spawn_blocking(move || load(&task_path, key, params))
            .await
            .map_err(|e| CredentialError::Store(format!("credential file task failed: {e}")))?;
        let (source, key, entries) = opened.map_err(|error| CredentialError::File {
            path: path.clone(),
            error,
        })?;
        tracing::debug!(path = %path.display(), credentials = entries.len(), "opened credential file");
        Ok(FileCredentials {
            path,
            key: Arc::new(key),
            source,
            entries: Mutex::new(entries),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Encrypt `entries` and replace the file with them.
    async fn persist(
        &self,
        entries: &BTreeMap<CredentialRef, Credential>,
    ) -> Result<(), CredentialError> {
        let wire: Vec<WireEntry> = entries
            .iter()
            .map(|(reference, credential)| WireEntry {
                reference: reference.clone(),
                credential: WireCredential::from(credential),
            })
            .collect();
        let plaintext = Zeroizing::new(serde_json::to_vec(&wire).map_err(|e| {
            CredentialError::Store(format!("could not serialize credentials: {e}"))
        })?);
        drop(wire);
        let (key, source, path) = (self.key.clone(), self.source, self.path.clone());
        let written = tokio::task::spawn_blocking(move || {
            let bytes = format::seal(&source, &key, &plaintext)?;
            write_atomically(&path, &bytes)
        })
        .await
        .map_err(|e| CredentialError::Store(format!("credential file task failed: {e}")))?;
        written.map_err(|error| CredentialError::File {
            path: self.path.clone(),
            error,
        })
    }
}

#[async_trait]
impl CredentialStore for FileCredentials {
    async fn get(&self, reference: &CredentialRef) -> Result<Credential, CredentialError> {
        self.entries
            .lock()
            .await
            .get(reference)
            .cloned()
            .ok_or_else(|| CredentialError::NotFound(reference.clone()))
    }

    async fn put(
        &self,
        reference: CredentialRef,
        credential: Credential,
    ) -> Result<(), CredentialError> {
        // Hold the lock across the write so concurrent puts cannot reorder on disk.
        let mut entries = self.entries.lock().await;
        let mut next = entries.clone();
        next.insert(reference.clone(), credential);
        self.persist(&next).await?;
        *entries = next;
        tracing::info!(credential = %reference, path = %self.path.display(), "credential stored");
        Ok(())
    }

    async fn remove(&self, reference: &CredentialRef) -> Result<bool, CredentialError> {
        let mut entries = self.entries.lock().await;
        if !entries.contains_key(reference) {
            return Ok(false);
        }
        let mut next = entries.clone();
        next.remove(reference);
        self.persist(&next).await?;
        *entries = next;
        tracing::info!(credential = %reference, path = %self.path.display(), "credential removed");
        Ok(true)
    }

    async fn list(&self, tenant: Option<&str>) -> Result<Vec<CredentialRef>, CredentialError> {
        Ok(self
            .entries
            .lock()
            .await
            .keys()
            .filter(|r| tenant.is_none_or(|t| r.tenant == t))
            .cloned()
            .collect())
    }
}

type Loaded = (
    KeySource,
    Zeroizing<[u8; 32]>,
    BTreeMap<CredentialRef, Credential>,
);

/// Read and decrypt the file, or prepare an empty store if there is none.
fn load(path: &Path, key: FileKey, params: KdfParams) -> Result<Loaded, FileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let source = match &key {
                FileKey::Passphrase(_) => {
                    let mut salt = [0u8; 16];
                    rand::rng().fill_bytes(&mut salt);
                    KeySource::Passphrase {
                        m_cost_kib: params.m_cost_kib,
                        t_cost: params.t_cost,
                        p_cost: params.p_cost,
                        salt,
                    }
                }
                FileKey::KeyFile(_) | FileKey::Key(_) => KeySource::Key,
            };
            let derived = derive(&source, key)?;
            return Ok((source, derived, BTreeMap::new()));
        }
        Err(e) => return Err(io_error("read the credential file", e)),
    };
    let header = format::inspect(&bytes)?;
    let derived = derive(&header.source, key)?;
    let plaintext = format::open(&bytes, &derived)?;
    let wire: Vec<WireEntry> =
        serde_json::from_slice(&plaintext).map_err(|e| FileError::Payload {
            detail: format!("line {} column {}", e.line(), e.column()),
        })?;
    let entries = wire
        .into_iter()
        .map(|e| (e.reference, Credential::from(e.credential)))
        .collect();
    Ok((header.source, derived, entries))
}

/// The 32-byte key for `source` from what the caller gave.
fn derive(source: &KeySource, key: FileKey) -> Result<Zeroizing<[u8; 32]>, FileError> {
    let given = match &key {
        FileKey::Passphrase(_) => "a passphrase",
        FileKey::KeyFile(_) | FileKey::Key(_) => "a 32-byte key file",
    };
    match (source, key) {
        (KeySource::Key, FileKey::Key(k)) => Ok(Zeroizing::new(*k.expose_secret())),
        (KeySource::Key, FileKey::KeyFile(path)) => read_key_file(&path),
        (
            KeySource::Passphrase {
                m_cost_kib,
                t_cost,
                p_cost,
                salt,
            },
            FileKey::Passphrase(passphrase),
        ) => {
            if *m_cost_kib > MAX_M_COST_KIB || *t_cost > MAX_T_COST || *p_cost > MAX_P_COST {
                return Err(FileError::BadParams {
                    detail: format!(
                        "m_cost {m_cost_kib} KiB, t_cost {t_cost}, p_cost {p_cost} exceed \
                         {MAX_M_COST_KIB} KiB, {MAX_T_COST}, {MAX_P_COST}"
                    ),
                });
            }
            let params = Params::new(*m_cost_kib, *t_cost, *p_cost, Some(32)).map_err(|e| {
                FileError::BadParams {
                    detail: e.to_string(),
                }
            })?;
            let mut out = Zeroizing::new([0u8; 32]);
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into(passphrase.expose_secret().as_bytes(), salt, out.as_mut())
                .map_err(|e| FileError::BadParams {
                    detail: e.to_string(),
                })?;
            Ok(out)
        }
        (source, _) => Err(FileError::KeyKindMismatch {
            file: source.name(),
            given,
        }),
    }
}

fn read_key_file(path: &Path) -> Result<Zeroizing<[u8; 32]>, FileError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| FileError::BadKeyFile {
        path: path.to_path_buf(),
        detail: format!("could not read it: {e}"),
    })?);
    if bytes.len() != 32 {
        return Err(FileError::BadKeyFile {
            path: path.to_path_buf(),
            detail: format!(
                "it holds {} bytes, but a key file holds exactly 32 random bytes \
                 (make one with FileKey::generate_key_file or `head -c 32 /dev/urandom`)",
                bytes.len()
            ),
        });
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Temp file in the same folder, fsync, rename over the target, fsync the folder.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "credentials".into());
    let tmp = dir.join(format!(".{name}.tmp-{:016x}", rand::rng().next_u64()));
    let result = (|| {
        let mut file = create_private(&tmp).map_err(|e| io_error("create a temporary file", e))?;
        file.write_all(bytes)
            .and_then(|_| file.sync_all())
            .map_err(|e| io_error("write the temporary file", e))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| io_error("replace the credential file", e))?;
        sync_dir(&dir).map_err(|e| io_error("flush the folder", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Create a new file readable only by its owner (on Unix).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

fn io_error(action: &'static str, e: std::io::Error) -> FileError {
    FileError::Io {
        action,
        kind: e.kind(),
        detail: e.to_string(),
    }
}
