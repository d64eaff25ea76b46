//! # ucp-sinks
//!
//! Product sinks for ucp: each module implements [`ucp_core::Sink`] for one kind of product
//! ingestion point.
//!
//! - [`file`](mod@file): NDJSON files with an id envelope, rolled by size and age, optionally gzip,
//!   complete files only ever visible under their final name.
//! - [`stdout`]: a console sink for examples.
//!
//! Every sink is at-least-once: a batch retried after a failure or re-collected after a crash
//! is delivered again, and consumers drop duplicates by record id.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod file;
pub mod stdout;

pub use file::{FileSink, FileSinkConfig, FileSinkError, FileSinkStats};
pub use stdout::{ConsoleMode, ConsoleSink};
