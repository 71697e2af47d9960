//! Collects what happens during a run. Request tasks report here as they finish; the
//! progress line reads the live counters (atomics, no lock) once a second and the p99
//! under the lock. Everything else is turned into the run's results at the end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::generator::{InvalidKind, LeadKind, PlannedRequest};
use crate::outcome::{Class, Outcome, RequestRecord};
use crate::schedule::Schedule;
use crate::stats::{
    self, micros, InvalidAnswers, OutcomeCount, Percentiles, SecondSummary, Totals,
};

/// Counters the progress line reads without taking the lock.
#[derive(Debug, Default)]
pub struct Live {
    pub scheduled: AtomicU64,
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub unavailable: AtomicU64,
    pub failed: AtomicU64,
}

/// What identifies a request in the records (the body is not kept).
#[derive(Debug, Clone, Copy)]
pub struct RequestMeta {
    pub seq: u64,
    pub lead_no: u64,
    pub kind: LeadKind,
    pub campaign: u8,
}

impl From<&PlannedRequest> for RequestMeta {
    fn from(request: &PlannedRequest) -> Self {
        Self {
            seq: request.seq,
            lead_no: request.lead_no,
            kind: request.kind,
            campaign: request.campaign,
        }
    }
}

#[derive(Default)]
struct Second {
    scheduled: u64,
    sent: u64,
    dropped: u64,
    answered: u64,
    accepted: u64,
    rejected: u64,
    unavailable: u64,
    failed: u64,
    latency: Option<Histogram<u32>>,
}

struct Inner {
    latency: Histogram<u64>,
    service: Histogram<u64>,
    dispatch: Histogram<u64>,
    queue: Histogram<u64>,
    totals: Totals,
    outcomes: BTreeMap<(Class, Option<u16>, Option<&'static str>), u64>,
    invalid: BTreeMap<InvalidKind, BTreeMap<String, u64>>,
    timeline: Vec<Second>,
    records: Vec<RequestRecord>,
    last_finished: Duration,
}

impl Inner {
    fn new(records: usize) -> Self {
        Self {
            latency: stats::histogram(),
            service: stats::histogram(),
            dispatch: stats::histogram(),
            queue: stats::histogram(),
            totals: Totals::default(),
            outcomes: BTreeMap::new(),
            invalid: BTreeMap::new(),
            timeline: Vec::new(),
            records: Vec::with_capacity(records),
            last_finished: Duration::ZERO,
        }
    }

    fn second(&mut self, at: Duration) -> &mut Second {
        let index = at.as_secs() as usize;
        if self.timeline.len() <= index {
            self.timeline.resize_with(index + 1, Second::default);
        }
        &mut self.timeline[index]
    }
}

pub struct Recorder {
    pub live: Live,
    keep_records: bool,
    inner: Mutex<Inner>,
}

/// Everything recorded, once the run is over.
pub struct Recorded {
    /// From the intended send time to the answer: what a visitor waits.
    pub latency: Histogram<u64>,
    /// From the actual send to the answer: what a closed-loop tool would report.
    pub service: Histogram<u64>,
    /// How late the scheduler itself was in releasing requests (the client's own lag).
    pub dispatch: Histogram<u64>,
    /// How long released requests waited for a free connection.
    pub queue: Histogram<u64>,
    pub totals: Totals,
    pub outcomes: Vec<OutcomeCount>,
    pub invalid: Vec<InvalidAnswers>,
    pub timeline: Vec<SecondSummary>,
    pub records: Vec<RequestRecord>,
    pub last_finished: Duration,
}

impl Recorder {
    pub fn new(keep_records: bool, expected_requests: u64) -> Self {
        let capacity = if keep_records {
            usize::try_from(expected_requests)
                .unwrap_or(0)
                .min(10_000_000)
        } else {
            0
        };
        Self {
            live: Live::default(),
            keep_records,
            inner: Mutex::new(Inner::new(capacity)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking request task cannot leave the counters half-updated in a way that
        // matters more than losing the whole run; keep going with what is there.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The scheduler released a request `lag` after its intended instant.
    pub fn scheduled(&self, intended: Duration, lag: Duration) {
        self.live.scheduled.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        inner.totals.scheduled += 1;
        inner.second(intended).scheduled += 1;
        let _ = inner.dispatch.record(micros(lag));
    }

    /// The request due at `intended` got a connection and went out at `at`.
    pub fn sent(&self, intended: Duration, at: Duration) {
        self.live.sent.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        inner.totals.sent += 1;
        let _ = inner.queue.record(micros(at.saturating_sub(intended)));
        inner.second(at).sent += 1;
    }

    /// The request was dropped because the backlog was full.
    pub fn dropped(&self, meta: RequestMeta, intended: Duration) {
        self.live.dropped.fetch_add(1, Ordering::Relaxed);
        let outcome = Outcome::Dropped;
        let mut inner = self.lock();
        inner.totals.count(&outcome);
        inner.second(intended).dropped += 1;
        *inner
            .outcomes
            .entry((Class::Dropped, None, None))
            .or_default() += 1;
        self.keep(&mut inner, meta, intended, None, intended, outcome);
    }

    /// The request ended with `outcome` at `finished`.
    pub fn finished(
        &self,
        meta: RequestMeta,
        intended: Duration,
        sent: Duration,
        finished: Duration,
        outcome: Outcome,
    ) {
        let live = match outcome.class() {
            Class::Accepted => &self.live.accepted,
            Class::Rejected => &self.live.rejected,
            Class::Unavailable => &self.live.unavailable,
            _ => &self.live.failed,
        };
        live.fetch_add(1, Ordering::Relaxed);

        let latency = finished.saturating_sub(intended);
        let mut inner = self.lock();
        inner.totals.count(&outcome);
        inner.last_finished = inner.last_finished.max(finished);
        let code = match outcome {
            Outcome::Rejected { code, .. } | Outcome::Unavailable { code } => Some(code),
            _ => None,
        };
        *inner
            .outcomes
            .entry((outcome.class(), outcome.status(), code))
            .or_default() += 1;
        // A refused connection took no time worth charting; every other ending did.
        let timed = outcome.class() != Class::ConnectFailed;
        if timed {
            let _ = inner.latency.record(micros(latency));
            let _ = inner.service.record(micros(finished.saturating_sub(sent)));
        }
        if let LeadKind::Invalid(kind) = meta.kind {
            *inner
                .invalid
                .entry(kind)
                .or_default()
                .entry(outcome.label())
                .or_default() += 1;
        }
        let second = inner.second(finished);
        match outcome.class() {
            Class::Accepted => second.accepted += 1,
            Class::Rejected => second.rejected += 1,
            Class::Unavailable => second.unavailable += 1,
            _ => second.failed += 1,
        }
        if outcome.status().is_some() {
            second.answered += 1;
        }
        if timed {
            let histogram = second.latency.get_or_insert_with(stats::second_histogram);
            let _ = histogram.record(micros(latency));
        }
        self.keep(&mut inner, meta, intended, Some(sent), finished, outcome);
    }

    fn keep(
        &self,
        inner: &mut Inner,
        meta: RequestMeta,
        intended: Duration,
        sent: Option<Duration>,
        finished: Duration,
        outcome: Outcome,
    ) {
        if self.keep_records {
            inner.records.push(RequestRecord {
                seq: meta.seq,
                lead_no: meta.lead_no,
                kind: meta.kind,
                campaign: meta.campaign,
                intended,
                sent,
                finished,
                outcome,
            });
        }
    }

    /// p99 of the latencies recorded so far, in milliseconds.
    pub fn p99_ms(&self) -> f64 {
        Percentiles::of(&self.lock().latency).p99_ms
    }

    /// Takes everything recorded so far (the recorder starts over empty).
    pub fn finish(&self, schedule: &Schedule) -> Recorded {
        let inner = std::mem::replace(&mut *self.lock(), Inner::new(0));
        let outcomes = inner
            .outcomes
            .iter()
            .map(|(&(class, status, code), &count)| OutcomeCount {
                label: label(class, status, code),
                class,
                status,
                code,
                count,
            })
            .collect();
        let invalid = inner
            .invalid
            .iter()
            .map(|(&kind, answers)| {
                let expected = kind.expected();
                let expected = format!("{} {}", expected.status, expected.code);
                InvalidAnswers {
                    kind,
                    sent: answers.values().sum(),
                    as_expected: answers.get(&expected).copied().unwrap_or(0),
                    accepted: answers.get("202 accepted").copied().unwrap_or(0),
                    other: answers
                        .iter()
                        .filter(|(label, _)| **label != expected)
                        .map(|(label, &count)| (label.clone(), count))
                        .collect(),
                    expected,
                }
            })
            .collect();
        let timeline = inner
            .timeline
            .iter()
            .enumerate()
            .map(|(second, s)| SecondSummary {
                second: second as u64,
                target: schedule.rate_at(second as f64 + 0.5),
                scheduled: s.scheduled,
                sent: s.sent,
                dropped: s.dropped,
                answered: s.answered,
                accepted: s.accepted,
                rejected: s.rejected,
                unavailable: s.unavailable,
                failed: s.failed,
                latency: s.latency.as_ref().map(Percentiles::of).unwrap_or_default(),
            })
            .collect();
        Recorded {
            latency: inner.latency,
            service: inner.service,
            dispatch: inner.dispatch,
            queue: inner.queue,
            totals: inner.totals,
            outcomes,
            invalid,
            timeline,
            records: inner.records,
            last_finished: inner.last_finished,
        }
    }
}

/// The same label [`Outcome::label`] gives, from the grouped key.
fn label(class: Class, status: Option<u16>, code: Option<&'static str>) -> String {
    match (class, status, code) {
        (Class::Accepted, ..) => "202 accepted".to_owned(),
        (Class::Rejected, Some(status), Some(code)) => format!("{status} {code}"),
        (Class::Unavailable, _, Some(code)) => format!("503 {code}"),
        (Class::OtherStatus, Some(status), _) => format!("{status} other"),
        (Class::ConnectFailed, ..) => "connection refused".to_owned(),
        (Class::TimedOut, ..) => "timed out".to_owned(),
        (Class::Transport, ..) => "connection broken".to_owned(),
        (Class::Dropped, ..) => "dropped (backlog full)".to_owned(),
        (class, status, code) => format!("{class:?} {status:?} {code:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn meta(seq: u64, kind: LeadKind) -> RequestMeta {
        RequestMeta {
            seq,
            lead_no: seq,
            kind,
            campaign: 0,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn latency_counts_from_the_intended_instant_not_from_the_send() {
        let recorder = Recorder::new(true, 2);
        let schedule = Schedule::new(2.0, Duration::from_secs(1), Duration::ZERO);
        let valid = LeadKind::Fresh { keyed: true };
        recorder.scheduled(ms(0), ms(0));
        recorder.scheduled(ms(500), ms(0));
        // The second request waited 300 ms for a connection, then took 10 ms.
        recorder.sent(ms(0), ms(0));
        recorder.finished(
            meta(0, valid),
            ms(0),
            ms(0),
            ms(10),
            Outcome::Accepted { id: Uuid::nil() },
        );
        recorder.sent(ms(500), ms(800));
        recorder.finished(
            meta(1, valid),
            ms(500),
            ms(800),
            ms(810),
            Outcome::Unavailable {
                code: "broker_unavailable",
            },
        );
        let recorded = recorder.finish(&schedule);
        assert_eq!(
            recorded.latency.max(),
            recorded.latency.highest_equivalent(310_000)
        );
        assert_eq!(
            recorded.service.max(),
            recorded.service.highest_equivalent(10_000)
        );
        assert_eq!(recorded.totals.accepted, 1);
        assert_eq!(recorded.totals.unavailable, 1);
        assert_eq!(recorded.totals.answered, 2);
        assert_eq!(recorded.records.len(), 2);
        assert_eq!(recorded.records[1].latency(), ms(310));
        let labels: Vec<_> = recorded.outcomes.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["202 accepted", "503 broker_unavailable"]);
        assert_eq!(recorded.timeline.len(), 1);
        assert_eq!(recorded.timeline[0].scheduled, 2);
        assert_eq!(recorded.timeline[0].target, 2.0);
    }

    #[test]
    fn invalid_leads_are_tallied_against_their_documented_answer() {
        let recorder = Recorder::new(false, 0);
        let schedule = Schedule::new(1.0, Duration::from_secs(1), Duration::ZERO);
        let bad_email = LeadKind::Invalid(InvalidKind::BadEmail);
        for (seq, outcome) in [
            Outcome::Rejected {
                status: 422,
                code: "validation_failed",
            },
            Outcome::Accepted { id: Uuid::nil() },
            Outcome::Unavailable { code: "overloaded" },
        ]
        .into_iter()
        .enumerate()
        {
            recorder.finished(meta(seq as u64, bad_email), ms(0), ms(0), ms(1), outcome);
        }
        let recorded = recorder.finish(&schedule);
        assert!(recorded.records.is_empty(), "records kept only on request");
        let answers = &recorded.invalid[0];
        assert_eq!(answers.kind, InvalidKind::BadEmail);
        assert_eq!(answers.expected, "422 validation_failed");
        assert_eq!(
            (answers.sent, answers.as_expected, answers.accepted),
            (3, 1, 1)
        );
        assert_eq!(answers.other.len(), 2);
    }

    #[test]
    fn refused_connections_and_drops_are_counted_but_not_timed() {
        let recorder = Recorder::new(true, 2);
        let schedule = Schedule::new(1.0, Duration::from_secs(2), Duration::ZERO);
        let valid = LeadKind::Fresh { keyed: false };
        recorder.finished(meta(0, valid), ms(0), ms(0), ms(2), Outcome::ConnectFailed);
        recorder.dropped(meta(1, valid), ms(1000));
        let recorded = recorder.finish(&schedule);
        assert!(recorded.latency.is_empty());
        assert_eq!(recorded.totals.connect_failed, 1);
        assert_eq!(recorded.totals.dropped, 1);
        assert_eq!(recorded.timeline[1].dropped, 1);
        assert_eq!(recorded.records[1].sent, None);
    }
}
