//! What the handlers and the middleware share: the [`AppState`] of the lead route and
//! the instance's [`Lifecycle`]. Nothing here is per-visitor state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leadpipe_domain::ConsentPolicy;
use tokio::sync::Semaphore;

use crate::abuse::Guard;
use crate::metrics::Metrics;
use crate::sink::LeadSink;

pub struct AppState {
    pub sink: Arc<dyn LeadSink>,
    pub metrics: Arc<Metrics>,
    pub consent_policy: ConsentPolicy,
    pub max_body_bytes: usize,
    pub in_flight: Arc<Semaphore>,
    pub retry_after_secs: u64,
    pub guard: Guard,
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
