//! An in-memory sink for handler tests: records what was published and can be told to
//! fail, to be slow, or to be still starting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use leadpipe_domain::LeadMessage;

use super::{LeadSink, PublishError, Record};

#[derive(Debug, Clone)]
pub enum MemorySinkMode {
    /// Acknowledge at once.
    Accept,
    /// Acknowledge after a delay (to hold publishes in flight).
    Delay(Duration),
    /// Fail every publish with this error.
    Fail(PublishError),
}

pub struct MemorySink {
    mode: Mutex<MemorySinkMode>,
    started: AtomicBool,
    published: Mutex<Vec<LeadMessage<'static>>>,
    records: Mutex<Vec<Record>>,
    flushed: AtomicBool,
}

impl MemorySink {
    pub fn new() -> Self {
        Self {
            mode: Mutex::new(MemorySinkMode::Accept),
            started: AtomicBool::new(true),
            published: Mutex::new(Vec::new()),
            records: Mutex::new(Vec::new()),
            flushed: AtomicBool::new(false),
        }
    }

    pub fn set_mode(&self, mode: MemorySinkMode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    pub fn set_started(&self, started: bool) {
        self.started.store(started, Ordering::SeqCst);
    }

    /// Every message acknowledged so far, in order.
    pub fn published(&self) -> Vec<LeadMessage<'static>> {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every record acknowledged so far, as it would be on the topic (key and bytes).
    pub fn records(&self) -> Vec<Record> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn was_flushed(&self) -> bool {
        self.flushed.load(Ordering::SeqCst)
    }
}

impl Default for MemorySink {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl LeadSink for MemorySink {
    async fn publish(&self, record: &Record) -> Result<(), PublishError> {
        let mode = self.mode.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match mode {
            MemorySinkMode::Accept => {}
            MemorySinkMode::Delay(delay) => tokio::time::sleep(delay).await,
            MemorySinkMode::Fail(error) => return Err(error),
        }
        let message = serde_json::from_slice::<LeadMessage<'_>>(&record.payload)
            .expect("the gateway writes lead messages")
            .into_owned();
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(())
    }

    fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    async fn flush(&self, _timeout: Duration) {
        self.flushed.store(true, Ordering::SeqCst);
    }
}
