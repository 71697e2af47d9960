//! leadpipe-loadtest: proves under load that the pipeline keeps its promise — every lead
//! answered `202` ends up in PostgreSQL exactly once — and measures what the gateway
//! can take.
//!
//! A run goes through these components in order:
//! - [`schedule`]: the open-loop timeline — when each request is due, at a fixed rate
//!   with an optional linear ramp-up, whatever the server does.
//! - [`generator`]: what each request carries — realistic leads (many scripts, national
//!   phone formats, campaigns, UTM values), a share of invalid ones of every kind, and
//!   resubmissions with the same `Idempotency-Key`.
//! - [`runner`]: releases requests on schedule into a bounded pool of connections,
//!   through [`client`] (HTTP, answers turned into an [`outcome::Outcome`]), while
//!   [`recorder`] fills [`recorder::Measured`] — counts, HDR histograms timed from the
//!   *intended* instant, the per-second timeline and a record of every request — and
//!   [`progress`] shows the live rates.
//! - [`reconcile`]: after the run, waits for the consumer to drain and compares the
//!   answers with the `leads` table.
//! - [`report`]: the terminal summary, `report.json` and a self-contained `report.html`
//!   (charts drawn with `plotters`, the page a `maud` template).
//!
//! [`cli`] is the command line (the run's own options are [`LoadConfig`], the wait for
//! the consumer's [`DrainOptions`]) and [`orchestration`] the sequence above behind
//! `main`; the fault-injection tests drive [`runner::run`] and [`reconcile::reconcile`]
//! directly.

pub mod cli;
pub mod client;
pub mod generator;
pub mod orchestration;
pub mod outcome;
pub mod progress;
pub mod reconcile;
pub mod recorder;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod stats;

pub use generator::{InvalidKind, LeadKind, LeadMix, RunLeads};
pub use outcome::{Class, Outcome, RequestRecord};
pub use reconcile::{reconcile, DrainOptions, Reconciliation};
pub use recorder::Measured;
pub use report::Report;
pub use runner::{run, LoadConfig, LoadError, LoadRun};
