//! Capped exponential backoff with jitter, for retrying a batch while the database or the
//! broker is unavailable. Many consumers retrying against a recovering database should
//! not all knock at the same instant, hence the jitter.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub const INITIAL: Duration = Duration::from_millis(100);
    pub const MAX: Duration = Duration::from_secs(5);

    pub fn new() -> Self {
        Self::with_limits(Self::INITIAL, Self::MAX)
    }

    pub fn with_limits(initial: Duration, max: Duration) -> Self {
        Self {
            next: initial.min(max),
            max,
        }
    }

    /// The delay before the next attempt: the nominal delay (doubling from `initial` up
    /// to `max`) minus up to half of it at random.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = nominal / 2;
        let jitter_nanos = if half.is_zero() {
            0
        } else {
            fastrand::u64(..u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1))
        };
        nominal - Duration::from_nanos(jitter_nanos)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_never_drop_below_half() {
        let mut backoff =
            Backoff::with_limits(Duration::from_millis(100), Duration::from_millis(1000));
        let nominal = [100, 200, 400, 800, 1000, 1000, 1000];
        for expected in nominal {
            let delay = backoff.next_delay();
            let expected = Duration::from_millis(expected);
            assert!(
                delay <= expected && delay >= expected / 2,
                "{delay:?} not within [{:?}, {expected:?}]",
                expected / 2
            );
        }
    }
}
