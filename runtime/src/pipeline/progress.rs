//! Progress of an `INSERT` as events (rows, raw bytes, time), at most four
//! a second and one at the end; who shows them — the CLI's live line on a
//! terminal, an embedder's metrics — is the consumer's business.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where an `INSERT` stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressEvent {
    /// `source → sink`.
    pub label: String,
    /// Rows written so far.
    pub rows: u64,
    /// Raw bytes the source read so far (0 for sources that produce rows).
    pub bytes: u64,
    /// Since the statement started.
    pub elapsed: Duration,
    /// The statement finished (or stopped): the last event.
    pub done: bool,
}

/// A consumer of [`ProgressEvent`]s (`RunConfig::progress`).
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Fn(&ProgressEvent) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// Counts an `INSERT`'s rows and bytes and tells the sink, throttled.
pub(super) struct Progress {
    label: String,
    sink: Option<ProgressSink>,
    started: Instant,
    told: Instant,
    rows: u64,
    bytes: u64,
}

impl Progress {
    pub(super) fn new(label: &str, sink: Option<ProgressSink>) -> Progress {
        let now = Instant::now();
        Progress { label: label.to_owned(), sink, started: now, told: now, rows: 0, bytes: 0 }
    }

    pub(super) fn add(&mut self, rows: u64, bytes: u64) {
        self.rows += rows;
        self.bytes += bytes;
        if self.sink.is_some() && self.told.elapsed() >= Duration::from_millis(250) {
            self.told = Instant::now();
            self.tell(false);
        }
    }

    fn tell(&self, done: bool) {
        if let Some(sink) = &self.sink {
            (sink.0)(&ProgressEvent {
                label: self.label.clone(),
                rows: self.rows,
                bytes: self.bytes,
                elapsed: self.started.elapsed(),
                done,
            });
        }
    }

    pub(super) fn finish(&self) {
        self.tell(true);
    }
}
