//! Building one HTTP request of a definition: the endpoint, the window's times, the query
//! parameters or template, the paging parameters, and where each goes.
//!
//! Parameters travel in the query string for GET and DELETE; for POST and PUT in the body,
//! as JSON when `isPostPayloadJson` and as a form otherwise. A `queryParametersTemplate` is
//! the body of a POST (JSON written with single quotes, as CCF definitions do, is accepted);
//! for a GET it is appended to the query string. Paging parameters follow
//! `pagingInfoPlacement`; a parameter named like `$.request_data.search_from` is written at
//! that place of a JSON body.

use std::collections::{BTreeMap, HashMap};

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use ucp_core::SourceError;

use super::cursor::Position;
use super::definition::{Auth, Method, PagingKind, RestDefinition, TokenSend};
use super::template::{credential_field, CredentialField, Segment, Template, Variable};

/// The values placeholders resolve to for one call.
pub struct Values<'a> {
    /// The instance's parameters.
    pub parameters: &'a BTreeMap<String, String>,
    /// The credential's fields.
    pub secrets: &'a HashMap<CredentialField, SecretString>,
    /// The query window, formatted.
    pub window: Option<(String, String)>,
    /// The APIKey auth's header name, for `{_APIKeyName}`.
    pub api_key_name: Option<&'a str>,
}

impl Values<'_> {
    /// `template` filled in; a missing parameter or credential field is a configuration
    /// error naming it (never its value).
    pub fn render(&self, template: &Template, what: &str) -> Result<String, SourceError> {
        template
            .render(|segment| match segment {
                Segment::Named(name) => match credential_field(name) {
                    Some(field) => self
                        .secrets
                        .get(&field)
                        .map(|s| s.expose_secret().to_string())
                        .ok_or_else(|| format!("{what} needs the credential's {field} ({{{{{name}}}}}), which the connector's credential does not have")),
                    None => self
                        .parameters
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| format!("{what} needs parameter '{name}': set it in the connector's configuration")),
                },
                Segment::Variable(Variable::WindowStart) => self.window.as_ref().map(|w| w.0.clone()).ok_or_else(|| format!("{what} uses {{_QueryWindowStartTime}} outside a query window")),
                Segment::Variable(Variable::WindowEnd) => self.window.as_ref().map(|w| w.1.clone()).ok_or_else(|| format!("{what} uses {{_QueryWindowEndTime}} outside a query window")),
                Segment::Variable(Variable::ApiKey) => self.secrets.get(&CredentialField::Token).map(|s| s.expose_secret().to_string()).ok_or_else(|| format!("{what} uses {{_APIKey}} but the credential holds no API key")),
                Segment::Variable(Variable::ApiKeyName) => self.api_key_name.map(str::to_string).ok_or_else(|| format!("{what} uses {{_APIKeyName}} but the auth is not APIKey")),
                Segment::Text(text) => Ok(text.clone()),
            })
            .map_err(|message| SourceError::Config { message })
    }
}

/// A request body.
#[derive(Clone, Debug)]
pub enum Body {
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// `application/json`.
    Json(Value),
    /// Text as written by the template, sent as a form body.
    Text(String),
}

/// One request, ready for the auth step.
#[derive(Clone, Debug)]
pub struct Call {
    /// Method.
    pub method: Method,
    /// URL.
    pub url: Url,
    /// Headers (sensitive ones marked).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Body, if any.
    pub body: Option<Body>,
}

impl Call {
    /// Add a field to the body (an API key in the POST payload).
    pub fn add_body_field(&mut self, name: &str, value: String) {
        match &mut self.body {
            Some(Body::Form(pairs)) => pairs.push((name.to_string(), value)),
            Some(Body::Json(json)) => set_at(json, name, Value::String(value)),
            Some(Body::Text(text)) => {
                let pair = url_pair(name, &value);
                if text.is_empty() {
                    *text = pair;
                } else {
                    text.push('&');
                    text.push_str(&pair);
                }
            }
            None => self.body = Some(Body::Form(vec![(name.to_string(), value)])),
        }
    }
}

fn url_pair(name: &str, value: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish()
}

/// A header from a name and a value; marked sensitive when `secret`.
pub fn header(
    name: &str,
    value: &str,
    secret: bool,
) -> Result<(HeaderName, HeaderValue), SourceError> {
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| SourceError::Config {
        message: format!("'{name}' is not a valid HTTP header name"),
    })?;
    let mut value = HeaderValue::from_str(value).map_err(|_| SourceError::Config {
        message: format!("the value of header {name} holds characters not allowed in HTTP headers"),
    })?;
    value.set_sensitive(secret);
    Ok((name, value))
}

/// The request for a page of `definition`: the first page of a window (`position` `None`)
/// or the page at `position`.
pub fn build(
    definition: &RestDefinition,
    values: &Values,
    position: Option<&Position>,
) -> Result<Call, SourceError> {
    let request = &definition.request;
    let endpoint = parse_url(
        &values.render(&request.endpoint, "apiEndpoint")?,
        "apiEndpoint",
    )?;
    let mut headers = Vec::new();
    for (name, template) in &request.headers {
        headers.push(header(
            name,
            &values.render(template, &format!("header {name}"))?,
            template.has_secret(),
        )?);
    }
    // A URL from the provider is followed as given (link and next-page-URL paging).
    if let Some(Position::Url(next)) = position {
        let url =
            ucp_core::http::resolve_link(&endpoint, next).map_err(|e| SourceError::Malformed {
                message: format!("the next page's link is unusable: {e}"),
            })?;
        let mut url = url;
        if let PagingKind::NextUrl { query, .. } = &definition.paging.kind {
            for (name, template) in query {
                let value =
                    values.render(template, &format!("nextPageUrlQueryParameters.{name}"))?;
                url.query_pairs_mut().append_pair(name, &value);
            }
        }
        return Ok(Call {
            method: Method::Get,
            url,
            headers,
            body: None,
        });
    }

    let mut params: Vec<(String, String)> = Vec::new();
    let paging_only = position.is_some() && definition.paging.paging_params_only;
    if !paging_only {
        for (name, template) in &request.query {
            params.push((
                name.clone(),
                values.render(template, &format!("queryParameters.{name}"))?,
            ));
        }
        if let (Some((start_name, end_name)), Some((start, end))) =
            (&request.time_attributes, &values.window)
        {
            params.push((start_name.clone(), start.clone()));
            params.push((end_name.clone(), end.clone()));
        }
        if let (Some(interval), Some((start, end))) = (&request.interval, &values.window) {
            params.push((
                interval.name.clone(),
                format!("{}{start}{}{end}", interval.prepend, interval.delimiter),
            ));
        }
    }
    let mut paging: Vec<(String, String)> = Vec::new();
    let mut paging_header = None;
    if let (Some(size), Some(name)) = (
        definition.paging.page_size,
        &definition.paging.page_size_param,
    ) {
        paging.push((name.clone(), size.to_string()));
    }
    match (&definition.paging.kind, position) {
        (PagingKind::Token { send, .. }, Some(Position::Token(token)))
        | (
            PagingKind::NextUrl {
                send: Some(send), ..
            },
            Some(Position::Token(token)),
        ) => match send {
            TokenSend::Param(name) => paging.push((name.clone(), token.clone())),
            TokenSend::Header(name) => paging_header = Some(header(name, token, false)?),
        },
        (PagingKind::Offset { param, end_param }, position) => {
            let offset = match position {
                Some(Position::Offset(n)) => *n,
                _ => 0,
            };
            paging.push((param.clone(), offset.to_string()));
            if let Some(end) = end_param {
                let size = u64::from(definition.paging.page_size.unwrap_or(1));
                paging.push((end.clone(), offset.saturating_add(size).to_string()));
            }
        }
        (
            PagingKind::PageNumber {
                param, zero_based, ..
            },
            position,
        ) => {
            let number = match position {
                Some(Position::Number(n)) => *n,
                _ => u64::from(!*zero_based),
            };
            paging.push((param.clone(), number.to_string()));
        }
        _ => {}
    }
    headers.extend(paging_header);

    let mut url = match (&definition.paging.kind, position) {
        (
            PagingKind::NextUrl {
                base: Some(base), ..
            },
            Some(Position::Token(_)),
        ) => parse_url(&values.render(base, "nextPageUrl")?, "nextPageUrl")?,
        _ => endpoint,
    };
    let template = match (&request.template, paging_only) {
        (Some(t), false) => Some(values.render(t, "queryParametersTemplate")?),
        _ => None,
    };
    let in_body = request.method.has_body();
    let body = if in_body {
        let (mut body_params, query_params): (Vec<_>, Vec<_>) = if definition.paging.in_body {
            (params.into_iter().chain(paging).collect(), Vec::new())
        } else {
            (params, paging)
        };
        append_query(&mut url, &query_params);
        Some(match (template, request.json_body) {
            (Some(text), true) => {
                let mut json = relaxed_json(&text).map_err(|why| SourceError::Config {
                    message: format!(
                        "queryParametersTemplate does not give JSON once filled in ({why})"
                    ),
                })?;
                for (name, value) in body_params.drain(..) {
                    set_at(&mut json, &name, number_or_text(value));
                }
                Body::Json(json)
            }
            (Some(text), false) => {
                let mut text = text;
                for (name, value) in &body_params {
                    text.push('&');
                    text.push_str(&url_pair(name, value));
                }
                Body::Text(text.trim_start_matches('&').to_string())
            }
            (None, true) => {
                let mut json = Value::Object(Map::new());
                for (name, value) in body_params {
                    set_at(&mut json, &name, Value::String(value));
                }
                Body::Json(json)
            }
            (None, false) => Body::Form(body_params),
        })
    } else {
        append_query(&mut url, &params);
        append_query(&mut url, &paging);
        if let Some(text) = template {
            let query = match url.query() {
                Some(q) if !q.is_empty() => format!("{q}&{}", text.trim_start_matches(['?', '&'])),
                _ => text.trim_start_matches(['?', '&']).to_string(),
            };
            url.set_query(Some(&query));
        }
        None
    };
    Ok(Call {
        method: request.method,
        url,
        headers,
        body,
    })
}

fn append_query(url: &mut Url, params: &[(String, String)]) {
    if params.is_empty() {
        return;
    }
    let mut pairs = url.query_pairs_mut();
    for (name, value) in params {
        pairs.append_pair(name, value);
    }
}

fn parse_url(text: &str, field: &str) -> Result<Url, SourceError> {
    let url = Url::parse(text.trim()).map_err(|e| SourceError::Config {
        message: format!("{field} is not a URL once filled in ({e})"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SourceError::Config {
            message: format!("{field} must be an http(s) URL with a host"),
        });
    }
    Ok(url)
}

/// A number stays a number in a JSON body (offsets, page sizes); anything else is text.
fn number_or_text(value: String) -> Value {
    match value.parse::<u64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(value),
    }
}

/// Write `value` at `name` in a JSON object: a plain member, or a `$.a.b` path whose missing
/// objects are created.
pub fn set_at(json: &mut Value, name: &str, value: Value) {
    let steps: Vec<&str> = match name.strip_prefix("$.") {
        Some(path) => path.split('.').filter(|s| !s.is_empty()).collect(),
        None => vec![name],
    };
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    let mut node = json;
    for step in parents {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        node = map
            .entry((*step).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        map.insert((*last).to_string(), value);
    }
}

/// JSON, or JSON written with single-quoted strings (CCF templates are).
pub fn relaxed_json(text: &str) -> Result<Value, String> {
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'') => {
                quote = Some('\'');
                out.push('"');
            }
            (None, '"') => {
                quote = Some('"');
                out.push('"');
            }
            (Some('\''), '\'') | (Some('"'), '"') => {
                quote = None;
                out.push('"');
            }
            (Some('\''), '"') => out.push_str("\\\""),
            (Some(_), '\\') => {
                let next = chars.next().unwrap_or('\\');
                if next == '\'' {
                    out.push('\'');
                } else {
                    out.push('\\');
                    out.push(next);
                }
            }
            (_, c) => out.push(c),
        }
    }
    serde_json::from_str(&out).map_err(|e| e.to_string())
}

/// The API-key header of APIKey auth: `{identifier} {key}` (or the key alone).
pub fn api_key_text(auth: &Auth, key: &SecretString) -> Option<SecretString> {
    match auth {
        Auth::ApiKey {
            identifier: Some(identifier),
            ..
        } => Some(SecretString::from(format!(
            "{} {}",
            identifier.trim(),
            key.expose_secret()
        ))),
        Auth::ApiKey {
            identifier: None, ..
        } => Some(key.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_quoted_templates_become_json() {
        let value =
            relaxed_json("{ 'a': { 'from': 1700, 'q': 'it\\'s \"x\"' }, 'b': [ 'c' ] }").unwrap();
        assert_eq!(value["a"]["from"], 1700);
        assert_eq!(value["a"]["q"], "it's \"x\"");
        assert_eq!(value["b"][0], "c");
        assert!(relaxed_json("{ 'a': ").is_err());
    }

    #[test]
    fn values_are_set_at_json_paths() {
        let mut body = relaxed_json("{'request_data': {'search_from': 0}}").unwrap();
        set_at(&mut body, "$.request_data.search_from", Value::from(100));
        set_at(&mut body, "$.request_data.search_to", Value::from(200));
        set_at(&mut body, "limit", Value::from(5));
        assert_eq!(
            body,
            serde_json::json!({"request_data": {"search_from": 100, "search_to": 200}, "limit": 5})
        );
    }
}
