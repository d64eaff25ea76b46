//! Properties of the Okta source's first request under any start time and page limit: a
//! request, never a panic. (Page bodies and saved cursors: `page_proptests.rs` and
//! `cursor_proptests.rs`.)

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use reqwest::Url;

use super::cursor::{first_url, limit_of};

fn org() -> Url {
    Url::parse("https://contoso.okta.com").unwrap()
}

proptest! {
    #[test]
    fn any_start_time_gives_a_first_request(
        secs in any::<i64>(),
        limit in any::<u32>(),
    ) {
        let since = DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let url = first_url(&org(), since, limit, None);
        prop_assert!(url.query().is_some_and(|q| q.contains("since=")));
        prop_assert_eq!(limit_of(&url), usize::try_from(limit).unwrap_or(100));
    }
}
