//! Readiness: the consumer is ready when it can reach both the broker and the database
//! and is not shutting down. The pipeline, the rebalance callbacks and the periodic check
//! in [`crate::lag`] set the flags; `/readyz` and the `leadpipe_consumer_ready` gauge read
//! them.

use std::sync::atomic::{AtomicBool, Ordering};

use prometheus::IntGauge;

pub struct Health {
    broker_ok: AtomicBool,
    database_ok: AtomicBool,
    stopping: AtomicBool,
    gauge: IntGauge,
}

impl Health {
    /// Not ready until the broker and the database have each answered once.
    pub fn new(gauge: IntGauge) -> Self {
        gauge.set(0);
        Self {
            broker_ok: AtomicBool::new(false),
            database_ok: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            gauge,
        }
    }

    pub fn is_ready(&self) -> bool {
        !self.stopping.load(Ordering::Relaxed)
            && self.broker_ok.load(Ordering::Relaxed)
            && self.database_ok.load(Ordering::Relaxed)
    }

    pub fn set_broker(&self, ok: bool) {
        if self.broker_ok.swap(ok, Ordering::Relaxed) != ok {
            if ok {
                tracing::info!("broker reachable");
            } else {
                tracing::warn!("broker unreachable: not ready");
            }
        }
        self.refresh();
    }

    pub fn set_database(&self, ok: bool) {
        if self.database_ok.swap(ok, Ordering::Relaxed) != ok {
            if ok {
                tracing::info!("database reachable");
            } else {
                tracing::warn!("database unavailable: not ready");
            }
        }
        self.refresh();
    }

    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.refresh();
    }

    fn refresh(&self) {
        self.gauge.set(i64::from(self.is_ready()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_with_both_services_and_not_stopping() {
        let gauge = IntGauge::new("ready", "test").unwrap();
        let health = Health::new(gauge.clone());
        assert!(!health.is_ready());
        health.set_broker(true);
        assert!(!health.is_ready());
        health.set_database(true);
        assert!(health.is_ready());
        assert_eq!(gauge.get(), 1);
        health.set_database(false);
        assert_eq!(gauge.get(), 0);
        health.set_database(true);
        health.set_stopping();
        assert!(!health.is_ready());
        assert_eq!(gauge.get(), 0);
    }
}
