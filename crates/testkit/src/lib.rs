//! Test support shared by the gateway, consumer and load-test suites.
//!
//! - [`shared`]: addresses of the broker and database that `make test` starts for
//!   everyone (`LEADPIPE_KAFKA_BROKERS`, `LEADPIPE_TEST_DATABASE_URL`).
//! - [`Tansu`]: a broker of a test's own, on a free port, that the test may kill and
//!   restart without disturbing anyone else.
//! - [`PgCluster`]: a PostgreSQL cluster of a test's own (`initdb` + `pg_ctl`), to stop
//!   and start for outage tests.
//! - [`kafka`]: topic creation and small produce/consume helpers.
//! - [`binary`]: the path of a workspace binary, for tests of another package that run
//!   it as a process.
//!
//! Nothing here skips a test: a missing service is an error that fails it.

mod binary;
pub mod kafka;
mod pg_cluster;
mod process;
pub mod shared;
mod tansu;

pub use binary::binary;
pub use pg_cluster::PgCluster;
pub use process::{free_port, wait_for_port};
pub use tansu::Tansu;

/// A name no other test uses, for topics, groups and databases.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
