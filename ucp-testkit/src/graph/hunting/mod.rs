//! `POST /security/runHuntingQuery` over generated rows of the 21 tables of the Defender XDR
//! connector ([`schema::TABLES`]).
//!
//! Every table is a feed of rows spaced evenly in time from an origin on, each visible once
//! its `Timestamp` is at or before the simulator's now. A query is understood in the form a
//! connector sends ([`query`]): a table, optionally `| where` comparisons of `Timestamp` with
//! `datetime(…)` literals joined by `and`, `| order by Timestamp asc|desc` and `| take N`.
//! The request's `Timespan` (ISO 8601 interval, default 30 days back) and the service's
//! 30-day horizon narrow the rows further. At most `row_cap` rows are returned (100,000, as
//! the service documents); a query that matches more gets the first `row_cap`.

pub mod query;
pub mod rows;
pub mod schema;
mod timespan;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub use query::{HuntingQuery, QueryError};
pub use rows::{kusto_time, Kind};
pub use schema::{Table, TABLES};
pub use timespan::parse_timespan;

/// How far back hunting queries see.
pub const HORIZON_DAYS: i64 = 30;

/// The documented cap on the rows of one query's results.
pub const ROW_CAP: usize = 100_000;

/// The rows of one table: from `origin`, one every `spacing`.
#[derive(Clone, Debug)]
pub(crate) struct Feed {
    pub spacing_ms: i64,
}

/// Every table's feed.
#[derive(Clone, Debug)]
pub(crate) struct Hunting {
    pub seed: u64,
    pub origin: DateTime<Utc>,
    pub feeds: Vec<Feed>,
    pub row_cap: usize,
    /// Tables the tenant does not have (their product is not deployed).
    pub missing: std::collections::HashSet<String>,
}

/// The answer to one query.
pub(crate) struct Answer {
    pub table: &'static str,
    pub rows: usize,
    pub body: String,
}

impl Hunting {
    pub fn new(seed: u64, origin: DateTime<Utc>, rows_per_hour: &[f64], row_cap: usize) -> Self {
        // Rows fall on whole milliseconds, the precision of a query's time literals.
        let origin = chrono::SubsecRound::trunc_subsecs(origin, 3);
        let feeds = rows_per_hour
            .iter()
            .map(|per_hour| Feed {
                spacing_ms: if per_hour.is_finite() && *per_hour > 0.0 {
                    ((3_600_000.0 / per_hour).round() as i64).max(1)
                } else {
                    i64::MAX
                },
            })
            .collect();
        Hunting {
            seed,
            origin,
            feeds,
            row_cap,
            missing: Default::default(),
        }
    }

    /// Index range `[first, end)` of the rows of table `t` stamped in `[from, to)`.
    pub fn index_range(&self, t: usize, from: DateTime<Utc>, to: DateTime<Utc>) -> (u64, u64) {
        let spacing = self.feeds.get(t).map_or(i64::MAX, |f| f.spacing_ms);
        let since_origin = |at: DateTime<Utc>| (at - self.origin).num_milliseconds();
        // First index whose time is at or after `at`.
        let ceil = |at: DateTime<Utc>| {
            let ms = since_origin(at);
            if ms <= 0 {
                0
            } else {
                (ms.saturating_add(spacing - 1) / spacing) as u64
            }
        };
        let first = ceil(from);
        (first, ceil(to).max(first))
    }

    /// When row `index` of table `t` happened.
    pub fn time_of(&self, t: usize, index: u64) -> DateTime<Utc> {
        let spacing = self.feeds.get(t).map_or(i64::MAX, |f| f.spacing_ms);
        let offset = i64::try_from(index)
            .unwrap_or(i64::MAX)
            .saturating_mul(spacing);
        self.origin + chrono::Duration::milliseconds(offset)
    }

    /// Rows of `table` stamped in `[from, to)` and visible at `now`.
    pub fn count(
        &self,
        table: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> u64 {
        let Some(t) = TABLES.iter().position(|x| x.name == table) else {
            return 0;
        };
        let to = to.min(now + chrono::Duration::milliseconds(1));
        let (first, end) = self.index_range(t, from, to);
        end - first
    }

    /// Run `query` over `timespan` at `now`.
    pub fn run(
        &self,
        query: &str,
        timespan: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Answer, QueryError> {
        let parsed = HuntingQuery::parse(query)?;
        let t = TABLES
            .iter()
            .position(|x| x.name == parsed.table && !self.missing.contains(x.name))
            .ok_or_else(|| QueryError::UnknownTable(parsed.table.clone()))?;
        let table = &TABLES[t];
        let (span_from, span_to) = match timespan {
            Some(text) => {
                parse_timespan(text, now).ok_or_else(|| QueryError::Timespan(text.to_string()))?
            }
            None => (now - chrono::Duration::days(HORIZON_DAYS), now),
        };
        let horizon = now - chrono::Duration::days(HORIZON_DAYS);
        let from = [Some(span_from), Some(horizon), parsed.from]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(horizon);
        // Rows at `now` are visible: the exclusive end is just past it.
        let visible_end = now + chrono::Duration::milliseconds(1);
        let to = [
            Some(span_to + chrono::Duration::milliseconds(1)),
            Some(visible_end),
            parsed.to,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(visible_end);
        let (first, end) = if from < to {
            self.index_range(t, from, to)
        } else {
            (0, 0)
        };
        let mut indices: Vec<u64> = (first..end).collect();
        if parsed.descending {
            indices.reverse();
        }
        let limit = parsed.take.unwrap_or(usize::MAX).min(self.row_cap);
        indices.truncate(limit);

        let schema: Vec<Value> = table
            .columns
            .iter()
            .map(|(name, kind)| json!({ "name": name, "type": kind.wire_name() }))
            .collect();
        let mut body = String::with_capacity(256 + indices.len() * 512);
        body.push_str("{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults\",\"schema\":");
        body.push_str(&Value::Array(schema).to_string());
        body.push_str(",\"results\":[");
        for (n, index) in indices.iter().enumerate() {
            if n > 0 {
                body.push(',');
            }
            let row = rows::row(self.seed, t, table, *index, self.time_of(t, *index));
            body.push_str(&row.to_string());
        }
        body.push_str("]}");
        Ok(Answer {
            table: table.name,
            rows: indices.len(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_window_query_returns_exactly_the_rows_stamped_in_it() {
        let origin = at("2026-03-02T08:00:00Z");
        // One row a minute in every table.
        let hunting = Hunting::new(3, origin, &[60.0; 21], ROW_CAP);
        let now = at("2026-03-02T09:00:00Z");
        let answer = hunting
            .run(
                "DeviceProcessEvents | where Timestamp >= datetime(2026-03-02T08:10:00Z) and Timestamp < datetime(2026-03-02T08:20:00Z) | order by Timestamp asc",
                Some("2026-03-02T08:00:00Z/2026-03-02T09:00:00Z"),
                now,
            )
            .ok()
            .unwrap();
        assert_eq!(answer.rows, 10);
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        let results = body["results"].as_array().unwrap();
        assert_eq!(results[0]["Timestamp"], "2026-03-02T08:10:00.0000000Z");
        assert_eq!(results[9]["Timestamp"], "2026-03-02T08:19:00.0000000Z");
        assert_eq!(
            body["schema"][0],
            json!({"name": "Timestamp", "type": "DateTime"})
        );
        assert_eq!(
            hunting.count(
                "DeviceProcessEvents",
                at("2026-03-02T08:10:00Z"),
                at("2026-03-02T08:20:00Z"),
                now
            ),
            10
        );
        // Nothing after now; the whole hour holds 61 rows (08:00 … 09:00 inclusive).
        assert_eq!(hunting.run("AlertInfo", None, now).ok().unwrap().rows, 61);
    }

    #[test]
    fn the_row_cap_truncates_and_unknown_tables_are_refused() {
        let origin = at("2026-03-02T08:00:00Z");
        let hunting = Hunting::new(3, origin, &[6_000.0; 21], 50);
        let now = at("2026-03-02T09:00:00Z");
        assert_eq!(
            hunting.run("EmailUrlInfo", None, now).ok().unwrap().rows,
            50
        );
        assert!(matches!(
            hunting.run("DeviceProcesEvents | take 1", None, now),
            Err(QueryError::UnknownTable(t)) if t == "DeviceProcesEvents"
        ));
    }
}
