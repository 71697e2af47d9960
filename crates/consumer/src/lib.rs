//! leadpipe-consumer: drains the `leads` topic into PostgreSQL, storing every lead exactly
//! once, at the database's pace, in a consumer group that may be scaled and killed at will.
//!
//! Where a lead goes, in order:
//! - [`group`]: the Kafka consumer in its consumer group; rebalance callbacks, the
//!   assignment epochs that keep a stale offset from being committed.
//! - [`pipeline`]: the consume loop: receive, decode (re-validating with the domain's
//!   rules), buffer, cut batches, hand them to the flusher, commit offsets afterwards;
//!   pauses fetching while batches back up; drains on shutdown.
//! - [`batch`]: the buffer of received messages and the batches cut from it, with the
//!   offset each batch lets the consumer commit per partition.
//! - [`flush`]: writes one batch durably (dead letters, then one `INSERT`), retrying with
//!   [`backoff`] until it is stored.
//! - [`store`]: the repository: the `UNNEST` batch insert and the embedded migrations;
//!   [`partitions`]: the monthly partitions of `leads`, created ahead of time.
//! - [`erasure`]: `leadpipe-consumer erase`, and the hashes the insert checks so that an
//!   erased person is never stored again, whatever is replayed.
//! - [`dead_letter`]: messages that cannot be stored go to the dead-letter topic with
//!   headers saying why and where they came from ([`dead_letter::producer`]).
//!
//! Around it:
//! - [`settings`]: configuration from `LEADPIPE_*` environment variables.
//! - [`startup`]: wires everything and runs until a shutdown signal.
//! - [`exporter`]: `leadpipe-consumer lag-exporter`, the group lag without consuming.
//! - [`retention`]: `leadpipe-consumer retention`, old months dropped whole;
//!   [`rollups`]: the analysts' hourly rollup of people per campaign.
//! - [`dead_letter::command`]: `leadpipe-consumer dlq list|replay`, the dead-letter
//!   topic read back by an operator.
//! - [`monitor`]: the periodic check and the one writer of readiness ([`health`]):
//!   database, broker, the group lag of every partition ([`lag`]), and the stall
//!   [`watchdog`], which makes the pipeline rejoin the group when partitions with lag
//!   stand still while this instance could work on them.
//! - [`http`], [`metrics`]: `/healthz` `/readyz` `/metrics`, Prometheus metrics. Logs
//!   (structured, without personal data) and the shutdown signal come from
//!   `leadpipe_platform`, shared with the gateway.
//!
//! The invariant everything serves: an offset is committed only after every message
//! before it on its partition is in the `leads` table or on the dead-letter topic.

pub mod backoff;
pub mod batch;
pub mod dead_letter;
pub mod erasure;
pub mod exporter;
pub mod flush;
pub mod group;
pub mod health;
pub mod http;
pub mod lag;
pub mod metrics;
pub mod monitor;
pub mod partitions;
pub mod pipeline;
pub mod retention;
pub mod rollups;
pub mod settings;
pub mod startup;
pub mod store;
pub mod watchdog;

pub use settings::{Cli, Command, LogFormat, Settings};
pub use startup::Application;
pub use store::{InsertOutcome, LeadStore, MIGRATOR};
