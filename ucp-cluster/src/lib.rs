//! ucp's cluster mode: N ucp processes share the collection jobs of one set of tenants
//! through one PostgreSQL database.
//!
//! - **Leases with fencing** ([`Leases`], [`Node`]): each job (source instance, stream) has
//!   one owner at a time, renewed by heartbeat and expiring after a TTL; every new owner
//!   gets a larger fencing token. Nodes move towards a fair share cooperatively.
//! - **Fenced cursors** ([`FencedCheckpoints`]): the platform's checkpoint store, where a
//!   cursor is saved only under the job's current token.
//! - **One budget per provider account** ([`PgBudget`]): the platform's
//!   [`ucp_core::SharedBudget`], GCRA state and pauses in one row per account.
//! - **Dead letters** ([`PgDeadLetters`]) and **the health table** ([`PgHealthTable`]) in
//!   the same database, and **the management store** ([`PgStore`], `ucp-manage`'s `Store`).
//!
//! Migrations are applied when a node opens the database ([`Db::open`]).

pub mod budget;
pub mod cursor;
pub mod db;
pub mod dead_letter;
pub mod error;
pub mod health;
pub mod holdings;
pub mod leases;
pub mod manage;
pub mod node;

pub use budget::PgBudget;
pub use cursor::{refused_commits, FencedCheckpoints};
pub use db::{Db, DbConfig};
pub use dead_letter::PgDeadLetters;
pub use error::ClusterError;
pub use health::PgHealthTable;
pub use holdings::Holdings;
pub use leases::{fair_share, JobOwner, Lease, Leases};
pub use manage::PgStore;
pub use node::{JobRunner, Node, TickReport};
