//! The leadpipe domain: what a lead is, how one is parsed out of untrusted input, and
//! the versioned message that carries an accepted lead through Kafka. No I/O lives here.
//!
//! Components:
//! - [`field`]: one newtype per lead field (`PersonName`, `EmailAddress`, `PhoneNumber`,
//!   `Label`, `PageUrl`), each with a `parse` that is the only way to build it.
//! - [`request`]: the JSON body of `POST /v1/leads` and [`request::parse_submission`],
//!   which turns raw bytes into a [`Lead`] or reports every failing field; the body is
//!   read in one pass, strings borrowed, duplicate keys refused (`body`).
//! - [`lead`]: the parsed [`Lead`] and the [`AcceptedLead`] the gateway stamps with an id
//!   and timestamps.
//! - [`id`]: lead ids — UUIDv7 by default, UUIDv5 from an `Idempotency-Key`.
//! - [`message`]: [`LeadMessage`], the wire format on the `leads` topic (versioned), and
//!   its decoding, which re-validates so a consumer never stores an invalid lead.
//! - [`error`]: field errors shared by the request parser and the message decoder.
//!
//! Once a `Lead` exists it is valid: no unchecked `String` travels past the parsers.

mod body;
pub mod error;
pub mod field;
pub mod id;
pub mod lead;
pub mod message;
pub mod request;

pub use error::{FieldError, FieldErrorCode, FieldErrors};
pub use id::{IdempotencyKey, LeadId};
pub use lead::{AcceptedLead, ConsentPolicy, Lead, Utm, CANARY_CAMPAIGN};
pub use message::{DecodeError, LeadMessage, SCHEMA_VERSION};
pub use request::{
    is_api_field, parse_submission, parse_submission_with, LeadRequest, Submission,
    SubmissionError, SubmissionRules,
};
