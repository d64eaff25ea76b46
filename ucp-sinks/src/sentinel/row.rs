//! A row written by copying the event's bytes: `TimeGenerated`, then the mapped columns,
//! each value the provider's own JSON text for it, found through the record's shared JSON
//! view ([`Record::json`]) — no tree, no allocation per row.
//!
//! It gives the row the tree-building mapping ([`ColumnMapping::columns_of`]) gives, as a
//! JSON value: the same columns with the same values (key order and number spelling may
//! differ; `encode_proptests.rs` pins it). Whatever it cannot copy that faithfully it leaves
//! to the tree: a payload that is not JSON (the tree says why), a copied object whose keys
//! hold escapes or repeat, two fields that a rename sends to one column, configured column
//! names that clash, and events over the field limit (values are cut by the tree).

use ucp_core::json::Json;
use ucp_core::Record;

use super::mapping::ColumnMapping;
use crate::azure::write_millis_z;

/// A column name as it starts a member: `"name":`.
fn member(name: &str) -> Vec<u8> {
    let mut out = serde_json::to_vec(name).unwrap_or_default();
    out.push(b':');
    out
}

/// A mapping prepared for copying: each column's name escaped once.
#[derive(Clone, Debug)]
pub(super) struct RowWriter {
    time: (Vec<u8>, String),
    id: Option<(Vec<u8>, String)>,
    /// `(member, name, pointer)`.
    columns: Vec<(Vec<u8>, String, String)>,
    copy_top_level: bool,
    /// `(field, member, column)`.
    renames: Vec<(String, Vec<u8>, String)>,
    raw: Option<(Vec<u8>, String)>,
    /// Configured names are all distinct (else only the tree knows which value wins).
    distinct: bool,
}

impl RowWriter {
    pub(super) fn new(mapping: &ColumnMapping) -> RowWriter {
        let mut names: Vec<&str> = vec![mapping.time_column.as_str()];
        names.extend(mapping.id_column.as_deref());
        names.extend(mapping.columns.iter().map(|(name, _)| name.as_str()));
        names.extend(mapping.raw_column.as_deref());
        let targets: Vec<&str> = mapping.renames.iter().map(|(_, to)| to.as_str()).collect();
        let distinct =
            all_distinct(&names) && all_distinct(&targets) && mapping.columns.len() <= 64;
        RowWriter {
            time: (member(&mapping.time_column), mapping.time_column.clone()),
            id: mapping.id_column.as_ref().map(|c| (member(c), c.clone())),
            columns: mapping
                .columns
                .iter()
                .map(|(name, pointer)| (member(name), name.clone(), pointer.clone()))
                .collect(),
            copy_top_level: mapping.copy_top_level,
            renames: mapping
                .renames
                .iter()
                .map(|(from, to)| (from.clone(), member(to), to.clone()))
                .collect(),
            raw: mapping.raw_column.as_ref().map(|c| (member(c), c.clone())),
            distinct,
        }
    }

    /// Write `record`'s row into `out`; false when the tree must write it (`out` is then
    /// to be cleared).
    pub(super) fn write(&self, record: &Record, out: &mut Vec<u8>) -> bool {
        if !self.distinct {
            return false;
        }
        let json = record.json();
        if !json.is_valid()
            || (self.copy_top_level
                && (!json.is_object() || !json.has_plain_keys() || self.renames_collide(&json)))
        {
            return false;
        }
        out.push(b'{');
        out.extend_from_slice(&self.time.0);
        out.push(b'"');
        write_millis_z(out, &record.time);
        out.push(b'"');
        if let Some((member, _)) = &self.id {
            out.push(b',');
            out.extend_from_slice(member);
            if serde_json::to_writer(&mut *out, record.id.as_str()).is_err() {
                return false;
            }
        }
        let mut found = 0u64;
        for (n, (member, _, pointer)) in self.columns.iter().enumerate() {
            if let Some(value) = json.pointer(pointer) {
                out.push(b',');
                out.extend_from_slice(member);
                out.extend_from_slice(value.raw());
                found |= 1 << n;
            }
        }
        if self.copy_top_level {
            for field in json.fields() {
                let renamed = self
                    .renames
                    .iter()
                    .find(|(from, ..)| from.as_bytes() == field.key);
                // (As `column_of`, keeping the rename's escaped member.)
                let column = renamed.map_or(field.key, |(_, _, to)| to.as_bytes());
                if self.taken(column, found) {
                    continue;
                }
                out.push(b',');
                match renamed {
                    Some((_, member, _)) => out.extend_from_slice(member),
                    None => {
                        // A plain key has no quote, backslash or control character.
                        out.push(b'"');
                        out.extend_from_slice(field.key);
                        out.extend_from_slice(b"\":");
                    }
                }
                out.extend_from_slice(field.value.raw());
            }
        }
        if let Some((member, _)) = &self.raw {
            out.push(b',');
            out.extend_from_slice(member);
            out.extend_from_slice(json.text().trim_ascii());
        }
        out.push(b'}');
        true
    }

    /// A copied field may not take `column`: the time column, the id or raw column, or a
    /// pointer column that found its value.
    fn taken(&self, column: &[u8], found: u64) -> bool {
        column == self.time.1.as_bytes()
            || self
                .id
                .as_ref()
                .is_some_and(|(_, c)| c.as_bytes() == column)
            || self
                .raw
                .as_ref()
                .is_some_and(|(_, c)| c.as_bytes() == column)
            || self
                .columns
                .iter()
                .enumerate()
                .any(|(n, (_, c, _))| found & (1 << n) != 0 && c.as_bytes() == column)
    }

    /// The column a copied field goes to: its rename's (the first naming it), else its own.
    fn column_of<'a>(&'a self, key: &'a [u8]) -> &'a [u8] {
        self.renames
            .iter()
            .find(|(from, ..)| from.as_bytes() == key)
            .map_or(key, |(_, _, to)| to.as_bytes())
    }

    /// Two fields go to one column through a rename (only the tree's order decides which
    /// one the column gets).
    fn renames_collide(&self, json: &Json<'_>) -> bool {
        if self.renames.is_empty() {
            return false;
        }
        json.fields().enumerate().any(|(n, later)| {
            let column = self.column_of(later.key);
            json.fields()
                .take(n)
                .any(|earlier| self.column_of(earlier.key) == column)
        })
    }
}

fn all_distinct(names: &[&str]) -> bool {
    names
        .iter()
        .enumerate()
        .all(|(n, name)| !names[..n].contains(name))
}
