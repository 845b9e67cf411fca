//! The live progress line of an `INSERT` (rows, bytes, rate) on a terminal.

use std::time::{Duration, Instant};

/// A live progress line on standard error: rows, rows/s and MB/s of raw
/// input, redrawn at most four times a second; silent when disabled (not a
/// terminal).
pub(super) struct Progress {
    pub(super) label: String,
    pub(super) enabled: bool,
    pub(super) started: Instant,
    pub(super) drawn: Instant,
    pub(super) rows: u64,
    pub(super) bytes: u64,
}

impl Progress {
    pub(super) fn new(label: &str, enabled: bool) -> Progress {
        let now = Instant::now();
        Progress { label: label.to_owned(), enabled, started: now, drawn: now, rows: 0, bytes: 0 }
    }

    pub(super) fn add(&mut self, rows: u64, bytes: u64) {
        self.rows += rows;
        self.bytes += bytes;
        if self.enabled && self.drawn.elapsed() >= Duration::from_millis(250) {
            self.drawn = Instant::now();
            self.draw("");
        }
    }

    pub(super) fn draw(&self, end: &str) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let mb = if self.bytes > 0 { format!(", {:.1} MB/s", self.bytes as f64 / 1e6 / secs) } else { String::new() };
        eprint!(
            "\r{}: {} rows, {:.0} rows/s{mb} ({:.1} s){end}\x1b[K",
            self.label,
            self.rows,
            self.rows as f64 / secs,
            secs
        );
    }

    pub(super) fn finish(&self) {
        if self.enabled {
            self.draw("\n");
        }
    }
}
