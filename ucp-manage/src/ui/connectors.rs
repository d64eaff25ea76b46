//! The My connectors tab: one row per connector of the tenant — name, status, who created
//! and last changed it and when, workspace, tables and the last health message — filtered
//! by status and sorted by name, status or last change; refreshed in place.

use std::cmp::Reverse;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::error::UiError;
use super::form::Params;
use super::layout::{self, time, Tab};
use super::signed_in::Visitor;
use super::status::Shown;
use super::{UiState, BASE};
use crate::views::ConnectorView;

/// The most connectors one page lists (the manager's pages of 100, read in turn).
const MAX_LISTED: usize = 1000;

/// Seconds between in-place refreshes.
const REFRESH_SECONDS: u32 = 5;

/// How the list is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Sort {
    /// By name.
    #[default]
    Name,
    /// Those that need a person first.
    Status,
    /// Most recently changed first.
    Updated,
}

impl Sort {
    const ALL: [(Sort, &'static str, &'static str); 3] = [
        (Sort::Name, "name", "Name"),
        (Sort::Status, "status", "Status (needs attention first)"),
        (Sort::Updated, "updated", "Last updated (newest first)"),
    ];

    fn parse(key: &str) -> Sort {
        Sort::ALL
            .iter()
            .find(|(_, k, _)| *k == key)
            .map_or(Sort::Name, |(s, _, _)| *s)
    }

    fn apply(self, rows: &mut [ConnectorView]) {
        match self {
            Sort::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            Sort::Status => rows.sort_by_key(|v| (Shown::of(v).urgency(), v.name.clone())),
            Sort::Updated => rows.sort_by_key(|v| (Reverse(v.updated_at), v.name.clone())),
        }
    }
}

/// The list's filter and order.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    /// Only connectors with this status (`ok`, `warning`, `paused`, …).
    #[serde(default)]
    status: Option<String>,
    /// `name`, `status` or `updated`.
    #[serde(default)]
    sort: Option<String>,
    /// What was just done (`deleted`), to say so.
    #[serde(default)]
    done: Option<String>,
    /// The connector it was done to.
    #[serde(default)]
    name: Option<String>,
}

/// My connectors.
pub(crate) async fn page(
    State(state): State<UiState>,
    visitor: Visitor,
    Params(params): Params<ListParams>,
) -> Result<Response, UiError> {
    let tenant = visitor.tenant().to_string();
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = state
            .manager
            .list(&visitor.principal, &tenant, Some(100), token.as_deref())
            .await?;
        all.extend(page.items);
        token = page.next_page_token;
        if token.is_none() || all.len() >= MAX_LISTED {
            break;
        }
    }
    let truncated = token.is_some();
    let total = all.len();
    let status = params.status.as_deref().and_then(Shown::parse);
    let sort = Sort::parse(params.sort.as_deref().unwrap_or(""));
    let mut rows: Vec<ConnectorView> = all
        .into_iter()
        .filter(|v| status.is_none_or(|s| Shown::of(v) == s))
        .collect();
    sort.apply(&mut rows);
    let done = match (params.done.as_deref(), params.name.as_deref()) {
        (Some("deleted"), Some(name)) if crate::ui::connector::is_name(name) => {
            Some(format!("Connector {name} was deleted."))
        }
        _ => None,
    };
    let aria_sort = |s: Sort| {
        (sort == s).then_some(if s == Sort::Updated {
            "descending"
        } else {
            "ascending"
        })
    };
    let body = html! {
        h1 { "My connectors" }
        @if let Some(done) = &done { p class="notice" role="status" { (done) } }
        form class="filters" method="get" action={ (BASE) "/t/" (tenant) "/connectors" } aria-label="Filter and sort" {
            div class="field" {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" selected[status.is_none()] { "Any status" }
                    @for s in Shown::ALL {
                        option value=(s.key()) selected[status == Some(s)] { (s.label()) }
                    }
                }
            }
            div class="field" {
                label for="sort" { "Sort by" }
                select id="sort" name="sort" {
                    @for (s, key, label) in Sort::ALL {
                        option value=(key) selected[sort == s] { (label) }
                    }
                }
            }
            button type="submit" class="button" { "Apply" }
        }
        p role="status" data-live="count" id="connectors-count" {
            (rows.len()) " of " (total) " connectors"
            @if truncated { " (the first " (MAX_LISTED) " by name)" }
        }
        @if total == 0 {
            p { "No connectors yet. " a href={ (BASE) "/t/" (tenant) "/catalog" } { "Connect one from the Catalog." } }
        } @else {
            (layout::scrolling("Connectors", html! {
                table id="connectors" {
                    thead {
                        tr {
                            th scope="col" aria-sort=[aria_sort(Sort::Name)] { "Name" }
                            th scope="col" aria-sort=[aria_sort(Sort::Status)] { "Status" }
                            th scope="col" { "Created" }
                            th scope="col" aria-sort=[aria_sort(Sort::Updated)] { "Updated" }
                            th scope="col" { "Workspace" }
                            th scope="col" { "Tables" }
                            th scope="col" { "Last health message" }
                        }
                    }
                    tbody data-live="rows" {
                        @for v in &rows {
                            tr data-connector=(v.name) {
                                th scope="row" {
                                    a href={ (BASE) "/t/" (tenant) "/connectors/" (v.name) } { (v.name) }
                                    span class="sub" { (v.display_name) " " (v.version) }
                                }
                                td class="status" {
                                    (Shown::of(v).badge())
                                    @if let Some(why) = &v.attention { span class="sub" { "Needs attention: " (why) } }
                                    @if let Some(s) = &v.superseded { span class="sub" { "Superseded by " (s.by) } }
                                }
                                td { (v.created_by) span class="sub" { (time(v.created_at)) } }
                                td { (v.updated_by) span class="sub" { (time(v.updated_at)) } }
                                td { (v.workspace.as_deref().unwrap_or("—")) }
                                td {
                                    @for p in &v.products {
                                        span class="sub" { (p.product) ": " (p.table.as_deref().unwrap_or("—")) }
                                    }
                                }
                                td class="last-message" {
                                    @if let Some(m) = v.health.first() {
                                        (m.message) span class="sub" { (time(m.time)) }
                                    } @else {
                                        span class="muted" { "None yet" }
                                    }
                                }
                            }
                        }
                    }
                }
            }))
        }
        p class="muted" id="live-stamp" aria-live="off" {}
    };
    Ok(layout::page(
        "My connectors",
        &visitor,
        Tab::Connectors,
        Some(REFRESH_SECONDS),
        body,
    )
    .into_response())
}
