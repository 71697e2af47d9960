//! Writing one batch durably: its dead letters to the dead-letter topic, its leads to
//! PostgreSQL. Each step is retried with capped exponential backoff until it succeeds:
//! a batch is never half-handled and never skipped, and the pipeline commits its offsets
//! only when [`Flusher::flush`] returns. While it retries, [`Flusher::is_retrying`] says so
//! (the monitor then reports the instance not ready).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::backoff::Backoff;
use crate::batch::Batch;
use crate::dead_letter::DeadLetterProducer;
use crate::metrics::Metrics;
use crate::store::LeadStore;

pub struct Flusher {
    store: LeadStore,
    dead_letters: DeadLetterProducer,
    metrics: Arc<Metrics>,
    /// Set while the current batch has failed at least once and is being retried.
    retrying: AtomicBool,
}

impl Flusher {
    pub fn new(store: LeadStore, dead_letters: DeadLetterProducer, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            dead_letters,
            metrics,
            retrying: AtomicBool::new(false),
        }
    }

    /// Whether the batch being written is waiting for the database or the broker to
    /// come back (rather than just being written).
    pub fn is_retrying(&self) -> bool {
        self.retrying.load(Ordering::Relaxed)
    }

    pub fn store(&self) -> &LeadStore {
        &self.store
    }

    /// Stores the batch; returns it (its offsets are what may now be committed).
    pub async fn flush(self: Arc<Self>, batch: Batch) -> Batch {
        for letter in &batch.dead_letters {
            let mut backoff = Backoff::new();
            loop {
                match self.dead_letters.send(letter).await {
                    Ok(()) => {
                        self.metrics
                            .dlq_messages
                            .with_label_values(&[letter.reason])
                            .inc();
                        tracing::warn!(
                            lead_id = letter.lead_id().map(tracing::field::display),
                            partition = letter.source_partition,
                            offset = letter.source_offset,
                            reason = letter.reason,
                            error = %letter.error,
                            "message dead-lettered"
                        );
                        break;
                    }
                    Err(error) => {
                        self.retrying.store(true, Ordering::Relaxed);
                        let delay = backoff.next_delay();
                        tracing::warn!(%error, partition = letter.source_partition, offset = letter.source_offset,
                            retry_in_ms = delay.as_millis() as u64, "dead-letter write failed");
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
        if !batch.leads.is_empty() {
            self.write_leads(&batch).await;
        }
        self.retrying.store(false, Ordering::Relaxed);
        batch
    }

    /// Publish-to-stored time of the canary leads this batch inserted (a redelivered
    /// canary, already stored, is not measured again).
    fn observe_canaries(&self, leads: &[leadpipe_domain::AcceptedLead], inserted: &[uuid::Uuid]) {
        let now = chrono::Utc::now();
        for lead in leads.iter().filter(|l| l.lead.is_canary()) {
            if inserted.contains(&lead.id.as_uuid()) {
                let seconds = (now - lead.received_at).num_milliseconds().max(0) as f64 / 1000.0;
                self.metrics.canary_end_to_end.observe(seconds);
                self.metrics.canary_stored.inc();
            }
        }
    }

    async fn write_leads(&self, batch: &Batch) {
        let mut backoff = Backoff::new();
        loop {
            let started = Instant::now();
            match self.store.insert_batch(&batch.leads).await {
                Ok(outcome) => {
                    self.metrics
                        .batch_write_duration
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.batch_size.observe(batch.leads.len() as f64);
                    self.metrics.rows_inserted.inc_by(outcome.inserted);
                    self.metrics.duplicates_skipped.inc_by(outcome.duplicates);
                    self.metrics.erased_skipped.inc_by(outcome.erased);
                    self.observe_canaries(&batch.leads, &outcome.inserted_ids);
                    tracing::debug!(
                        leads = batch.leads.len(),
                        inserted = outcome.inserted,
                        duplicates = outcome.duplicates,
                        erased = outcome.erased,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "batch stored"
                    );
                    return;
                }
                Err(error) => {
                    self.retrying.store(true, Ordering::Relaxed);
                    self.metrics.db_errors.inc();
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, leads = batch.leads.len(), retry_in_ms = delay.as_millis() as u64,
                        "storing batch failed; nothing committed, retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}
