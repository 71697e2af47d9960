//! The numbers a run produces: latency histograms (HDR, microseconds), outcome counts,
//! and the per-second timeline the charts are drawn from.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::generator::InvalidKind;
use crate::outcome::{Class, Outcome};

/// Longest latency a histogram records exactly: one hour, in microseconds. Anything
/// longer is clamped (a request timeout is far shorter).
pub const MAX_MICROS: u64 = 3_600_000_000;

/// A latency histogram in microseconds with three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant bounds are valid")
}

/// A smaller histogram (two significant digits) for one second of the timeline.
pub fn second_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("constant bounds are valid")
}

pub fn micros(duration: std::time::Duration) -> u64 {
    let micros = u64::try_from(duration.as_micros()).unwrap_or(MAX_MICROS);
    micros.clamp(1, MAX_MICROS)
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of<T: hdrhistogram::Counter>(histogram: &Histogram<T>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            mean_ms: histogram.mean() / 1000.0,
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p90_ms: ms(histogram.value_at_quantile(0.9)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpectrumPoint {
    pub percentile: f64,
    pub latency_ms: f64,
}

/// Latency at percentiles from 0 to 99.999, for the HDR percentile-distribution chart.
pub fn spectrum(histogram: &Histogram<u64>) -> Vec<SpectrumPoint> {
    const POINTS: &[f64] = &[
        0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
    ];
    let at = |percentile: f64| SpectrumPoint {
        percentile,
        latency_ms: ms(histogram.value_at_quantile(percentile / 100.0)),
    };
    match histogram.is_empty() {
        true => Vec::new(),
        false => POINTS.iter().map(|&p| at(p)).collect(),
    }
}

/// How many requests ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Requests the schedule called for.
    pub scheduled: u64,
    /// Requests that went out (the rest were dropped).
    pub sent: u64,
    /// Never sent: the backlog was full.
    pub dropped: u64,
    /// Complete HTTP answers, whatever the status.
    pub answered: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub unavailable: u64,
    pub other_status: u64,
    pub connect_failed: u64,
    pub timed_out: u64,
    pub transport: u64,
}

impl Totals {
    pub fn count(&mut self, outcome: &Outcome) {
        match outcome.class() {
            Class::Accepted => self.accepted += 1,
            Class::Rejected => self.rejected += 1,
            Class::Unavailable => self.unavailable += 1,
            Class::OtherStatus => self.other_status += 1,
            Class::ConnectFailed => self.connect_failed += 1,
            Class::TimedOut => self.timed_out += 1,
            Class::Transport => self.transport += 1,
            Class::Dropped => self.dropped += 1,
        }
        if outcome.status().is_some() {
            self.answered += 1;
        }
    }

    /// Requests that got neither an answer nor a definite "not sent".
    pub fn errors(&self) -> u64 {
        self.connect_failed + self.timed_out + self.transport
    }

    /// Requests that got no usable answer: the errors, and unexpected statuses.
    pub fn unusable(&self) -> u64 {
        self.errors() + self.other_status
    }
}

/// One row of the outcome table: `202 accepted`, `422 validation_failed`, ….
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeCount {
    pub label: String,
    pub class: Class,
    pub status: Option<u16>,
    pub code: Option<&'static str>,
    pub count: u64,
}

impl OutcomeCount {
    /// The row `outcome` is counted in, with nothing counted yet.
    pub fn of(outcome: &Outcome) -> Self {
        Self {
            label: outcome.label(),
            class: outcome.class(),
            status: outcome.status(),
            code: outcome.code(),
            count: 0,
        }
    }
}

/// How the gateway answered one kind of invalid lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidAnswers {
    pub kind: InvalidKind,
    /// `status code` the API documents for it.
    pub expected: String,
    pub sent: u64,
    pub as_expected: u64,
    /// Answered 202: the gateway took a lead it must refuse.
    pub accepted: u64,
    /// Every other answer, by label.
    pub other: BTreeMap<String, u64>,
}

impl InvalidAnswers {
    pub fn new(kind: InvalidKind) -> Self {
        let (status, code) = kind.expected();
        Self {
            kind,
            expected: format!("{status} {code}"),
            sent: 0,
            as_expected: 0,
            accepted: 0,
            other: BTreeMap::new(),
        }
    }

    /// The other answers as the reports print them: `422 validation_failed ×3, …`.
    pub fn other_text(&self) -> String {
        let other: Vec<String> = (self.other.iter())
            .map(|(label, n)| format!("{label} ×{n}"))
            .collect();
        other.join(", ")
    }

    /// Counts one answer to a lead of this kind.
    pub fn count(&mut self, outcome: &Outcome) {
        self.sent += 1;
        self.accepted += u64::from(outcome.class() == Class::Accepted);
        match outcome.label() {
            label if label == self.expected => self.as_expected += 1,
            label => *self.other.entry(label).or_default() += 1,
        }
    }
}

/// One second of the run. Requests are counted in the second they were scheduled
/// (`scheduled`, `dropped`), sent (`sent`) or answered (the rest, and the latencies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SecondSummary {
    pub second: u64,
    /// What the schedule asked for in this second (requests per second).
    pub target: f64,
    #[serde(flatten)]
    pub counts: Totals,
    pub latency: Percentiles,
}
