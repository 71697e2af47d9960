//! The live progress line on stderr, once a second: time, target and achieved rates,
//! answers by class, the client's backlog and the p99 so far. On a terminal it
//! rewrites one line; otherwise (a log, a CI job) it prints one line per second.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::recorder::Recorder;
use crate::schedule::Schedule;

pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Progress {
    pub fn spawn(
        recorder: Arc<Recorder>,
        waiting: Arc<AtomicUsize>,
        start: Instant,
        schedule: Schedule,
        duration: Duration,
    ) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let terminal = std::io::stderr().is_terminal();
            let mut ticker =
                tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
            let mut previous = (0u64, 0u64);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = &mut stopped => break,
                }
                let elapsed = start.elapsed();
                let live = &recorder.live;
                let sent = live.sent.load(Ordering::Relaxed);
                let accepted = live.accepted.load(Ordering::Relaxed);
                let rejected = live.rejected.load(Ordering::Relaxed);
                let unavailable = live.unavailable.load(Ordering::Relaxed);
                let failed = live.failed.load(Ordering::Relaxed);
                let dropped = live.dropped.load(Ordering::Relaxed);
                let answered = accepted + rejected + unavailable + failed;
                let line = format!(
                    "{:>5.0}s/{:.0}s  target {:>6.0}/s  sent {:>6}/s  answered {:>6}/s  | 202 {accepted}  4xx {rejected}  503 {unavailable}  errors {failed}  dropped {dropped}  backlog {}  | p99 {:.1} ms",
                    elapsed.as_secs_f64(),
                    duration.as_secs_f64(),
                    schedule.rate_at(elapsed.as_secs_f64() - 0.5),
                    sent - previous.0,
                    answered - previous.1,
                    waiting.load(Ordering::Relaxed),
                    recorder.p99_ms(),
                );
                previous = (sent, answered);
                let mut err = std::io::stderr().lock();
                let _ = if terminal {
                    write!(err, "\r\x1b[2K{line}")
                } else {
                    writeln!(err, "{line}")
                };
                let _ = err.flush();
            }
            if terminal {
                let _ = writeln!(std::io::stderr());
            }
        });
        Self { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
