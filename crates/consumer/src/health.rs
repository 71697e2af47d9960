//! Readiness of the consumer, owned by one writer: the [`crate::monitor::Monitor`]
//! reports the facts it measured ([`Facts`]) every `lag_interval`, and shutdown marks
//! the instance stopping. `/readyz` and the `leadpipe_consumer_ready` gauge read it.
//!
//! Ready means: the database answers (or the batch being written is not waiting for
//! it), the broker answers, no partition is stalled where this instance could be working
//! (see [`crate::watchdog`]), and it is not stopping. Until the first measurement it is
//! not ready.

use std::sync::Mutex;

use prometheus::IntGauge;

/// What the monitor saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub database: bool,
    pub broker: bool,
    /// Partitions with lag stand still while this instance could work on them.
    pub stalled: bool,
}

#[derive(Debug, Default)]
struct State {
    facts: Option<Facts>,
    stopping: bool,
}

pub struct Health {
    state: Mutex<State>,
    gauge: IntGauge,
}

impl Health {
    pub fn new(gauge: IntGauge) -> Self {
        gauge.set(0);
        Self {
            state: Mutex::new(State::default()),
            gauge,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a measurement; logs what changed.
    pub fn update(&self, facts: Facts) {
        let mut state = self.state();
        let before = state.facts;
        let changed = |pick: fn(&Facts) -> bool| before.map(|b| pick(&b)) != Some(pick(&facts));
        if changed(|f| f.database) {
            if facts.database {
                tracing::info!("database reachable");
            } else {
                tracing::warn!("database unavailable: not ready");
            }
        }
        if changed(|f| f.broker) {
            if facts.broker {
                tracing::info!("broker reachable");
            } else {
                tracing::warn!("broker unreachable: not ready");
            }
        }
        if before.is_some_and(|b| b.stalled != facts.stalled) || (before.is_none() && facts.stalled)
        {
            if facts.stalled {
                tracing::warn!("partitions with lag stand still: not ready");
            } else {
                tracing::info!("no stalled partition any more");
            }
        }
        state.facts = Some(facts);
        self.gauge.set(i64::from(Self::ready(&state)));
    }

    pub fn set_stopping(&self) {
        let mut state = self.state();
        state.stopping = true;
        self.gauge.set(0);
    }

    fn ready(state: &State) -> bool {
        !state.stopping
            && state
                .facts
                .is_some_and(|f| f.database && f.broker && !f.stalled)
    }

    pub fn is_ready(&self) -> bool {
        Self::ready(&self.state())
    }

    /// Why it is not ready (empty when it is), for `/readyz`.
    pub fn problems(&self) -> Vec<&'static str> {
        let state = self.state();
        let mut problems = Vec::new();
        if state.stopping {
            problems.push("stopping");
        }
        match state.facts {
            None => problems.push("starting"),
            Some(facts) => {
                if !facts.database {
                    problems.push("database unavailable");
                }
                if !facts.broker {
                    problems.push("broker unreachable");
                }
                if facts.stalled {
                    problems.push("partitions with lag stand still");
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: Facts = Facts {
        database: true,
        broker: true,
        stalled: false,
    };

    #[test]
    fn ready_only_when_every_fact_is_good_and_not_stopping() {
        let gauge = IntGauge::new("ready", "test").unwrap();
        let health = Health::new(gauge.clone());
        assert!(!health.is_ready());
        assert_eq!(health.problems(), vec!["starting"]);
        health.update(GOOD);
        assert!(health.is_ready());
        assert_eq!(gauge.get(), 1);
        health.update(Facts {
            database: false,
            stalled: true,
            ..GOOD
        });
        assert_eq!(gauge.get(), 0);
        assert_eq!(
            health.problems(),
            vec!["database unavailable", "partitions with lag stand still"]
        );
        health.update(GOOD);
        health.set_stopping();
        assert!(!health.is_ready());
        assert_eq!(gauge.get(), 0);
        assert_eq!(health.problems(), vec!["stopping"]);
    }
}
