//! The periodic check, every `lag_interval`, and the one writer of readiness:
//! 1. the database: a ping (on the pool's second connection, so it does not wait behind
//!    a batch) and the batch being written, if any, not failing;
//! 2. the broker and the group lag of every partition ([`crate::lag`]), published as
//!    metrics;
//! 3. the [`crate::watchdog`]: partitions standing still where this instance could
//!    work; when it says so, a rejoin is requested, which the pipeline carries out on
//!    its own task (the consumer is not to be touched from elsewhere while it polls);
//! 4. the facts go to [`Health`];
//! 5. once an hour (the first time at start): canary leads older than a day deleted, the
//!    partitions of the months ahead created ([`crate::partitions`]), the rows of the
//!    default partition counted, and the analysts' rollups refreshed in the background
//!    ([`crate::rollups`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::flush::Flusher;
use crate::group::Assignment;
use crate::health::{Facts, Health};
use crate::lag::{GroupLag, GroupLagProbe};
use crate::metrics::Metrics;
use crate::watchdog::{Context, Watchdog};
use crate::{partitions, rollups};

pub struct Monitor {
    probe: Arc<GroupLagProbe>,
    watchdog: Mutex<Watchdog>,
    assignment: Arc<Assignment>,
    flusher: Arc<Flusher>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    rejoin: AtomicBool,
    /// When the hourly upkeep last ran.
    upkeep_done: Mutex<Option<Instant>>,
}

/// Canary leads are kept this long.
const CANARY_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// How often old canaries are deleted and partitions created ahead.
const UPKEEP_EVERY: Duration = Duration::from_secs(3600);

impl Monitor {
    pub fn new(
        probe: GroupLagProbe,
        stall_timeout: Duration,
        assignment: Arc<Assignment>,
        flusher: Arc<Flusher>,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            probe: Arc::new(probe),
            watchdog: Mutex::new(Watchdog::new(stall_timeout)),
            assignment,
            flusher,
            health,
            metrics,
            rejoin: AtomicBool::new(false),
            upkeep_done: Mutex::new(None),
        }
    }

    /// One check.
    pub async fn check(self: Arc<Self>) {
        let database = self.ping_database().await && !self.flusher.is_retrying();
        let probe = self.probe.clone();
        let measured = tokio::task::spawn_blocking(move || probe.measure()).await;
        let (broker, stalled) = match measured {
            Ok(Ok(lag)) => (true, self.watch(&lag, database)),
            Ok(Err(error)) => {
                tracing::warn!(%error, "measuring the group lag failed");
                (false, false)
            }
            Err(join) => {
                tracing::error!(error = %join, "the lag measurement panicked");
                (false, false)
            }
        };
        self.health.update(Facts {
            database,
            broker,
            stalled,
        });
        if database {
            self.upkeep().await;
        }
    }

    /// Once an hour (the first time at start): deletes canary leads older than a day,
    /// creates the partitions of the months ahead, counts the default partition's rows,
    /// and starts the refresh of the rollups (seconds at millions of rows: on a task of
    /// its own, so that the checks go on).
    async fn upkeep(&self) {
        {
            let mut last = self
                .upkeep_done
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < UPKEEP_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let store = self.flusher.store();
        match store.delete_old_canaries(CANARY_RETENTION).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "old canary leads deleted"),
            Err(error) => tracing::warn!(%error, "deleting old canary leads failed"),
        }
        match partitions::create_ahead(store.pool()).await {
            Ok(created) if created.is_empty() => {}
            Ok(created) => tracing::info!(?created, "partitions of leads created"),
            Err(error) => tracing::warn!(%error, "creating the partitions ahead failed"),
        }
        match partitions::default_rows(store.pool()).await {
            Ok(rows) => {
                self.metrics.default_partition_rows.set(rows);
                if rows > 0 {
                    tracing::warn!(
                        rows,
                        "leads in the default partition: their month has no partition"
                    );
                }
            }
            Err(error) => tracing::warn!(%error, "counting the default partition failed"),
        }
        let pool = store.pool().clone();
        tokio::spawn(async move {
            let started = Instant::now();
            match rollups::refresh_if_due(&pool, rollups::MAX_AGE).await {
                Ok(true) => tracing::info!(
                    elapsed_ms = started.elapsed().as_millis(),
                    "analyst rollups refreshed"
                ),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "refreshing the analyst rollups failed"),
            }
        });
    }

    async fn ping_database(&self) -> bool {
        match tokio::time::timeout(Duration::from_secs(3), self.flusher.store().ping()).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                // The reason matters: a TLS or authentication failure needs an operator,
                // an outage does not.
                tracing::warn!(%error, "database check failed");
                false
            }
            Err(_) => {
                tracing::warn!("database check timed out after 3 s");
                false
            }
        }
    }

    /// Publishes the lag and asks the watchdog; returns whether this instance counts as
    /// stalled.
    fn watch(&self, lag: &GroupLag, database: bool) -> bool {
        let owned = self.assignment.partitions();
        self.metrics
            .publish_lag(self.probe.topic(), lag, Some(&owned));
        let verdict = self
            .watchdog
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .observe(
                lag,
                Context {
                    now: Instant::now(),
                    owned: &owned,
                    last_rebalance: self.assignment.last_rebalance(),
                    can_write: database && !self.flusher.is_retrying(),
                },
            );
        self.metrics
            .stalled_partitions
            .set(verdict.stalled.len() as i64);
        if verdict.heal {
            let lag_total: i64 = verdict.suspect.iter().map(|p| lag[p].lag).sum();
            tracing::warn!(
                stalled = ?verdict.suspect,
                ?owned,
                lag = lag_total,
                "partitions with lag stand still while this instance could work on them: rejoining the group"
            );
            self.rejoin.store(true, Ordering::SeqCst);
        }
        !verdict.suspect.is_empty()
    }

    /// Whether a rejoin was requested since the last call.
    pub fn take_rejoin_request(&self) -> bool {
        self.rejoin.swap(false, Ordering::SeqCst)
    }
}
