//! Collects what happens during a run into [`Measured`], the one model of a run's
//! results: the recorder fills it as requests finish, and the report, the
//! reconciliation and the tests read it. The progress line takes the totals and the p99
//! so far once a second.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::generator::{InvalidKind, LeadKind};
use crate::outcome::{Class, Outcome, RequestRecord};
use crate::schedule::Schedule;
use crate::stats::{
    self, micros, InvalidAnswers, OutcomeCount, Percentiles, SecondSummary, Totals,
};

/// Everything a run measured.
pub struct Measured {
    /// From the intended send time to the answer: what a visitor waits.
    pub latency: Histogram<u64>,
    /// From the actual send to the answer: what a closed-loop tool would report.
    pub service: Histogram<u64>,
    /// How late the scheduler itself was in releasing requests (the client's own lag).
    pub dispatch: Histogram<u64>,
    /// How long released requests waited for a free connection.
    pub queue: Histogram<u64>,
    pub totals: Totals,
    /// One row per distinct answer, in [`Class`] order.
    pub outcomes: BTreeMap<OutcomeKey, OutcomeCount>,
    /// How each kind of invalid lead was answered.
    pub invalid: BTreeMap<InvalidKind, InvalidAnswers>,
    pub timeline: Vec<SecondSummary>,
    /// Every request, if the run kept them.
    pub records: Vec<RequestRecord>,
    /// Offset of the last answer.
    pub last_finished: Duration,
    /// Most requests already waiting for a connection when another fell due.
    pub peak_backlog: usize,
}

impl Default for Measured {
    fn default() -> Self {
        Self {
            latency: stats::histogram(),
            service: stats::histogram(),
            dispatch: stats::histogram(),
            queue: stats::histogram(),
            totals: Totals::default(),
            outcomes: BTreeMap::new(),
            invalid: BTreeMap::new(),
            timeline: Vec::new(),
            records: Vec::new(),
            last_finished: Duration::ZERO,
            peak_backlog: 0,
        }
    }
}

/// A row of the outcome table: class, status and problem code.
pub type OutcomeKey = (Class, Option<u16>, Option<&'static str>);

#[derive(Default)]
struct Inner {
    measured: Measured,
    /// The latencies of each second of the timeline.
    seconds: Vec<Option<Histogram<u32>>>,
    /// Requests released and waiting for a connection: the client's backlog.
    waiting: usize,
}

impl Inner {
    fn second(&mut self, at: Duration) -> &mut SecondSummary {
        let index = at.as_secs() as usize;
        let timeline = &mut self.measured.timeline;
        if timeline.len() <= index {
            timeline.resize_with(index + 1, SecondSummary::default);
            self.seconds.resize_with(index + 1, || None);
        }
        &mut timeline[index]
    }

    /// Counts how `record` ended (the totals, its answer's row, the second `at` and its
    /// `latency` in µs, if timed) and keeps it if asked.
    fn ended(&mut self, record: RequestRecord, at: Duration, latency: Option<u64>, keep: bool) {
        let outcome = record.outcome;
        self.second(at).counts.count(&outcome);
        if let Some(latency) = latency {
            let histogram =
                self.seconds[at.as_secs() as usize].get_or_insert_with(stats::second_histogram);
            let _ = histogram.record(latency);
        }
        self.measured.totals.count(&outcome);
        let key = (outcome.class(), outcome.status(), outcome.code());
        let row = self.measured.outcomes.entry(key);
        row.or_insert_with(|| OutcomeCount::of(&outcome)).count += 1;
        if keep {
            self.measured.records.push(record);
        }
    }
}

pub struct Recorder {
    keep_records: bool,
    inner: Mutex<Inner>,
}

impl Recorder {
    pub fn new(keep_records: bool, expected_requests: u64) -> Self {
        let mut inner = Inner::default();
        if keep_records {
            let records = &mut inner.measured.records;
            records.reserve(expected_requests.min(10_000_000) as usize);
        }
        let inner = Mutex::new(inner);
        Self {
            keep_records,
            inner,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking request task cannot leave the counters half-updated in a way that
        // matters more than losing the whole run; keep going with what is there.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The scheduler released the request due at `intended`, `lag` late. It waits for a
    /// connection (`true`) unless `max_backlog` requests already do; then it is not sent,
    /// and [`dropped`](Self::dropped) follows.
    pub fn scheduled(&self, intended: Duration, lag: Duration, max_backlog: usize) -> bool {
        let mut inner = self.lock();
        let waits = inner.waiting < max_backlog;
        if waits {
            inner.measured.peak_backlog = inner.measured.peak_backlog.max(inner.waiting);
            inner.waiting += 1;
        }
        inner.measured.totals.scheduled += 1;
        let _ = inner.measured.dispatch.record(micros(lag));
        inner.second(intended).counts.scheduled += 1;
        waits
    }

    /// The request due at `intended` got a connection and went out at `at`.
    pub fn sent(&self, intended: Duration, at: Duration) {
        let mut inner = self.lock();
        inner.waiting = inner.waiting.saturating_sub(1);
        inner.measured.totals.sent += 1;
        let _ = inner
            .measured
            .queue
            .record(micros(at.saturating_sub(intended)));
        inner.second(at).counts.sent += 1;
    }

    /// The request was dropped because the backlog was full (`record` as planned).
    pub fn dropped(&self, record: RequestRecord) {
        self.lock()
            .ended(record, record.intended, None, self.keep_records);
    }

    /// The request planned as `record` went out at `sent` and ended with `outcome` at
    /// `finished`.
    pub fn finished(
        &self,
        mut record: RequestRecord,
        sent: Duration,
        finished: Duration,
        outcome: Outcome,
    ) {
        (record.sent, record.finished, record.outcome) = (Some(sent), finished, outcome);
        let intended = record.intended;
        let latency = micros(finished.saturating_sub(intended));
        let mut inner = self.lock();
        let measured = &mut inner.measured;
        measured.last_finished = measured.last_finished.max(finished);
        // A refused connection took no time worth charting; every other ending did.
        let timed = outcome.class() != Class::ConnectFailed;
        if timed {
            let _ = measured.latency.record(latency);
            let _ = measured
                .service
                .record(micros(finished.saturating_sub(sent)));
        }
        // Only a sent invalid lead has an answer to tally (a dropped one was never sent).
        if let LeadKind::Invalid(kind) = record.kind {
            let answers = measured.invalid.entry(kind);
            answers
                .or_insert_with(|| InvalidAnswers::new(kind))
                .count(&outcome);
        }
        let timed_latency = timed.then_some(latency);
        inner.ended(record, finished, timed_latency, self.keep_records);
    }

    /// The totals so far, the p99 of the latencies so far in milliseconds, and the
    /// backlog.
    pub fn so_far(&self) -> (Totals, f64, usize) {
        let inner = self.lock();
        let p99 = Percentiles::of(&inner.measured.latency).p99_ms;
        (inner.measured.totals, p99, inner.waiting)
    }

    /// Takes everything recorded so far (the recorder starts over empty), each second
    /// with its target and latency percentiles.
    pub fn finish(&self, schedule: &Schedule) -> Measured {
        let inner = std::mem::take(&mut *self.lock());
        let mut measured = inner.measured;
        for (index, (second, latency)) in
            measured.timeline.iter_mut().zip(&inner.seconds).enumerate()
        {
            second.second = index as u64;
            second.target = schedule.rate_at(index as f64 + 0.5);
            second.latency = latency.as_ref().map(Percentiles::of).unwrap_or_default();
        }
        measured
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::InvalidKind;
    use uuid::Uuid;

    fn planned(seq: u64, kind: LeadKind, intended: Duration) -> RequestRecord {
        RequestRecord {
            seq,
            lead_no: seq,
            kind,
            campaign: 0,
            intended,
            sent: None,
            finished: intended,
            outcome: Outcome::Dropped,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A recorder that keeps its records, for a flat schedule of `rate` for `secs`.
    fn keeping_records(rate: f64, secs: u64) -> (Recorder, Schedule) {
        let schedule = Schedule::new(rate, Duration::from_secs(secs), Duration::ZERO);
        (Recorder::new(true, schedule.count()), schedule)
    }

    #[test]
    fn latency_counts_from_the_intended_instant_not_from_the_send() {
        let (recorder, schedule) = keeping_records(2.0, 1);
        let valid = LeadKind::Fresh { keyed: true };
        assert!(recorder.scheduled(ms(0), ms(0), 2));
        assert!(recorder.scheduled(ms(500), ms(0), 2));
        assert_eq!(recorder.so_far().2, 2, "both wait for a connection");
        // The second request waited 300 ms for a connection, then took 10 ms.
        recorder.sent(ms(0), ms(0));
        recorder.finished(
            planned(0, valid, ms(0)),
            ms(0),
            ms(10),
            Outcome::Accepted { id: Uuid::nil() },
        );
        recorder.sent(ms(500), ms(800));
        recorder.finished(
            planned(1, valid, ms(500)),
            ms(800),
            ms(810),
            Outcome::Unavailable {
                code: "broker_unavailable",
            },
        );
        let measured = recorder.finish(&schedule);
        assert_eq!(
            measured.latency.max(),
            measured.latency.highest_equivalent(310_000)
        );
        assert_eq!(
            measured.service.max(),
            measured.service.highest_equivalent(10_000)
        );
        assert_eq!(measured.totals.accepted, 1);
        assert_eq!(measured.totals.unavailable, 1);
        assert_eq!(measured.totals.answered, 2);
        assert_eq!(measured.records.len(), 2);
        assert_eq!(measured.records[1].latency(), ms(310));
        let labels: Vec<_> = (measured.outcomes.values())
            .map(|o| o.label.as_str())
            .collect();
        assert_eq!(labels, ["202 accepted", "503 broker_unavailable"]);
        assert_eq!(measured.timeline.len(), 1);
        assert_eq!(measured.timeline[0].counts.scheduled, 2);
        assert_eq!(measured.timeline[0].target, 2.0);
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
            recorder.finished(planned(seq as u64, bad_email, ms(0)), ms(0), ms(1), outcome);
        }
        let measured = recorder.finish(&schedule);
        assert!(measured.records.is_empty(), "records kept only on request");
        let answers = &measured.invalid[&InvalidKind::BadEmail];
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
        let (recorder, schedule) = keeping_records(1.0, 2);
        let valid = LeadKind::Fresh { keyed: false };
        assert!(recorder.scheduled(ms(0), ms(0), 1));
        assert!(
            !recorder.scheduled(ms(1000), ms(0), 1),
            "one waits: the backlog is full"
        );
        recorder.sent(ms(0), ms(0));
        recorder.finished(
            planned(0, valid, ms(0)),
            ms(0),
            ms(2),
            Outcome::ConnectFailed,
        );
        recorder.dropped(planned(1, valid, ms(1000)));
        let measured = recorder.finish(&schedule);
        assert!(measured.latency.is_empty());
        assert_eq!(measured.totals.connect_failed, 1);
        assert_eq!(measured.totals.dropped, 1);
        assert_eq!((measured.totals.scheduled, measured.peak_backlog), (2, 0));
        assert_eq!(measured.timeline[1].counts.dropped, 1);
        assert_eq!(measured.records[1].sent, None);
    }
}
