//! What the handlers and the middleware share: the [`AppState`] of the lead route and
//! the instance's [`Lifecycle`]. Nothing here is per-visitor state.

use std::sync::atomic::{AtomicBool, Ordering};
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
/// instant answer would tell it that it was caught).
#[derive(Debug, Default)]
pub struct AckLatency {
    recent: std::sync::Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    micros: Vec<u64>,
    next: usize,
    draws: u64,
}

impl AckLatency {
    pub const KEPT: usize = 256;
    /// Before any lead was published: a typical local acknowledgement.
    const FALLBACK: std::time::Duration = std::time::Duration::from_millis(10);

    pub fn record(&self, latency: std::time::Duration) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if recent.micros.len() < Self::KEPT {
            recent.micros.push(micros);
        } else {
            let next = recent.next;
            recent.micros[next] = micros;
        }
        recent.next = (recent.next + 1) % Self::KEPT;
    }

    /// One of the recent latencies, picked at random.
    pub fn draw(&self) -> std::time::Duration {
        use std::hash::{BuildHasher, Hasher};
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.micros.is_empty() {
            return Self::FALLBACK;
        }
        recent.draws += 1;
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(recent.draws);
        let pick = (hasher.finish() % recent.micros.len() as u64) as usize;
        std::time::Duration::from_micros(recent.micros[pick])
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
