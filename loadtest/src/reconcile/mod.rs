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
    let started = Instant::now();
    let deadline = started + options.timeout;
    let mut require_settled = false;
    let result = loop {
        let drain = drain::wait(
            &table,
            campaigns,
            accepted.len() as u64,
            options,
            started,
            deadline,
            require_settled,
        )
        .await;
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
