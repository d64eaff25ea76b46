//! The PostgreSQL server the cluster tests need: `UCP_TEST_DATABASE_URL` (start one with
//! `source .ci/postgres.sh && ucp_postgres_start`). Without it a test says so and passes
//! locally, and fails under `CI=true`.

#![allow(dead_code)]

use secrecy::SecretString;
use ucp_cluster::{Db, DbConfig};

/// The database URL, or `None` (after saying which test skips) when none is configured.
pub fn database_url(test: &str) -> Option<SecretString> {
    match std::env::var("UCP_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(SecretString::from(url)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test} needs PostgreSQL: UCP_TEST_DATABASE_URL is not set under CI=true (.ci/postgres.sh starts one)"
            );
            eprintln!("{test}: skipped, needs PostgreSQL (set UCP_TEST_DATABASE_URL; .ci/postgres.sh starts one)");
            None
        }
    }
}

/// A schema name of its own for one test run.
pub fn fresh_schema(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("t_{test}_{}_{nanos}", std::process::id())
}

/// The database config of a fresh schema for `test`, or `None` when skipping.
pub fn config(test: &str) -> Option<DbConfig> {
    let (url, schema) = url_and_schema(test)?;
    Some(
        DbConfig::new(url)
            .schema(schema)
            .expect("a valid schema name"),
    )
}

/// The database URL and a fresh schema name for `test`, or `None` when skipping.
pub fn url_and_schema(test: &str) -> Option<(SecretString, String)> {
    Some((database_url(test)?, fresh_schema(test)))
}

/// A fresh, migrated database for `test`, or `None` when skipping.
pub async fn db(test: &str) -> Option<Db> {
    let config = config(test)?;
    Some(Db::open(config).await.expect("the test database opens"))
}
