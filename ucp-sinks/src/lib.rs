//! # ucp-sinks
//!
//! Product sinks of `ucp`, each speaking its product's real wire protocol:
//!
//! - [`sentinel`]: Microsoft Sentinel / Log Analytics via the Azure Monitor Logs Ingestion API.
//! - [`eventhubs`]: Azure Event Hubs REST batch send (Defender for Identity, Exposure
//!   Management, any product that ingests from an event hub).
//! - [`datalake`]: Parquet files through `object_store` (local disk, Azure Blob / ADLS Gen2).
//! - [`file`](mod@file): NDJSON files with an id envelope, rolled by size and age, optionally
//!   gzip, complete files only ever visible under their final name.
//! - [`stdout`]: a console sink for examples.
//!
//! Every sink is at-least-once: a batch retried after a failure or re-collected after a crash
//! is delivered again, and consumers drop duplicates by record id.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "sentinel", feature = "eventhubs"))]
mod azure;
#[cfg(feature = "datalake")]
#[cfg_attr(docsrs, doc(cfg(feature = "datalake")))]
pub mod datalake;
#[cfg(feature = "eventhubs")]
#[cfg_attr(docsrs, doc(cfg(feature = "eventhubs")))]
pub mod eventhubs;
#[cfg(feature = "file")]
#[cfg_attr(docsrs, doc(cfg(feature = "file")))]
pub mod file;
#[cfg(feature = "sentinel")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentinel")))]
pub mod sentinel;
#[cfg(feature = "stdout")]
#[cfg_attr(docsrs, doc(cfg(feature = "stdout")))]
pub mod stdout;

#[cfg(feature = "file")]
pub use file::{FileSink, FileSinkConfig, FileSinkError, FileSinkStats};
#[cfg(feature = "stdout")]
pub use stdout::{ConsoleMode, ConsoleSink};
