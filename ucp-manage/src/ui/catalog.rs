//! The Catalog tab: every connector definition with its provider, who supports it, its
//! version, the products it feeds and how many of the tenant's connectors use it;
//! searchable, and filtered by provider and product.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::error::UiError;
use super::form::Params;
use super::layout::{self, Tab};
use super::signed_in::Visitor;
use super::{UiState, BASE};
use crate::views::CatalogEntry;

/// The catalog's filters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CatalogParams {
    /// Words to look for in the name, id, description, provider or publisher.
    #[serde(default)]
    q: Option<String>,
    /// Only this provider.
    #[serde(default)]
    provider: Option<String>,
    /// Only definitions feeding this product.
    #[serde(default)]
    product: Option<String>,
}

/// Whether `entry` passes the filters.
fn matches(entry: &CatalogEntry, params: &CatalogParams) -> bool {
    let words = params.q.as_deref().unwrap_or("").to_lowercase();
    let text = format!(
        "{} {} {} {} {}",
        entry.display_name, entry.id, entry.description, entry.provider, entry.publisher
    )
    .to_lowercase();
    words.split_whitespace().all(|w| text.contains(w))
        && params
            .provider
            .as_deref()
            .filter(|p| !p.is_empty())
            .is_none_or(|p| entry.provider == p)
        && params
            .product
            .as_deref()
            .filter(|p| !p.is_empty())
            .is_none_or(|p| entry.products.iter().any(|e| e == p))
}

/// The Catalog.
pub(crate) async fn page(
    State(state): State<UiState>,
    visitor: Visitor,
    Params(params): Params<CatalogParams>,
) -> Result<Response, UiError> {
    let tenant = visitor.tenant().to_string();
    let entries = state
        .manager
        .catalog_entries(&visitor.principal, &tenant)
        .await?;
    let product_names: BTreeMap<String, String> = state
        .manager
        .products(&visitor.principal, &tenant)
        .await?
        .into_iter()
        .map(|p| (p.info.id, p.info.display_name))
        .collect();
    let providers: BTreeSet<&str> = entries.iter().map(|e| e.provider.as_str()).collect();
    let fed: BTreeSet<&str> = entries
        .iter()
        .flat_map(|e| e.products.iter().map(String::as_str))
        .collect();
    let shown: Vec<&CatalogEntry> = entries.iter().filter(|e| matches(e, &params)).collect();
    let name_of = |id: &str| {
        product_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    let q = params.q.as_deref().unwrap_or("");
    let provider = params.provider.as_deref().unwrap_or("");
    let product = params.product.as_deref().unwrap_or("");
    let body = html! {
        h1 { "Catalog" }
        p { "Every connector this server can run. A connector collects its provider's data once and delivers it to each product it feeds." }
        form class="filters" method="get" action={ (BASE) "/t/" (tenant) "/catalog" } role="search" aria-label="Filter the catalog" {
            div class="field" {
                label for="q" { "Search" }
                input type="search" id="q" name="q" value=(q);
            }
            div class="field" {
                label for="provider" { "Provider" }
                select id="provider" name="provider" {
                    option value="" selected[provider.is_empty()] { "Any provider" }
                    @for p in &providers {
                        option value=(p) selected[*p == provider] { (p) }
                    }
                }
            }
            div class="field" {
                label for="product" { "Product" }
                select id="product" name="product" {
                    option value="" selected[product.is_empty()] { "Any product" }
                    @for p in &fed {
                        option value=(p) selected[*p == product] { (name_of(p)) }
                    }
                }
            }
            button type="submit" class="button" { "Filter" }
            a href={ (BASE) "/t/" (tenant) "/catalog" } { "Clear filters" }
        }
        p role="status" id="catalog-count" {
            (shown.len()) " of " (entries.len()) " connector types"
        }
        (layout::scrolling("Connector types", html! {
            table id="catalog" {
                thead {
                    tr {
                        th scope="col" { "Connector" }
                        th scope="col" { "Provider" }
                        th scope="col" { "Supported by" }
                        th scope="col" { "Version" }
                        th scope="col" { "Feeds" }
                        th scope="col" class="number" { "Connectors" }
                        @if visitor.contributes() { th scope="col" { span class="visually-hidden" { "Action" } } }
                    }
                }
                tbody {
                    @for e in &shown {
                        tr data-definition=(e.id) {
                            th scope="row" {
                                (e.display_name)
                                span class="sub" { (e.description) }
                                @if !e.supersedes.is_empty() {
                                    span class="sub" { "Replaces: " (e.supersedes.join(", ")) }
                                }
                            }
                            td { (e.provider) }
                            td { (e.publisher) }
                            td { (e.version) }
                            td { (e.products.iter().map(|p| name_of(p)).collect::<Vec<_>>().join(", ")) }
                            td class="number instances" { (e.instances) }
                            @if visitor.contributes() {
                                td {
                                    a class="button secondary" href={ (BASE) "/t/" (tenant) "/catalog/" (e.id) "/connect" } {
                                        "Connect" span class="visually-hidden" { " " (e.display_name) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }))
        @if shown.is_empty() {
            p { "No connector type matches these filters." }
        }
    };
    Ok(layout::page("Catalog", &visitor, Tab::Catalog, None, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, provider: &str, products: &[&str]) -> CatalogEntry {
        CatalogEntry {
            id: id.into(),
            display_name: format!("{id} logs"),
            provider: provider.into(),
            publisher: "ucp".into(),
            version: "1.0.0".into(),
            versions: vec!["1.0.0".into()],
            description: "Sign-in events".into(),
            streams: Vec::new(),
            products: products.iter().map(|p| p.to_string()).collect(),
            credentials: Vec::new(),
            config_schema: serde_json::json!({}),
            prerequisites: Vec::new(),
            supersedes: Vec::new(),
            instances: 0,
        }
    }

    #[test]
    fn filters_combine_words_provider_and_product() {
        let okta = entry("okta", "okta", &["sentinel", "mdi"]);
        let acme = entry("acme", "acme", &["sentinel"]);
        let by = |q: &str, provider: &str, product: &str| CatalogParams {
            q: Some(q.into()),
            provider: Some(provider.into()),
            product: Some(product.into()),
        };
        assert!(matches(&okta, &by("", "", "")));
        assert!(matches(&okta, &by("SIGN-IN okta", "", "")));
        assert!(!matches(&acme, &by("okta", "", "")));
        assert!(matches(&okta, &by("", "okta", "mdi")));
        assert!(!matches(&acme, &by("", "", "mdi")));
        assert!(!matches(&okta, &by("", "acme", "")));
    }
}
