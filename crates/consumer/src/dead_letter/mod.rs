//! The dead-letter topic: where a message goes when it cannot be decoded or no longer
//! validates, so that it never blocks its partition.
//!
//! The dead letter keeps the original key and payload byte for byte and says in headers
//! why it was rejected and where it came from:
//!
//! | header | value |
//! |---|---|
//! | `leadpipe-dlq-reason` | `malformed`, `unsupported_version` or `invalid` |
//! | `leadpipe-dlq-error` | the decoding error; names fields, never their values |
//! | `leadpipe-source-topic` | topic the message was read from |
//! | `leadpipe-source-partition` | its partition |
//! | `leadpipe-source-offset` | its offset |
//!
//! Two halves, used at different times:
//! - [`producer`]: the consumer writes a dead letter for each poison message, as part
//!   of a batch (offsets are committed only after the dead letter is acknowledged);
//! - [`command`]: the operator's `leadpipe-consumer dlq list|replay`, which reads the
//!   topic and puts back on the lead topic what today's rules accept.

pub mod command;
pub mod producer;

pub use producer::{DeadLetter, DeadLetterProducer, ERROR_HEADER, REASON_HEADER};
