//! Writing rows: encoder and sink instances per writer task, partition
//! grouping, prepare/commit/abort of the sink's committables.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir::batch::ChangelogBatch;
use weir::error::{Error, Result};
use weir::handles::{Encoder, Metadata, Records, SinkWriter, WriterContext};
use weir::policy::Grants;

use super::columns::{constant_text, partition_text, physical_columns, widen};
use super::keys::ROW_KIND;
use super::resolve::Resolved;
use super::worker::Worker;

/// A sink writer on one instance, staging rows until `finish`.
pub(super) struct Writer {
    pub(super) sink: Arc<Resolved>,
    pub(super) writer: SinkWriter,
    /// The key format's encoder (keyed connectors with `key.format`).
    pub(super) key_encoder: Option<Encoder>,
    /// Where each part of a written row goes, worked out once.
    layout: Layout,
    /// The value format's encoders on tasks of their own (see
    /// [`encode_worker`]); empty when the sink takes rows.
    encoders: Vec<Worker<ChangelogBatch, Result<weir::Frames>>>,
    /// The worker the next batch goes to.
    next_encoder: usize,
    /// Batches being encoded, in the order they were written.
    in_flight: std::collections::VecDeque<Encoding>,
}

/// A sink's encoder on a task of its own. While the workers encode batches N,
/// N+1, …, the writer's task hands the frames encoded before to the sink,
/// so a job whose format does most of the writing keeps every core busy;
/// the sink still receives the records in the order they were written.
/// (A format's encode is a function of its rows — the contract's `encode` —
/// so which instance encodes a batch does not matter.)
fn encode_worker(encoder: Encoder) -> Worker<ChangelogBatch, Result<weir::Frames>> {
    Worker::spawn(encoder, |mut encoder, rows: ChangelogBatch| async move {
        let frames = encoder.encode(&rows).await;
        (encoder, frames)
    })
}

/// A batch being encoded, with the rest of its records.
struct Encoding {
    values: tokio::sync::oneshot::Receiver<Result<weir::Frames>>,
    keys: Option<arrow_array::ArrayRef>,
    metadata: Metadata,
}

/// The columns of a row the sink is given (the table's written columns:
/// no partition or VIRTUAL metadata column) by destination.
struct Layout {
    /// The physical columns' schema (what rows are widened to).
    physical: weir::model::Schema,
    /// Positions of the physical columns among the written ones, and
    /// their Arrow schema; `None` when they are all the written columns.
    physical_positions: Option<(Vec<usize>, Arc<arrow_schema::Schema>)>,
    /// Written metadata columns: key and position among the written ones.
    metadata: Vec<(String, usize)>,
    /// Positions of the value format's columns among the physical ones and
    /// their schema; `None` when the value holds them all.
    value: Option<(Vec<usize>, Arc<arrow_schema::Schema>)>,
    /// Positions of the key columns among the physical ones, key schema.
    key: Option<(Vec<usize>, Arc<arrow_schema::Schema>)>,
    /// The connector applies rows by key: it gets each record's row kind.
    upsert: bool,
}

impl Layout {
    fn of(sink: &Resolved) -> Result<Layout> {
        let table = &sink.table;
        let arrow = |schema: &weir::model::Schema| -> Result<Arc<arrow_schema::Schema>> {
            Ok(Arc::new(schema.to_arrow().map_err(|m| Error::Host(anyhow::anyhow!("{m}")))?))
        };
        let physical_columns = physical_columns(table);
        let mut physical = table.schema.project(&physical_columns);
        physical.primary_key.clear();
        let written: Vec<usize> = (0..table.schema.fields.len())
            .filter(|i| {
                !table.partition_keys.contains(i) && !table.metadata.iter().any(|m| m.column == *i && m.is_virtual)
            })
            .collect();
        let among = |all: &[usize], c: usize| all.iter().position(|&w| w == c).expect("a column of the set");
        let physical_positions = if written.len() == physical_columns.len() {
            None
        } else {
            Some((physical_columns.iter().map(|&c| among(&written, c)).collect(), arrow(&physical)?))
        };
        let metadata = table
            .metadata
            .iter()
            .filter(|m| !m.is_virtual)
            .map(|m| (m.key.clone(), among(&written, m.column)))
            .collect();
        let value_columns = sink.value_columns();
        let value = if value_columns.len() == physical_columns.len() {
            None
        } else {
            Some((value_columns.iter().map(|&c| among(&physical_columns, c)).collect(), arrow(&sink.value_schema())?))
        };
        let key = match &sink.key {
            Some(key) => Some((key.fields.iter().map(|&c| among(&physical_columns, c)).collect(), arrow(&key.schema)?)),
            None => None,
        };
        let upsert = sink.connector.spec.sink_abilities.contains(&"upsert");
        Ok(Layout { physical, physical_positions, metadata, value, key, upsert })
    }
}

impl Writer {
    /// Opens writer `subtask` of `parallelism` after committing `recommit`
    /// (a restored checkpoint's committables).
    /// With a format, `encoders` (at least one) encoder instances on tasks
    /// of their own.
    pub(super) async fn open(
        sink: Arc<Resolved>,
        operator: &Grants,
        restored_checkpoint: u64,
        recommit: &[Vec<u8>],
        (subtask, parallelism): (u32, u32),
        encoders: usize,
    ) -> Result<Writer> {
        let table = &sink.table;
        let grants = sink.grants(operator)?;
        let context = WriterContext { subtask, parallelism, restored_checkpoint, ..WriterContext::default() };
        let writer =
            SinkWriter::open(&sink.connector, &sink.options, &table.schema, &context, recommit, &grants).await?;
        let mut workers = Vec::new();
        if sink.format.is_some() {
            for _ in 0..encoders.max(1) {
                workers.push(encode_worker(open_encoder(&sink, operator).await?.expect("the sink has a format")));
            }
        }
        let key_encoder = match &sink.key {
            Some(key) => {
                let grants = sink.format_grants(operator)?;
                Some(
                    Encoder::open(&key.entry, &key.options, &key.schema, &grants)
                        .await
                        .map_err(|e| key.error(e).in_table(&table.name))?,
                )
            }
            None => None,
        };
        let layout = Layout::of(&sink)?;
        Ok(Writer {
            sink: sink.clone(),
            writer,
            key_encoder,
            layout,
            encoders: workers,
            next_encoder: 0,
            in_flight: std::collections::VecDeque::new(),
        })
    }

    pub(super) async fn write(&mut self, rows: &ChangelogBatch) -> Result<()> {
        let keys = self.sink.table.partition_keys.clone();
        if keys.is_empty() {
            return self.write_part(rows, Vec::new()).await;
        }
        // One call per partition, its values as metadata columns.
        let sink = self.sink.clone();
        let fail = |m: String| Error::Host(anyhow::anyhow!("table '{}': {m}", sink.table.name));
        let mut groups: BTreeMap<Vec<Option<String>>, Vec<u32>> = BTreeMap::new();
        for r in 0..rows.rows.num_rows() {
            let values = keys
                .iter()
                .map(|&k| partition_text(rows.rows.column(k), r))
                .collect::<std::result::Result<Vec<_>, _>>();
            groups.entry(values.map_err(fail)?).or_default().push(r as u32);
        }
        let kept: Vec<usize> = (0..rows.rows.num_columns()).filter(|c| !keys.contains(c)).collect();
        for (values, indices) in groups {
            let indices = arrow_array::UInt32Array::from(indices);
            let part = arrow_select::take::take_record_batch(&rows.rows, &indices).map_err(|e| fail(e.to_string()))?;
            let part = part.project(&kept).map_err(|e| fail(e.to_string()))?;
            let row_kinds = if rows.row_kinds.is_empty() {
                Vec::new()
            } else {
                indices.values().iter().map(|&i| rows.row_kinds[i as usize]).collect()
            };
            let n = part.num_rows();
            let metadata = keys
                .iter()
                .zip(values)
                .map(|(&k, v)| (sink.table.schema.fields[k].name.clone(), constant_text(v.as_deref(), n)))
                .collect();
            self.write_part(&ChangelogBatch { rows: part, row_kinds }, metadata).await?;
        }
        Ok(())
    }

    pub(super) async fn write_part(&mut self, rows: &ChangelogBatch, mut metadata: Metadata) -> Result<()> {
        let layout = &self.layout;
        // Written metadata columns (not VIRTUAL) travel as record metadata.
        for (key, at) in &layout.metadata {
            metadata.push((key.clone(), metadata_for_sink(rows.rows.column(*at))?));
        }
        let projected;
        let rows = match &layout.physical_positions {
            Some((positions, schema)) => {
                projected = project(rows, positions, schema)?;
                &projected
            }
            None => rows,
        };
        let widened = widen(rows, &layout.physical)?;
        let rows = widened.as_ref().unwrap_or(rows);
        if self.encoders.is_empty() {
            return self.writer.write_rows(rows).await;
        }
        // The value holds the value columns; the key (if any) its own.
        let value_rows = match &layout.value {
            Some((positions, schema)) => Some(project(rows, positions, schema)?),
            None => None,
        };
        let value_rows = value_rows.as_ref().unwrap_or(rows);
        let worker = &self.encoders[self.next_encoder];
        self.next_encoder = (self.next_encoder + 1) % self.encoders.len();
        let Some(values) = worker.submit(value_rows.clone()).await else {
            return Err(Error::Host(anyhow::anyhow!("the encoding task ended early")));
        };
        let keys = match (&mut self.key_encoder, &self.sink.key, &layout.key) {
            (Some(key_encoder), Some(key), Some((positions, schema))) => {
                let frames = key_encoder.encode(&project(rows, positions, schema)?).await.map_err(|e| key.error(e))?;
                let keys: arrow_array::BinaryArray = frames.iter().map(Some).collect();
                Some(Arc::new(keys) as arrow_array::ArrayRef)
            }
            _ => None,
        };
        // An upsert sink learns each record's row kind (a delete becomes a
        // tombstone).
        if layout.upsert {
            let n = rows.rows.num_rows();
            let kinds: arrow_array::Int8Array = if rows.row_kinds.is_empty() {
                std::iter::repeat_n(0i8, n).map(Some).collect()
            } else {
                rows.row_kinds.iter().map(|&k| Some(k as i8)).collect()
            };
            metadata.push((ROW_KIND.to_owned(), Arc::new(kinds)));
        }
        self.in_flight.push_back(Encoding { values, keys, metadata });
        // Once every worker has a batch, the oldest goes to the sink.
        while self.in_flight.len() > self.encoders.len() {
            self.write_oldest().await?;
        }
        Ok(())
    }

    /// Hands the oldest encoded batch to the sink.
    async fn write_oldest(&mut self) -> Result<()> {
        let Some(Encoding { values, keys, metadata }) = self.in_flight.pop_front() else { return Ok(()) };
        let values = values.await.map_err(|_| Error::Host(anyhow::anyhow!("the encoding task ended early")))??;
        self.writer.write_records(Records { values, keys, metadata, ..Records::default() }).await
    }

    /// Every batch still being encoded to the sink (before a checkpoint's
    /// prepare and at the end).
    async fn drain(&mut self) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.write_oldest().await?;
        }
        Ok(())
    }

    /// Stages what was written since the last checkpoint; returns the
    /// committables that make it visible.
    pub(super) async fn prepare(&mut self, id: u64) -> Result<Vec<Vec<u8>>> {
        self.drain().await?;
        self.writer.prepare_commit(id).await
    }

    /// Makes staged data visible (idempotent).
    pub(super) async fn commit(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.writer.commit(committables).await
    }

    pub(super) async fn close(mut self) -> Result<()> {
        self.drain().await?;
        self.writer.close().await
    }
}

/// The sink's value encoder, if it has a format. The format encodes the
/// columns without the partition columns, whose values travel as metadata.
async fn open_encoder(sink: &Resolved, operator: &Grants) -> Result<Option<Encoder>> {
    match &sink.format {
        Some((entry, options)) => {
            let grants = sink.format_grants(operator)?;
            Ok(Some(
                Encoder::open(entry, options, &sink.value_schema(), &grants).await.map_err(|e| sink.format_error(e))?,
            ))
        }
        None => Ok(None),
    }
}

/// A written metadata column as the connector receives it: timestamps as
/// epoch milliseconds (BIGINT), anything else as is.
fn metadata_for_sink(column: &arrow_array::ArrayRef) -> Result<arrow_array::ArrayRef> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    };
    use arrow_schema::{DataType, TimeUnit};
    let millis: arrow_array::Int64Array = match column.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            column.as_primitive::<TimestampSecondType>().iter().map(|v| v.map(|s| s.saturating_mul(1000))).collect()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            column.as_primitive::<TimestampMillisecondType>().iter().collect()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            column.as_primitive::<TimestampMicrosecondType>().iter().map(|v| v.map(|u| u.div_euclid(1000))).collect()
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => column
            .as_primitive::<TimestampNanosecondType>()
            .iter()
            .map(|v| v.map(|n| n.div_euclid(1_000_000)))
            .collect(),
        _ => return Ok(column.clone()),
    };
    Ok(Arc::new(millis))
}

/// Columns `positions` of `rows` as a batch of `schema` (names as the
/// format knows them).
fn project(rows: &ChangelogBatch, positions: &[usize], schema: &Arc<arrow_schema::Schema>) -> Result<ChangelogBatch> {
    let columns = positions.iter().map(|&p| rows.rows.column(p).clone()).collect();
    let batch =
        arrow_array::RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Host(anyhow::anyhow!("{e}")))?;
    Ok(ChangelogBatch { rows: batch, row_kinds: rows.row_kinds.clone() })
}

/// What the coordinator asks of a writer task.
pub(super) enum Cmd {
    Rows(ChangelogBatch),
    Prepare(u64, tokio::sync::oneshot::Sender<Result<Vec<Vec<u8>>>>),
    Commit(Vec<Vec<u8>>, tokio::sync::oneshot::Sender<Result<()>>),
    Close(tokio::sync::oneshot::Sender<Result<()>>),
}

/// A writer on its own task; it stops at its first error, which its
/// handle returns.
pub(super) async fn run_writer(mut writer: Writer, mut commands: tokio::sync::mpsc::Receiver<Cmd>) -> Result<()> {
    loop {
        // Batches still encoding wait only while more rows are queued: when
        // none are, they go to the sink now (a quiet stream must not hold
        // its last rows back until the next checkpoint).
        let cmd = match commands.try_recv() {
            Ok(cmd) => cmd,
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                writer.drain().await?;
                match commands.recv().await {
                    Some(cmd) => cmd,
                    None => return Ok(()),
                }
            }
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return Ok(()),
        };
        match cmd {
            Cmd::Rows(rows) => writer.write(&rows).await?,
            Cmd::Prepare(id, reply) => {
                let _ = reply.send(writer.prepare(id).await);
            }
            Cmd::Commit(committables, reply) => {
                let _ = reply.send(writer.commit(&committables).await);
            }
            Cmd::Close(reply) => {
                let _ = reply.send(writer.close().await);
                return Ok(());
            }
        }
    }
}

/// `sink.parallelism` writers, each its own sink and encoder instances on
/// its own task; batches go round-robin. A checkpoint prepares every
/// writer (each has written all it was sent before) and commits each
/// writer's committables on that writer (as Flink's committer subtasks do:
/// a database may let only the session that prepared a transaction commit
/// it while that session lives); committables restored from a checkpoint
/// go to the first writer.
pub(super) struct Writers {
    pub(super) tasks: Vec<(tokio::sync::mpsc::Sender<Cmd>, Option<WriterTask>)>,
    pub(super) turn: usize,
    /// Which writer prepared each committable of the last checkpoint.
    pub(super) prepared_by: std::collections::HashMap<Vec<u8>, usize>,
}

/// A writer task's handle; it returns the writer's first error.
pub(super) type WriterTask = tokio::task::JoinHandle<Result<()>>;

/// A writer on a task of its own, and the queue of its commands.
fn spawn_writer(writer: Writer) -> (tokio::sync::mpsc::Sender<Cmd>, Option<WriterTask>) {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    (tx, Some(tokio::spawn(run_writer(writer, rx))))
}

impl Writers {
    pub(super) async fn open(
        sink: Arc<Resolved>,
        operator: &Grants,
        restored: u64,
        recommit: &[Vec<u8>],
    ) -> Result<Writers> {
        let parallelism = sink.sink_parallelism() as u32;
        let encoders = super::worker::per_task(parallelism as usize);
        let mut tasks = Vec::new();
        for subtask in 0..parallelism {
            // The first writer commits the restored committables again
            // before any writer opens (and discards its uncommitted files).
            let recommit = if subtask == 0 { recommit } else { &[] };
            let writer =
                Writer::open(sink.clone(), operator, restored, recommit, (subtask, parallelism), encoders).await?;
            tasks.push(spawn_writer(writer));
        }
        Ok(Writers { tasks, turn: 0, prepared_by: std::collections::HashMap::new() })
    }

    /// Only writer `subtask` of `parallelism`, the others being run
    /// elsewhere (by an engine that runs one writer per subtask, as Flink
    /// does); it commits nothing on opening: that engine's committer does.
    pub(super) async fn open_subtask(
        sink: Arc<Resolved>,
        operator: &Grants,
        restored: u64,
        (subtask, parallelism): (u32, u32),
    ) -> Result<Writers> {
        let encoders = super::worker::per_task(parallelism as usize);
        let writer = Writer::open(sink, operator, restored, &[], (subtask, parallelism.max(1)), encoders).await?;
        Ok(Writers { tasks: vec![spawn_writer(writer)], turn: 0, prepared_by: std::collections::HashMap::new() })
    }

    /// The error of writer `i`, which has stopped.
    pub(super) async fn failure(&mut self, i: usize) -> Error {
        match self.tasks[i].1.take() {
            Some(handle) => match handle.await {
                Ok(Err(e)) => e,
                Ok(Ok(())) => Error::Host(anyhow::anyhow!("sink writer {i} stopped")),
                Err(e) => Error::Host(anyhow::anyhow!("sink writer {i} failed: {e}")),
            },
            None => Error::Host(anyhow::anyhow!("sink writer {i} stopped")),
        }
    }

    pub(super) async fn send(&mut self, i: usize, cmd: Cmd) -> Result<()> {
        if self.tasks[i].0.send(cmd).await.is_err() {
            return Err(self.failure(i).await);
        }
        Ok(())
    }

    pub(super) async fn write(&mut self, rows: ChangelogBatch) -> Result<()> {
        self.turn = (self.turn + 1) % self.tasks.len();
        self.send(self.turn, Cmd::Rows(rows)).await
    }

    pub(super) async fn prepare(&mut self, id: u64) -> Result<Vec<Vec<u8>>> {
        let mut replies = Vec::new();
        for i in 0..self.tasks.len() {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.send(i, Cmd::Prepare(id, reply)).await?;
            replies.push((i, answer));
        }
        let mut committables = Vec::new();
        self.prepared_by.clear();
        for (i, answer) in replies {
            match answer.await {
                Ok(result) => {
                    let mine = result?;
                    self.prepared_by.extend(mine.iter().map(|c| (c.clone(), i)));
                    committables.extend(mine);
                }
                Err(_) => return Err(self.failure(i).await),
            }
        }
        Ok(committables)
    }

    pub(super) async fn commit(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        let mut by_writer: Vec<Vec<Vec<u8>>> = vec![Vec::new(); self.tasks.len()];
        for c in committables {
            by_writer[self.prepared_by.get(c).copied().unwrap_or(0)].push(c.clone());
        }
        // One writer after the other, as a single committer would: Tansu's
        // transaction coordinator lost track of transactions ended at the
        // same moment (their partitions' last stable offset stayed behind).
        for (i, mine) in by_writer.into_iter().enumerate() {
            if mine.is_empty() && !(i == 0 && committables.is_empty()) {
                continue;
            }
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.send(i, Cmd::Commit(mine, reply)).await?;
            match answer.await {
                Ok(result) => result?,
                Err(_) => return Err(self.failure(i).await),
            }
        }
        Ok(())
    }

    pub(super) async fn close(mut self) -> Result<()> {
        for i in 0..self.tasks.len() {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.send(i, Cmd::Close(reply)).await?;
            match answer.await {
                Ok(result) => result?,
                Err(_) => return Err(self.failure(i).await),
            }
        }
        Ok(())
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        for (_, handle) in &self.tasks {
            if let Some(handle) = handle {
                handle.abort();
            }
        }
    }
}
