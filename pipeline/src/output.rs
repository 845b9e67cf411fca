//! Where a job's output goes: the rows of bare `SELECT`s and the text of
//! `EXPLAIN`. Any `std::io::Write` prints rows as Flink does (`+I[…]`, one
//! per line, control characters escaped); an embedder implements [`Output`]
//! for a type of its own (one that is not a writer) to receive the rows as
//! Arrow batches.

use weir::batch::ChangelogBatch;
use weir::display;

/// The receiver of a job's output.
pub trait Output: Send {
    /// Rows of a bare `SELECT`, batch by batch as they arrive.
    fn rows(&mut self, rows: &ChangelogBatch) -> std::io::Result<()>;

    /// Text (`EXPLAIN`), as `write!` and `writeln!` produce it.
    fn write_fmt(&mut self, text: std::fmt::Arguments<'_>) -> std::io::Result<()>;
}

impl<W: std::io::Write + Send> Output for W {
    fn rows(&mut self, rows: &ChangelogBatch) -> std::io::Result<()> {
        display::print_rows(rows, self)
    }

    fn write_fmt(&mut self, text: std::fmt::Arguments<'_>) -> std::io::Result<()> {
        std::io::Write::write_fmt(self, text)
    }
}
