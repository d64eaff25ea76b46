//! `request`: endpoint, method, window and time format, parameters, template, headers,
//! limits, and `rateLimitConfig`.

use std::time::Duration;

use super::super::definition::*;
use super::super::fields::{problem, Checked, Object};
use super::super::time_format::TimeFormat;
use super::auth::method;
use super::missing;

pub(super) fn request(object: &Object, warnings: &mut Vec<String>) -> Checked<Request> {
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
