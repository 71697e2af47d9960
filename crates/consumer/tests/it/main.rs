//! The consumer's integration tests, against a real broker (the shared Tansu, or one of
//! a test's own) and a real PostgreSQL:
//! - [`repository`]: the batch insert, each test on a fresh migrated database;
//! - [`pipeline`]: the whole consumer in-process: stored, dead-lettered, committed;
//! - [`process`]: the binary as operators run it: killed, scaled, stopped, migrating;
//! - [`outage`]: the database or the broker goes away and comes back;
//! - [`compound`]: a consumer crash then a broker crash seconds apart: the stall
//!   watchdog heals it;
//! - [`tls`]: PostgreSQL over TLS (`sslmode=verify-full`) and a password from a file;
//! - [`operate`]: `dlq list` and `dlq replay`, and canary leads end to end;
//! - [`erasure`]: `erase`, and no replay (topic or dead letters) storing the person again;
//! - [`partitions`]: the partitioned table: its migration, ids stored once across
//!   months, the default partition, partitions ahead, `retention`;
//! - [`rollups`]: the analysts' hourly rollup of people per campaign.

mod compound;
mod erasure;
mod operate;
mod outage;
mod partitions;
mod pipeline;
mod process;
mod repository;
mod rollups;
mod support;
mod tls;
