//! The connect form as drawn: the connector's name, one field per configuration setting
//! (from the definition's schema), one per credential slot, and per product whether to feed
//! it, how often and through which filter; with the values as posted, each problem next to
//! its field and all of them in a summary at the top.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::field::{id_of, Frame};
use super::layout::{self, Tab};
use super::schema_form;
use super::signed_in::{Visitor, CSRF_FIELD};
use super::BASE;
use crate::error::Problem;
use crate::model::DEFAULT_INTERVAL_SECONDS;
use crate::views::{CatalogEntry, ProductEntry};

/// What the form shows besides the definition: values as posted, and what went wrong.
#[derive(Default)]
pub(crate) struct Posted {
    /// Input name → value.
    pub(crate) values: BTreeMap<String, String>,
    /// Products ticked (on a fresh form: all of them).
    pub(crate) products: Option<BTreeSet<String>>,
    /// Problems by field (`name`, `config.page_limit`, `products.mdi.filter`, …).
    pub(crate) problems: Vec<Problem>,
    /// A refusal that is not about one field.
    pub(crate) refusal: Option<String>,
}

impl Posted {
    fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The messages for `path` (joined), marking them shown.
    fn error(&self, path: &str, shown: &mut BTreeSet<usize>) -> Option<String> {
        let messages: Vec<&str> = self
            .problems
            .iter()
            .enumerate()
            .filter(|(_, p)| p.field == path || p.field.starts_with(&format!("{path}.")))
            .map(|(i, p)| {
                shown.insert(i);
                p.message.as_str()
            })
            .collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }
}

pub(crate) fn render(
    status: StatusCode,
    visitor: &Visitor,
    entry: &CatalogEntry,
    products: &[ProductEntry],
    stored: &[String],
    posted: &Posted,
) -> Response {
    let tenant = visitor.tenant();
    let config_fields = schema_form::fields(&entry.config_schema);
    let mut shown = BTreeSet::new();
    let name_error = posted.error("name", &mut shown);
    let config_errors: Vec<Option<String>> = config_fields
        .iter()
        .map(|f| posted.error(&f.path(), &mut shown))
        .collect();
    let slot_errors: Vec<Option<String>> = entry
        .credentials
        .iter()
        .map(|s| posted.error(&format!("credentials.{}", s.name), &mut shown))
        .collect();
    let product_errors: Vec<[Option<String>; 3]> = entry
        .products
        .iter()
        .map(|p| {
            let at = |f: &str| format!("products.{p}.{f}");
            let product = posted
                .problems
                .iter()
                .enumerate()
                .filter(|(_, x)| {
                    x.field == format!("products.{p}")
                        || x.field == at("product")
                        || x.field == at("streams")
                })
                .map(|(i, x)| {
                    shown.insert(i);
                    x.message.as_str()
                })
                .collect::<Vec<_>>();
            [
                (!product.is_empty()).then(|| product.join("; ")),
                posted.error(&at("interval_seconds"), &mut shown),
                posted.error(&at("filter"), &mut shown),
            ]
        })
        .collect();
    let others: Vec<&Problem> = posted
        .problems
        .iter()
        .enumerate()
        .filter(|(i, _)| !shown.contains(i))
        .map(|(_, p)| p)
        .collect();
    let is_post = posted.products.is_some();
    let title = format!("Connect {}", entry.display_name);
    let summary = summary(posted, &others);
    let name_id = id_of("name");
    let name_frame = Frame {
        id: &name_id,
        label: "Connector name",
        hint: Some("How this connector is known in the tenant: 1 to 63 lowercase letters, digits or '-', e.g. okta-prod.".into()),
        error: name_error.as_deref(),
        required: true,
    };
    let body = html! {
        p { a href={ (BASE) "/t/" (tenant) "/catalog" } { "← Catalog" } }
        h1 { (title) }
        p { (entry.description) }
        (summary)
        @if !entry.prerequisites.is_empty() {
            section aria-labelledby="prereq-title" {
                h2 id="prereq-title" { "Prerequisites" }
                p { "Before connecting, the platform checks that:" }
                ul { @for p in &entry.prerequisites { li { (p.description) } } }
            }
        }
        form method="post" action={ (BASE) "/t/" (tenant) "/catalog/" (entry.id) "/connect" } novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(visitor.session.csrf);
            (name_frame.render(html! {
                input type="text" id=(name_id) name="name" value=(posted.value("name").unwrap_or(""))
                    spellcheck="false" autocomplete="off" aria-required="true"
                    aria-describedby=[name_frame.described_by()] aria-invalid=[name_frame.invalid()];
            }))
            fieldset {
                legend { "Configuration" }
                @for (field, error) in config_fields.iter().zip(&config_errors) {
                    // A fresh form shows the defaults; a posted one what was sent.
                    (schema_form::render(field, is_post.then(|| posted.value(&field.input_name()).unwrap_or("")), error.as_deref()))
                }
            }
            @if !entry.credentials.is_empty() {
                fieldset {
                    legend { "Credentials" }
                    @if !stored.is_empty() {
                        datalist id="stored-credentials" { @for n in stored { option value=(n) {} } }
                    }
                    @for (slot, error) in entry.credentials.iter().zip(&slot_errors) {
                        (slot_field(slot, posted, error.as_deref(), !stored.is_empty()))
                    }
                }
            }
            fieldset {
                legend { "Products" }
                p class="hint" { "Data is collected once and delivered to each product ticked here, at its own interval and through its own filter." }
                @for (product, errors) in entry.products.iter().zip(&product_errors) {
                    (product_fields(entry, product, products, posted, errors))
                }
            }
            button type="submit" class="button" { "Connect" }
            " "
            a href={ (BASE) "/t/" (tenant) "/catalog" } { "Cancel" }
        }
    };
    (
        status,
        layout::page(&title, visitor, Tab::Catalog, None, body),
    )
        .into_response()
}

/// The summary at the top: the refusal, and every problem linked to its field.
fn summary(posted: &Posted, others: &[&Problem]) -> Markup {
    if posted.problems.is_empty() && posted.refusal.is_none() {
        return html! {};
    }
    html! {
        div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
            h2 id="error-summary-title" { "The connector was not created" }
            @if let Some(refusal) = &posted.refusal {
                p class="refusal" { (refusal) }
            }
            @if !posted.problems.is_empty() {
                ul {
                    @for p in &posted.problems {
                        @if others.iter().any(|o| std::ptr::eq(*o, p)) {
                            li { strong { (p.field) } ": " (p.message) }
                        } @else {
                            li { a href={ "#" (id_of(&field_anchor(&p.field))) } { (p.field) ": " (p.message) } }
                        }
                    }
                }
            }
        }
    }
}

/// The control a problem's field is shown at (`config.a.b` → `config.a`).
fn field_anchor(field: &str) -> String {
    let parts: Vec<&str> = field.split('.').collect();
    match parts.as_slice() {
        ["products", id, "product" | "streams", ..] => format!("products.{id}.feed"),
        ["products", id, rest, ..] => format!("products.{id}.{rest}"),
        ["products", id] => format!("products.{id}.feed"),
        [first, second, ..] => format!("{first}.{second}"),
        _ => field.to_string(),
    }
}

fn slot_field(
    slot: &crate::views::SlotView,
    posted: &Posted,
    error: Option<&str>,
    listed: bool,
) -> Markup {
    let path = format!("credentials.{}", slot.name);
    let id = id_of(&path);
    let frame = Frame {
        id: &id,
        label: &format!("Credential for “{}”", slot.name),
        hint: Some(format!(
            "{} Give the name of a credential an Owner stored in this tenant (kinds: {}).",
            slot.description.trim_end_matches('.').to_string() + ".",
            slot.kinds.join(", ")
        )),
        error,
        required: true,
    };
    frame.render(html! {
        input type="text" id=(id) name=(path) value=(posted.value(&path).unwrap_or(""))
            list=[listed.then_some("stored-credentials")] spellcheck="false" autocomplete="off"
            aria-required="true" aria-describedby=[frame.described_by()] aria-invalid=[frame.invalid()];
    })
}

fn product_fields(
    entry: &CatalogEntry,
    product: &str,
    products: &[ProductEntry],
    posted: &Posted,
    errors: &[Option<String>; 3],
) -> Markup {
    let info = products.iter().find(|p| p.info.id == product);
    let display = info.map_or(product, |p| p.info.display_name.as_str());
    let ticked = posted.products.as_ref().is_none_or(|t| t.contains(product));
    let feed_id = id_of(&format!("products.{product}.feed"));
    let mut hint = info.map(|p| p.info.description.clone()).unwrap_or_default();
    if let Some(table) = info.and_then(|p| p.table.as_ref()) {
        hint.push_str(&format!(" Delivered to {table}."));
    }
    let feed = Frame {
        id: &feed_id,
        label: &format!("Feed {display}"),
        hint: (!hint.trim().is_empty()).then(|| hint.trim().to_string()),
        error: errors[0].as_deref(),
        required: false,
    };
    let interval_name = format!("products.{product}.interval_seconds");
    let interval_id = id_of(&interval_name);
    let interval = Frame {
        id: &interval_id,
        label: &format!("{display}: collect every (seconds)"),
        hint: Some(format!("1 to 604800. Default: {DEFAULT_INTERVAL_SECONDS}.")),
        error: errors[1].as_deref(),
        required: false,
    };
    let filter_name = format!("products.{product}.filter");
    let filter_id = id_of(&filter_name);
    let filter = Frame {
        id: &filter_id,
        label: &format!("{display}: filter (optional)"),
        hint: Some("Deliver only the records that match, in the platform's filter language (JSON), e.g. {\"starts_with\": {\"path\": \"/eventType\", \"prefix\": \"user.\"}}. Empty: every record.".into()),
        error: errors[2].as_deref(),
        required: false,
    };
    let streams_name = format!("products.{product}.streams");
    let chosen: BTreeSet<&str> = posted
        .values
        .iter()
        .filter(|(k, _)| **k == streams_name)
        .map(|(_, v)| v.as_str())
        .collect();
    html! {
        div class="product" {
            (feed.render_check("product", product, ticked))
            (interval.render(html! {
                input type="text" inputmode="numeric" id=(interval_id) name=(interval_name)
                    value=(posted.value(&interval_name).unwrap_or(""))
                    placeholder=(DEFAULT_INTERVAL_SECONDS)
                    aria-describedby=[interval.described_by()] aria-invalid=[interval.invalid()];
            }))
            (filter.render(html! {
                textarea id=(filter_id) name=(filter_name) spellcheck="false"
                    aria-describedby=[filter.described_by()] aria-invalid=[filter.invalid()] {
                    (posted.value(&filter_name).unwrap_or(""))
                }
            }))
            @if entry.streams.len() > 1 {
                fieldset {
                    legend { (display) ": streams (none ticked: all)" }
                    @for s in &entry.streams {
                        @let id = id_of(&format!("{streams_name}.{}", s.name));
                        (Frame { id: &id, label: &s.name, hint: Some(s.description.clone()), error: None, required: false }
                            .render_check(&streams_name, &s.name, chosen.contains(s.name.as_str())))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_shown_at_its_control() {
        assert_eq!(field_anchor("config.nested.depth"), "config.nested");
        assert_eq!(field_anchor("products.mdi.product"), "products.mdi.feed");
        assert_eq!(
            field_anchor("products.mdi.interval_seconds"),
            "products.mdi.interval_seconds"
        );
        assert_eq!(field_anchor("name"), "name");
    }
}
