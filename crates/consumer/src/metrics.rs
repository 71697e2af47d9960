//! Prometheus metrics of one consumer instance, in a registry of its own (no global
//! registry: two instances in one test process keep separate numbers). Names are
//! constants; labels stay low-cardinality (a DLQ reason, a partition number).

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

pub const ROWS_INSERTED: &str = "leadpipe_consumer_rows_inserted_total";
pub const DUPLICATES_SKIPPED: &str = "leadpipe_consumer_duplicates_skipped_total";
pub const ERASED_SKIPPED: &str = "leadpipe_consumer_erased_skipped_total";
pub const BATCH_SIZE: &str = "leadpipe_consumer_batch_size";
pub const BATCH_WRITE_DURATION: &str = "leadpipe_consumer_batch_write_duration_seconds";
pub const DLQ_MESSAGES: &str = "leadpipe_consumer_dlq_messages_total";
pub const DB_ERRORS: &str = "leadpipe_consumer_db_errors_total";
pub const LAG: &str = "leadpipe_consumer_lag";
pub const GROUP_LAG: &str = "leadpipe_consumer_group_lag";
pub const OWNED_PARTITIONS: &str = "leadpipe_consumer_owned_partitions";
pub const STALLED_PARTITIONS: &str = "leadpipe_consumer_stalled_partitions";
pub const SELF_HEALS: &str = "leadpipe_consumer_self_heals_total";
pub const CANARY_STORED: &str = "leadpipe_canary_stored_total";
pub const CANARY_END_TO_END: &str = "leadpipe_canary_end_to_end_seconds";
pub const READY: &str = "leadpipe_consumer_ready";
pub const BUFFERED_MESSAGES: &str = "leadpipe_consumer_buffered_messages";
pub const DEFAULT_PARTITION_ROWS: &str = "leadpipe_consumer_default_partition_rows";

pub struct Metrics {
    registry: Registry,
    /// Rows the database accepted (new leads).
    pub rows_inserted: IntCounter,
    /// Valid messages not inserted because their lead id was already stored or appeared
    /// twice in one batch: redeliveries, replays after a crash, client retries.
    pub duplicates_skipped: IntCounter,
    /// Valid messages not inserted because their person was erased (`erasure`): their
    /// offsets are committed as for stored leads.
    pub erased_skipped: IntCounter,
    /// Valid messages per written batch.
    pub batch_size: Histogram,
    /// Time of the successful `INSERT` transaction of a batch.
    pub batch_write_duration: Histogram,
    /// Messages written to the dead-letter topic, by `leadpipe-dlq-reason`.
    pub dlq_messages: IntCounterVec,
    /// Failed attempts to write a batch (each retry counts).
    pub db_errors: IntCounter,
    /// High watermark minus committed offset, per partition this instance owns.
    pub lag: IntGaugeVec,
    /// The same for every partition of the topic, owned by this instance or not (every
    /// instance reports all of them: aggregate with `max by (topic, partition)`).
    pub group_lag: IntGaugeVec,
    /// Partitions this instance owns.
    pub owned_partitions: IntGauge,
    /// Partitions with lag whose committed offset has not moved for the stall timeout.
    pub stalled_partitions: IntGauge,
    /// Times this instance left and rejoined the group because partitions stood still.
    pub self_heals: IntCounter,
    /// Canary leads stored by this instance.
    pub canary_stored: IntCounter,
    /// From the gateway's accepting a canary to its row being stored.
    pub canary_end_to_end: Histogram,
    /// 1 when ready (see `health`), 0 otherwise.
    pub ready: IntGauge,
    /// Messages received and held in memory, not yet committed (bounded by twice the
    /// batch size: fetching pauses beyond one full batch waiting).
    pub buffered_messages: IntGauge,
    /// Rows in the default partition of `leads` (see `partitions`), counted every hour.
    pub default_partition_rows: IntGauge,
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
        let erased_skipped = IntCounter::new(
            ERASED_SKIPPED,
            "Valid messages not stored because their email or phone was erased.",
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
        let group_lag = IntGaugeVec::new(
            Opts::new(
                GROUP_LAG,
                "Messages not yet committed by the group, for every partition of the topic, owned or not.",
            ),
            &["topic", "partition"],
        )
        .expect("valid metric");
        let owned_partitions = IntGauge::new(
            OWNED_PARTITIONS,
            "Partitions of the topic this instance owns.",
        )
        .expect("valid metric");
        let stalled_partitions = IntGauge::new(
            STALLED_PARTITIONS,
            "Partitions with lag whose committed offset has not moved for the stall timeout.",
        )
        .expect("valid metric");
        let self_heals = IntCounter::new(
            SELF_HEALS,
            "Times this instance rejoined the group because partitions with lag stood still.",
        )
        .expect("valid metric");
        let canary_stored =
            IntCounter::new(CANARY_STORED, "Canary leads stored.").expect("valid metric");
        let canary_end_to_end = Histogram::with_opts(
            HistogramOpts::new(
                CANARY_END_TO_END,
                "Time from the gateway accepting a canary lead to its row being stored.",
            )
            .buckets(vec![
                0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
        )
        .expect("valid metric");
        let ready = IntGauge::new(
            READY,
            "1 when the database and the broker answer and no partition stands still.",
        )
        .expect("valid metric");
        let buffered_messages = IntGauge::new(
            BUFFERED_MESSAGES,
            "Messages held in memory and not yet committed.",
        )
        .expect("valid metric");

        let default_partition_rows = IntGauge::new(
            DEFAULT_PARTITION_ROWS,
            "Leads in the default partition of leads: their month has no partition.",
        )
        .expect("valid metric");

        for collector in [
            Box::new(rows_inserted.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duplicates_skipped.clone()),
            Box::new(erased_skipped.clone()),
            Box::new(batch_size.clone()),
            Box::new(batch_write_duration.clone()),
            Box::new(dlq_messages.clone()),
            Box::new(db_errors.clone()),
            Box::new(lag.clone()),
            Box::new(group_lag.clone()),
            Box::new(owned_partitions.clone()),
            Box::new(stalled_partitions.clone()),
            Box::new(self_heals.clone()),
            Box::new(canary_stored.clone()),
            Box::new(canary_end_to_end.clone()),
            Box::new(ready.clone()),
            Box::new(buffered_messages.clone()),
            Box::new(default_partition_rows.clone()),
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
            erased_skipped,
            batch_size,
            batch_write_duration,
            dlq_messages,
            db_errors,
            lag,
            group_lag,
            owned_partitions,
            stalled_partitions,
            self_heals,
            canary_stored,
            canary_end_to_end,
            ready,
            buffered_messages,
            default_partition_rows,
        }
    }

    /// Publishes a lag measurement: every partition as group lag; those in `owned` (when
    /// this instance is a member) as its own lag. Partitions gone from either set lose
    /// their series.
    pub fn publish_lag(&self, topic: &str, lag: &crate::lag::GroupLag, owned: Option<&[i32]>) {
        replace_series(&self.group_lag, topic, lag.iter().map(|(p, l)| (*p, l.lag)));
        if let Some(owned) = owned {
            replace_series(
                &self.lag,
                topic,
                lag.iter()
                    .filter(|(p, _)| owned.contains(p))
                    .map(|(p, l)| (*p, l.lag)),
            );
            self.owned_partitions.set(owned.len() as i64);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        leadpipe_platform::render_metrics(&self.registry)
    }
}

/// Sets `topic`'s series of `vec` to exactly `values`, removing partitions not in it.
fn replace_series(vec: &IntGaugeVec, topic: &str, values: impl Iterator<Item = (i32, i64)>) {
    let values: Vec<(i32, i64)> = values.collect();
    let present: Vec<String> = vec
        .collect()
        .iter()
        .flat_map(|family| family.get_metric())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == "topic" && l.value() == topic)
        })
        .filter_map(|m| {
            m.get_label()
                .iter()
                .find(|l| l.name() == "partition")
                .map(|l| l.value().to_owned())
        })
        .collect();
    for partition in present {
        if !values.iter().any(|(p, _)| p.to_string() == partition) {
            let _ = vec.remove_label_values(&[topic, &partition]);
        }
    }
    for (partition, value) in values {
        vec.with_label_values(&[topic, &partition.to_string()])
            .set(value);
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
            OWNED_PARTITIONS,
            STALLED_PARTITIONS,
            SELF_HEALS,
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
