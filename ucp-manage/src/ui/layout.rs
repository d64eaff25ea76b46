//! The frame of every page: the document head, a skip link, the header with the tenant's
//! tabs and the signed-in principal, and the main region.

use maud::{html, Markup, DOCTYPE};

use super::signed_in::Visitor;
use super::BASE;

/// The gallery's tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tab {
    /// The catalog of definitions.
    Catalog,
    /// The tenant's connectors (a connector's page is under it).
    Connectors,
}

fn head(title: &str, refresh_seconds: Option<u32>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · ucp connectors" }
            link rel="stylesheet" href={ (BASE) "/static/ui.css" };
            @if refresh_seconds.is_some() {
                script src={ (BASE) "/static/live.js" } defer {}
            }
        }
    }
}

/// A page of the signed-in `visitor` on `tab`; `refresh_seconds` turns on the in-place
/// refresh of the page's `data-live` parts.
pub(crate) fn page(
    title: &str,
    visitor: &Visitor,
    tab: Tab,
    refresh_seconds: Option<u32>,
    body: Markup,
) -> Markup {
    let tenant = visitor.tenant();
    let tabs = [
        (
            Tab::Catalog,
            "Catalog",
            format!("{BASE}/t/{tenant}/catalog"),
        ),
        (
            Tab::Connectors,
            "My connectors",
            format!("{BASE}/t/{tenant}/connectors"),
        ),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, refresh_seconds))
            body data-refresh-seconds=[refresh_seconds] {
                a class="skip" href="#main" { "Skip to the content" }
                header class="top" {
                    div class="brand" { "Data connectors" }
                    nav aria-label="Gallery" {
                        ul class="tabs" {
                            @for (t, label, href) in &tabs {
                                li {
                                    @if *t == tab {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div class="who" {
                        span { "Tenant " strong { (tenant) } }
                        span { (visitor.principal.id) " (" (visitor.role.as_str()) ")" }
                        form method="post" action={ (BASE) "/sign-out" } class="inline" {
                            input type="hidden" name="csrf" value=(visitor.session.csrf);
                            button type="submit" class="link-button" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}

/// A page outside the gallery's frame (sign-in, errors).
pub(crate) fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body {
                a class="skip" href="#main" { "Skip to the content" }
                header class="top" { div class="brand" { "Data connectors" } }
                main id="main" tabindex="-1" class="narrow" { (body) }
            }
        }
    }
}

/// A table that scrolls sideways on its own on a narrow window, instead of the page.
pub(crate) fn scrolling(label: &str, table: Markup) -> Markup {
    html! {
        div class="scroll" role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

/// A time for people: UTC, to the second.
pub(crate) fn time(t: chrono::DateTime<chrono::Utc>) -> Markup {
    html! {
        time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) }
    }
}
