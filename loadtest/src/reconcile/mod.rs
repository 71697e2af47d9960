//! End-to-end reconciliation: after a run, wait for the consumer to drain, then check in
//! PostgreSQL that every lead answered `202` is stored exactly once, that resubmissions
//! collapsed to one row, and that no invalid lead was stored.
//!
//! - [`drain`]: the wait (consumer lag and row count, with a timeout).
//! - [`store`]: the queries against `leads`.
//! - [`check`]: the comparison itself, pure and unit-tested.

pub mod check;
pub mod drain;
pub mod store;

use serde::Serialize;
use tokio::time::Instant;
use uuid::Uuid;

pub use check::{Evidence, Findings, StoredRow};
pub use drain::{Drain, DrainEnd, DrainOptions};

use crate::runner::LoadRun;
use store::LeadsTable;

/// Why reconciliation could not reach a verdict (a gap is a verdict, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the run kept no request records; reconciliation needs them")]
    NoRecords,
    #[error("invalid database URL: {0}")]
    DatabaseUrl(#[source] sqlx::Error),
    #[error("reading the leads table: {0}")]
    Query(#[source] sqlx::Error),
}

/// The verdict, and how the wait for the drain ended.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    #[serde(flatten)]
    pub findings: Findings,
    pub drain: Drain,
    pub clean: bool,
}

impl Reconciliation {
    pub fn is_clean(&self) -> bool {
        self.clean
    }

    /// What the verdict rests on, as `(what, value)` rows both reports print.
    pub fn details(&self) -> Vec<(&'static str, String)> {
        let (f, drain) = (&self.findings, &self.drain);
        let end = match drain.end {
            DrainEnd::CaughtUp => "caught up",
            DrainEnd::Settled => "row count settled",
            DrainEnd::TimedOut => "TIMED OUT waiting",
        };
        let lag = match (drain.last_lag, drain.lag_partitions) {
            (Some(lag), Some(partitions)) => format!("{lag} over {partitions} partitions"),
            _ => "not read".to_owned(),
        };
        let mut rows = vec![
            ("drain", format!("{end} after {:.1} s", drain.waited_secs)),
            ("consumer lag at the end", lag),
        ];
        let counts = [
            ("rows in the run's campaigns", f.rows_in_run),
            ("leads resubmitted", f.resubmitted_leads),
            (
                "… collapsed to one id and one row",
                f.resubmissions_collapsed,
            ),
            ("ids not as the Idempotency-Key gives", f.id_mismatches),
            ("invalid leads accepted", f.invalid_accepted),
            ("invalid leads stored", f.invalid_stored),
            (
                "stored although not acknowledged (not a gap)",
                f.stored_unacknowledged,
            ),
        ];
        rows.extend(counts.map(|(what, count)| (what, count.to_string())));
        let samples = [
            ("missing ids (sample)", &f.missing_sample),
            ("unexpected ids (sample)", &f.unexpected_sample),
        ];
        for (what, sample) in samples.into_iter().filter(|(_, ids)| !ids.is_empty()) {
            let ids: Vec<String> = sample.iter().map(Uuid::to_string).collect();
            rows.push((what, ids.join(" ")));
        }
        if let Some(error) = &drain.last_error {
            rows.push(("last error while waiting", error.clone()));
        }
        rows
    }
}

/// Waits for the drain, then compares the run's answers with the `leads` table at
/// `database_url`.
pub async fn reconcile(
    database_url: &str,
    run: &LoadRun,
    options: &DrainOptions,
) -> Result<Reconciliation, ReconcileError> {
    if run.measured.records.is_empty() && run.measured.totals.scheduled > 0 {
        return Err(ReconcileError::NoRecords);
    }
    let table = LeadsTable::connect(database_url).map_err(ReconcileError::DatabaseUrl)?;
    let accepted: Vec<Uuid> = check::accepted_ids(&run.measured.records)
        .into_iter()
        .collect();
    let campaigns = &run.leads.campaigns;
    let (started, expected) = (Instant::now(), accepted.len() as u64);
    let mut require_settled = false;
    let result = loop {
        let drain = drain::wait(
            &table,
            campaigns,
            expected,
            options,
            started,
            require_settled,
        );
        let drain = drain.await;
        let evidence = match table.evidence(&accepted, campaigns).await {
            Ok(evidence) => evidence,
            Err(_) if drain.end != DrainEnd::TimedOut => {
                // The database may just be coming back: wait (for a settled count this
                // time, so a persistent failure ends at the deadline) and read again.
                require_settled = true;
                continue;
            }
            Err(error) => break Err(ReconcileError::Query(error)),
        };
        let findings = check::check(&run.measured.records, &run.leads, &evidence);
        if findings.missing == 0 || drain.end != DrainEnd::CaughtUp || require_settled {
            let clean = findings.is_clean();
            break Ok(Reconciliation {
                findings,
                drain,
                clean,
            });
        }
        // As many rows as accepted leads, but some accepted ids are not among them
        // (rows of unacknowledged leads filled the count): wait for the count to settle.
        require_settled = true;
    };
    table.close().await;
    result
}
