//! How an event becomes a row of a data collection rule stream: `TimeGenerated` from the
//! record time plus the columns the stream declares.

use serde_json::{Map, Value};

/// Which columns a row gets from an event.
///
/// ```
/// use ucp_sinks::sentinel::ColumnMapping;
/// // Every top-level field as its own column, `uuid` renamed, the whole event kept too.
/// let mapping = ColumnMapping::copy_top_level()
///     .rename("uuid", "EventId")
///     .column("ActorId", "/actor/id")
///     .with_raw("RawData");
/// # let _ = mapping;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMapping {
    pub(super) time_column: String,
    pub(super) id_column: Option<String>,
    pub(super) copy_top_level: bool,
    pub(super) renames: Vec<(String, String)>,
    pub(super) columns: Vec<(String, String)>,
    pub(super) raw_column: Option<String>,
}

impl ColumnMapping {
    /// Copy every top-level field of the event as a column of the same name.
    pub fn copy_top_level() -> Self {
        ColumnMapping {
            copy_top_level: true,
            ..Self::empty()
        }
    }

    /// Only `TimeGenerated` and the whole event, as a `dynamic` column named `column`.
    pub fn raw(column: impl Into<String>) -> Self {
        Self::empty().with_raw(column)
    }

    /// Only `TimeGenerated`; add columns with the builder methods.
    pub fn empty() -> Self {
        ColumnMapping {
            time_column: "TimeGenerated".into(),
            id_column: None,
            copy_top_level: false,
            renames: Vec::new(),
            columns: Vec::new(),
            raw_column: None,
        }
    }

    /// When copying top-level fields, put `field` in column `column` instead.
    pub fn rename(mut self, field: impl Into<String>, column: impl Into<String>) -> Self {
        self.renames.push((field.into(), column.into()));
        self
    }

    /// Column `column` takes the value at JSON pointer `pointer` (e.g. `/actor/id`); absent
    /// values leave the column out of the row.
    pub fn column(mut self, column: impl Into<String>, pointer: impl Into<String>) -> Self {
        self.columns.push((column.into(), pointer.into()));
        self
    }

    /// Also put the whole event in column `column`.
    pub fn with_raw(mut self, column: impl Into<String>) -> Self {
        self.raw_column = Some(column.into());
        self
    }

    /// Also put the record id in column `column`.
    pub fn with_id(mut self, column: impl Into<String>) -> Self {
        self.id_column = Some(column.into());
        self
    }

    /// Name of the time column (default `TimeGenerated`).
    pub fn time_column(mut self, column: impl Into<String>) -> Self {
        self.time_column = column.into();
        self
    }

    pub(crate) fn time_column_name(&self) -> &str {
        &self.time_column
    }

    /// The event's columns (time column excluded), or why the event cannot be mapped: the
    /// tree-building reading of the mapping, which the byte-copying row writer (`row.rs`)
    /// reproduces and falls back to.
    pub(crate) fn columns_of(&self, id: &str, event: Value) -> Result<Map<String, Value>, String> {
        let mut row = Map::new();
        if let Some(column) = &self.id_column {
            row.insert(column.clone(), Value::String(id.to_string()));
        }
        for (column, pointer) in &self.columns {
            if let Some(value) = event.pointer(pointer) {
                row.insert(column.clone(), value.clone());
            }
        }
        if self.copy_top_level {
            let Value::Object(fields) = &event else {
                return Err(
                    "the event is not a JSON object, so its fields cannot be copied to columns"
                        .into(),
                );
            };
            for (field, value) in fields {
                let column = self
                    .renames
                    .iter()
                    .find(|(from, _)| from == field)
                    .map(|(_, to)| to.as_str())
                    .unwrap_or(field);
                if column != self.time_column && !row.contains_key(column) {
                    row.insert(column.to_string(), value.clone());
                }
            }
        }
        if let Some(column) = &self.raw_column {
            row.insert(column.clone(), event);
        }
        Ok(row)
    }
}

impl Default for ColumnMapping {
    /// [`copy_top_level`](Self::copy_top_level).
    fn default() -> Self {
        Self::copy_top_level()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn copy_rename_pointer_and_raw() {
        let mapping = ColumnMapping::copy_top_level()
            .rename("uuid", "EventId")
            .column("ActorId", "/actor/id")
            .with_raw("RawData")
            .with_id("RecordId");
        let event = json!({"uuid": "u1", "eventType": "x", "actor": {"id": "a1"}});
        let row = mapping.columns_of("r1", event.clone()).unwrap();
        assert_eq!(row["EventId"], "u1");
        assert!(!row.contains_key("uuid"));
        assert_eq!(row["ActorId"], "a1");
        assert_eq!(row["eventType"], "x");
        assert_eq!(row["RawData"], event);
        assert_eq!(row["RecordId"], "r1");
    }

    #[test]
    fn copying_needs_an_object_and_absent_pointers_are_left_out() {
        assert!(ColumnMapping::copy_top_level()
            .columns_of("r", json!([1, 2]))
            .is_err());
        let row = ColumnMapping::empty()
            .column("ActorId", "/actor/id")
            .columns_of("r", json!({"a": 1}))
            .unwrap();
        assert!(row.is_empty());
    }
}
