//! The sync ledger: everything the sync must remember to be loop-free and crash-safe, in one
//! SQLite file (WAL).
//!
//! | table | what |
//! |---|---|
//! | `twins` | each XDR incident's Sentinel twin, and the last version of each side reconciled |
//! | `fields` | per incident and field: the last value agreed on each side (a side whose value still equals it did not change: an echo of our own write is recognized so) |
//! | `comments` | per incident: every comment seen on either side and what became of it (copied, pending, skipped over a limit, our own copy) |
//! | `dirty` | incidents a poll saw change and not yet reconciled, and whether XDR's side changed (saved with the poll's cursor in one transaction) |
//! | `cursors` | where each side's polling continues |
//! | `audit` | conflicts and their resolution, one-way edits put back, comments skipped, rules turned off |
//! | `rules` | the Microsoft incident creation rules the sync turned off |
//!
//! Writes to the providers come first, then the ledger (see ARCHITECTURE.md, "Incident sync"):
//! after a crash between the two, both sides hold the value and the ledger the old one, and
//! the next reconcile sees the two sides agree and records it, writing nothing.
//!
//! `synchronous = NORMAL` under WAL: a killed process loses nothing committed; after a power
//! loss the last commits may be missing, which the same reasoning covers (a comment's copy is
//! found by its deterministic id or exact text before it is made again).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::fields::Field;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS twins (
    xdr_id TEXT PRIMARY KEY, sentinel_id TEXT NOT NULL, xdr_version TEXT, sentinel_etag TEXT,
    warned TEXT NOT NULL DEFAULT '', xdr_snapshot TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS twins_by_sentinel ON twins (sentinel_id);
CREATE TABLE IF NOT EXISTS fields (
    xdr_id TEXT NOT NULL, field TEXT NOT NULL, xdr_value TEXT NOT NULL, sentinel_value TEXT NOT NULL,
    PRIMARY KEY (xdr_id, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS comments (
    xdr_id TEXT NOT NULL, origin TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
    copy TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (xdr_id, origin, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirty (
    xdr_id TEXT PRIMARY KEY, since TEXT NOT NULL, xdr_changed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, xdr_id TEXT NOT NULL,
    field TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rules (rule_id TEXT PRIMARY KEY, product TEXT NOT NULL, time TEXT NOT NULL) WITHOUT ROWID;
";

/// The ledger failed.
#[derive(Debug, thiserror::Error)]
#[error("sync ledger {path}: {what}: {source}")]
pub struct LedgerError {
    path: PathBuf,
    what: &'static str,
    #[source]
    source: rusqlite::Error,
}

/// An XDR incident's twin as the ledger knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Twin {
    /// The Sentinel incident id.
    pub sentinel_id: String,
    /// The XDR version (`lastUpdateDateTime`) last reconciled.
    pub xdr_version: Option<String>,
    /// The Sentinel etag last reconciled.
    pub sentinel_etag: Option<String>,
    /// Warnings already given for this incident (`one-way`, `comments-limit`, …).
    pub warned: Vec<String>,
    /// The XDR incident as last reconciled (what the sync uses of it, as JSON): the current
    /// state while the XDR poll shows no newer version.
    pub snapshot: Option<String>,
}

/// What became of a comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentState {
    /// Copied to the other side (or found there).
    Copied,
    /// About to be posted to XDR (a crash leaves it so: look for the text before posting).
    Pending,
    /// Not copied: over a limit of the other side (reported once).
    Skipped,
    /// Our own copy of a comment from the other side: never copied back.
    Ours,
}

impl CommentState {
    fn as_str(self) -> &'static str {
        match self {
            CommentState::Copied => "copied",
            CommentState::Pending => "pending",
            CommentState::Skipped => "skipped",
            CommentState::Ours => "ours",
        }
    }

    fn parse(s: &str) -> CommentState {
        match s {
            "pending" => CommentState::Pending,
            "skipped" => CommentState::Skipped,
            "ours" => CommentState::Ours,
            _ => CommentState::Copied,
        }
    }
}

/// A comment's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentRecord {
    /// `xdr` or `sentinel`: where it was written.
    pub origin: String,
    /// Its identity on that side.
    pub key: String,
    /// What became of it.
    pub state: CommentState,
    /// The copy's identity on the other side (a Sentinel comment id, or the exact text
    /// posted to XDR).
    pub copy: String,
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// When.
    pub time: String,
    /// The XDR incident.
    pub xdr_id: String,
    /// The field (or `comments`, `rules`).
    pub field: String,
    /// `conflict`, `one-way`, `comment-skipped`, `rule-disabled`, …
    pub event: String,
    /// What was decided, in words.
    pub detail: String,
}

/// The ledger. One per tenant's sync.
pub struct Ledger {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

impl Ledger {
    /// Open (or make) the ledger file `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Ledger, LedgerError> {
        let path = path.as_ref().to_path_buf();
        let err = |what, source| LedgerError {
            path: path.clone(),
            what,
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                err(
                    "making its directory",
                    rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
                )
            })?;
        }
        let conn = Connection::open(&path).map_err(|e| err("opening", e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| err("creating the tables", e))?;
        Ok(Ledger {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// A ledger in memory (tests, dry runs).
    pub fn in_memory() -> Result<Ledger, LedgerError> {
        Ledger::open_memory()
    }

    fn open_memory() -> Result<Ledger, LedgerError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| LedgerError {
            path: path.clone(),
            what: "opening",
            source: e,
        })?;
        conn.execute_batch(SCHEMA).map_err(|e| LedgerError {
            path: path.clone(),
            what: "creating the tables",
            source: e,
        })?;
        Ok(Ledger {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run<T>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, LedgerError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|source| LedgerError {
            path: self.path.clone(),
            what,
            source,
        })
    }

    /// The twin of XDR incident `xdr_id`, if made.
    pub fn twin(&self, xdr_id: &str) -> Result<Option<Twin>, LedgerError> {
        self.run("reading a twin", |c| {
            c.prepare_cached("SELECT sentinel_id, xdr_version, sentinel_etag, warned, xdr_snapshot FROM twins WHERE xdr_id = ?1")?.query_row(
                params![xdr_id],
                |r| {
                    let warned: String = r.get(3)?;
                    Ok(Twin {
                        sentinel_id: r.get(0)?,
                        xdr_version: r.get(1)?,
                        sentinel_etag: r.get(2)?,
                        warned: warned
                            .split(',')
                            .filter(|w| !w.is_empty())
                            .map(str::to_string)
                            .collect(),
                        snapshot: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    /// The XDR incident whose twin is Sentinel incident `sentinel_id`.
    pub fn xdr_of(&self, sentinel_id: &str) -> Result<Option<String>, LedgerError> {
        self.run("finding a twin", |c| {
            c.prepare_cached("SELECT xdr_id FROM twins WHERE sentinel_id = ?1")?
                .query_row(params![sentinel_id], |r| r.get(0))
                .optional()
        })
    }

    /// How many twins there are.
    pub fn twins(&self) -> Result<usize, LedgerError> {
        self.run("counting twins", |c| {
            c.query_row("SELECT COUNT(*) FROM twins", [], |r| r.get::<_, i64>(0))
                .map(|n| usize::try_from(n).unwrap_or(0))
        })
    }

    /// Record the state of incident `xdr_id` after a reconcile: its twin, the versions of
    /// both sides, and the agreed values of `fields` (`(field, xdr value, sentinel value)`),
    /// in one transaction.
    pub fn record(
        &self,
        xdr_id: &str,
        twin: &Twin,
        fields: &[(Field, Value, Value)],
    ) -> Result<(), LedgerError> {
        self.run("recording a reconcile", |c| {
            let tx = c.transaction()?;
            tx.prepare_cached(
                "INSERT INTO twins (xdr_id, sentinel_id, xdr_version, sentinel_etag, warned, xdr_snapshot) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (xdr_id) DO UPDATE SET sentinel_id = excluded.sentinel_id, xdr_version = excluded.xdr_version,
                 sentinel_etag = excluded.sentinel_etag, warned = excluded.warned, xdr_snapshot = excluded.xdr_snapshot",
            )?
            .execute(
                params![xdr_id, twin.sentinel_id, twin.xdr_version, twin.sentinel_etag, twin.warned.join(","), twin.snapshot],
            )?;
            for (field, x, s) in fields {
                tx.prepare_cached(
                    "INSERT INTO fields (xdr_id, field, xdr_value, sentinel_value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (xdr_id, field) DO UPDATE SET xdr_value = excluded.xdr_value, sentinel_value = excluded.sentinel_value",
                )?
                .execute(
                    params![xdr_id, field.name(), x.to_string(), s.to_string()],
                )?;
            }
            tx.commit()
        })
    }

    /// The agreed values of every field of incident `xdr_id`.
    pub fn fields(&self, xdr_id: &str) -> Result<Vec<(Field, Value, Value)>, LedgerError> {
        self.run("reading fields", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT field, xdr_value, sentinel_value FROM fields WHERE xdr_id = ?1",
            )?;
            let rows = stmt.query_map(params![xdr_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (name, x, s) = row?;
                if let Some(field) = Field::named(&name) {
                    out.push((
                        field,
                        serde_json::from_str(&x).unwrap_or(Value::Null),
                        serde_json::from_str(&s).unwrap_or(Value::Null),
                    ));
                }
            }
            Ok(out)
        })
    }

    /// Every comment record of incident `xdr_id`.
    pub fn comments(&self, xdr_id: &str) -> Result<Vec<CommentRecord>, LedgerError> {
        self.run("reading comments", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT origin, key, state, copy FROM comments WHERE xdr_id = ?1",
            )?;
            let rows = stmt.query_map(params![xdr_id], |r| {
                Ok(CommentRecord {
                    origin: r.get(0)?,
                    key: r.get(1)?,
                    state: CommentState::parse(&r.get::<_, String>(2)?),
                    copy: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Record what became of a comment.
    pub fn comment(&self, xdr_id: &str, record: &CommentRecord) -> Result<(), LedgerError> {
        self.run("recording a comment", |c| {
            c.prepare_cached(
                "INSERT INTO comments (xdr_id, origin, key, state, copy) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (xdr_id, origin, key) DO UPDATE SET state = excluded.state, copy = excluded.copy",
            )?
            .execute(
                params![xdr_id, record.origin, record.key, record.state.as_str(), record.copy],
            )
            .map(|_| ())
        })
    }

    /// Mark `ids` changed (on XDR's side when `xdr_changed`: its state must then be read
    /// again, not taken from the snapshot) and save cursor `name` = `cursor` with them, in one
    /// transaction.
    pub fn mark_dirty(
        &self,
        ids: &[String],
        xdr_changed: bool,
        cursor: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.run("marking incidents changed", |c| {
            let tx = c.transaction()?;
            for id in ids {
                tx.prepare_cached(
                    "INSERT INTO dirty (xdr_id, since, xdr_changed) VALUES (?1, ?2, ?3)
                     ON CONFLICT (xdr_id) DO UPDATE SET xdr_changed = MAX(xdr_changed, excluded.xdr_changed)",
                )?
                .execute(params![id, now.to_rfc3339(), i64::from(xdr_changed)])?;
            }
            if let Some((name, value)) = cursor {
                tx.prepare_cached(
                    "INSERT INTO cursors (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )?
                .execute(
                    params![name, value],
                )?;
            }
            tx.commit()
        })
    }

    /// Incidents waiting to be reconciled, oldest first, with whether XDR's side changed.
    pub fn dirty(&self) -> Result<Vec<(String, bool)>, LedgerError> {
        self.run("reading changed incidents", |c| {
            let mut stmt =
                c.prepare_cached("SELECT xdr_id, xdr_changed FROM dirty ORDER BY since, xdr_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))?;
            rows.collect()
        })
    }

    /// Incident `xdr_id` is reconciled.
    pub fn clean(&self, xdr_id: &str) -> Result<(), LedgerError> {
        self.run("clearing a changed incident", |c| {
            c.prepare_cached("DELETE FROM dirty WHERE xdr_id = ?1")?
                .execute(params![xdr_id])
                .map(|_| ())
        })
    }

    /// Cursor `name`.
    pub fn cursor(&self, name: &str) -> Result<Option<String>, LedgerError> {
        self.run("reading a cursor", |c| {
            c.prepare_cached("SELECT value FROM cursors WHERE name = ?1")?
                .query_row(params![name], |r| r.get(0))
                .optional()
        })
    }

    /// Add an audit entry.
    pub fn audit(
        &self,
        now: DateTime<Utc>,
        xdr_id: &str,
        field: &str,
        event: &str,
        detail: &str,
    ) -> Result<(), LedgerError> {
        self.run("writing the audit", |c| {
            c.prepare_cached(
                "INSERT INTO audit (time, xdr_id, field, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(
                params![now.to_rfc3339(), xdr_id, field, event, detail],
            )
            .map(|_| ())
        })
    }

    /// The audit trail, oldest first (`event` only, if given).
    pub fn audit_trail(&self, event: Option<&str>) -> Result<Vec<AuditEntry>, LedgerError> {
        self.run("reading the audit", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT time, xdr_id, field, event, detail FROM audit WHERE ?1 IS NULL OR event = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![event], |r| {
                Ok(AuditEntry {
                    time: r.get(0)?,
                    xdr_id: r.get(1)?,
                    field: r.get(2)?,
                    event: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Rule `rule_id` of `product` was turned off by the sync.
    pub fn rule_disabled(
        &self,
        rule_id: &str,
        product: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.run("recording a rule", |c| {
            c.prepare_cached(
                "INSERT INTO rules (rule_id, product, time) VALUES (?1, ?2, ?3) ON CONFLICT (rule_id) DO NOTHING",
            )?
            .execute(
                params![rule_id, product, now.to_rfc3339()],
            )
            .map(|_| ())
        })
    }

    /// The rules the sync turned off, `(rule id, product)`.
    pub fn disabled_rules(&self) -> Result<Vec<(String, String)>, LedgerError> {
        self.run("reading rules", |c| {
            let mut stmt =
                c.prepare_cached("SELECT rule_id, product FROM rules ORDER BY rule_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn twins_fields_comments_and_cursors_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.sqlite");
        let now = Utc::now();
        {
            let ledger = Ledger::open(&path).unwrap();
            let twin = Twin {
                sentinel_id: "s1".into(),
                xdr_version: Some("v1".into()),
                sentinel_etag: Some("\"e1\"".into()),
                warned: vec!["one-way".into()],
                snapshot: None,
            };
            ledger
                .record("x1", &twin, &[(Field::Title, json!("t"), json!("t"))])
                .unwrap();
            ledger
                .comment(
                    "x1",
                    &CommentRecord {
                        origin: "xdr".into(),
                        key: "k".into(),
                        state: CommentState::Pending,
                        copy: "text".into(),
                    },
                )
                .unwrap();
            ledger
                .mark_dirty(&["x2".into()], true, Some(("xdr", "c1")), now)
                .unwrap();
            ledger
                .audit(now, "x1", "title", "conflict", "XDR won")
                .unwrap();
        }
        let ledger = Ledger::open(&path).unwrap();
        let twin = ledger.twin("x1").unwrap().unwrap();
        assert_eq!(twin.warned, ["one-way"]);
        assert_eq!(ledger.xdr_of("s1").unwrap().as_deref(), Some("x1"));
        assert_eq!(ledger.fields("x1").unwrap()[0].0, Field::Title);
        assert_eq!(
            ledger.comments("x1").unwrap()[0].state,
            CommentState::Pending
        );
        assert_eq!(ledger.dirty().unwrap(), [("x2".to_string(), true)]);
        // A later mark from Sentinel's side keeps XDR's.
        ledger.mark_dirty(&["x2".into()], false, None, now).unwrap();
        assert_eq!(ledger.dirty().unwrap(), [("x2".to_string(), true)]);
        assert_eq!(ledger.cursor("xdr").unwrap().as_deref(), Some("c1"));
        ledger.clean("x2").unwrap();
        assert!(ledger.dirty().unwrap().is_empty());
        assert_eq!(ledger.audit_trail(Some("conflict")).unwrap().len(), 1);
        assert!(ledger.audit_trail(Some("none")).unwrap().is_empty());
    }
}
