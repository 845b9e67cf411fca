//! Typed handles for embedders: a table — built in code as a [`Table`], or
//! parsed from Flink SQL by `weir-sql` — opened as a source or a sink,
//! exchanging Arrow batches (with Flink row kinds) instead of text. They are
//! the same operators the runner uses (its scan and its writers): options are
//! validated the Flink way, the format is resolved, each component instance
//! gets exactly what it declares and the operator granted.
//!
//! ```no_run
//! # async fn demo(runtime: &weir::Runtime, input: &weir_pipeline::Table, out: &weir_pipeline::Table,
//! #               grants: &weir::policy::Grants) -> weir::Result<()> {
//! use weir_pipeline::{TableSource, ScanStep, TableSink};
//! let mut source = TableSource::open(runtime, input, grants).await?;
//! let mut sink = TableSink::open(runtime, out, grants).await?;
//! while let ScanStep::Rows(rows) = source.next().await? {
//!     sink.write(rows).await?;
//! }
//! let staged = sink.prepare_commit(1).await?;
//! sink.commit(&staged).await?;
//! sink.close().await
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use super::model::{Position, Query, Table};
use super::resolve::resolve;
use super::scan::{Scan, Slot, Step};
use super::sink::Writers;
use weir::Runtime;
use weir::batch::ChangelogBatch;
use weir::catalog::Role;
use weir::checkpoint::SplitState;
use weir::error::Result;
use weir::handles::{Plan, SinkCommitter, Split};
use weir::policy::Grants;

/// What [`TableSource::next`] gave.
#[derive(Debug)]
pub enum ScanStep {
    /// Rows, as Arrow columns with their row kinds.
    Rows(ChangelogBatch),
    /// Nothing for a moment (an unbounded source): call again later.
    Idle,
    /// Every split was read to its end.
    End,
}

/// A table read as a source: its splits planned, a few read at a time in
/// one source instance, raw records decoded by the table's format.
pub struct TableSource {
    scan: Scan,
}

impl TableSource {
    /// Resolves `table` as a source and plans its splits; every column is
    /// read.
    pub async fn open(runtime: &Runtime, table: &Table, operator: &Grants) -> Result<TableSource> {
        TableSource::open_query(runtime, table, None, operator).await
    }

    /// Resolves `table` as a source of `query`'s rows (`None`: every
    /// column): its columns, filters and limit are offered to the source,
    /// and what the source does not take the scan applies. The query reads
    /// `table` alone (no lookup join, no vector search).
    pub async fn open_query(
        runtime: &Runtime,
        table: &Table,
        query: Option<&Query>,
        operator: &Grants,
    ) -> Result<TableSource> {
        let source = Arc::new(resolve(runtime, table, Role::Source)?);
        let query = match query {
            Some(q) if q.lookup.is_some() || q.search.is_some() => {
                return Err(weir::error::Error::Config(format!(
                    "table '{}': a table source reads one table (no lookup join or vector search)",
                    table.name
                )));
            }
            Some(q) => q.clone(),
            None => Query {
                source: table.name.clone(),
                columns: (0..table.schema.fields.len()).collect(),
                lookup: None,
                search: None,
                filters: Vec::new(),
                limit: None,
                at: Position::default(),
            },
        };
        let scan = Scan::open(source, query, operator, None, None, None).await.map_err(|e| e.in_table(&table.name))?;
        Ok(TableSource { scan })
    }

    /// Resolves `table` as a source that reads only the splits given to
    /// it with [`TableSource::add_split`] — for an engine that plans once
    /// and hands splits to its readers itself (Flink's split enumerator).
    /// The source still plans here, to learn what it accepts.
    pub async fn open_unassigned(
        runtime: &Runtime,
        table: &Table,
        query: Option<&Query>,
        operator: &Grants,
    ) -> Result<TableSource> {
        let mut source = TableSource::open_query(runtime, table, query, operator).await?;
        source.scan.plan.splits.clear();
        source.scan.slots.clear();
        Ok(source)
    }

    /// How many splits the source planned (or was given).
    pub fn splits(&self) -> usize {
        self.scan.plan.splits.len()
    }

    /// The source's plan: its splits, whether it ends, what it accepted.
    pub fn plan(&self) -> &Plan {
        &self.scan.plan
    }

    /// Reads `split` too, from `state` (a [`SplitState::Reading`] state of
    /// an earlier checkpoint) or from its beginning.
    pub fn add_split(&mut self, split: Split, state: Option<Vec<u8>>) {
        self.scan.plan.splits.push(split);
        self.scan.slots.push(Slot::Pending(state));
    }

    /// The next batch of rows, [`ScanStep::Idle`], or [`ScanStep::End`].
    pub async fn next(&mut self) -> Result<ScanStep> {
        let table = self.scan.source.table.name.clone();
        Ok(match self.scan.next().await.map_err(|e| e.in_table(&table))? {
            Step::Rows(rows) => ScanStep::Rows(rows),
            Step::Idle => ScanStep::Idle,
            Step::End => ScanStep::End,
        })
    }

    /// Where every split stands now (reader states, or finished), for a
    /// checkpoint of the embedder's own.
    pub async fn checkpoint(&mut self) -> Result<BTreeMap<String, SplitState>> {
        self.scan.checkpoint().await
    }
}

/// A table written as a sink: `sink.parallelism` writer instances (each
/// with the table's encoder), fed in turn, with the sink's two-phase
/// commit.
pub struct TableSink {
    writers: Writers,
    table: String,
}

impl TableSink {
    /// Resolves `table` as a sink and opens its writers (which discard
    /// in-progress data no commit knows).
    pub async fn open(runtime: &Runtime, table: &Table, operator: &Grants) -> Result<TableSink> {
        let sink = Arc::new(resolve(runtime, table, Role::Sink)?);
        let writers = Writers::open(sink, operator, 0, &[]).await.map_err(|e| e.in_table(&table.name))?;
        Ok(TableSink { writers, table: table.name.clone() })
    }

    /// Resolves `table` as a sink and opens only writer `subtask` of
    /// `parallelism` (after checkpoint `restored`, 0 on a fresh start), for
    /// an engine that runs one writer per subtask and commits with a
    /// committer of its own ([`TableCommitter`]), as Flink's Sink V2 does.
    pub async fn open_subtask(
        runtime: &Runtime,
        table: &Table,
        operator: &Grants,
        subtask: u32,
        parallelism: u32,
        restored: u64,
    ) -> Result<TableSink> {
        let sink = Arc::new(resolve(runtime, table, Role::Sink)?);
        let writers = Writers::open_subtask(sink, operator, restored, (subtask, parallelism))
            .await
            .map_err(|e| e.in_table(&table.name))?;
        Ok(TableSink { writers, table: table.name.clone() })
    }

    /// Writes rows (their columns are those of the table).
    pub async fn write(&mut self, rows: ChangelogBatch) -> Result<()> {
        self.writers.write(rows).await.map_err(|e| e.in_table(&self.table))
    }

    /// Stages everything written so far for checkpoint `id`; returns the
    /// committables to keep (durably) until [`TableSink::commit`].
    pub async fn prepare_commit(&mut self, id: u64) -> Result<Vec<Vec<u8>>> {
        self.writers.prepare(id).await.map_err(|e| e.in_table(&self.table))
    }

    /// Makes staged data visible. Idempotent: committing again after a
    /// crash is safe.
    pub async fn commit(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.writers.commit(committables).await.map_err(|e| e.in_table(&self.table))
    }

    /// Closes the writers.
    pub async fn close(self) -> Result<()> {
        let table = self.table;
        self.writers.close().await.map_err(|e| e.in_table(&table))
    }
}

/// A table's sink component, only to commit (or abort) what writers
/// staged — an engine's committer that runs apart from the writers.
pub struct TableCommitter {
    committer: SinkCommitter,
    table: String,
}

impl TableCommitter {
    /// Resolves `table` as a sink and opens one instance of its connector.
    pub async fn open(runtime: &Runtime, table: &Table, operator: &Grants) -> Result<TableCommitter> {
        let sink = resolve(runtime, table, Role::Sink)?;
        let grants = sink.grants(operator).map_err(|e| e.in_table(&table.name))?;
        let committer = SinkCommitter::open(&sink.connector, &sink.options, &table.schema, &grants)
            .await
            .map_err(|e| e.in_table(&table.name))?;
        Ok(TableCommitter { committer, table: table.name.clone() })
    }

    /// Makes staged data visible (idempotent: a commit repeated after a
    /// restart is safe).
    pub async fn commit(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.committer.commit(committables).await.map_err(|e| e.in_table(&self.table))
    }

    /// Discards staged data that will never be committed.
    pub async fn abort(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.committer.abort(committables).await.map_err(|e| e.in_table(&self.table))
    }
}
