//! Progress of an `INSERT` as events (rows, raw bytes, time), at most four
//! a second and one at the end; who shows them — the CLI's live line on a
//! terminal, an embedder's metrics — is the consumer's business.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lookup::{LookupCounters, LookupStats};

/// Where an `INSERT` stands. The first event comes when the statement
/// starts (saying whether it resumed), the last when it finished or stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressEvent {
    /// `source → sink`.
    pub label: String,
    /// Rows written so far, those of earlier runs a checkpoint holds included.
    pub rows: u64,
    /// Rows the restored checkpoint held (0 on a fresh start).
    pub rows_at_start: u64,
    /// The checkpoint the statement resumed from, if any.
    pub resumed_from: Option<u64>,
    /// Checkpoints completed in this run.
    pub checkpoints: u64,
    /// Raw bytes the source read so far (0 for sources that produce rows).
    pub bytes: u64,
    /// Since the statement started.
    pub elapsed: Duration,
    /// The statement starts: the first event.
    pub started: bool,
    /// The statement finished (or stopped): the last event.
    pub done: bool,
    /// The lookup join's counters, when the statement has one.
    pub lookup: Option<LookupStats>,
}

impl ProgressEvent {
    /// Rows per second in this run.
    pub fn rate(&self) -> f64 {
        (self.rows - self.rows_at_start) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
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
    rows_at_start: u64,
    resumed_from: Option<u64>,
    checkpoints: u64,
    bytes: u64,
    lookups: Vec<Arc<LookupCounters>>,
}

impl Progress {
    /// Starts counting from `restored` (checkpoint id, rows it held) and
    /// tells the sink that the statement started.
    pub(super) fn new(label: &str, sink: Option<ProgressSink>, restored: Option<(u64, u64)>) -> Progress {
        let now = Instant::now();
        let rows = restored.map_or(0, |(_, rows)| rows);
        let progress = Progress {
            label: label.to_owned(),
            sink,
            started: now,
            told: now,
            rows,
            rows_at_start: rows,
            resumed_from: restored.map(|(id, _)| id),
            checkpoints: 0,
            bytes: 0,
            lookups: Vec::new(),
        };
        progress.tell(true, false);
        progress
    }

    /// Counts the lookups of these readers' joins in the events.
    pub(super) fn with_lookups(mut self, lookups: Vec<Arc<LookupCounters>>) -> Progress {
        self.lookups = lookups;
        self
    }

    /// A checkpoint completed.
    pub(super) fn checkpointed(&mut self) {
        self.checkpoints += 1;
    }

    pub(super) fn add(&mut self, rows: u64, bytes: u64) {
        self.rows += rows;
        self.bytes += bytes;
        if self.sink.is_some() && self.told.elapsed() >= Duration::from_millis(250) {
            self.told = Instant::now();
            self.tell(false, false);
        }
    }

    fn tell(&self, started: bool, done: bool) {
        if let Some(sink) = &self.sink {
            (sink.0)(&ProgressEvent {
                label: self.label.clone(),
                rows: self.rows,
                rows_at_start: self.rows_at_start,
                resumed_from: self.resumed_from,
                checkpoints: self.checkpoints,
                bytes: self.bytes,
                elapsed: self.started.elapsed(),
                started,
                done,
                lookup: (!self.lookups.is_empty()).then(|| {
                    self.lookups.iter().map(|c| c.snapshot()).fold(LookupStats::default(), |a, b| LookupStats {
                        rows: a.rows + b.rows,
                        hits: a.hits + b.hits,
                        misses: a.misses + b.misses,
                        calls: a.calls + b.calls,
                    })
                }),
            });
        }
    }

    pub(super) fn finish(&self) {
        self.tell(false, true);
    }
}
