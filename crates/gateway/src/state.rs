//! What the handlers and the middleware share: the [`AppState`] of the lead route and
//! the instance's [`Lifecycle`]. Nothing here is per-visitor state.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use leadpipe_domain::ConsentPolicy;
use tokio::sync::Semaphore;

use crate::abuse::Guard;
use crate::consent::ConsentProof;
use crate::metrics::Metrics;
use crate::sink::LeadSink;

pub struct AppState {
    pub sink: Arc<dyn LeadSink>,
    pub metrics: Arc<Metrics>,
    pub consent_policy: ConsentPolicy,
    pub consent: ConsentProof,
    pub max_body_bytes: usize,
    pub in_flight: Arc<Semaphore>,
    pub retry_after_secs: u64,
    pub guard: Guard,
    pub ack_latency: AckLatency,
}

/// The broker acknowledgement latencies of the last [`AckLatency::KEPT`] published
/// leads, so that a caught bot is answered after a delay drawn from the real ones (an
/// instant answer would tell it that it was caught). Lock-free: every publish records.
#[derive(Debug)]
pub struct AckLatency {
    micros: [AtomicU64; Self::KEPT],
    recorded: AtomicU64,
}

impl Default for AckLatency {
    fn default() -> Self {
        Self {
            micros: std::array::from_fn(|_| AtomicU64::new(0)),
            recorded: AtomicU64::new(0),
        }
    }
}

impl AckLatency {
    pub const KEPT: usize = 256;
    /// Before any lead was published: a typical local acknowledgement.
    const FALLBACK: std::time::Duration = std::time::Duration::from_millis(10);

    pub fn record(&self, latency: std::time::Duration) {
        let slot = self.recorded.fetch_add(1, Ordering::Relaxed) as usize % Self::KEPT;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.micros[slot].store(micros, Ordering::Relaxed);
    }

    /// One of the recent latencies, picked at random.
    pub fn draw(&self) -> std::time::Duration {
        let kept = self.recorded.load(Ordering::Relaxed).min(Self::KEPT as u64);
        if kept == 0 {
            return Self::FALLBACK;
        }
        let micros = self.micros[fastrand::usize(..kept as usize)].load(Ordering::Relaxed);
        std::time::Duration::from_micros(micros)
    }
}

/// Whether this process should receive traffic: not before its producer has made its
/// first contact with the broker (successful or not), and not once SIGTERM started the
/// drain. A broker outage does not make it unready: every gateway would leave the load
/// balancer at once, and clients would get the balancer's own errors instead of the
/// gateway's `503` with `Retry-After`.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
}

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// From now on `/readyz` answers 503 and every response closes its connection.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Ready: started (the sink says so) and not draining.
    pub fn is_ready(&self, sink: &dyn LeadSink) -> bool {
        !self.is_draining() && sink.is_started()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_draw_is_one_of_the_recent_latencies() {
        let latency = AckLatency::default();
        assert_eq!(latency.draw(), AckLatency::FALLBACK);
        for ms in [20, 30, 40] {
            latency.record(Duration::from_millis(ms));
        }
        for _ in 0..100 {
            let drawn = latency.draw();
            assert!(
                [20, 30, 40].map(Duration::from_millis).contains(&drawn),
                "{drawn:?}"
            );
        }
        // Past KEPT, the oldest are replaced.
        for _ in 0..AckLatency::KEPT {
            latency.record(Duration::from_millis(5));
        }
        assert_eq!(latency.draw(), Duration::from_millis(5));
    }
}
