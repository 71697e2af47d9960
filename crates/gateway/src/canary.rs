//! Canary leads: with `LEADPIPE_CANARY_INTERVAL_SECS` set, the gateway publishes a
//! synthetic lead (campaign `_canary`, no person's data) through its own sink every N
//! seconds. The consumer stores it like any lead and measures the time from publish to
//! stored; an alert fires when canaries stop arriving. Unlike lag or error rates, this
//! measures the whole pipeline as a visitor experiences it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use leadpipe_domain::{AcceptedLead, Lead, LeadId};
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::sink::{LeadSink, Record};

/// Publishes a canary every `interval` until aborted.
pub fn spawn(sink: Arc<dyn LeadSink>, metrics: Arc<Metrics>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let id = LeadId::generate();
            let record = Record::from(&AcceptedLead::stamp(Lead::canary(), id, Utc::now()));
            match sink.publish(&record).await {
                Ok(()) => metrics.canary_published.inc(),
                Err(error) => {
                    metrics.canary_publish_failures.inc();
                    tracing::warn!(lead_id = %id, kind = error.kind(), "canary not published");
                }
            }
        }
    })
}
