//! Loading a definition file: the CCF `RestApiPoller` shape (the `properties` object alone,
//! a data connector resource `{"kind": "RestApiPoller", "properties": {…}}`, or a
//! one-element array of those), field names matched without regard to case. Every mistake is
//! a [`DefinitionError`] naming the file, the JSON path of the field and what is wrong.

mod auth;
mod extension;
mod paging;
mod request;
mod response;

use serde_json::Value;

use super::definition::*;
use super::fields::{problem, Checked, Object, Problem};
use super::template::Template;
use auth::auth;
use extension::Extension;
use paging::paging;
use request::request;
use response::{dcr, response};

/// A definition that cannot be used: which file, which field, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {path}: {problem}")]
pub struct DefinitionError {
    /// The file (or name) the definition came from.
    pub origin: String,
    /// JSON path of the field, e.g. `$.properties.paging.pagingType` (`$` for the file).
    pub path: String,
    /// What is wrong and what is accepted.
    pub problem: String,
}

/// The largest definition file read (a definition is a few KiB).
pub const MAX_DEFINITION_BYTES: usize = 1024 * 1024;

/// Load the definition in `text`; `origin` names it in errors (a file name).
pub fn load(origin: &str, text: &str) -> Result<RestDefinition, DefinitionError> {
    let fail = |p: Problem| DefinitionError {
        origin: origin.to_string(),
        path: p.path,
        problem: p.problem,
    };
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(fail(problem(
            "$",
            format!("the file is larger than {MAX_DEFINITION_BYTES} bytes"),
        )));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| fail(problem("$", format!("not JSON ({e})"))))?;
    definition(origin, &value).map_err(fail)
}

fn definition(origin: &str, root: &Value) -> Checked<RestDefinition> {
    let (value, path) = properties(root)?;
    let top = Object::new(value, path)?;
    let mut warnings = Vec::new();
    let name = top.required("connectorDefinitionName")?;
    let data_type = top.string("dataType")?;
    top.get("isActive");
    let ucp = top.object("ucp")?;
    let auth = auth(
        &top.object("auth")?.ok_or_else(|| missing(&top, "auth"))?,
        &mut warnings,
    )?;
    let request_object = top
        .object("request")?
        .ok_or_else(|| missing(&top, "request"))?;
    let request = request(&request_object, &mut warnings)?;
    let paging = match top.object("paging")? {
        Some(object) => paging(&object, &mut warnings)?,
        None => Paging {
            kind: PagingKind::None,
            page_size: None,
            page_size_param: None,
            in_body: false,
            paging_params_only: false,
        },
    };
    let response = response(
        &top.object("response")?
            .ok_or_else(|| missing(&top, "response"))?,
        &mut warnings,
    )?;
    let dcr = top.object("dcrConfig")?.map(|o| dcr(&o)).transpose()?;
    let add_on_attributes = top.pairs("addOnAttributes")?;
    if add_on_attributes.iter().any(|(_, t)| t.has_secret()) {
        return Err(problem(
            top.at("addOnAttributes"),
            "must not use a credential placeholder: attributes travel with every event",
        ));
    }
    let extension = Extension::read(ucp.as_ref(), &name, &request, &mut warnings)?;
    top.unread(&mut warnings);
    if paging.kind.persistent() && extension.late_arrival.is_some() {
        return Err(problem(
            "$.properties.ucp.lateArrival",
            "does not apply with a persistent paging type: its cursor already covers events persisted late",
        ));
    }
    Ok(RestDefinition {
        origin: origin.to_string(),
        meta: extension.meta,
        connector_definition_name: name,
        data_type,
        stream: extension.stream,
        provider: extension.provider,
        auth,
        request,
        paging,
        response,
        records: extension.records,
        add_on_attributes,
        late_arrival: extension.late_arrival,
        catch_up_window: extension.catch_up_window,
        budget: extension.budget,
        parameter_specs: extension.parameters,
        dcr,
        warnings,
    })
}

/// The `properties` object and its path.
fn properties(root: &Value) -> Checked<(&Value, String)> {
    let (resource, path) = match root {
        Value::Array(items) if items.len() == 1 => (&items[0], "$[0]".to_string()),
        Value::Array(items) => {
            return Err(problem(
                "$",
                format!(
                    "holds {} data connectors: put each RestApiPoller in a file of its own",
                    items.len()
                ),
            ))
        }
        other => (other, "$".to_string()),
    };
    let object = Object::new(resource, path.clone())?;
    if let Some(kind_name) = object.string("kind")? {
        if !kind_name.eq_ignore_ascii_case("RestApiPoller") {
            return Err(problem(
                object.at("kind"),
                format!("is '{kind_name}': only RestApiPoller data connectors can be loaded"),
            ));
        }
    }
    match object.get("properties") {
        Some(properties) => Ok((properties, object.at("properties"))),
        None => Ok((resource, path)),
    }
}

fn missing(object: &Object, name: &str) -> Problem {
    problem(object.at(name), "is required")
}

/// A field that must be one credential placeholder holding a secret.
fn secret(object: &Object, name: &str) -> Checked<Template> {
    let template = object
        .template(name)?
        .ok_or_else(|| missing(object, name))?;
    match template.credential_only() {
        Some(field) if field.is_secret() => Ok(template),
        _ => Err(problem(
            object.at(name),
            "must be a credential placeholder such as {{apikey}}, {{password}} or {{clientSecret}}: secrets come from the credential store, never from the definition",
        )),
    }
}
