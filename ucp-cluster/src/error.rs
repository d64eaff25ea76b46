//! What can go wrong in the cluster store.

/// The cluster store (PostgreSQL) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The database could not be reached, or refused a statement.
    #[error("cluster database: {context}: {reason}")]
    Database {
        /// What the store was doing.
        context: &'static str,
        /// The driver's message (the database URL and its password are never part of it).
        reason: String,
    },
    /// The configuration is unusable.
    #[error("cluster configuration: {0}")]
    Config(String),
}

impl ClusterError {
    /// A database error while doing `context`.
    pub(crate) fn db(context: &'static str, error: tokio_postgres::Error) -> Self {
        // `Display` of a driver error names the server's message, never the connection
        // string.
        ClusterError::Database {
            context,
            reason: match error.as_db_error() {
                Some(db) => format!("{} ({})", db.message(), db.code().code()),
                None => error.to_string(),
            },
        }
    }
}
