//! `auth`: the six supported types; secrets must be credential placeholders.

use std::time::Duration;

use super::super::definition::*;
use super::super::fields::{problem, Checked, Object};
use super::super::json_path::Path;
use super::{missing, secret};

pub(super) fn auth(object: &Object, warnings: &mut Vec<String>) -> Checked<Auth> {
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

pub(super) fn method(object: &Object, name: &str, default: Method) -> Checked<Method> {
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
