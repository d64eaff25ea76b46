//! # ucp-manage
//!
//! One place to manage every connector of a ucp platform: the **catalog** of connector
//! definitions, connector **instances** ("My connectors") with their lifecycle (create,
//! update, pause, resume, restart, disconnect, delete, offsets), the tenant's destination
//! **workspace**, **RBAC** per tenant (Reader, Contributor, Owner), an append-only **audit**
//! log, and a **REST API** (axum, with an OpenAPI document) over all of it, persisted in an
//! embedded **store** (SQLite; the [`Store`] trait lets a server database back it).
//!
//! A host embeds it in four parts:
//!
//! - an [`Engine`]: the running platform (`ucp_core::RunningPlatform`) the changes apply to;
//! - its [`Products`]: how a tenant's workspace becomes one sink per product;
//! - a [`Store`] ([`SqliteStore`]) and a credential store (secrets go there, write-only);
//! - an [`Authenticator`]: API keys (stored as keyed hashes) and bearer JWTs.
//!
//! [`Manager`] holds the operations (each authorizes, validates, applies to the engine,
//! persists and audits); [`api::router`] exposes them over HTTP, as JSON under `/api/v1`
//! and as web pages under `/ui/` ([`ui`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod catalog;
pub mod engine;
pub mod error;
mod manager;
pub mod model;
pub mod products;
pub mod store;
pub mod ui;
pub mod views;

pub use auth::{
    ApiKeys, Authenticator, JwksSource, JwtConfig, JwtVerifier, Principal, MIN_PEPPER_BYTES,
};
pub use catalog::Catalog;
pub use engine::{Engine, EngineError, SourceVolumes};
pub use error::{ManageError, ManageResult, Problem};
pub use manager::tenancy::{issue_api_key, AuditFilter};
pub use manager::{
    ConnectorVolumes, Manager, ManagerBuilder, StatusPeriod, StatusTimeline, UpgradeOutcome,
    Window, PLATFORM_AUDIT_TENANT,
};
pub use model::{AuditEntry, InstanceRecord, InstanceState, ProductSubscription, Role, Workspace};
pub use products::{ProductInfo, ProductSink, Products};
pub use store::{SqliteStore, Store, StoreError};
