//! Connecting a definition: the form (drawn by `connect_form`) is turned into a create
//! request and sent to [`Manager::create`](crate::Manager::create); the manager's problems
//! come back next to the fields they name.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::connect_form::{render, Posted};
use super::error::{see_other, UiError};
use super::form::Fields;
use super::schema_form;
use super::signed_in::{Visitor, CSRF_FIELD};
use super::{UiState, BASE};
use crate::error::{ManageError, Problem};
use crate::model::{ProductSubscription, Role, DEFAULT_INTERVAL_SECONDS};
use crate::views::{CatalogEntry, CreateConnector, CredentialInput, ProductEntry};

fn forbidden(visitor: &Visitor) -> UiError {
    UiError::from(ManageError::Forbidden {
        tenant: visitor.tenant().to_string(),
        action: "creating a connector".into(),
        needed: Role::Contributor,
        have: visitor.role,
    })
}

/// The connect form.
pub(crate) async fn form(
    State(state): State<UiState>,
    visitor: Visitor,
    Path((_, definition)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let (entry, products, stored) = parts(&state, &visitor, &definition).await?;
    if !visitor.contributes() {
        return Err(forbidden(&visitor));
    }
    Ok(render(
        StatusCode::OK,
        &visitor,
        &entry,
        &products,
        &stored,
        &Posted::default(),
    ))
}

/// What the form is generated from: the catalog entry, the products, and (for an Owner,
/// who may list them) the names of stored credentials.
async fn parts(
    state: &UiState,
    visitor: &Visitor,
    definition: &str,
) -> Result<(CatalogEntry, Vec<ProductEntry>, Vec<String>), UiError> {
    let tenant = visitor.tenant();
    let manager = &state.manager;
    let entry = manager
        .catalog_entry(&visitor.principal, tenant, definition)
        .await?;
    let products = manager.products(&visitor.principal, tenant).await?;
    let stored = if visitor.owns() {
        manager
            .credentials(&visitor.principal, tenant)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect()
    } else {
        Vec::new()
    };
    Ok((entry, products, stored))
}

/// Send the form to the manager.
pub(crate) async fn submit(
    State(state): State<UiState>,
    visitor: Visitor,
    Path((_, definition)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, UiError> {
    visitor.check_csrf(fields.pairs())?;
    let (entry, products, stored) = parts(&state, &visitor, &definition).await?;
    let mut posted = Posted {
        values: fields
            .pairs()
            .iter()
            .filter(|(k, _)| k != CSRF_FIELD)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        products: Some(fields.all("product").map(String::from).collect()),
        ..Posted::default()
    };
    let (body, order, problems) = request(&entry, &fields);
    if !problems.is_empty() {
        posted.problems = problems;
        return Ok(render(
            StatusCode::BAD_REQUEST,
            &visitor,
            &entry,
            &products,
            &stored,
            &posted,
        ));
    }
    let name = body.name.clone();
    let tenant = visitor.tenant().to_string();
    match state
        .manager
        .create(&visitor.principal, &tenant, body)
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "{BASE}/t/{tenant}/connectors/{name}?done=created"
        ))),
        Err(ManageError::Invalid(problems)) => {
            // The manager names products by their place in the request; the form by id.
            posted.problems = problems
                .into_iter()
                .map(|p| Problem::new(product_path(&p.field, &order), p.message))
                .collect();
            Ok(render(
                StatusCode::BAD_REQUEST,
                &visitor,
                &entry,
                &products,
                &stored,
                &posted,
            ))
        }
        Err(ManageError::NotFound(why)) => Err(UiError::page(StatusCode::NOT_FOUND, why)),
        Err(other) => {
            let refused = UiError::from(other);
            let (status, message) = match refused {
                UiError::Page {
                    status, message, ..
                } => (status, message),
                UiError::SignIn { .. } => return Err(refused),
            };
            posted.refusal = Some(message);
            Ok(render(
                status, &visitor, &entry, &products, &stored, &posted,
            ))
        }
    }
}

/// `products.1.filter` → `products.mdi.filter` for the products in `order`.
fn product_path(field: &str, order: &[String]) -> String {
    let mut parts = field.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("products"), Some(index), rest) => {
            match index.parse::<usize>().ok().and_then(|i| order.get(i)) {
                Some(id) => match rest {
                    Some(rest) => format!("products.{id}.{rest}"),
                    None => format!("products.{id}"),
                },
                None => field.to_string(),
            }
        }
        _ => field.to_string(),
    }
}

/// The create request the form describes, the products in the order sent, and the values
/// that cannot be put in a request at all (a filter that is not JSON, an interval that is
/// not a number).
fn request(entry: &CatalogEntry, fields: &Fields) -> (CreateConnector, Vec<String>, Vec<Problem>) {
    let mut problems = Vec::new();
    let config = schema_form::config(&schema_form::fields(&entry.config_schema), fields);
    let mut credentials = BTreeMap::new();
    for slot in &entry.credentials {
        let name = fields.get(&format!("credentials.{}", slot.name));
        if !name.is_empty() {
            credentials.insert(
                slot.name.clone(),
                CredentialInput {
                    name: Some(name.to_string()),
                    secret: None,
                },
            );
        }
    }
    let ticked: BTreeSet<&str> = fields.all("product").collect();
    let mut order = Vec::new();
    let mut subscriptions = Vec::new();
    for product in entry
        .products
        .iter()
        .filter(|p| ticked.contains(p.as_str()))
    {
        let interval = fields.get(&format!("products.{product}.interval_seconds"));
        let interval_seconds = if interval.is_empty() {
            DEFAULT_INTERVAL_SECONDS
        } else {
            match interval.parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    problems.push(Problem::new(
                        format!("products.{product}.interval_seconds"),
                        "the interval is a whole number of seconds",
                    ));
                    DEFAULT_INTERVAL_SECONDS
                }
            }
        };
        let filter_text = fields.get(&format!("products.{product}.filter"));
        let filter = if filter_text.is_empty() {
            None
        } else {
            match serde_json::from_str::<ucp_core::Filter>(filter_text) {
                Ok(f) => Some(f),
                Err(e) => {
                    problems.push(Problem::new(
                        format!("products.{product}.filter"),
                        format!(
                            "not a filter: {} (write it in JSON, e.g. {{\"starts_with\": {{\"path\": \"/eventType\", \"prefix\": \"user.\"}}}})",
                            crate::api::scrub(&e.to_string())
                        ),
                    ));
                    None
                }
            }
        };
        let streams = fields
            .all(&format!("products.{product}.streams"))
            .map(String::from)
            .collect();
        order.push(product.clone());
        subscriptions.push(ProductSubscription {
            product: product.clone(),
            streams,
            interval_seconds,
            filter,
        });
    }
    let body = CreateConnector {
        name: fields.get("name").to_string(),
        definition: entry.id.clone(),
        config,
        credentials,
        products: subscriptions,
    };
    (body, order, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_managers_product_indexes_become_product_ids() {
        let order = vec!["sentinel".to_string(), "mdi".to_string()];
        assert_eq!(
            product_path("products.1.interval_seconds", &order),
            "products.mdi.interval_seconds"
        );
        assert_eq!(product_path("products.0", &order), "products.sentinel");
        assert_eq!(
            product_path("products.7.filter", &order),
            "products.7.filter"
        );
        assert_eq!(
            product_path("config.page_limit", &order),
            "config.page_limit"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_field_path_maps_without_panicking(field in "[a-z0-9._]{0,30}", i in 0usize..4) {
            let order = vec!["sentinel".to_string(), "mdi".to_string()];
            let mapped = product_path(&field, &order);
            let indexed = product_path(&format!("products.{i}.filter"), &order);
            match order.get(i) {
                Some(id) => proptest::prop_assert_eq!(indexed, format!("products.{id}.filter")),
                None => proptest::prop_assert_eq!(indexed, format!("products.{i}.filter")),
            }
            proptest::prop_assert!(!field.starts_with("products.") || mapped.starts_with("products."));
        }
    }
}
