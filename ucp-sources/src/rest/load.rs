//! Loading a definition file: the CCF `RestApiPoller` shape (the `properties` object alone,
//! a data connector resource `{"kind": "RestApiPoller", "properties": {…}}`, or a
//! one-element array of those), field names matched without regard to case. Every mistake is
//! a [`DefinitionError`] naming the file, the JSON path of the field and what is wrong.

use std::time::Duration;

use serde_json::Value;

use super::definition::*;
use super::fields::{kind, problem, Checked, Object, Problem};
use super::json_path::Path;
use super::template::Template;
use super::time_format::TimeFormat;

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

fn auth(object: &Object, warnings: &mut Vec<String>) -> Checked<Auth> {
    let kind_name = object.required("type")?;
    let auth = match kind_name.to_ascii_lowercase().as_str() {
        "none" => Auth::None,
        "basic" => Auth::Basic {
            user: object.template("userName")?.ok_or_else(|| missing(object, "userName"))?,
            password: secret(object, "password")?,
        },
        "apikey" => Auth::ApiKey {
            key: secret(object, "apiKey")?,
            name: object
                .string("apiKeyName")?
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| "Authorization".into()),
            identifier: object.string("apiKeyIdentifier")?.filter(|i| !i.trim().is_empty()),
            in_post_payload: object.boolean("isApiKeyInPostPayload", false)?,
        },
        "oauth2" => oauth2(object)?,
        "jwttoken" => Auth::JwtToken(Box::new(login(object, true)?)),
        "session" => Auth::Session(Box::new(login(object, false)?)),
        "aws" | "gcp" | "github" | "servicebus" | "oracle" => {
            return Err(problem(
                object.at("type"),
                format!("auth type '{kind_name}' is not supported by ucp's REST source: use None, Basic, APIKey, OAuth2 (client_credentials), JwtToken or Session"),
            ))
        }
        _ => {
            return Err(problem(
                object.at("type"),
                format!("unknown auth type '{kind_name}': use None, Basic, APIKey, OAuth2, JwtToken or Session"),
            ))
        }
    };
    object.unread(warnings);
    Ok(auth)
}

fn oauth2(object: &Object) -> Checked<Auth> {
    let grant = object.required("grantType")?;
    if !grant.eq_ignore_ascii_case("client_credentials") {
        return Err(problem(
            object.at("grantType"),
            format!("is '{grant}': ucp supports client_credentials (authorization_code needs a person to consent in a browser)"),
        ));
    }
    for (field, role) in [("clientId", "client id"), ("clientSecret", "client secret")] {
        let template = object
            .template(field)?
            .ok_or_else(|| missing(object, field))?;
        if template.credential_only().is_none() {
            return Err(problem(
                object.at(field),
                format!("must be a credential placeholder such as {{{{{field}}}}}: the {role} is the stored OAuth client's, sent only to its token URL by the platform's token provider"),
            ));
        }
    }
    for ignored in [
        "authorizationCode",
        "redirectUri",
        "authorizationEndpoint",
        "authorizationEndpointHeaders",
        "authorizationEndpointQueryParameters",
        "isJwtBearerFlow",
    ] {
        object.get(ignored);
    }
    Ok(Auth::OAuth2 {
        token_endpoint: object
            .template("tokenEndpoint")?
            .ok_or_else(|| missing(object, "tokenEndpoint"))?,
        scope: object.string("scope")?.unwrap_or_default(),
        headers: object.pairs("tokenEndpointHeaders")?,
        query: object.pairs("tokenEndpointQueryParameters")?,
        credentials_in_header: object.boolean("isCredentialsInHeaders", false)?,
        prepend: object
            .string("accessTokenPrepend")?
            .unwrap_or_else(|| "Bearer".into()),
    })
}

fn login_field(object: &Object, name: &str, secret_value: bool) -> Checked<LoginField> {
    let field = object.object(name)?.ok_or_else(|| missing(object, name))?;
    let key = field.required("key")?;
    let value = if secret_value {
        secret(&field, "value")?
    } else {
        field
            .template("value")?
            .ok_or_else(|| missing(&field, "value"))?
    };
    Ok(LoginField { key, value })
}

fn method(object: &Object, name: &str, default: Method) -> Checked<Method> {
    Ok(
        match object
            .string(name)?
            .map(|m| m.to_ascii_uppercase())
            .as_deref()
        {
            None => default,
            Some("GET") => Method::Get,
            Some("POST") => Method::Post,
            Some("PUT") => Method::Put,
            Some("DELETE") => Method::Delete,
            Some(other) => {
                return Err(problem(
                    object.at(name),
                    format!("is '{other}': use GET, POST, PUT or DELETE"),
                ))
            }
        },
    )
}

fn login(object: &Object, jwt: bool) -> Checked<Login> {
    let endpoint_field = if jwt {
        "tokenEndpoint"
    } else {
        "sessionLoginRequestUri"
    };
    let endpoint = object
        .template(endpoint_field)?
        .ok_or_else(|| missing(object, endpoint_field))?;
    let minutes = object.integer("sessionTimeoutInMinutes", 1, 24 * 60)?;
    let (token, send_header, prepend) = if jwt {
        let token = if object.boolean("jwtTokenInResponseHeader", false)? {
            TokenLocation::Header(
                object
                    .string("jwtTokenHeaderName")?
                    .unwrap_or_else(|| "Authorization".into()),
            )
        } else {
            TokenLocation::Body(match object.json_path("jwtTokenJsonPath")? {
                Some(path) => path,
                None => Path::parse("$.access_token").map_err(|why| problem(object.path(), why))?,
            })
        };
        let prepend = if object.boolean("noAccessTokenPrepend", false)? {
            None
        } else {
            Some(
                object
                    .string("jwtTokenIdentifier")?
                    .unwrap_or_else(|| "Bearer".into()),
            )
        };
        (token, "Authorization".to_string(), prepend)
    } else {
        let name = object.required("sessionIdName")?;
        (TokenLocation::Header(name.clone()), name, None)
    };
    for ignored in ["userToken", "userTokenPrepend"] {
        object.get(ignored);
    }
    Ok(Login {
        endpoint,
        method: method(object, "tokenEndpointHttpMethod", Method::Post)?,
        user: login_field(object, "userName", false)?,
        password: login_field(object, "password", true)?,
        query: object.pairs("queryParameters")?,
        headers: object.pairs("headers")?,
        credentials_in_header: object.boolean("isCredentialsInHeaders", false)?,
        json: object.boolean("isJsonRequest", false)?
            || object.boolean("isPostPayloadJson", false)?,
        timeout: Duration::from_secs(
            object
                .integer("requestTimeoutInSeconds", 1, 180)?
                .unwrap_or(100),
        ),
        token,
        send_header,
        prepend,
        lifetime: Duration::from_secs(minutes.unwrap_or(if jwt { 60 } else { 30 }) * 60),
    })
}

fn request(object: &Object, warnings: &mut Vec<String>) -> Checked<Request> {
    let endpoint = object
        .template("apiEndpoint")?
        .ok_or_else(|| missing(object, "apiEndpoint"))?;
    if endpoint.has_secret() {
        return Err(problem(
            object.at("apiEndpoint"),
            "must not hold a credential placeholder: URLs end up in logs and messages",
        ));
    }
    let start = object
        .string("startTimeAttributeName")?
        .filter(|s| !s.is_empty());
    let end = object
        .string("endTimeAttributeName")?
        .filter(|s| !s.is_empty());
    let time_attributes = match (start, end) {
        (Some(start), Some(end)) => Some((start, end)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(problem(
                object.at("endTimeAttributeName"),
                "is required when startTimeAttributeName is set",
            ))
        }
        (None, Some(_)) => {
            return Err(problem(
                object.at("startTimeAttributeName"),
                "is required when endTimeAttributeName is set",
            ))
        }
    };
    let interval = object
        .string("queryTimeIntervalAttributeName")?
        .filter(|s| !s.is_empty())
        .map(|name| -> Checked<Interval> {
            Ok(Interval {
                name,
                prepend: object
                    .string("queryTimeIntervalPrepend")?
                    .unwrap_or_default(),
                delimiter: object
                    .string("queryTimeIntervalDelimiter")?
                    .unwrap_or_else(|| "..".into()),
            })
        })
        .transpose()?;
    let time_format = match object.string("queryTimeFormat")? {
        Some(text) => {
            TimeFormat::parse(&text).map_err(|why| problem(object.at("queryTimeFormat"), why))?
        }
        None => TimeFormat::Iso,
    };
    let rate_limit = match object.object("rateLimitConfig")? {
        Some(config) => rate_limit_config(&config, warnings)?,
        None => RateLimitConfig {
            custom: Vec::new(),
            use_reset: true,
        },
    };
    object.get("paginatedCallsPerSecond");
    let request = Request {
        endpoint,
        method: method(object, "httpMethod", Method::Get)?,
        window: Duration::from_secs(
            object
                .integer("queryWindowInMin", 1, 7 * 24 * 60)?
                .unwrap_or(5)
                * 60,
        ),
        time_format,
        time_attributes,
        interval,
        query: object.pairs("queryParameters")?,
        template: object.template("queryParametersTemplate")?,
        headers: object.pairs("headers")?,
        json_body: object.boolean("isPostPayloadJson", false)?,
        qps: object.number("rateLimitQPS", 0.001, 10_000.0)?,
        retry_count: object.integer("retryCount", 1, 6)?.unwrap_or(3) as u32,
        timeout: Duration::from_secs(object.integer("timeoutInSeconds", 1, 180)?.unwrap_or(20)),
        rate_limit,
    };
    object.unread(warnings);
    Ok(request)
}

fn rate_limit_config(object: &Object, warnings: &mut Vec<String>) -> Checked<RateLimitConfig> {
    let mut custom = Vec::new();
    if let Some(evaluation) = object.object("evaluation")? {
        evaluation.get("checkMode");
        evaluation.unread(warnings);
    }
    if let Some(extraction) = object.object("extraction")? {
        let source = extraction
            .string("source")?
            .unwrap_or_else(|| "DefaultHeaders".into());
        if !["defaultheaders", "customheaders"].contains(&source.to_ascii_lowercase().as_str()) {
            return Err(problem(
                extraction.at("source"),
                format!("is '{source}': use DefaultHeaders or CustomHeaders"),
            ));
        }
        if let Some(headers) = extraction.object("headers")? {
            for (name, field) in [
                ("limit", HintField::Limit),
                ("remaining", HintField::Remaining),
                ("reset", HintField::Reset),
                ("retryAfter", HintField::RetryAfter),
            ] {
                let Some(spec) = headers.object(name)? else {
                    continue;
                };
                let header = spec.required("name")?;
                let format = match spec.string("format")?.unwrap_or_else(|| "Integer".into()).to_ascii_lowercase().as_str() {
                    "integer" => HeaderFormat::Integer,
                    "seconds" | "deltaseconds" => HeaderFormat::Seconds,
                    "unixtimeseconds" => HeaderFormat::UnixTimeSeconds,
                    "unixtimemilliseconds" | "unixtimemillis" => HeaderFormat::UnixTimeMilliseconds,
                    "datetime" | "httpdate" => HeaderFormat::DateTime,
                    other => return Err(problem(spec.at("format"), format!("is '{other}': use Integer, Seconds, UnixTimeSeconds, UnixTimeMilliseconds or DateTime"))),
                };
                custom.push((
                    field,
                    HeaderSpec {
                        name: header,
                        format,
                    },
                ));
            }
            headers.unread(warnings);
        }
        extraction.unread(warnings);
    }
    let mut use_reset = true;
    if let Some(strategy) = object.object("retryStrategy")? {
        use_reset = strategy.boolean("useResetOrRetryAfterHeaders", true)?;
        strategy.unread(warnings);
    }
    object.unread(warnings);
    Ok(RateLimitConfig { custom, use_reset })
}

fn paging(object: &Object, warnings: &mut Vec<String>) -> Checked<Paging> {
    let kind_name = object.required("pagingType")?;
    let token_source = |path_field: &str| -> Checked<Option<ValueSource>> {
        Ok(
            match (
                object.json_path(path_field)?,
                object.string("nextPageTokenResponseHeader")?,
            ) {
                (Some(path), _) => Some(ValueSource::Body(path)),
                (None, Some(header)) if !header.is_empty() => Some(ValueSource::Header(header)),
                _ => None,
            },
        )
    };
    let send = || -> Checked<Option<TokenSend>> {
        Ok(
            match (
                object.string("nextPageParaName")?,
                object.string("nextPageRequestHeader")?,
            ) {
                (Some(param), _) if !param.is_empty() => Some(TokenSend::Param(param)),
                (_, Some(header)) if !header.is_empty() => Some(TokenSend::Header(header)),
                _ => None,
            },
        )
    };
    let kind = match kind_name.to_ascii_lowercase().as_str() {
        "linkheader" | "persistentlinkheader" => PagingKind::Link {
            persistent: kind_name.to_ascii_lowercase().starts_with("persistent"),
            rel: object.string("linkHeaderRelLinkName")?.unwrap_or_else(|| "next".into()),
            body_path: object.json_path("linkHeaderTokenJsonPath")?,
        },
        "nextpagetoken" | "persistenttoken" => PagingKind::Token {
            persistent: kind_name.eq_ignore_ascii_case("persistenttoken"),
            source: token_source("nextPageTokenJsonPath")?.ok_or_else(|| {
                problem(object.at("nextPageTokenJsonPath"), "is required (or nextPageTokenResponseHeader): where the next page's token is")
            })?,
            send: send()?.ok_or_else(|| {
                problem(object.at("nextPageParaName"), "is required (or nextPageRequestHeader): how the token is sent")
            })?,
            has_next: object.json_path("hasNextFlagJsonPath")?,
        },
        "nextpageurl" => PagingKind::NextUrl {
            source: token_source("nextPageTokenJsonPath")?.ok_or_else(|| {
                problem(object.at("nextPageTokenJsonPath"), "is required (or nextPageTokenResponseHeader): where the next page's URL is")
            })?,
            base: object.template("nextPageUrl")?,
            send: send()?,
            query: object.pairs("nextPageUrlQueryParameters")?,
            has_next: object.json_path("hasNextFlagJsonPath")?,
        },
        "offset" => PagingKind::Offset {
            param: object.required("offsetParaName")?,
            end_param: object.string("offsetEndParaName")?.filter(|p| !p.is_empty()),
        },
        "countbasedpaging" => PagingKind::PageNumber {
            param: object.required("pageNumberParaName")?,
            zero_based: object.boolean("zeroBasedIndexing", false)?,
            has_next: object.json_path("hasNextFlagJsonPath")?,
            total: object.json_path("totalResultsJsonPath")?,
            page_count: object.json_path("pageCountJsonPath")?,
        },
        _ => {
            return Err(problem(
                object.at("pagingType"),
                format!("unknown paging type '{kind_name}': use LinkHeader, PersistentLinkHeader, NextPageToken, PersistentToken, NextPageUrl, Offset or CountBasedPaging"),
            ))
        }
    };
    object.get("pageNumberJsonPath");
    object.get("nextPageUrlQueryParametersTemplate");
    let page_size = object.integer("pageSize", 1, 100_000)?.map(|n| n as u32);
    if matches!(kind, PagingKind::Offset { .. }) && page_size.is_none() {
        return Err(problem(
            object.at("pageSize"),
            "is required with Offset paging: the offset moves by whole pages",
        ));
    }
    let in_body = match object
        .string("pagingInfoPlacement")?
        .map(|p| p.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("querystring") => false,
        Some("requestbody") => true,
        Some(other) => {
            return Err(problem(
                object.at("pagingInfoPlacement"),
                format!("is '{other}': use QueryString or RequestBody"),
            ))
        }
    };
    let paging = Paging {
        kind,
        page_size,
        page_size_param: object
            .string("pageSizeParameterName")?
            .filter(|p| !p.is_empty()),
        in_body,
        paging_params_only: object.boolean("pagingQueryParamOnly", false)?,
    };
    object.unread(warnings);
    Ok(paging)
}

fn response(object: &Object, warnings: &mut Vec<String>) -> Checked<Response> {
    let at = object.at("eventsJsonPaths");
    let events = match object.get("eventsJsonPaths") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(text) => {
                    Path::parse(text.trim()).map_err(|why| problem(format!("{at}[{i}]"), why))
                }
                other => Err(problem(
                    format!("{at}[{i}]"),
                    format!("must be a JSONPath string, not {}", kind(other)),
                )),
            })
            .collect::<Checked<Vec<Path>>>()?,
        Some(Value::Array(_)) => {
            return Err(problem(
                at,
                "must list at least one JSONPath ($ for the whole body)",
            ))
        }
        Some(other) => {
            return Err(problem(
                at,
                format!("must be an array of JSONPaths, not {}", kind(other)),
            ))
        }
        None => {
            return Err(problem(
                at,
                "is required (e.g. [\"$\"] when the body is the list of events)",
            ))
        }
    };
    let success = match (
        object.json_path("successStatusJsonPath")?,
        object.string("successStatusValue")?,
    ) {
        (Some(path), Some(value)) => Some((path, value)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(problem(
                object.at("successStatusValue"),
                "is required when successStatusJsonPath is set",
            ))
        }
        (None, Some(_)) => {
            return Err(problem(
                object.at("successStatusJsonPath"),
                "is required when successStatusValue is set",
            ))
        }
    };
    let algorithm = object.string("compressionAlgo")?;
    let compression = if object.boolean("isGzipCompressed", false)? || algorithm.is_some() {
        Some(match algorithm.map(|a| a.to_ascii_lowercase()).as_deref() {
            None | Some("gzip") => Compression::Gzip,
            Some("multi-gzip") => Compression::MultiGzip,
            Some("deflate") => Compression::Deflate,
            Some(other) => {
                return Err(problem(
                    object.at("compressionAlgo"),
                    format!("is '{other}': use gzip, multi-gzip or deflate"),
                ))
            }
        })
    } else {
        None
    };
    let one_char = |name: &str, default: u8| -> Checked<u8> {
        match object.string(name)? {
            None => Ok(default),
            Some(text) if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
            Some(text) if text == "\\t" => Ok(b'\t'),
            Some(_) => Err(problem(object.at(name), "must be one ASCII character")),
        }
    };
    let format = match object
        .string("format")?
        .map(|f| f.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv(CsvFormat {
            delimiter: one_char("csvDelimiter", b',')?,
            header: object.boolean("hasCsvHeader", true)?,
            quote: one_char("csvEscape", b'"')?,
            boundary: object.boolean("hasCsvBoundary", false)?,
        }),
        Some("xml") => {
            return Err(problem(
                object.at("format"),
                "xml is not supported by ucp's REST source: use json or csv",
            ))
        }
        Some(other) => {
            return Err(problem(
                object.at("format"),
                format!("is '{other}': use json or csv"),
            ))
        }
    };
    object.get("convertChildPropertiesToArray");
    object.unread(warnings);
    Ok(Response {
        events,
        success,
        compression,
        format,
    })
}

fn dcr(object: &Object) -> Checked<DcrConfig> {
    let stream = object.required("streamName")?;
    if !stream.starts_with("Custom-") {
        return Err(problem(
            object.at("streamName"),
            format!("is '{stream}': a DCR stream name starts with Custom-"),
        ));
    }
    Ok(DcrConfig {
        endpoint: object.required("dataCollectionEndpoint")?,
        rule_id: object.required("dataCollectionRuleImmutableId")?,
        stream,
    })
}

/// The `ucp` block, with its defaults.
struct Extension {
    meta: Meta,
    stream: String,
    provider: String,
    records: RecordPaths,
    late_arrival: Option<LateArrival>,
    catch_up_window: Duration,
    budget: BudgetDefaults,
    parameters: Vec<ParameterSpec>,
}

impl Extension {
    fn read(
        object: Option<&Object>,
        name: &str,
        request: &Request,
        warnings: &mut Vec<String>,
    ) -> Checked<Extension> {
        let slug = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        let qps_budget = match request.qps {
            Some(qps) => BudgetDefaults {
                limit: ((qps * 60.0).ceil() as u32).max(1),
                per: Duration::from_secs(60),
                share: 1.0,
            },
            None => BudgetDefaults {
                limit: 60,
                per: Duration::from_secs(60),
                share: 1.0,
            },
        };
        let Some(object) = object else {
            return Ok(Extension {
                meta: Meta {
                    id: name.to_string(),
                    version: "1.0.0".into(),
                    description: format!("{name} (CCF RestApiPoller)"),
                },
                stream: "events".into(),
                provider: slug(name),
                records: RecordPaths::default(),
                late_arrival: None,
                catch_up_window: request.window,
                budget: qps_budget,
                parameters: Vec::new(),
            });
        };
        let budget = match object.object("rateLimit")? {
            Some(rate) => {
                let budget = BudgetDefaults {
                    limit: rate
                        .integer("limit", 1, u32::MAX as u64)?
                        .ok_or_else(|| missing(&rate, "limit"))? as u32,
                    per: Duration::from_secs(
                        rate.integer("perSeconds", 1, 24 * 3600)?.unwrap_or(60),
                    ),
                    share: rate.number("share", 0.01, 1.0)?.unwrap_or(1.0),
                };
                rate.unread(warnings);
                budget
            }
            None => qps_budget,
        };
        let late_arrival = match object.object("lateArrival")? {
            Some(late) => {
                let lookback = late
                    .integer("lookbackInMin", 1, 7 * 24 * 60)?
                    .ok_or_else(|| missing(&late, "lookbackInMin"))?;
                let max_ids = late
                    .integer("maxRememberedIds", 1, 1_000_000)?
                    .unwrap_or(20_000) as usize;
                late.unread(warnings);
                Some(LateArrival {
                    lookback: Duration::from_secs(lookback * 60),
                    max_ids,
                })
            }
            None => None,
        };
        let time_format = object
            .string("recordTimeFormat")?
            .map(|text| {
                TimeFormat::parse(&text).map_err(|why| problem(object.at("recordTimeFormat"), why))
            })
            .transpose()?;
        let mut parameters = Vec::new();
        if let Some(specs) = object.object("parameters")? {
            for name in specs.keys() {
                let spec = specs.object(&name)?.ok_or_else(|| missing(&specs, &name))?;
                parameters.push(ParameterSpec {
                    description: spec.string("description")?.unwrap_or_default(),
                    default: spec.string("default")?,
                    name,
                });
                spec.unread(warnings);
            }
        }
        let catch_up = object
            .integer("catchUpWindowInMin", 1, 31 * 24 * 60)?
            .map(|m| Duration::from_secs(m * 60));
        let extension = Extension {
            meta: Meta {
                id: object.string("id")?.unwrap_or_else(|| name.to_string()),
                version: object.string("version")?.unwrap_or_else(|| "1.0.0".into()),
                description: object
                    .string("description")?
                    .unwrap_or_else(|| format!("{name} (CCF RestApiPoller)")),
            },
            stream: object.string("stream")?.unwrap_or_else(|| "events".into()),
            provider: object.string("provider")?.unwrap_or_else(|| slug(name)),
            records: RecordPaths {
                id: object.json_path("recordIdJsonPath")?,
                time: object.json_path("recordTimeJsonPath")?,
                time_format,
            },
            late_arrival,
            catch_up_window: catch_up.unwrap_or(request.window).max(request.window),
            budget,
            parameters,
        };
        if extension.stream.trim().is_empty() || extension.provider.trim().is_empty() {
            return Err(problem(
                object.path(),
                "stream and provider must not be empty",
            ));
        }
        object.unread(warnings);
        Ok(extension)
    }
}
