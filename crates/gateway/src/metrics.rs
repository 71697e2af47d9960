//! Prometheus metrics of one gateway instance, in a registry of its own (tests build as
//! many apps as they like). Names are constants; labels are low-cardinality: a route
//! pattern, a status code, a reason — never anything a visitor typed.

use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

pub const HTTP_REQUESTS_TOTAL: &str = "leadpipe_http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "leadpipe_http_request_duration_seconds";
pub const LEADS_ACCEPTED_TOTAL: &str = "leadpipe_leads_accepted_total";
pub const LEADS_REJECTED_TOTAL: &str = "leadpipe_leads_rejected_total";
pub const KAFKA_DELIVERY_DURATION_SECONDS: &str = "leadpipe_kafka_delivery_duration_seconds";
pub const PUBLISHES_IN_FLIGHT: &str = "leadpipe_publishes_in_flight";
pub const BROKER_ERRORS_TOTAL: &str = "leadpipe_broker_errors_total";
pub const BROKER_UP: &str = "leadpipe_broker_up";
pub const CANARY_PUBLISHED_TOTAL: &str = "leadpipe_canary_published_total";
pub const CANARY_PUBLISH_FAILURES_TOTAL: &str = "leadpipe_canary_publish_failures_total";
pub const RATE_LIMITED_TOTAL: &str = "leadpipe_rate_limited_total";
pub const RATE_LIMIT_STORE_ERRORS_TOTAL: &str = "leadpipe_rate_limit_store_errors_total";
pub const HONEYPOT_CAUGHT_TOTAL: &str = "leadpipe_honeypot_caught_total";
pub const CAPTCHA_VERIFICATIONS_TOTAL: &str = "leadpipe_captcha_verifications_total";

/// Latency buckets from 1 ms to 10 s: a healthy publish takes a few milliseconds, a
/// failing one up to the delivery timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_request_duration: HistogramVec,
    pub leads_accepted: IntCounter,
    pub leads_rejected: IntCounterVec,
    pub kafka_delivery_duration: Histogram,
    pub publishes_in_flight: IntGauge,
    pub broker_errors: IntCounterVec,
    pub broker_up: IntGauge,
    pub canary_published: IntCounter,
    pub canary_publish_failures: IntCounter,
    pub rate_limited: IntCounterVec,
    pub rate_limit_store_errors: IntCounter,
    pub honeypot_caught: IntCounter,
    pub captcha_verifications: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let metrics = Self {
            http_requests: IntCounterVec::new(
                Opts::new(
                    HTTP_REQUESTS_TOTAL,
                    "HTTP requests by route pattern, method and status.",
                ),
                &["route", "method", "status"],
            )
            .expect("valid metric"),
            http_request_duration: HistogramVec::new(
                HistogramOpts::new(
                    HTTP_REQUEST_DURATION_SECONDS,
                    "HTTP request duration by route pattern.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["route"],
            )
            .expect("valid metric"),
            leads_accepted: IntCounter::new(
                LEADS_ACCEPTED_TOTAL,
                "Leads acknowledged by the broker and answered 202.",
            )
            .expect("valid metric"),
            leads_rejected: IntCounterVec::new(
                Opts::new(
                    LEADS_REJECTED_TOTAL,
                    "Lead submissions not accepted, by reason.",
                ),
                &["reason"],
            )
            .expect("valid metric"),
            kafka_delivery_duration: Histogram::with_opts(
                HistogramOpts::new(
                    KAFKA_DELIVERY_DURATION_SECONDS,
                    "Time from enqueue to the broker's acknowledgement.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            publishes_in_flight: IntGauge::new(
                PUBLISHES_IN_FLIGHT,
                "Publishes awaiting the broker's acknowledgement.",
            )
            .expect("valid metric"),
            broker_errors: IntCounterVec::new(
                Opts::new(BROKER_ERRORS_TOTAL, "Failed publishes by kind."),
                &["kind"],
            )
            .expect("valid metric"),
            broker_up: IntGauge::new(
                BROKER_UP,
                "1 while the broker answers metadata requests for the topic, 0 while it does not.",
            )
            .expect("valid metric"),
            canary_published: IntCounter::new(
                CANARY_PUBLISHED_TOTAL,
                "Canary leads acknowledged by the broker.",
            )
            .expect("valid metric"),
            canary_publish_failures: IntCounter::new(
                CANARY_PUBLISH_FAILURES_TOTAL,
                "Canary leads the broker did not take.",
            )
            .expect("valid metric"),
            rate_limited: IntCounterVec::new(
                Opts::new(
                    RATE_LIMITED_TOTAL,
                    "Submissions answered 429, by the limit they exceeded (ip, email, phone).",
                ),
                &["limit"],
            )
            .expect("valid metric"),
            rate_limit_store_errors: IntCounter::new(
                RATE_LIMIT_STORE_ERRORS_TOTAL,
                "Checks the shared store (Redis) did not answer in time; this instance's own limits decided them.",
            )
            .expect("valid metric"),
            honeypot_caught: IntCounter::new(
                HONEYPOT_CAUGHT_TOTAL,
                "Submissions with the honeypot field filled: answered like accepted leads, never published.",
            )
            .expect("valid metric"),
            captcha_verifications: IntCounterVec::new(
                Opts::new(
                    CAPTCHA_VERIFICATIONS_TOTAL,
                    "CAPTCHA tokens checked with the verifier, by result (passed, failed, missing, unavailable).",
                ),
                &["result"],
            )
            .expect("valid metric"),
            registry,
        };
        metrics.register_all();
        metrics
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 14] = [
            Box::new(self.http_requests.clone()),
            Box::new(self.http_request_duration.clone()),
            Box::new(self.leads_accepted.clone()),
            Box::new(self.leads_rejected.clone()),
            Box::new(self.kafka_delivery_duration.clone()),
            Box::new(self.publishes_in_flight.clone()),
            Box::new(self.broker_errors.clone()),
            Box::new(self.broker_up.clone()),
            Box::new(self.canary_published.clone()),
            Box::new(self.canary_publish_failures.clone()),
            Box::new(self.rate_limited.clone()),
            Box::new(self.rate_limit_store_errors.clone()),
            Box::new(self.honeypot_caught.clone()),
            Box::new(self.captcha_verifications.clone()),
        ];
        for collector in collectors {
            self.registry
                .register(collector)
                .expect("metric names are unique");
        }
    }

    /// Counts and times one request by route pattern, method and status.
    pub fn observe_request(
        &self,
        route: &str,
        method: &str,
        status: actix_web::http::StatusCode,
        elapsed: Duration,
    ) {
        self.http_requests
            .with_label_values(&[route, method, status.as_str()])
            .inc();
        self.http_request_duration
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        leadpipe_platform::render_metrics(&self.registry)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
