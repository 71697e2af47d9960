//! The leadpipe domain: what a lead is, how one is parsed out of untrusted input, and
//! the versioned message that carries an accepted lead through Kafka. No I/O lives here.
//!
//! Components:
//! - [`field`]: one newtype per lead field (`PersonName`, `EmailAddress`, `PhoneNumber`,
//!   `Label`, `PageUrl`), each with a `parse` that is the only way to build it.
//! - [`lead`]: the parsed [`Lead`] and the [`AcceptedLead`] the gateway stamps with an id
//!   and timestamps.
//! - `parse`: the one step from raw text to a [`Lead`] (every field through its
//!   newtype, every failure collected). Both encodings below come through it.
//! - [`request`]: the first encoding, the JSON body of `POST /v1/leads`, and
//!   [`request::parse_submission`], which turns raw bytes into a [`Lead`] or reports
//!   every failing field; the body is read in one pass, strings borrowed, duplicate keys
//!   refused (`body`).
//! - [`message`]: the second encoding, [`LeadMessage`], the wire format on the `leads`
//!   topic (versioned), and its decoding, which re-validates so a consumer never stores
//!   an invalid lead. The consumer's table columns are its fields.
//! - [`schema`]: the request body's rules as JSON Schema, built from the parsers'
//!   constants (the OpenAPI document serves it).
//! - [`id`]: lead ids — UUIDv7 by default, UUIDv5 from an `Idempotency-Key`.
//! - [`client_ip_hash`]: the keyed hash of a client's address a lead carries as proof
//!   of where consent came from (never the address).
//! - [`error`]: field errors and malformed-JSON positions, shared by both encodings.
//!
//! Modules depend one way, never back: `error` ← `field`, `id`, `client_ip_hash` ←
//! `lead` ← `parse` ←
//! `request`, `message` (`ops/lint` checks that no module imports one that imports it).
//!
//! Once a `Lead` exists it is valid: no unchecked `String` travels past the parsers.

mod body;
pub mod client_ip_hash;
pub mod error;
pub mod field;
pub mod id;
pub mod lead;
pub mod message;
mod parse;
pub mod request;
pub mod schema;

pub use client_ip_hash::ClientIpHash;
pub use error::{FieldError, FieldErrorCode, FieldErrors, MalformedJson};
pub use id::{IdempotencyKey, LeadId};
pub use lead::{AcceptedLead, ConsentPolicy, Lead, Utm, CANARY_CAMPAIGN};
pub use message::{DecodeError, LeadMessage, READABLE_VERSIONS, SCHEMA_VERSION};
pub use request::{
    is_api_field, parse_submission, parse_submission_with, LeadRequest, Submission,
    SubmissionError, SubmissionRules,
};
