//! The stall watchdog: notices partitions whose lag does not go down while this instance
//! could be working on them, and asks the pipeline to rejoin the group.
//!
//! Why: a group coordinator can leave a member with an empty assignment — Tansu 0.6 does
//! it when a member joins while a crashed member is still registered (it drops the dead
//! leader without a new generation and accepts the follower's empty assignment list as
//! the group's), and a real Kafka cluster can too (session timeouts, coordinator
//! failover, static membership mistakes). librdkafka then sees only successful
//! heartbeats: no callback ever fires, the member sits idle, the lag grows. The only way
//! to see it is from the outside: committed offsets that stop moving while the topic
//! grows.
//!
//! A partition is *stalled* when its group lag is above zero and its committed offset has
//! not moved for `stall_timeout`. It is *suspect* for this instance when this instance
//! can write (no batch waiting for the database) and the partition is either not owned
//! by it or owned but not progressing. While anything is suspect the instance is not
//! ready; once the last rebalance is `stall_timeout` old (so any member that was dead at
//! that rebalance has expired by now), it heals: leave the group and join again with a
//! fresh member id, which makes the coordinator start a new generation. It heals at most
//! once per `stall_timeout`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::lag::GroupLag;

/// What the watchdog concluded from one measurement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Partitions whose committed offset has not moved for the stall timeout while they
    /// have lag, whoever owns them.
    pub stalled: Vec<i32>,
    /// Of those, the ones this instance should be worried about (see the module docs).
    pub suspect: Vec<i32>,
    /// Leave and rejoin the group now.
    pub heal: bool,
}

/// What this instance knows besides the lag.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub now: Instant,
    /// Partitions this instance owns.
    pub owned: &'a [i32],
    /// The last assignment or revocation this instance saw (or when it subscribed).
    pub last_rebalance: Instant,
    /// Whether this instance could store leads now (false while a batch waits for the
    /// database: then nothing is expected to progress, and rejoining would not help).
    pub can_write: bool,
}

#[derive(Debug)]
pub struct Watchdog {
    stall_timeout: Duration,
    /// Per partition: the committed offset last seen, and since when it has not moved
    /// while there was lag.
    progress: HashMap<i32, (Option<i64>, Instant)>,
    last_heal: Option<Instant>,
}

impl Watchdog {
    pub fn new(stall_timeout: Duration) -> Self {
        Self {
            stall_timeout,
            progress: HashMap::new(),
            last_heal: None,
        }
    }

    pub fn observe(&mut self, lag: &GroupLag, context: Context<'_>) -> Verdict {
        let now = context.now;
        let mut verdict = Verdict::default();
        for (&partition, position) in lag {
            let entry = self
                .progress
                .entry(partition)
                .or_insert((position.committed, now));
            if entry.0 != position.committed || position.lag == 0 {
                *entry = (position.committed, now);
            }
            if position.lag > 0 && now.duration_since(entry.1) >= self.stall_timeout {
                verdict.stalled.push(partition);
            }
        }
        self.progress.retain(|p, _| lag.contains_key(p));
        if context.can_write {
            verdict.suspect = verdict.stalled.clone();
        }
        let settled = now.duration_since(context.last_rebalance) >= self.stall_timeout;
        let rested = self
            .last_heal
            .is_none_or(|at| now.duration_since(at) >= self.stall_timeout);
        verdict.heal = !verdict.suspect.is_empty() && settled && rested;
        if verdict.heal {
            self.last_heal = Some(now);
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lag::PartitionLag;

    const STALL: Duration = Duration::from_secs(10);

    fn lag(positions: &[(i32, Option<i64>, i64)]) -> GroupLag {
        positions
            .iter()
            .map(|&(p, committed, high)| {
                (
                    p,
                    PartitionLag {
                        committed,
                        high,
                        lag: high - committed.unwrap_or(0),
                    },
                )
            })
            .collect()
    }

    fn at(start: Instant, secs: u64, owned: &[i32], last_rebalance: Instant) -> Context<'_> {
        Context {
            now: start + Duration::from_secs(secs),
            owned,
            last_rebalance,
            can_write: true,
        }
    }

    #[test]
    fn an_idle_member_of_a_group_whose_offsets_stand_still_heals_once_the_stall_is_old_enough() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(STALL);
        let stuck = lag(&[(0, Some(10), 50), (1, Some(20), 20)]);
        // The empty assignment arrived at 3 s.
        let assigned = start + Duration::from_secs(3);
        assert_eq!(
            watchdog.observe(&stuck, at(start, 0, &[], assigned)),
            Verdict::default()
        );
        let verdict = watchdog.observe(&stuck, at(start, 10, &[], assigned));
        assert_eq!(verdict.stalled, vec![0], "partition 1 has no lag");
        assert_eq!(verdict.suspect, vec![0]);
        assert!(!verdict.heal, "the empty assignment is only 7 s old");
        let verdict = watchdog.observe(&stuck, at(start, 13, &[], assigned));
        assert!(verdict.heal);
        // Not again before another stall timeout has passed.
        assert!(!watchdog.observe(&stuck, at(start, 18, &[], assigned)).heal);
        assert!(watchdog.observe(&stuck, at(start, 23, &[], assigned)).heal);
    }

    #[test]
    fn progress_or_an_empty_partition_is_not_a_stall() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(STALL);
        let long_ago = start;
        for (secs, committed) in [(0, 10), (8, 30), (16, 50), (24, 70)] {
            let moving = lag(&[(0, Some(committed), committed + 40)]);
            let verdict = watchdog.observe(&moving, at(start, secs, &[], long_ago));
            assert!(
                verdict.stalled.is_empty(),
                "committed offsets move: {verdict:?}"
            );
        }
        let drained = lag(&[(0, Some(70), 70)]);
        let verdict = watchdog.observe(&drained, at(start, 60, &[], long_ago));
        assert!(verdict.stalled.is_empty());
    }

    #[test]
    fn a_stall_while_the_database_is_down_is_expected_and_never_healed() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(STALL);
        let stuck = lag(&[(0, Some(10), 50)]);
        let waiting = |secs| Context {
            can_write: false,
            ..at(start, secs, &[0], start)
        };
        watchdog.observe(&stuck, waiting(0));
        let verdict = watchdog.observe(&stuck, waiting(30));
        assert_eq!(verdict.stalled, vec![0]);
        assert!(verdict.suspect.is_empty() && !verdict.heal, "{verdict:?}");
    }
}
