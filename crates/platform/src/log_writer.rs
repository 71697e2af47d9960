//! Where log lines go: appended to a buffer by the thread that logs, written to stdout by
//! a thread of its own every [`FLUSH_INTERVAL`] (or as soon as [`FLUSH_BYTES`] wait).
//!
//! A request never waits for a `write` system call, and never wakes another thread
//! either: the writer sleeps on a timer, not on each line. A writer woken per line (as
//! `tracing-appender`'s is) costs two context switches per log line, which at a low rate
//! is ≈ 1.5 context switches and 15–28 µs of CPU per lead (`make bench`, `low_rates`
//! section, per-thread figures). Lines reach stdout at most [`FLUSH_INTERVAL`] later.
//!
//! If stdout cannot keep up (more than [`MAX_BUFFERED_BYTES`] waiting), further lines
//! are dropped rather than blocking the service, and the writer says how many it
//! dropped. Dropping the [`WriterGuard`] writes what is buffered.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// A buffer this full is written at once.
pub const FLUSH_BYTES: usize = 256 * 1024;
/// Lines beyond this are dropped until the writer catches up.
pub const MAX_BUFFERED_BYTES: usize = 16 * 1024 * 1024;

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    dropped: u64,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Set once a full buffer has asked for a write, so that only one line wakes the writer.
    asked: AtomicBool,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `MakeWriter` of the log subscriber.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Keep it until the process exits: dropping it writes the buffered lines.
#[must_use = "dropping the guard stops the log writer"]
pub struct WriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A writer to `out` (stdout in the services) and the guard that flushes it.
pub fn batched(out: impl Write + Send + 'static) -> io::Result<(BatchedWriter, WriterGuard)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        wake: Condvar::new(),
        asked: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    });
    let writer = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_until_stopped(&writer, out))?;
    Ok((
        BatchedWriter {
            shared: shared.clone(),
        },
        WriterGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_until_stopped(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let stopping = shared.stop.load(Ordering::SeqCst);
        let (mut bytes, dropped) = {
            let mut pending = shared.lock();
            if !stopping && pending.bytes.len() < FLUSH_BYTES {
                pending = shared
                    .wake
                    .wait_timeout(pending, FLUSH_INTERVAL)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            shared.asked.store(false, Ordering::SeqCst);
            let dropped = std::mem::take(&mut pending.dropped);
            (
                std::mem::replace(&mut pending.bytes, std::mem::take(&mut spare)),
                dropped,
            )
        };
        // A closed stdout (a log collector gone) loses the lines, nothing else.
        let _ = out.write_all(&bytes).and_then(|()| out.flush());
        if dropped > 0 {
            let _ = writeln!(out, "{dropped} log lines dropped: stdout did not keep up");
        }
        bytes.clear();
        spare = bytes;
        if stopping {
            return;
        }
    }
}

/// One log line's write: appended to the buffer under its lock.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut pending = self.shared.lock();
        if pending.bytes.len() + line.len() > MAX_BUFFERED_BYTES {
            pending.dropped += 1;
            return Ok(line.len());
        }
        pending.bytes.extend_from_slice(line);
        let full = pending.bytes.len() >= FLUSH_BYTES;
        drop(pending);
        if full && !self.shared.asked.swap(true, Ordering::SeqCst) {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// stdout stand-in: what was written, and how many writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut seen = self.0.lock().unwrap();
            seen.0.extend_from_slice(buf);
            seen.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_in_order_in_few_writes_and_flushed_by_the_guard() {
        let sink = Sink::default();
        let (writer, guard) = batched(sink.clone()).unwrap();
        for n in 0..1000 {
            writeln!(writer.make_writer(), "line {n}").unwrap();
        }
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let expected: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
        assert!(writes < 20, "{writes} writes for 1,000 lines");
    }

    #[test]
    fn a_line_reaches_the_output_within_the_flush_interval() {
        let sink = Sink::default();
        let (writer, _guard) = batched(sink.clone()).unwrap();
        writeln!(writer.make_writer(), "soon").unwrap();
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 10;
        while sink.0.lock().unwrap().0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "not written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.0.lock().unwrap().0, b"soon\n");
    }

    /// An output that never returns: the buffer fills, lines beyond the bound are
    /// dropped, and logging never blocks.
    struct Stuck(Arc<AtomicBool>);

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            while !self.0.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(io::Error::other("closed"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_output_drops_lines_instead_of_blocking() {
        let release = Arc::new(AtomicBool::new(false));
        let (writer, guard) = batched(Stuck(release.clone())).unwrap();
        let line = vec![b'x'; 1024];
        let started = std::time::Instant::now();
        for _ in 0..(2 * MAX_BUFFERED_BYTES / line.len()) {
            writer.make_writer().write_all(&line).unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        let pending = writer.shared.lock();
        assert!(pending.bytes.len() <= MAX_BUFFERED_BYTES);
        assert!(pending.dropped > 0);
        drop(pending);
        release.store(true, Ordering::SeqCst);
        drop(guard);
    }
}
