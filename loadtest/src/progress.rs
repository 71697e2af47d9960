//! The live progress on stderr, once a second: time, target and achieved rates, answers
//! by class, the client's backlog and the p99 so far. On a terminal it is an `indicatif`
//! bar over the run's duration; otherwise (a log, a CI job) the bar is hidden and the
//! same line is printed once a second.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
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
        start: Instant,
        schedule: Schedule,
        duration: Duration,
    ) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(duration.as_secs().max(1)),
            ProgressDrawTarget::stderr(),
        )
        .with_style(
            ProgressStyle::with_template("{pos:>4}/{len}s [{bar:24}] {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut ticker =
                tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
            let mut previous = (0u64, 0u64);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = &mut stopped => break,
                }
                let elapsed = start.elapsed();
                let (t, p99, backlog) = recorder.so_far();
                let failed = t.unusable();
                let answered = t.accepted + t.rejected + t.unavailable + failed;
                let line = format!(
                    "target {:>6.0}/s  sent {:>6}/s  answered {:>6}/s  | 202 {}  4xx {}  503 {}  errors {failed}  dropped {}  backlog {}  | p99 {p99:.1} ms",
                    schedule.rate_at(elapsed.as_secs_f64() - 0.5),
                    t.sent - previous.0,
                    answered - previous.1,
                    t.accepted,
                    t.rejected,
                    t.unavailable,
                    t.dropped,
                    backlog,
                );
                previous = (t.sent, answered);
                if bar.is_hidden() {
                    eprintln!(
                        "{:>5.0}s/{:.0}s  {line}",
                        elapsed.as_secs_f64(),
                        duration.as_secs_f64()
                    );
                } else {
                    bar.set_position(elapsed.as_secs());
                    bar.set_message(line);
                }
            }
            bar.finish();
        });
        Self { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
