//! The KQL a connector sends to `runHuntingQuery`, understood: a table, `| where` comparisons
//! of `Timestamp` with `datetime(…)` literals joined by `and` (or a `between`), `| order by
//! Timestamp asc|desc` and `| take N` / `| limit N`. Anything else is refused the way the
//! service refuses a query it cannot run: a 400 with a message naming what is wrong.

use chrono::{DateTime, Utc};

/// Why a query was refused (each becomes a 400 `BadRequest`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The first part of the query names no known table.
    #[error("Failed to resolve table or column expression named '{0}'")]
    UnknownTable(String),
    /// A part of the query this simulator (and this connector) does not use.
    #[error("Query could not be parsed at '{0}'")]
    Syntax(String),
    /// The `Timespan` is not an ISO 8601 interval.
    #[error("The Timespan '{0}' is not a valid ISO 8601 time interval")]
    Timespan(String),
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HuntingQuery {
    /// The table.
    pub table: String,
    /// Rows stamped at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Rows stamped before this (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// `order by Timestamp desc`.
    pub descending: bool,
    /// `take N`.
    pub take: Option<usize>,
}

impl HuntingQuery {
    /// Parse `text`.
    pub fn parse(text: &str) -> Result<HuntingQuery, QueryError> {
        let mut parts = text.split('|').map(str::trim);
        let table = parts.next().unwrap_or_default().to_string();
        if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(QueryError::Syntax(table));
        }
        let mut query = HuntingQuery {
            table,
            from: None,
            to: None,
            descending: false,
            take: None,
        };
        for part in parts {
            let (verb, rest) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
            match verb {
                "where" => query.conditions(rest)?,
                "order" | "sort" => {
                    let by = rest.trim().strip_prefix("by").map(str::trim);
                    match by
                        .map(|b| b.split_whitespace().collect::<Vec<_>>())
                        .as_deref()
                    {
                        Some(["Timestamp"]) | Some(["Timestamp", "desc"]) => {
                            query.descending = true
                        }
                        Some(["Timestamp", "asc"]) => query.descending = false,
                        _ => return Err(QueryError::Syntax(part.to_string())),
                    }
                }
                "take" | "limit" => {
                    query.take = Some(
                        rest.trim()
                            .parse()
                            .map_err(|_| QueryError::Syntax(part.to_string()))?,
                    );
                }
                _ => return Err(QueryError::Syntax(part.to_string())),
            }
        }
        Ok(query)
    }

    fn conditions(&mut self, text: &str) -> Result<(), QueryError> {
        let bad = || QueryError::Syntax(text.to_string());
        if let Some(range) = text.trim().strip_prefix("Timestamp between") {
            let inner = range
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(bad)?;
            let (a, b) = inner.split_once("..").ok_or_else(bad)?;
            self.raise_from(datetime(a).ok_or_else(bad)?);
            // `between` includes its end.
            self.lower_to(datetime(b).ok_or_else(bad)? + chrono::Duration::nanoseconds(1));
            return Ok(());
        }
        for condition in text.split(" and ") {
            let mut words = condition.split_whitespace();
            let (Some("Timestamp"), Some(op), Some(value), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(bad());
            };
            let at = datetime(value).ok_or_else(bad)?;
            match op {
                ">=" => self.raise_from(at),
                ">" => self.raise_from(at + chrono::Duration::nanoseconds(1)),
                "<" => self.lower_to(at),
                "<=" => self.lower_to(at + chrono::Duration::nanoseconds(1)),
                _ => return Err(bad()),
            }
        }
        Ok(())
    }

    fn raise_from(&mut self, at: DateTime<Utc>) {
        self.from = Some(self.from.map_or(at, |f| f.max(at)));
    }

    fn lower_to(&mut self, at: DateTime<Utc>) {
        self.to = Some(self.to.map_or(at, |t| t.min(at)));
    }
}

/// `datetime(2026-03-02T08:00:00Z)` (or a quoted value inside).
fn datetime(text: &str) -> Option<DateTime<Utc>> {
    let inner = text.trim().strip_prefix("datetime(")?.strip_suffix(')')?;
    let inner = inner.trim().trim_matches(|c| c == '\'' || c == '"');
    DateTime::parse_from_rfc3339(inner).ok().map(|t| t.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_orders_and_takes_are_understood() {
        let q = HuntingQuery::parse(
            "EmailEvents | where Timestamp >= datetime(2026-03-02T08:00:00Z) and Timestamp < datetime(2026-03-02T09:00:00.5Z) | order by Timestamp asc | take 10",
        )
        .unwrap();
        assert_eq!(q.table, "EmailEvents");
        assert_eq!(q.from.unwrap().to_rfc3339(), "2026-03-02T08:00:00+00:00");
        assert_eq!(q.to.unwrap().timestamp_subsec_millis(), 500);
        assert!(!q.descending);
        assert_eq!(q.take, Some(10));
        assert!(HuntingQuery::parse("EmailEvents | summarize count()").is_err());
        assert!(HuntingQuery::parse("EmailEvents | where Foo == 1").is_err());
        assert!(HuntingQuery::parse("").is_err());
    }
}
