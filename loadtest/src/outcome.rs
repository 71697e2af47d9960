//! What became of one request, and how outcomes are grouped for the summary.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use crate::generator::{LeadKind, PlannedRequest};

/// Most distinct problem codes a run keeps; any further one counts as `unrecognised`.
const MAX_CODES: usize = 64;

/// A problem `code` as a `&'static str`, so an outcome stays `Copy`: each distinct code
/// the gateway answers with is kept once. Anything but a short snake_case word (a broken
/// answer), or a code beyond the first [`MAX_CODES`], is `unrecognised`.
pub fn problem_code(code: &str) -> &'static str {
    static CODES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let word =
        (1..=48).contains(&code.len()) && code.bytes().all(|b| matches!(b, b'a'..=b'z' | b'_'));
    if !word {
        return "unrecognised";
    }
    let mut codes = CODES.lock().unwrap_or_else(PoisonError::into_inner);
    match codes.iter().copied().find(|known| *known == code) {
        Some(known) => known,
        None if codes.len() >= MAX_CODES => "unrecognised",
        None => {
            codes.push(Box::leak(code.into()));
            codes[codes.len() - 1]
        }
    }
}

/// How a request ended. Its [`Class`] (`Class::from(&outcome)`, in summary order,
/// `Class::VARIANTS` for all) groups outcomes the way the summary counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::EnumDiscriminants)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[strum_discriminants(name(Class), vis(pub))]
#[strum_discriminants(derive(Hash, PartialOrd, Ord, Serialize, strum::VariantArray))]
#[strum_discriminants(serde(rename_all = "snake_case"))]
pub enum Outcome {
    /// `202` with the lead's id.
    Accepted { id: Uuid },
    /// A `4xx` problem answer.
    Rejected { status: u16, code: &'static str },
    /// `503`: the broker did not take the lead, or the gateway shed load.
    Unavailable { code: &'static str },
    /// Any other status, or a `202` without a readable id.
    OtherStatus { status: u16 },
    /// No connection could be made (refused, or the connect timed out): the gateway
    /// never saw the request.
    ConnectFailed,
    /// Sent, but no answer within the request timeout.
    TimedOut,
    /// Sent, but the connection broke before a complete answer.
    Transport,
    /// Never sent: the client's backlog was full when it fell due.
    Dropped,
}

impl Outcome {
    pub fn class(&self) -> Class {
        self.into()
    }

    /// The row of the summary table this outcome is counted in.
    pub fn label(&self) -> String {
        match self {
            Self::Accepted { .. } => "202 accepted".to_owned(),
            Self::Rejected { status, code } => format!("{status} {code}"),
            Self::Unavailable { code } => format!("503 {code}"),
            Self::OtherStatus { status } => format!("{status} other"),
            Self::ConnectFailed => "connection refused".to_owned(),
            Self::TimedOut => "timed out".to_owned(),
            Self::Transport => "connection broken".to_owned(),
            Self::Dropped => "dropped (backlog full)".to_owned(),
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Accepted { .. } => Some(202),
            Self::Rejected { status, .. } | Self::OtherStatus { status } => Some(*status),
            Self::Unavailable { .. } => Some(503),
            _ => None,
        }
    }

    /// The problem `code`, if the answer carried one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::Rejected { code, .. } | Self::Unavailable { code } => Some(code),
            _ => None,
        }
    }

    pub fn accepted_id(&self) -> Option<Uuid> {
        match self {
            Self::Accepted { id } => Some(*id),
            _ => None,
        }
    }

    /// True when the gateway may have handed the lead to the broker although the client
    /// got no `202`: a 503 after a publish attempt (`broker_unavailable`: the broker may
    /// still take it after the gateway gave up waiting), another 5xx, or no answer at all.
    /// A connect failure or a dropped request never reached the gateway, a 4xx is a
    /// definite refusal, and `overloaded` is answered before publishing.
    pub fn may_have_been_stored(&self) -> bool {
        match self {
            Self::Unavailable { code } => *code != "overloaded",
            Self::OtherStatus { .. } | Self::TimedOut | Self::Transport => true,
            _ => false,
        }
    }
}

/// One request of the run, kept for reconciliation and for tests that look at what
/// happened around a fault. Offsets are from the start of the run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RequestRecord {
    pub seq: u64,
    pub lead_no: u64,
    pub kind: LeadKind,
    pub campaign: u8,
    /// When the schedule said to send it.
    pub intended: Duration,
    /// When it went out (got a connection); `None` if it was dropped.
    pub sent: Option<Duration>,
    /// When the answer (or the error) arrived.
    pub finished: Duration,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl RequestRecord {
    /// `request` as scheduled at `intended`, not sent yet (a dropped request stays so).
    pub fn planned(request: &PlannedRequest, intended: Duration) -> Self {
        Self {
            seq: request.seq,
            lead_no: request.lead_no,
            kind: request.kind,
            campaign: request.campaign,
            intended,
            sent: None,
            finished: intended,
            outcome: Outcome::Dropped,
        }
    }

    /// Latency as the visitor sees it: from when the request should have gone out.
    pub fn latency(&self) -> Duration {
        self.finished.saturating_sub(self.intended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_status_and_the_problem_code() {
        assert_eq!(
            Outcome::Rejected {
                status: 422,
                code: problem_code("consent_required")
            }
            .label(),
            "422 consent_required"
        );
        assert_eq!(
            Outcome::Unavailable {
                code: problem_code("broker_unavailable")
            }
            .label(),
            "503 broker_unavailable"
        );
        let new = problem_code("something_new");
        assert_eq!(
            new, "something_new",
            "a code the gateway adds is counted under its name"
        );
        assert!(
            std::ptr::eq(new, problem_code("something_new")),
            "and kept once"
        );
        assert_eq!(problem_code("<html>Bad Gateway"), "unrecognised");
        assert_eq!(problem_code(""), "unrecognised");
    }

    #[test]
    fn only_answers_that_leave_the_fate_open_may_have_been_stored() {
        assert!(Outcome::TimedOut.may_have_been_stored());
        assert!(Outcome::Transport.may_have_been_stored());
        assert!(Outcome::Unavailable {
            code: "broker_unavailable"
        }
        .may_have_been_stored());
        assert!(!Outcome::Unavailable { code: "overloaded" }.may_have_been_stored());
        assert!(!Outcome::ConnectFailed.may_have_been_stored());
        assert!(!Outcome::Dropped.may_have_been_stored());
        assert!(!Outcome::Rejected {
            status: 422,
            code: "validation_failed"
        }
        .may_have_been_stored());
        assert!(!Outcome::Accepted { id: Uuid::nil() }.may_have_been_stored());
    }
}
