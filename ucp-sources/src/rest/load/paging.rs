//! `paging`: the seven CCF paging types and their fields.

use super::super::definition::*;
use super::super::fields::{problem, Checked, Object};

pub(super) fn paging(object: &Object, warnings: &mut Vec<String>) -> Checked<Paging> {
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
