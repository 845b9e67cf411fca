//! The sink-writer handle: Flink's two-phase-commit sink on one component
//! instance — write, `prepare_commit` at a checkpoint, then `commit` (or
//! `abort`) the committables.

use wasmtime::component::ResourceAny;

use arrow_array::ArrayRef;

use super::{Records, open_instance};
use crate::batch::{self, ChangelogBatch};
use crate::bindings::v0_1_0::exports::weir::connector::sink as wsink;
use crate::bindings::v0_1_0::weir::connector::types as wit;
use crate::catalog::Entry;
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::model::Schema;
use crate::policy::Grants;

/// Where a writer sits in the job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterContext {
    /// This writer's index, `0..parallelism`.
    pub subtask: u32,
    /// Number of parallel writers (at least 1).
    pub parallelism: u32,
    /// `INSERT OVERWRITE`.
    pub overwrite: bool,
    /// The static partition of `INSERT … PARTITION (k = v)`.
    pub static_partition: Vec<(String, String)>,
    /// The checkpoint the writer starts after (0 on a fresh start).
    pub restored_checkpoint: u64,
}

/// An open sink writer (one instance of a sink component).
pub struct SinkWriter {
    instance: Instance,
    options: Vec<(String, String)>,
    writer: ResourceAny,
}

impl SinkWriter {
    /// Opens a writer of the sink `entry` with already validated `options`
    /// for rows of `schema`. `recommit` — the committables of the
    /// checkpoint restored from — are committed first (commit is
    /// idempotent), since a writer may discard staged data no commit knows.
    pub async fn open(
        entry: &Entry,
        options: &[(String, String)],
        schema: &Schema,
        context: &WriterContext,
        recommit: &[Vec<u8>],
        grants: &Grants,
    ) -> Result<SinkWriter> {
        let (mut instance, schema) = open_instance(entry, options, schema, grants).await?;
        let options = options.to_vec();
        if !recommit.is_empty() {
            instance.commit(&options, recommit).await?;
        }
        let context = wsink::WriterContext {
            subtask: context.subtask,
            parallelism: context.parallelism.max(1),
            overwrite: context.overwrite,
            static_partition: context.static_partition.clone(),
            restored_checkpoint: context.restored_checkpoint,
        };
        let writer = instance.open_writer(&options, &schema, &context).await?;
        Ok(SinkWriter { instance, options, writer })
    }

    /// Writes rows (sinks that take rows). Nothing is visible before commit.
    pub async fn write_rows(&mut self, rows: &ChangelogBatch) -> Result<()> {
        let batch = batch::from_arrow(rows).map_err(invalid)?;
        self.instance.write(self.writer, &wsink::SinkInput::Rows(batch)).await
    }

    /// Writes encoded records (sinks with a `format`); metadata columns
    /// (partition values…) must have one value per record.
    pub async fn write_records(&mut self, records: Records) -> Result<()> {
        let input = raw_records(records).map_err(invalid)?;
        self.instance.write(self.writer, &wsink::SinkInput::Records(input)).await
    }

    /// Stages everything written since the last checkpoint for checkpoint
    /// `id`; returns the committables to keep durably until
    /// [`SinkWriter::commit`].
    pub async fn prepare_commit(&mut self, id: u64) -> Result<Vec<Vec<u8>>> {
        self.instance.prepare_commit(self.writer, id).await
    }

    /// Makes staged data visible. Idempotent: committing again after a
    /// crash is safe.
    pub async fn commit(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.instance.commit(&self.options, committables).await
    }

    /// Discards staged data that will never be committed.
    pub async fn abort(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.instance.abort(&self.options, committables).await
    }

    /// Closes the writer (staged data not committed stays invisible).
    pub async fn close(mut self) -> Result<()> {
        self.instance.drop_resource(self.writer).await
    }

    /// The instance (metrics, denials, poisoned state).
    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}

/// A sink component instance that only commits or aborts committables —
/// Flink's committer, which runs apart from the writers and must not open
/// one (a writer discards the in-progress data of its subtask).
pub struct SinkCommitter {
    instance: Instance,
    options: Vec<(String, String)>,
}

impl SinkCommitter {
    /// Opens an instance of the sink `entry` with already validated
    /// `options`.
    pub async fn open(
        entry: &Entry,
        options: &[(String, String)],
        schema: &Schema,
        grants: &Grants,
    ) -> Result<SinkCommitter> {
        let (instance, _) = open_instance(entry, options, schema, grants).await?;
        Ok(SinkCommitter { instance, options: options.to_vec() })
    }

    /// Makes staged data visible (idempotent).
    pub async fn commit(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.instance.commit(&self.options, committables).await
    }

    /// Discards staged data that will never be committed.
    pub async fn abort(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.instance.abort(&self.options, committables).await
    }
}

/// A batch the host built that the contract cannot carry.
fn invalid(message: String) -> Error {
    Error::InvalidBatch { component: "(host)".to_owned(), message }
}

/// Records in the contract's form; keys and metadata columns must be flat
/// and have one value per record.
fn raw_records(records: Records) -> Result<wit::RawRecords, String> {
    let n = records.values.len();
    let column = |name: &str, a: &ArrayRef| {
        if a.len() != n {
            return Err(format!("{name}: {} values for {n} records", a.len()));
        }
        batch::flat_column_from_arrow(a.as_ref()).map_err(|m| format!("{name}: {m}"))
    };
    let keys = records.keys.as_ref().map(|k| column("keys", k)).transpose()?;
    let metadata =
        records.metadata.iter().map(|(key, a)| Ok((key.clone(), column(key, a)?))).collect::<Result<_, String>>()?;
    Ok(wit::RawRecords { values: records.values.0, keys, timestamps: records.timestamps, metadata })
}
