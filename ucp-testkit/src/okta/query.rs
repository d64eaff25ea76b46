//! `GET /api/v1/logs` query parsing and page selection, as Okta documents it:
//!
//! - **Polling** (no `until`, ascending order): `since` bounds the *persistence* time, events
//!   come in the order they were persisted, and the `next` link is always present (even on an
//!   empty page) so a client can keep following it; its `after` token resumes right after
//!   the last event returned (or the end of what was scanned).
//! - **Bounded** (`until` given, or descending order): `[since, until)` bounds `published`,
//!   and there is no `next` link once the window is exhausted.

use chrono::{DateTime, Utc};

use super::log::Stored;
use super::scim::Scim;

/// Default and maximum page sizes.
pub(crate) const DEFAULT_LIMIT: usize = 100;
pub(crate) const MAX_LIMIT: usize = 1000;

/// A parsed query.
#[derive(Debug)]
pub(crate) struct LogQuery {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub after: Option<String>,
    pub limit: usize,
    pub filter: Option<(String, Scim)>,
    pub descending: bool,
    /// The parameters as received, to rebuild links.
    pub params: Vec<(String, String)>,
}

/// Why a query was refused (HTTP 400).
#[derive(Debug)]
pub(crate) enum QueryError {
    /// A parameter is invalid (`E0000001`, the problem also listed in `errorCauses`).
    Validation {
        /// The parameter, e.g. `until`.
        param: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
    /// The `filter` expression is invalid (`E0000053`).
    Filter {
        /// The filter as received.
        filter: String,
        /// What is wrong with it.
        problem: String,
    },
}

fn invalid(param: &'static str, problem: impl Into<String>) -> QueryError {
    QueryError::Validation {
        param,
        problem: problem.into(),
    }
}

impl LogQuery {
    pub fn parse(params: Vec<(String, String)>) -> Result<LogQuery, QueryError> {
        let mut query = LogQuery {
            since: None,
            until: None,
            after: None,
            limit: DEFAULT_LIMIT,
            filter: None,
            descending: false,
            params: params.clone(),
        };
        for (key, value) in params {
            match key.as_str() {
                "since" => query.since = Some(time("since", &value)?),
                "until" => query.until = Some(time("until", &value)?),
                "after" => query.after = Some(value),
                "limit" => {
                    let limit: usize = value
                        .parse()
                        .map_err(|_| invalid("limit", format!("'{value}' is not a number")))?;
                    if limit == 0 {
                        return Err(invalid("limit", "must be at least 1"));
                    }
                    query.limit = limit.min(MAX_LIMIT);
                }
                "filter" => {
                    let parsed = Scim::parse(&value).map_err(|problem| QueryError::Filter {
                        filter: value.clone(),
                        problem,
                    })?;
                    query.filter = Some((value, parsed));
                }
                "sortOrder" => match value.as_str() {
                    "ASCENDING" => query.descending = false,
                    "DESCENDING" => query.descending = true,
                    other => {
                        return Err(invalid(
                            "sortOrder",
                            format!("'{other}' is not ASCENDING or DESCENDING"),
                        ))
                    }
                },
                // `q` and unknown parameters are ignored.
                _ => {}
            }
        }
        Ok(query)
    }

    /// Polling rather than bounded.
    pub fn is_polling(&self) -> bool {
        self.until.is_none() && !self.descending
    }

    fn accepts(&self, stored: &Stored) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|(_, f)| f.matches(&stored.event.json))
    }

    /// The events of the page (indices into `log`) and the `after` token of the next link.
    pub fn select(
        &self,
        log: &[Stored],
        now: DateTime<Utc>,
    ) -> Result<(Vec<usize>, Option<String>), QueryError> {
        let week = chrono::Duration::days(7);
        if self.is_polling() {
            let start = match &self.after {
                Some(token) => polling_position(token)?.min(log.len()),
                None => {
                    let since = self.since.unwrap_or(now - week);
                    log.partition_point(|s| s.visible_at < since)
                }
            };
            let mut page = Vec::new();
            let mut resume = log.len();
            for (index, stored) in log.iter().enumerate().skip(start) {
                if self.accepts(stored) {
                    page.push(index);
                    if page.len() == self.limit {
                        resume = index + 1;
                        break;
                    }
                }
            }
            let stamp = resume
                .checked_sub(1)
                .and_then(|i| log.get(i))
                .map_or(0, |s| s.visible_at.timestamp_millis());
            Ok((page, Some(format!("{stamp}_{resume}"))))
        } else {
            let until = self.until.unwrap_or(now);
            let since = self.since.unwrap_or(until - week);
            let mut matching: Vec<usize> = log
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.event.published >= since && s.event.published < until && self.accepts(s)
                })
                .map(|(i, _)| i)
                .collect();
            matching.sort_by_key(|&i| (log[i].event.published, log[i].seq));
            if self.descending {
                matching.reverse();
            }
            let offset = match &self.after {
                Some(token) => bounded_offset(token)?,
                None => 0,
            };
            let end = (offset + self.limit).min(matching.len());
            let page = matching
                .get(offset..end)
                .map(<[usize]>::to_vec)
                .unwrap_or_default();
            let next = (end < matching.len()).then(|| format!("b_{end}"));
            Ok((page, next))
        }
    }
}

fn time(param: &'static str, value: &str) -> Result<DateTime<Utc>, QueryError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            invalid(
                param,
                format!("'{value}' is not an ISO 8601 date-time such as 2024-05-03T16:22:18Z"),
            )
        })
}

fn polling_position(token: &str) -> Result<usize, QueryError> {
    token
        .rsplit_once('_')
        .filter(|(stamp, _)| stamp.parse::<i64>().is_ok())
        .and_then(|(_, pos)| pos.parse().ok())
        .ok_or_else(|| invalid("after", format!("invalid cursor '{token}'")))
}

fn bounded_offset(token: &str) -> Result<usize, QueryError> {
    token
        .strip_prefix("b_")
        .and_then(|o| o.parse().ok())
        .ok_or_else(|| invalid("after", format!("invalid cursor '{token}'")))
}
