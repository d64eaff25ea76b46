//! # ucp-sinks
//!
//! Product sinks of `ucp`, each speaking its product's real wire protocol:
//!
//! - [`sentinel`]: Microsoft Sentinel / Log Analytics via the Azure Monitor Logs Ingestion API.
//! - [`eventhubs`]: Azure Event Hubs REST batch send (Defender for Identity, Exposure
//!   Management, any product that ingests from an event hub).
//! - [`datalake`]: Parquet files through `object_store` (local disk, Azure Blob / ADLS Gen2).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod datalake;
pub mod eventhubs;
pub mod sentinel;
