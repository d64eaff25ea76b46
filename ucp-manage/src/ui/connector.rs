//! A connector's page: its status and counters (refreshed in place), the actions the
//! visitor's role allows, its status timeline, volume charts, last health messages,
//! products, cursors, configuration and audit trail.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::UiError;
use super::form::Params;
use super::layout::{self, time, Tab};
use super::signed_in::Visitor;
use super::status::Shown;
use super::{chart, timeline, UiState, BASE};
use crate::manager::tenancy::AuditFilter;
use crate::manager::Window;
use crate::model::InstanceState;
use crate::views::{ConnectorView, HealthMessage};

/// Health messages shown.
const MESSAGES: usize = 20;
/// Audit entries shown.
const AUDIT_ENTRIES: usize = 20;
/// Seconds between in-place refreshes.
const REFRESH_SECONDS: u32 = 2;

/// Whether `name` can be a connector's name (and so be put in an address or a sentence).
pub(crate) fn is_name(name: &str) -> bool {
    ucp_core::catalog::is_identifier(name)
}

/// The page's window and what was just done.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageParams {
    /// `hour`, `day` or `week`.
    #[serde(default)]
    range: Option<String>,
    /// `created`, `paused`, `resumed`, `restarted` or `disconnected`.
    #[serde(default)]
    done: Option<String>,
}

fn done_sentence(done: Option<&str>, name: &str) -> Option<String> {
    let what = match done? {
        "created" => "was created and is starting",
        "paused" => "is paused: it makes no call to its provider; its cursor is kept",
        "resumed" => "was resumed: it goes on from its cursor",
        "restarted" => "was restarted",
        "disconnected" => "was disconnected: delivery stopped for every product",
        _ => return None,
    };
    Some(format!("Connector {name} {what}."))
}

/// The connector's page.
pub(crate) async fn page(
    State(state): State<UiState>,
    visitor: Visitor,
    Path((_, name)): Path<(String, String)>,
    Params(params): Params<PageParams>,
) -> Result<Response, UiError> {
    let tenant = visitor.tenant().to_string();
    let who = &visitor.principal;
    let manager = &state.manager;
    let view = manager.get(who, &tenant, &name).await?;
    let window = params
        .range
        .as_deref()
        .and_then(Window::parse)
        .unwrap_or_default();
    let messages = manager
        .health_messages(who, &tenant, &name, MESSAGES)
        .await?;
    let history = manager.status_timeline(who, &tenant, &name, window).await?;
    let volumes = manager.volume_series(who, &tenant, &name, window).await?;
    let offsets = manager.saved_offsets(who, &tenant, &name).await?;
    let audit = manager
        .audit_log(
            who,
            &tenant,
            AuditFilter {
                connector: Some(name.clone()),
                page_size: Some(AUDIT_ENTRIES),
                ..AuditFilter::default()
            },
        )
        .await?;
    let here = format!("{BASE}/t/{tenant}/connectors/{}", view.name);
    let done = done_sentence(params.done.as_deref(), &view.name);
    let body = html! {
        p { a href={ (BASE) "/t/" (tenant) "/connectors" } { "← My connectors" } }
        h1 { (view.name) }
        @if let Some(done) = &done { p class="notice" role="status" { (done) } }
        div class="summary" {
            span { "Status: " span data-live="status" id="status" aria-live="polite" { (Shown::of(&view).badge()) } }
            span { (view.display_name) " " (view.version) }
            span { "Workspace: " (view.workspace.as_deref().unwrap_or("none")) }
        }
        @if let Some(why) = &view.attention { p class="problem" { "Needs attention: " (why) } }
        @if let Some(why) = &view.disconnect_reason { p { "Disconnected because: " (why) } }
        @if let Some(superseded) = &view.superseded { p class="superseded" { "Superseded: " (superseded.message) } }
        (actions(&visitor, &view, &here))
        section aria-labelledby="counters-title" {
            h2 id="counters-title" { "Counters" }
            p class="hint" { "Since the connector last started, resumed or was upgraded." }
            div data-live="counters" { (counters(&view)) }
        }
        section aria-labelledby="timeline-title" {
            h2 id="timeline-title" { "Status over time" }
            (ranges(&here, window))
            div data-live="timeline" { (timeline::render(&history)) }
        }
        section aria-labelledby="volumes-title" {
            h2 id="volumes-title" { "Volumes" }
            div data-live="charts" {
                @match &volumes {
                    Some(v) => { (chart::charts(v)) }
                    None => { p { "This server does not record volumes." } }
                }
            }
        }
        section aria-labelledby="messages-title" {
            h2 id="messages-title" { "Last health messages" }
            div data-live="messages" { (health_table(&messages)) }
        }
        section aria-labelledby="products-title" {
            h2 id="products-title" { "Products" }
            (products(&view))
        }
        div class="columns" {
            section aria-labelledby="cursors-title" {
                h2 id="cursors-title" { "Cursor per stream" }
                p class="hint" { "Where collection resumes after a restart: the position every product has accepted." }
                (layout::scrolling("Cursors", html! {
                    table id="cursors" {
                        thead { tr { th scope="col" { "Stream" } th scope="col" { "Saved cursor" } } }
                        tbody data-live="cursors" {
                            @for o in &offsets {
                                tr {
                                    th scope="row" { (o.stream) }
                                    td { @match &o.cursor { Some(c) => code { (c) }, None => span class="muted" { "none yet (starts from the configured start)" } } }
                                }
                            }
                        }
                    }
                }))
            }
            section aria-labelledby="config-title" {
                h2 id="config-title" { "Configuration" }
                dl class="facts" {
                    @if let Some(map) = view.config.as_object() {
                        @for (k, v) in map {
                            dt { (k) } dd { code { (match v { serde_json::Value::String(s) => s.clone(), other => other.to_string() }) } }
                        }
                    }
                    @for (slot, credential) in &view.credentials {
                        dt { "Credential “" (slot) "”" } dd { (credential) }
                    }
                    dt { "Created" } dd { (view.created_by) ", " (time(view.created_at)) }
                    dt { "Updated" } dd { (view.updated_by) ", " (time(view.updated_at)) }
                }
            }
        }
        section aria-labelledby="audit-title" {
            h2 id="audit-title" { "Audit trail" }
            (layout::scrolling("Audit trail", html! {
                table id="audit" {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Reason" } } }
                    tbody data-live="audit" {
                        @for e in &audit.items {
                            tr { td { (time(e.time)) } td { (e.actor) } td { (e.action) } td { (e.reason.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            }))
        }
        p class="muted" id="live-stamp" aria-live="off" {}
    };
    Ok(layout::page(
        &view.name,
        &visitor,
        Tab::Connectors,
        Some(REFRESH_SECONDS),
        body,
    )
    .into_response())
}

/// The buttons the visitor's role allows in the connector's state: each opens a
/// confirmation. A Reader sees none.
fn actions(visitor: &Visitor, view: &ConnectorView, here: &str) -> Markup {
    let mut offered: Vec<(&str, &str, bool)> = Vec::new();
    if visitor.contributes() {
        match view.state {
            InstanceState::Active => {
                offered.push(("pause", "Pause", false));
                offered.push(("restart", "Restart", false));
            }
            InstanceState::Paused | InstanceState::Superseded => {
                offered.push(("resume", "Resume", false))
            }
            InstanceState::Disconnected => {}
        }
    }
    if visitor.owns() {
        match view.state {
            InstanceState::Disconnected => offered.push(("delete", "Delete", true)),
            InstanceState::Superseded => {
                offered.push(("disconnect", "Disconnect", true));
                offered.push(("delete", "Delete", true));
            }
            _ => offered.push(("disconnect", "Disconnect", true)),
        }
    }
    if offered.is_empty() {
        return html! {};
    }
    html! {
        section aria-labelledby="actions-title" {
            h2 id="actions-title" class="visually-hidden" { "Actions" }
            ul class="actions" {
                @for (action, label, danger) in &offered {
                    li {
                        a class={ "button" @if *danger { " danger" } @else { " secondary" } }
                            href={ (here) "/" (action) } data-action=(action) {
                            (label) span class="visually-hidden" { " " (view.name) }
                        }
                    }
                }
            }
        }
    }
}

fn counters(view: &ConnectorView) -> Markup {
    let Some(v) = &view.volumes else {
        return html! { p { "A disconnected connector has no counters." } };
    };
    html! {
        dl class="counters" {
            div { dt { "Provider calls" } dd id="calls" { (v.source_calls) } }
            div { dt { "Records collected" } dd id="collected" { (v.records_collected) } }
            div { dt { "Failed calls" } dd id="errors" { (v.errors) } }
            @for (product, n) in &v.delivered {
                div { dt { "Delivered to " (product) } dd { (n) } }
            }
            @for (product, n) in v.lost.iter().filter(|(_, n)| **n > 0) {
                div { dt { "Lost for " (product) } dd { (n) } }
            }
        }
    }
}

fn ranges(here: &str, window: Window) -> Markup {
    html! {
        nav aria-label="Time range" {
            ul class="ranges" {
                @for w in Window::ALL {
                    li {
                        a href={ (here) "?range=" (w.as_str()) "#timeline-title" } aria-current=[(w == window).then_some("true")] {
                            "Last " (w.as_str())
                        }
                    }
                }
            }
        }
    }
}

fn health_table(messages: &[HealthMessage]) -> Markup {
    if messages.is_empty() {
        return html! { p { "No health message yet." } };
    }
    layout::scrolling(
        "Health messages",
        html! {
            table id="messages" {
                thead { tr { th scope="col" { "When" } th scope="col" { "Part" } th scope="col" { "Status" } th scope="col" { "Message" } } }
                tbody {
                    @for m in messages {
                        tr {
                            td { (time(m.time)) }
                            td {
                                @match (&m.product, &m.stream) {
                                    (Some(p), Some(s)) => { "Delivery of " (s) " to " (p) }
                                    (Some(p), None) => { "Delivery to " (p) }
                                    (None, Some(s)) => { "Collection of " (s) }
                                    (None, None) => { "Connector" }
                                }
                            }
                            td { (Shown::of_health(Some(&m.status)).badge()) }
                            td { (m.message) }
                        }
                    }
                }
            }
        },
    )
}

fn products(view: &ConnectorView) -> Markup {
    if view.products.is_empty() {
        return html! { p { "It feeds no product." } };
    }
    layout::scrolling(
        "Products",
        html! {
            table id="products" {
                thead { tr {
                    th scope="col" { "Product" } th scope="col" { "Table" } th scope="col" { "Streams" }
                    th scope="col" class="number" { "Every (s)" } th scope="col" { "Filter" }
                } }
                tbody {
                    @for p in &view.products {
                        tr {
                            th scope="row" { (p.product) }
                            td { (p.table.as_deref().unwrap_or("—")) }
                            td { (p.streams.join(", ")) }
                            td class="number" { (p.interval_seconds) }
                            td {
                                @match &p.filter {
                                    Some(f) => code { (serde_json::to_string(f).unwrap_or_default()) },
                                    None => span class="muted" { "every record" },
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
