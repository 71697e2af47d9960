//! A database of a test's own on a PostgreSQL server (the shared one, or a
//! [`crate::PgCluster`]), migrated by `leadpipe-consumer migrate` as in production.

use std::process::Command;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

pub struct TestDatabase {
    pub name: String,
    /// `postgres://…/<name>`, without TLS parameters.
    pub url: String,
    server_url: String,
}

impl TestDatabase {
    /// An existing database at `url` (`…/<name>`), to read from; never dropped by it.
    pub fn attach(url: &str) -> Self {
        let (server_url, name) = url.rsplit_once('/').expect("a database URL");
        Self {
            name: name.to_owned(),
            url: url.to_owned(),
            server_url: server_url.to_owned(),
        }
    }

    /// On the shared server (`LEADPIPE_TEST_DATABASE_URL`), migrated.
    pub async fn create() -> Self {
        Self::create_on(&crate::shared::database_server_url()).await
    }

    /// On `server_url` (`postgres://user@host:port`), migrated.
    pub async fn create_on(server_url: &str) -> Self {
        let db = Self::create_empty_on(server_url).await;
        db.migrate(&db.url, &[]).unwrap_or_else(|e| panic!("{e}"));
        db
    }

    /// Without the schema.
    pub async fn create_empty_on(server_url: &str) -> Self {
        let name = crate::unique_name("leadpipe_test").replace('-', "_");
        let admin = connect(&format!("{server_url}/postgres"))
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server_url}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("CREATE DATABASE");
        admin.close().await;
        Self {
            url: format!("{server_url}/{name}"),
            name,
            server_url: server_url.to_owned(),
        }
    }

    /// Runs `leadpipe-consumer migrate` against `url` (this database, possibly with TLS
    /// parameters) with `env` added, and returns its output as an error when it fails.
    pub fn migrate(&self, url: &str, env: &[(&str, &str)]) -> Result<(), String> {
        let binary = crate::binary("leadpipe-consumer").map_err(|e| e.to_string())?;
        let output = Command::new(binary)
            .arg("migrate")
            .env("LEADPIPE_DATABASE_URL", url)
            .envs(env.iter().copied())
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "leadpipe-consumer migrate failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// A short-lived pool (the server may be stopped by the test at any time).
    pub async fn pool(&self) -> Option<PgPool> {
        connect(&self.url).await.ok()
    }

    /// A query's single value, `None` while the server is unreachable.
    pub async fn scalar<T>(&self, sql: &str) -> Option<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        let pool = self.pool().await?;
        let value = sqlx::query_scalar(sql).fetch_one(&pool).await.ok();
        pool.close().await;
        value
    }

    /// Rows in `leads` (0 while the server is unreachable).
    pub async fn count(&self) -> i64 {
        self.scalar("SELECT count(*) FROM leads").await.unwrap_or(0)
    }

    /// The stored lead ids, in order.
    pub async fn ids(&self) -> Vec<Uuid> {
        let pool = self.pool().await.expect("the database answers");
        let ids = sqlx::query_scalar("SELECT id FROM leads ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("lead ids");
        pool.close().await;
        ids
    }

    /// Drops the database (tests call it at the end; a failed test leaves it to inspect).
    pub async fn drop_database(self) {
        if let Ok(admin) = connect(&format!("{}/postgres", self.server_url)).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
}
