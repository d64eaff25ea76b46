//! The cursor of the `system_log` stream is the `next` link Okta gave us, verbatim.
//!
//! In polling mode (no `until`) that link's `after` token is a position in the org's log in
//! *persistence* order, so following it never misses an event that Okta persisted late.
//! The link also carries the query's `filter`. When the job's server-side filter changes
//! (a product subscribes or unsubscribes), the link is rebuilt with the new filter but the
//! same `after` token: the token addresses the log itself, not the filtered result, so
//! keeping it resumes exactly where collection stood — no re-collection of history and no
//! gap for the products that were already subscribed. (Events before the token that only
//! the new filter selects are not fetched again; a new subscription starts from now.)

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use ucp_core::SourceError;

/// The System Log endpoint's path.
pub const LOGS_PATH: &str = "/api/v1/logs";

/// The first request of a stream: polling from `since`.
pub fn first_url(org: &Url, since: DateTime<Utc>, limit: u32, filter: Option<&str>) -> Url {
    let mut url = org.clone();
    url.set_path(LOGS_PATH);
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        query.append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true));
        query.append_pair("sortOrder", "ASCENDING");
        query.append_pair("limit", &limit.to_string());
        if let Some(filter) = filter {
            query.append_pair("filter", filter);
        }
    }
    url
}

/// The request to make for a saved cursor: the cursor itself, unless the job's filter
/// changed (see the module docs). Refuses a cursor that does not point at `org`.
pub fn resume_url(
    org: &Url,
    org_name: &str,
    cursor: &str,
    filter: Option<&str>,
) -> Result<Url, SourceError> {
    let url = Url::parse(cursor).map_err(|e| SourceError::Config {
        message: format!(
            "the saved cursor of Okta org {org_name} is not a URL ({e}); reset the stream's checkpoint"
        ),
    })?;
    // Okta's links never carry a user or password; one in a cursor would ride along in
    // every request and every message that names the page.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SourceError::Config {
            message: format!(
                "the saved cursor of Okta org {org_name} carries a user name or password, which Okta's links never do; reset the stream's checkpoint"
            ),
        });
    }
    let same_org = url.scheme() == org.scheme()
        && url.host_str() == org.host_str()
        && url.port_or_known_default() == org.port_or_known_default()
        && url.path() == LOGS_PATH;
    if !same_org {
        return Err(SourceError::Config {
            message: format!(
                "the saved cursor points at {}{} but this source reads Okta org {org_name}: the checkpoint belongs to another org; reset the stream's checkpoint or fix the org URL",
                url.host_str().unwrap_or("<no host>"),
                url.path()
            ),
        });
    }
    // Verbatim only when the link carries exactly the job's filter: a second `filter`
    // would be sent along with it.
    let current: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| v.into_owned())
        .collect();
    if current.iter().map(String::as_str).eq(filter) {
        return Ok(url);
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "filter")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut rebuilt = url.clone();
    {
        let mut query = rebuilt.query_pairs_mut();
        query.clear();
        for (k, v) in &kept {
            query.append_pair(k, v);
        }
        if let Some(filter) = filter {
            query.append_pair("filter", filter);
        }
    }
    Ok(rebuilt)
}

/// The page size a request asks for (Okta's default is 100).
pub fn limit_of(url: &Url) -> usize {
    url.query_pairs()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(100)
}

/// The `filter` a request carries.
pub fn filter_of(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == "filter")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Url {
        Url::parse("https://contoso.okta.com").unwrap()
    }

    #[test]
    fn first_url_polls_ascending_without_until() {
        let since = DateTime::parse_from_rfc3339("2024-05-03T16:22:18Z")
            .unwrap()
            .to_utc();
        let url = first_url(&org(), since, 1000, Some(r#"eventType eq "a""#));
        assert_eq!(url.path(), LOGS_PATH);
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("since".into(), "2024-05-03T16:22:18.000Z".into())));
        assert!(pairs.contains(&("sortOrder".into(), "ASCENDING".into())));
        assert!(pairs.contains(&("limit".into(), "1000".into())));
        assert!(pairs.contains(&("filter".into(), r#"eventType eq "a""#.into())));
        assert!(!pairs.iter().any(|(k, _)| k == "until"));
    }

    #[test]
    fn resume_follows_the_link_verbatim_when_the_filter_is_unchanged() {
        let link = "https://contoso.okta.com/api/v1/logs?since=x&limit=1000&filter=eventType+eq+%22a%22&after=17_5";
        let url = resume_url(
            &org(),
            "contoso.okta.com",
            link,
            Some(r#"eventType eq "a""#),
        )
        .unwrap();
        assert_eq!(url.as_str(), link);
    }

    #[test]
    fn a_changed_filter_is_replaced_and_the_after_token_kept() {
        let link = "https://contoso.okta.com/api/v1/logs?limit=1000&filter=eventType+eq+%22a%22&after=17_5";
        let url = resume_url(
            &org(),
            "contoso.okta.com",
            link,
            Some(r#"eventType sw "user""#),
        )
        .unwrap();
        assert_eq!(filter_of(&url).as_deref(), Some(r#"eventType sw "user""#));
        assert!(url.query_pairs().any(|(k, v)| k == "after" && v == "17_5"));
        let none = resume_url(&org(), "contoso.okta.com", link, None).unwrap();
        assert_eq!(filter_of(&none), None);
        assert!(none.query_pairs().any(|(k, v)| k == "after" && v == "17_5"));
        assert_eq!(limit_of(&none), 1000);
    }

    #[test]
    fn a_link_with_two_filters_is_rebuilt_with_the_jobs_one() {
        let link =
            "https://contoso.okta.com/api/v1/logs?filter=eventType+eq+%22a%22&after=17_5&filter=x";
        let url = resume_url(
            &org(),
            "contoso.okta.com",
            link,
            Some(r#"eventType eq "a""#),
        )
        .unwrap();
        let filters: Vec<String> = url
            .query_pairs()
            .filter(|(k, _)| k == "filter")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(filters, [r#"eventType eq "a""#]);
        assert!(url.query_pairs().any(|(k, v)| k == "after" && v == "17_5"));
    }

    #[test]
    fn a_cursor_with_a_password_is_refused_without_repeating_it() {
        let link = "https://user:hunter2@contoso.okta.com/api/v1/logs?after=1_1";
        let err = resume_url(&org(), "contoso.okta.com", link, None).unwrap_err();
        assert!(err.to_string().contains("contoso.okta.com"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_cursor_of_another_org_is_refused() {
        for foreign in [
            "https://fabrikam.okta.com/api/v1/logs?after=1_1",
            "http://contoso.okta.com/api/v1/logs?after=1_1",
            "https://contoso.okta.com:8443/api/v1/logs?after=1_1",
            "https://contoso.okta.com/api/v1/users?after=1_1",
            "https://user:hunter2@contoso.okta.com/api/v1/logs?after=1_1",
            "not a url",
        ] {
            let err = resume_url(&org(), "contoso.okta.com", foreign, None).unwrap_err();
            assert!(
                matches!(err, SourceError::Config { .. }),
                "{foreign}: {err}"
            );
            assert!(err.to_string().contains("contoso.okta.com"));
        }
    }
}
