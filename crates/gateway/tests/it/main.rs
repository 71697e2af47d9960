//! The gateway's integration tests, over a real socket:
//! - [`abuse`]: rate limits (local, shared through Redis, Redis stopped), client address
//!   behind trusted proxies, honeypot, CAPTCHA, content encodings;
//! - [`api`]: the HTTP contract with an in-memory sink (validation, problem+json, load
//!   shedding, readiness and the drain, CORS, OpenAPI);
//! - [`broker`]: against a real Kafka-protocol broker (Tansu): what is acknowledged is on
//!   the topic; a broker outage is a fast 503, not a readiness failure;
//! - [`cli`]: the binary's settings: `--help`, secrets, startup errors;
//! - [`consent`]: the consent text version and the client address hash a lead carries;
//! - [`logs`]: no personal data in logs.

mod abuse;
mod api;
mod broker;
mod cli;
mod consent;
mod logs;
mod support;
