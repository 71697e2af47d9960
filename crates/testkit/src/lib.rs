//! Test support shared by the gateway, consumer and load-test suites: every harness
//! lives here, once.
//!
//! - [`shared`]: addresses of the broker and database that `make test` starts for
//!   everyone (`LEADPIPE_KAFKA_BROKERS`, `LEADPIPE_TEST_DATABASE_URL`).
//! - [`ServiceProcess`]: a workspace binary as a child process — start, wait until
//!   ready, SIGTERM or SIGKILL, restart, logs for failing assertions.
//! - [`TestDatabase`]: a database of a test's own, migrated, dropped at the end.
//! - [`TestStack`]: the whole pipeline of one test as real processes: broker topic,
//!   database, gateway and consumer.
//! - [`Scrape`]: a `/metrics` page, parsed.
//! - [`wait_for`]: polling with a deadline.
//! - [`Tansu`]: a broker of a test's own, on a free port, that the test may kill and
//!   restart without disturbing anyone else.
//! - [`PgCluster`]: a PostgreSQL cluster of a test's own (`initdb` + `pg_ctl`), to stop
//!   and start for outage tests.
//! - [`kafka`]: topic creation and small produce/consume helpers.
//! - [`leads`]: sample lead messages with deterministic ids, and producing them.
//! - [`binary`]: the path of a workspace binary, for tests of another package that run
//!   it as a process.
//! - [`RedisServer`]: a Redis of a test's own, to stop and restart.
//! - [`TestCa`] and [`TlsProxy`]: a certificate authority made by the test, and TLS in
//!   front of a plaintext service (Tansu has no TLS listener).
//!
//! Nothing here skips a test: a missing service is an error that fails it.

mod binary;
mod database;
pub mod kafka;
pub mod leads;
mod pg_cluster;
mod process;
mod redis;
mod scrape;
mod service;
pub mod shared;
pub mod stack;
mod tansu;
mod tls;
mod wait;

pub use binary::binary;
pub use database::TestDatabase;
pub use pg_cluster::{PgCluster, TLS_CLUSTER_PASSWORD};
pub use process::{free_port, wait_for_port};
pub use redis::RedisServer;
pub use scrape::Scrape;
pub use service::ServiceProcess;
pub use stack::{create_topics, TestStack, Tuning};
pub use tansu::{Tansu, TansuBuilder};
pub use tls::{Issued, TestCa, TlsProxy};
pub use wait::wait_for;

/// A name no other test uses, for topics, groups and databases.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
