//! The open-loop timeline: when each request *should* be sent, decided before the run
//! starts and independent of how fast the server answers. Latency is measured from
//! these instants, so a slow server cannot slow the arrivals down and hide its own
//! latency (no coordinated omission).
//!
//! The rate rises linearly from zero to the target over the ramp-up, then stays flat:
//! the cumulative count is `N(t) = r·t²/2R` during the ramp and `r·R/2 + r·(t−R)` after,
//! and request `n` is due at `N⁻¹(n)`.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: f64,
    duration: Duration,
    ramp_up: Duration,
}

impl Schedule {
    /// `rate` requests per second (after the ramp), for `duration`, reaching the rate
    /// linearly over `ramp_up` (clamped to `duration`).
    pub fn new(rate: f64, duration: Duration, ramp_up: Duration) -> Self {
        Self {
            rate,
            duration,
            ramp_up: ramp_up.min(duration),
        }
    }

    /// How many requests fall due before the end of the run: `N(duration)`, rounded up.
    pub fn count(&self) -> u64 {
        let (duration, ramp) = (self.duration.as_secs_f64(), self.ramp_up.as_secs_f64());
        let due = self.rate * (duration - ramp / 2.0);
        // Requests 0..count are due at or before `N⁻¹(count-1) < duration`; guard the
        // floating-point edge where `due` is a whole number.
        let mut count = due.ceil().max(0.0) as u64;
        while count > 0 && self.offset(count - 1) >= self.duration {
            count -= 1;
        }
        count
    }

    /// When request `n` (from 0) is due, counted from the start of the run.
    pub fn offset(&self, n: u64) -> Duration {
        let n = n as f64;
        let ramp = self.ramp_up.as_secs_f64();
        let during_ramp = self.rate * ramp / 2.0;
        let seconds = if n < during_ramp {
            (2.0 * ramp * n / self.rate).sqrt()
        } else {
            ramp + (n - during_ramp) / self.rate
        };
        Duration::from_secs_f64(seconds)
    }

    /// The target rate at `t`, for charts.
    pub fn rate_at(&self, t: f64) -> f64 {
        let ramp = self.ramp_up.as_secs_f64();
        if t >= self.duration.as_secs_f64() {
            0.0
        } else if t < ramp {
            self.rate * t / ramp
        } else {
            self.rate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_flat_schedule_spaces_requests_evenly() {
        let schedule = Schedule::new(2000.0, secs(30.0), Duration::ZERO);
        assert_eq!(schedule.count(), 60_000);
        assert_eq!(schedule.offset(0), Duration::ZERO);
        assert_eq!(schedule.offset(1), secs(0.0005));
        assert_eq!(schedule.offset(2000), secs(1.0));
        assert!(schedule.offset(59_999) < secs(30.0));
    }

    #[test]
    fn a_fractional_rate_rounds_the_count_up_to_the_last_request_inside_the_run() {
        let schedule = Schedule::new(3.0, secs(1.5), Duration::ZERO);
        // Due at 0, 1/3, 2/3, 1, 4/3: five requests before 1.5 s.
        assert_eq!(schedule.count(), 5);
    }

    #[test]
    fn the_ramp_sends_half_the_flat_amount_and_is_monotonic() {
        let schedule = Schedule::new(1000.0, secs(10.0), secs(4.0));
        // 2000 during the ramp (triangle), 6000 after it.
        assert_eq!(schedule.count(), 8000);
        assert!((schedule.offset(2000).as_secs_f64() - 4.0).abs() < 1e-9);
        let mut previous = Duration::ZERO;
        for n in 1..schedule.count() {
            let at = schedule.offset(n);
            assert!(at > previous, "request {n} is due after request {}", n - 1);
            previous = at;
        }
        // A quarter of the ramp's requests are due in its first half.
        assert!((schedule.offset(500).as_secs_f64() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_target_rate_follows_the_ramp() {
        let schedule = Schedule::new(100.0, secs(10.0), secs(5.0));
        assert_eq!(schedule.rate_at(0.0), 0.0);
        assert_eq!(schedule.rate_at(2.5), 50.0);
        assert_eq!(schedule.rate_at(7.0), 100.0);
        assert_eq!(schedule.rate_at(10.0), 0.0);
    }

    #[test]
    fn a_ramp_longer_than_the_run_is_cut_to_the_run() {
        let schedule = Schedule::new(100.0, secs(2.0), secs(60.0));
        assert_eq!(schedule.count(), 100);
    }
}
