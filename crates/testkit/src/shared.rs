//! The services `make test` starts once for the whole suite.

/// Brokers of the shared Tansu instance (`LEADPIPE_KAFKA_BROKERS`, default the local one).
pub fn brokers() -> String {
    std::env::var("LEADPIPE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// A database URL on the shared PostgreSQL server (`LEADPIPE_TEST_DATABASE_URL`, default
/// the machine's server) whose database part the caller replaces with its own.
pub fn database_server_url() -> String {
    std::env::var("LEADPIPE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}
