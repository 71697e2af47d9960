//! The leadpipe gateway: the tier that meets the event page's traffic.
//!
//! A request to `POST /v1/leads` goes through these components in order:
//! - [`telemetry`]: the request-id span and the HTTP metrics around every request.
//! - [`routes::leads`]: content type, body limit, parsing into a valid lead (in the domain
//!   crate), the lead id, the in-flight limit, then [`sink`] — and only when the broker
//!   has acknowledged, `202 Accepted`.
//! - [`sink`]: where accepted leads go: [`KafkaSink`] in production (idempotent producer,
//!   `acks=all`), [`MemorySink`] in handler tests.
//! - [`problem`]: every error as RFC 9457 `application/problem+json`.
//!
//! Around them: [`settings`] (environment variables, `--help`), [`metrics`] (Prometheus),
//! [`routes`] for health, readiness, metrics and the OpenAPI document, [`state`] (what
//! handlers share, and the instance's lifecycle: starting, serving, draining), and
//! [`startup`], which binds the listener, runs the server until a shutdown signal, then
//! drains.
//!
//! [`abuse`] stands between a valid lead and the publish: rate limits (per address,
//! email and phone; shared through Redis when configured), the client address behind
//! trusted proxies, a honeypot field and CAPTCHA verification.
//!
//! [`consent`] stamps each lead with its proof of consent: the consent text version
//! (checked against the configured ones) and a keyed hash of the client's address.
//!
//! [`canary`] publishes synthetic leads that measure the pipeline end to end, when
//! configured.
//!
//! The gateway keeps no state of its own beyond bounded rate-limit tables: any number of
//! instances can run side by side (share the limits through Redis).

pub mod abuse;
pub mod canary;
pub mod consent;
pub mod metrics;
pub mod problem;
pub mod routes;
pub mod settings;
pub mod sink;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use metrics::Metrics;
pub use settings::{LogFormat, Settings};
pub use sink::{KafkaSink, LeadSink, MemorySink, PublishError, Record};
pub use startup::Application;
