//! The platform's health in Microsoft Sentinel: one data collection rule stream per health
//! stream (see `ucp_core::health_source`), each with its columns, their types and where each
//! comes from, so analysts query connector health with KQL next to the data it concerns.
//!
//! | health stream | DCR stream | table |
//! |---|---|---|
//! | `health_events` | [`HEALTH_EVENTS_DCR`] `Custom-UcpHealth_CL` | `UcpHealth_CL` |
//! | `volumes` | [`VOLUMES_DCR`] `Custom-UcpVolumes_CL` | `UcpVolumes_CL` |
//! | `inventory` | [`INVENTORY_DCR`] `Custom-UcpInventory_CL` | `UcpInventory_CL` |
//!
//! `Custom-UcpHealth_CL` has one row per status transition: `TimeGenerated` (when the status
//! changed), `RecordId` (`<tenant>/health/<sequence>`: a row delivered twice after a crash
//! has the same id), `Sequence`, `Tenant`, `Connector`, `Product` (empty for the
//! connector's collection), `Workspace`, `Stream`, `Kind` (`Collection`, `Delivery`, `Auth`,
//! `Budget`, …), `Status` and `PreviousStatus` (`Starting`, `Ok`, `Warning`, `Error`,
//! `Stopped`), `Message` (what failed and what to do), `WhatToDo` (the advice alone, when the
//! message has one) and `Details`. [`DcrStream::declaration`] is the `streamDeclarations`
//! entry of the rule; [`DcrStream::mapping`] the sink's [`ColumnMapping`]:
//!
//! ```
//! use ucp_sinks::sentinel::health::HEALTH_EVENTS_DCR;
//! use ucp_sinks::sentinel::SentinelConfig;
//!
//! let mut config = SentinelConfig::new(
//!     "https://my-dce.eastus-1.ingest.monitor.azure.com",
//!     "dcr-0123456789abcdef",
//!     HEALTH_EVENTS_DCR.stream,
//!     "entra-app",
//! );
//! config.product = "sentinel-health".into();
//! config.mapping = HEALTH_EVENTS_DCR.mapping();
//! ```
//!
//! ```kusto
//! UcpHealth_CL
//! | summarize arg_max(TimeGenerated, Status, Message) by Connector, Product, Stream
//! | where Status in ("Warning", "Error")
//! ```

use serde_json::{json, Value};
use ucp_core::health_source::{HEALTH_EVENTS, INVENTORY, VOLUMES};

use super::ColumnMapping;

/// Where a column's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnSource {
    /// The record's time.
    Time,
    /// The record's id.
    Id,
    /// The field of the record's JSON at this pointer.
    Field(&'static str),
}

/// One column of a DCR stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcrColumn {
    /// The column's name.
    pub name: &'static str,
    /// Its type in the rule's stream declaration (`string`, `long`, `datetime`, …).
    pub kind: &'static str,
    /// Where its value comes from.
    pub source: ColumnSource,
}

/// A DCR stream for one health stream: its name and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcrStream {
    /// The health source's stream it carries.
    pub health_stream: &'static str,
    /// The DCR stream name.
    pub stream: &'static str,
    /// Its columns, `TimeGenerated` first.
    pub columns: &'static [DcrColumn],
}

impl DcrStream {
    /// The Sentinel sink's mapping from the health stream's records to these columns.
    pub fn mapping(&self) -> ColumnMapping {
        self.columns
            .iter()
            .fold(ColumnMapping::empty(), |mapping, column| {
                match column.source {
                    ColumnSource::Time => mapping.time_column(column.name),
                    ColumnSource::Id => mapping.with_id(column.name),
                    ColumnSource::Field(pointer) => mapping.column(column.name, pointer),
                }
            })
    }

    /// The rule's `streamDeclarations` entry for this stream.
    pub fn declaration(&self) -> Value {
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.kind}))
            .collect();
        json!({ self.stream: { "columns": columns } })
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }
}

const fn col(name: &'static str, kind: &'static str, source: ColumnSource) -> DcrColumn {
    DcrColumn { name, kind, source }
}

use ColumnSource::{Field, Id, Time};

/// `health_events` → `Custom-UcpHealth_CL`.
pub const HEALTH_EVENTS_DCR: DcrStream = DcrStream {
    health_stream: HEALTH_EVENTS,
    stream: "Custom-UcpHealth_CL",
    columns: &[
        col("TimeGenerated", "datetime", Time),
        col("RecordId", "string", Id),
        col("Sequence", "long", Field("/sequence")),
        col("Tenant", "string", Field("/tenant")),
        col("Connector", "string", Field("/connector")),
        col("Product", "string", Field("/product")),
        col("Workspace", "string", Field("/workspace")),
        col("Stream", "string", Field("/stream")),
        col("Kind", "string", Field("/kind")),
        col("Status", "string", Field("/status")),
        col("PreviousStatus", "string", Field("/previous_status")),
        col("Message", "string", Field("/message")),
        col("WhatToDo", "string", Field("/what_to_do")),
        col("Details", "dynamic", Field("/details")),
    ],
};

/// `volumes` → `Custom-UcpVolumes_CL`: one row per series and minute.
pub const VOLUMES_DCR: DcrStream = DcrStream {
    health_stream: VOLUMES,
    stream: "Custom-UcpVolumes_CL",
    columns: &[
        col("TimeGenerated", "datetime", Time),
        col("RecordId", "string", Id),
        col("Tenant", "string", Field("/tenant")),
        col("Connector", "string", Field("/connector")),
        col("Stream", "string", Field("/stream")),
        col("Product", "string", Field("/product")),
        col("Direction", "string", Field("/direction")),
        col("Records", "long", Field("/records")),
        col("Bytes", "long", Field("/bytes")),
        col("BinSeconds", "int", Field("/bin_seconds")),
    ],
};

/// `inventory` → `Custom-UcpInventory_CL`: one row per connector and snapshot.
pub const INVENTORY_DCR: DcrStream = DcrStream {
    health_stream: INVENTORY,
    stream: "Custom-UcpInventory_CL",
    columns: &[
        col("TimeGenerated", "datetime", Time),
        col("RecordId", "string", Id),
        col("Tenant", "string", Field("/tenant")),
        col("Connector", "string", Field("/connector")),
        col("Provider", "string", Field("/provider")),
        col("Definition", "string", Field("/definition")),
        col("Version", "string", Field("/version")),
        col("Status", "string", Field("/status")),
        col("Paused", "boolean", Field("/paused")),
        col("Products", "dynamic", Field("/products")),
        col("Parts", "dynamic", Field("/parts")),
        col("LastSuccess", "datetime", Field("/last_success")),
    ],
};

/// The DCR stream of a health stream, by the health stream's name.
pub fn dcr_stream(health_stream: &str) -> Option<&'static DcrStream> {
    [&HEALTH_EVENTS_DCR, &VOLUMES_DCR, &INVENTORY_DCR]
        .into_iter()
        .find(|s| s.health_stream == health_stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stream_declares_its_mapped_columns_time_first() {
        for stream in [&HEALTH_EVENTS_DCR, &VOLUMES_DCR, &INVENTORY_DCR] {
            assert_eq!(stream.columns[0].name, "TimeGenerated");
            assert!(stream.stream.starts_with("Custom-") && stream.stream.ends_with("_CL"));
            let declared = &stream.declaration()[stream.stream]["columns"];
            assert_eq!(declared.as_array().unwrap().len(), stream.columns.len());
            assert_eq!(dcr_stream(stream.health_stream), Some(stream));
        }
        assert_eq!(dcr_stream("events"), None);
    }

    #[test]
    fn a_health_event_maps_to_every_column() {
        let event = json!({
            "time": "2026-11-01T00:00:00Z", "sequence": 7, "tenant": "contoso",
            "connector": "okta", "product": null, "workspace": null, "stream": "system_log",
            "kind": "Auth", "status": "Error", "previous_status": "Ok",
            "message": "401; what to do: check the credential",
            "what_to_do": "check the credential", "details": null,
        });
        let row = HEALTH_EVENTS_DCR
            .mapping()
            .columns_of("contoso/health/7", event)
            .unwrap();
        let mut names: Vec<&str> = row.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut want = HEALTH_EVENTS_DCR.column_names();
        want.retain(|n| *n != "TimeGenerated");
        want.sort_unstable();
        assert_eq!(names, want);
        assert_eq!(row["RecordId"], "contoso/health/7");
        assert_eq!(row["PreviousStatus"], "Ok");
        assert_eq!(row["Product"], Value::Null);
    }
}
