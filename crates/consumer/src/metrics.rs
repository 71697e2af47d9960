//! Prometheus metrics of one consumer instance, in a registry of its own (no global
//! registry: two instances in one test process keep separate numbers). Names are
//! constants; labels stay low-cardinality (a DLQ reason, a partition number).

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

pub const ROWS_INSERTED: &str = "leadpipe_consumer_rows_inserted_total";
pub const DUPLICATES_SKIPPED: &str = "leadpipe_consumer_duplicates_skipped_total";
pub const BATCH_SIZE: &str = "leadpipe_consumer_batch_size";
pub const BATCH_WRITE_DURATION: &str = "leadpipe_consumer_batch_write_duration_seconds";
pub const DLQ_MESSAGES: &str = "leadpipe_consumer_dlq_messages_total";
pub const DB_ERRORS: &str = "leadpipe_consumer_db_errors_total";
pub const LAG: &str = "leadpipe_consumer_lag";
pub const READY: &str = "leadpipe_consumer_ready";
pub const BUFFERED_MESSAGES: &str = "leadpipe_consumer_buffered_messages";

pub struct Metrics {
    registry: Registry,
    /// Rows the database accepted (new leads).
    pub rows_inserted: IntCounter,
    /// Valid messages not inserted because their lead id was already stored or appeared
    /// twice in one batch: redeliveries, replays after a crash, client retries.
    pub duplicates_skipped: IntCounter,
    /// Valid messages per written batch.
    pub batch_size: Histogram,
    /// Time of the successful `INSERT` transaction of a batch.
    pub batch_write_duration: Histogram,
    /// Messages written to the dead-letter topic, by `leadpipe-dlq-reason`.
    pub dlq_messages: IntCounterVec,
    /// Failed attempts to write a batch (each retry counts).
    pub db_errors: IntCounter,
    /// High watermark minus committed offset, per assigned partition.
    pub lag: IntGaugeVec,
    /// 1 when the broker and the database are reachable, 0 otherwise.
    pub ready: IntGauge,
    /// Messages received and held in memory, not yet committed (bounded by twice the
    /// batch size: fetching pauses beyond one full batch waiting).
    pub buffered_messages: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let rows_inserted = IntCounter::new(ROWS_INSERTED, "Leads inserted into the leads table.")
            .expect("valid metric");
        let duplicates_skipped = IntCounter::new(
            DUPLICATES_SKIPPED,
            "Valid messages whose lead id was already stored or repeated in a batch.",
        )
        .expect("valid metric");
        let batch_size = Histogram::with_opts(
            HistogramOpts::new(BATCH_SIZE, "Valid messages per written batch.").buckets(vec![
                1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
            ]),
        )
        .expect("valid metric");
        let batch_write_duration = Histogram::with_opts(
            HistogramOpts::new(
                BATCH_WRITE_DURATION,
                "Duration of a successful batch insert transaction.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric");
        let dlq_messages = IntCounterVec::new(
            Opts::new(
                DLQ_MESSAGES,
                "Messages sent to the dead-letter topic, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let db_errors =
            IntCounter::new(DB_ERRORS, "Failed attempts to write a batch to PostgreSQL.")
                .expect("valid metric");
        let lag = IntGaugeVec::new(
            Opts::new(
                LAG,
                "Messages not yet committed: high watermark minus committed offset, per partition.",
            ),
            &["topic", "partition"],
        )
        .expect("valid metric");
        let ready = IntGauge::new(READY, "1 when the broker and the database are reachable.")
            .expect("valid metric");
        let buffered_messages = IntGauge::new(
            BUFFERED_MESSAGES,
            "Messages held in memory and not yet committed.",
        )
        .expect("valid metric");

        for collector in [
            Box::new(rows_inserted.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duplicates_skipped.clone()),
            Box::new(batch_size.clone()),
            Box::new(batch_write_duration.clone()),
            Box::new(dlq_messages.clone()),
            Box::new(db_errors.clone()),
            Box::new(lag.clone()),
            Box::new(ready.clone()),
            Box::new(buffered_messages.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        // Every reason appears from the start, so a rate() query works before the first one.
        for reason in ["malformed", "unsupported_version", "invalid"] {
            dlq_messages.with_label_values(&[reason]);
        }
        Self {
            registry,
            rows_inserted,
            duplicates_skipped,
            batch_size,
            batch_write_duration,
            dlq_messages,
            db_errors,
            lag,
            ready,
            buffered_messages,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        leadpipe_service::render_metrics(&self.registry)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed_under_its_contract_name() {
        let metrics = Metrics::new();
        metrics.lag.with_label_values(&["leads", "0"]).set(3);
        let text = metrics.render();
        for name in [
            ROWS_INSERTED,
            DUPLICATES_SKIPPED,
            DB_ERRORS,
            READY,
            BUFFERED_MESSAGES,
        ] {
            assert!(
                text.contains(&format!("\n{name} 0")) || text.contains(&format!("\n{name} ")),
                "{name} missing"
            );
        }
        assert!(text.contains(&format!("{BATCH_SIZE}_bucket")));
        assert!(text.contains(&format!("{BATCH_WRITE_DURATION}_bucket")));
        assert!(text.contains(&format!(
            "{DLQ_MESSAGES}{{reason=\"unsupported_version\"}} 0"
        )));
        assert!(text.contains(&format!("{LAG}{{partition=\"0\",topic=\"leads\"}} 3")));
    }
}
