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

/// Creates an empty database with a unique name (starting with `prefix`) on the server
/// at `server_url` (`postgres://user@host:port`) and returns its name and URL.
pub async fn create_database(server_url: &str, prefix: &str) -> anyhow::Result<(String, String)> {
    use sqlx::postgres::PgPoolOptions;
    let name = crate::unique_name(prefix).replace('-', "_");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("{server_url}/postgres"))
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach PostgreSQL at {server_url}: {e}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let url = format!("{server_url}/{name}");
    Ok((name, url))
}
