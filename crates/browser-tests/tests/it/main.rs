//! The event page in headless Chromium against a real pipeline: each test serves `web/`
//! from an origin of its own, starts a gateway (CORS allowing that origin), a consumer
//! and a database of its own, and checks what the visitor sees against what PostgreSQL
//! stored.
//!
//! - [`submit`]: a Korean visitor registers; one row, phone stored as E.164.
//! - [`errors`]: obvious mistakes caught in the page, the gateway's 422 shown by field.
//! - [`double_click`]: a double click sends one request and stores one row.
//! - [`broker_outage`]: the broker is down, the page retries with the same key until
//!   it is back, or gives up and the visitor retries by hand with that key; one row.
//! - [`rate_limit`]: a 429 with `Retry-After` is waited out before the retry.
//! - [`keyboard`]: keyboard only, from the first Tab to the reference.
//! - [`honeypot`]: a bot that fills the hidden field is answered as if accepted; nothing
//!   is stored.
//!
//! Needs `chromium` and `chromium-driver` (`ops/local/stack browser` installs them), the
//! shared broker and PostgreSQL (`make test` starts them), and the gateway and consumer
//! binaries (`cargo build -p leadpipe-gateway -p leadpipe-consumer`).

mod broker_outage;
mod double_click;
mod errors;
mod honeypot;
mod keyboard;
mod rate_limit;
mod submit;
mod support;
