//! The generic cell rate algorithm (GCRA) over a fixed-size table: memory is bounded
//! whatever the number of distinct keys (millions of IPs or addresses take the same
//! table), and a check is one lock-free compare-and-swap.
//!
//! Per key GCRA keeps one number, the theoretical arrival time (TAT): a request at `now`
//! is allowed when `max(TAT, now) + interval - period <= now`, and then moves the TAT
//! on by one interval. `count` requests may come at once, then one per interval.
//!
//! A slot is one `AtomicU64`: 16 bits of the key's hash (a fingerprint) and 48 bits of
//! TAT (milliseconds since the table was made). A key may use one of two neighbouring
//! slots; a new key takes the one whose TAT is oldest. When the table is full of live
//! keys, a new key evicts the oldest: that key's limit is forgotten early (it is limited
//! less, never more), and keys that differ only in their fingerprint's 16 bits may share
//! a state — the price of a bounded table, documented with its size.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::rate::Rate;

const TAT_BITS: u32 = 48;
const TAT_MASK: u64 = (1 << TAT_BITS) - 1;

/// What a check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit: the next request would be allowed in this many milliseconds.
    Limited {
        retry_after_ms: u64,
    },
}

/// GCRA on one stored TAT: the new TAT to store, or how long to wait.
pub fn decide(rate: Rate, tat: u64, now: u64) -> Result<u64, u64> {
    let tat = tat.max(now);
    let allow_at = (tat + rate.interval_ms()).saturating_sub(rate.period_ms());
    if now < allow_at {
        Err(allow_at - now)
    } else {
        Ok(tat + rate.interval_ms())
    }
}

pub struct Table {
    slots: Box<[AtomicU64]>,
    mask: usize,
    epoch: Instant,
}

impl Table {
    /// A table of `slots` entries (rounded up to a power of two, at least 2): 8 bytes each.
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(2).next_power_of_two();
        Self {
            slots: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            mask: slots - 1,
            epoch: Instant::now(),
        }
    }

    pub fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<AtomicU64>()
    }

    /// Milliseconds since the table was made (the clock of its TATs), from 1.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Checks one request of the key whose hash is `hash` against `rate` at `now` and,
    /// when allowed, records it.
    pub fn check(&self, hash: u64, rate: Rate, now: u64) -> Verdict {
        let (first, fingerprint) = self.place(hash);
        loop {
            let (index, current, tat) = self.slot_for(first, fingerprint);
            match decide(rate, tat, now) {
                Err(retry_after_ms) => return Verdict::Limited { retry_after_ms },
                Ok(new_tat) => {
                    let new = (fingerprint << TAT_BITS) | (new_tat & TAT_MASK);
                    if self.slots[index]
                        .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Verdict::Allowed;
                    }
                }
            }
        }
    }

    /// Gives back one request of the key (its publish failed, so a retry is not a new
    /// submission). No effect when the key's state has been evicted meanwhile.
    pub fn refund(&self, hash: u64, rate: Rate) {
        let (first, fingerprint) = self.place(hash);
        for index in [first, first ^ 1] {
            let current = self.slots[index].load(Ordering::Acquire);
            if current != 0 && current >> TAT_BITS == fingerprint {
                let tat = (current & TAT_MASK).saturating_sub(rate.interval_ms());
                let new = (fingerprint << TAT_BITS) | tat;
                let _ = self.slots[index].compare_exchange(
                    current,
                    new,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                return;
            }
        }
    }

    fn place(&self, hash: u64) -> (usize, u64) {
        ((hash as usize) & self.mask, hash >> TAT_BITS)
    }

    /// The slot holding the key, or the one a new key takes; with its raw value and TAT
    /// (0 for a new key).
    fn slot_for(&self, first: usize, fingerprint: u64) -> (usize, u64, u64) {
        let a = self.slots[first].load(Ordering::Acquire);
        let b = self.slots[first ^ 1].load(Ordering::Acquire);
        let owns = |raw: u64| raw != 0 && raw >> TAT_BITS == fingerprint;
        if owns(a) {
            (first, a, a & TAT_MASK)
        } else if owns(b) {
            (first ^ 1, b, b & TAT_MASK)
        } else if a & TAT_MASK <= b & TAT_MASK {
            (first, a, 0)
        } else {
            (first ^ 1, b, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rate(count: u32, secs: u64) -> Rate {
        Rate {
            count,
            period: Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_burst_of_count_then_one_per_interval() {
        let table = Table::new(64);
        let r = rate(3, 60);
        let now = 1_000;
        for _ in 0..3 {
            assert_eq!(table.check(42, r, now), Verdict::Allowed);
        }
        assert_eq!(
            table.check(42, r, now),
            Verdict::Limited {
                retry_after_ms: 20_000
            }
        );
        assert_eq!(
            table.check(42, r, now + 19_999),
            Verdict::Limited { retry_after_ms: 1 }
        );
        assert_eq!(table.check(42, r, now + 20_000), Verdict::Allowed);
        // Another key has its own budget.
        assert_eq!(table.check(7 << 50 | 42, r, now), Verdict::Allowed);
    }

    #[test]
    fn a_refund_gives_one_request_back() {
        let table = Table::new(64);
        let r = rate(1, 60);
        assert_eq!(table.check(5, r, 10), Verdict::Allowed);
        assert!(matches!(table.check(5, r, 10), Verdict::Limited { .. }));
        table.refund(5, r);
        assert_eq!(table.check(5, r, 10), Verdict::Allowed);
    }

    #[test]
    fn memory_stays_the_same_for_a_million_keys_and_live_keys_keep_their_state() {
        let table = Table::new(1 << 12);
        let bytes = table.bytes();
        let r = rate(1, 3600);
        let hash = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in 0..1_000_000u64 {
            table.check(hash(i), r, 1 + i / 1000);
        }
        assert_eq!(table.bytes(), bytes, "the table never grows");
        // The most recent key is still limited; a long-evicted one starts afresh.
        let last = hash(999_999);
        assert!(matches!(
            table.check(last, r, 1_001),
            Verdict::Limited { .. }
        ));
        assert_eq!(table.check(hash(1), r, 1_001), Verdict::Allowed);
    }

    #[test]
    fn concurrent_checks_never_allow_more_than_the_burst() {
        let table = std::sync::Arc::new(Table::new(64));
        let r = rate(100, 3600);
        let allowed: usize = (0..4)
            .map(|_| {
                let table = table.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .filter(|_| table.check(99, r, 5) == Verdict::Allowed)
                        .count()
                })
            })
            .map(|t| t.join().unwrap())
            .sum();
        assert_eq!(allowed, 100);
    }
}
