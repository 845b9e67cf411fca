//! A scan of one source table for one query: plan the splits, read a few
//! at a time in one source instance, decode raw records, apply what the
//! source did not accept (filters, limit), checkpoint split states.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::BooleanArray;
use weir::batch::ChangelogBatch;
use weir::checkpoint;
use weir::error::{Error, Result};
use weir::handles::{Decoder, Metadata, Plan, Read, Records, ScanRequest, ScanSource, SplitReader};
use weir::policy::Grants;

use super::columns::{with_computed, with_partitions};
use super::filter::{check_filter, evaluate};
use super::keys::decode_records;
use super::lookup::Lookup;
use super::model;
use super::resolve::Resolved;
use super::search::Search;
use super::worker::Worker;

/// Rows asked of a reader per call.
pub(super) const READ_BATCH: u32 = 4096;

/// Split readers open at once in a scan: enough to interleave streams,
/// few enough that a scan of thousands of files stays within the source
/// instance's memory and handle limits.
pub(super) const OPEN_READERS: usize = 4;

/// What one [`Scan::next`] call gave.
pub(super) enum Step {
    /// Rows of the query.
    Rows(ChangelogBatch),
    /// Nothing for a moment (unbounded sources): a chance to checkpoint or stop.
    Idle,
    /// Every split is done (or the limit reached).
    End,
}

/// Where one split of a scan stands.
pub(super) enum Slot {
    /// Not opened yet; resumes from this state when there is one.
    Pending(Option<Vec<u8>>),
    /// Being read: the reader, records read so far, and whether it resumed
    /// from a checkpoint (to place a bad record in its split).
    Open(SplitReader, u64, bool),
    /// Read to the end.
    Done,
    /// Read by another reader of the same scan.
    Elsewhere,
}

/// A running scan of one source table for one query.
pub(super) struct Scan {
    pub(super) source: Arc<Resolved>,
    pub(super) query: model::Query,
    /// The source component's instance.
    pub(super) component: ScanSource,
    pub(super) decoder: Option<Decoder>,
    /// The key format's decoder (keyed connectors with `key.format`).
    pub(super) key_decoder: Option<Decoder>,
    pub(super) plan: Plan,
    /// One slot per split of the plan.
    pub(super) slots: Vec<Slot>,
    pub(super) turn: usize,
    pub(super) remaining: Option<u64>,
    /// Raw bytes read since [`Scan::take_bytes`] was last called.
    pub(super) bytes: u64,
    /// The query's lookup join, if it has one.
    pub(super) lookup: Option<Lookup>,
    /// The query's vector search, if it has one.
    pub(super) search: Option<Search>,
    /// Pipelined ([`Scan::pipeline`]): decoders on tasks of their own,
    /// given batches in turn.
    pub(super) workers: Vec<Worker<DecodeJob, Decoded>>,
    /// The worker the next batch goes to.
    pub(super) next_worker: usize,
    /// The batches the workers are decoding, in the order they were read.
    pub(super) in_flight: std::collections::VecDeque<InFlight>,
}

type Decoded = Result<(ChangelogBatch, Metadata)>;

/// A batch of raw records for a decoder [`Worker`].
pub(super) struct DecodeJob {
    values: weir::Frames,
    keys: Option<arrow_array::ArrayRef>,
    metadata: Metadata,
}

/// A batch handed to the worker, and where it was read (to place a bad
/// record in its split).
pub(super) struct InFlight {
    answer: tokio::sync::oneshot::Receiver<Decoded>,
    split: usize,
    before: u64,
    resumed: bool,
}

/// A source's decoders on a task of their own. While the workers decode
/// batches N, N+1, …, the scan's task reads the next batch from the source
/// and applies the query to the rows decoded before, so a scan whose format
/// does most of the work keeps every core busy; the rows still come out in
/// the order they were read. (A format's decode is a function of its frames
/// — the contract's `decode` — so which instance decodes a batch does not
/// matter.)
fn decode_worker(source: Arc<Resolved>, decoder: Decoder, key_decoder: Option<Decoder>) -> Worker<DecodeJob, Decoded> {
    Worker::spawn((decoder, key_decoder), move |(mut decoder, mut key_decoder), job: DecodeJob| {
        let source = source.clone();
        async move {
            let decoded = decode_records(
                &source,
                &mut decoder,
                key_decoder.as_mut(),
                &job.values,
                job.keys.as_ref(),
                job.metadata,
            )
            .await;
            ((decoder, key_decoder), decoded)
        }
    })
}

impl Scan {
    pub(super) async fn open(
        source: Arc<Resolved>,
        query: model::Query,
        operator: &Grants,
        restore: Option<&checkpoint::Checkpoint>,
        plan: Option<Plan>,
        dim: Option<&Arc<Resolved>>,
    ) -> Result<Scan> {
        let table = &source.table;
        let lookup = match (&query.lookup, dim) {
            (Some(join), Some(dim)) => {
                Some(Lookup::open(dim.clone(), join, operator).await.map_err(|e| e.in_table(&dim.table.name))?)
            }
            (None, _) => None,
            (Some(join), None) => {
                return Err(Error::Host(anyhow::anyhow!("the lookup join with '{}' was not resolved", join.table)));
            }
        };
        let search = match (&query.search, dim) {
            (Some(search), Some(table)) => {
                Some(Search::open(table.clone(), search, operator).await.map_err(|e| e.in_table(&table.table.name))?)
            }
            (None, _) => None,
            (Some(search), None) => {
                return Err(Error::Host(anyhow::anyhow!("the vector search of '{}' was not resolved", search.table)));
            }
        };
        let request = ScanRequest {
            projection: None,
            // Offered to the source; it says which it applies (the rest the
            // runner applies to the rows). A join's limit counts joined
            // rows, so the source is not told.
            filters: query.filters.clone(),
            limit: if query.lookup.is_some() || query.search.is_some() { None } else { query.limit },
            partitions: None,
            metadata_keys: table.metadata.iter().map(|m| m.key.clone()).collect(),
        };
        let grants = source.grants(operator)?;
        let mut component =
            ScanSource::open(&source.connector, &source.options, &table.stored_schema(), &request, &grants).await?;
        let plan = match plan {
            Some(plan) => plan,
            None => component.plan().await?,
        };
        let mut slots = Vec::with_capacity(plan.splits.len());
        for split in &plan.splits {
            slots.push(match restore.and_then(|c| c.splits.get(&split.id)) {
                Some(checkpoint::SplitState::Finished) => Slot::Done,
                Some(checkpoint::SplitState::Reading(h)) => {
                    Slot::Pending(Some(checkpoint::unhex(h).ok_or_else(|| {
                        Error::Host(anyhow::anyhow!("the checkpoint state of split '{}' is damaged", split.id))
                    })?))
                }
                None => Slot::Pending(None),
            });
        }
        let (decoder, key_decoder) = open_decoders(&source, operator).await?;
        let remaining = query.limit;
        Ok(Scan {
            source,
            query,
            component,
            decoder,
            key_decoder,
            plan,
            slots,
            turn: 0,
            remaining,
            bytes: 0,
            lookup,
            search,
            workers: Vec::new(),
            next_worker: 0,
            in_flight: std::collections::VecDeque::new(),
        })
    }

    /// Decodes on `decoders` tasks of their own from now on (see
    /// [`decode_worker`]; the scan's decoder and `decoders - 1` more
    /// instances). The caller must take [`Scan::flush`]'s rows until it
    /// has none before every [`Scan::checkpoint`]: the source is a few
    /// batches ahead of the rows returned.
    pub(super) async fn pipeline(&mut self, operator: &Grants, decoders: usize) -> Result<()> {
        let Some(decoder) = self.decoder.take() else { return Ok(()) };
        self.workers.push(decode_worker(self.source.clone(), decoder, self.key_decoder.take()));
        for _ in 1..decoders {
            let (decoder, key_decoder) = open_decoders(&self.source, operator).await?;
            let decoder = decoder.expect("the source has a format");
            self.workers.push(decode_worker(self.source.clone(), decoder, key_decoder));
        }
        Ok(())
    }

    /// The rows of the oldest batch still being decoded, if any (query
    /// applied; `None` also when they were all filtered out).
    pub(super) async fn flush(&mut self) -> Result<Option<ChangelogBatch>> {
        while let Some(in_flight) = self.in_flight.pop_front() {
            let rows = self.finish(in_flight).await?;
            if rows.rows.num_rows() > 0 {
                return Ok(Some(rows));
            }
        }
        Ok(None)
    }

    /// Waits for a batch the worker decodes and applies the query to it.
    async fn finish(&mut self, in_flight: InFlight) -> Result<ChangelogBatch> {
        let InFlight { answer, split, before, resumed } = in_flight;
        let decoded = answer.await.map_err(|_| Error::Host(anyhow::anyhow!("the decoding task ended early")))?;
        let (decoded, metadata) = decoded.map_err(|e| placed(e, &self.plan.splits[split].id, before, resumed))?;
        let rows = with_partitions(&self.source.table, decoded, &metadata)?;
        self.apply(rows).await
    }

    /// Keeps every `parts`-th split starting at `part`; the others are read
    /// by the other readers of the scan.
    pub(super) fn keep_part(&mut self, part: usize, parts: usize) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if i % parts != part {
                *slot = Slot::Elsewhere;
            }
        }
    }

    /// Raw bytes read since the last call.
    pub(super) fn take_bytes(&mut self) -> u64 {
        std::mem::take(&mut self.bytes)
    }

    /// Opens pending splits (resumed ones first) up to [`OPEN_READERS`].
    pub(super) async fn open_readers(&mut self) -> Result<()> {
        loop {
            if self.slots.iter().filter(|s| matches!(s, Slot::Open(..))).count() >= OPEN_READERS {
                return Ok(());
            }
            let next = self
                .slots
                .iter()
                .position(|s| matches!(s, Slot::Pending(Some(_))))
                .or_else(|| self.slots.iter().position(|s| matches!(s, Slot::Pending(None))));
            let Some(i) = next else { return Ok(()) };
            let Slot::Pending(state) = std::mem::replace(&mut self.slots[i], Slot::Done) else { unreachable!() };
            let split = &self.plan.splits[i];
            let reader = self.component.open_reader(split, state.as_deref()).await?;
            self.slots[i] = Slot::Open(reader, 0, state.is_some());
        }
    }

    /// Every split's state after the rows returned so far (splits not
    /// started yet are left out: they start from the beginning).
    pub(super) async fn checkpoint(&mut self) -> Result<BTreeMap<String, checkpoint::SplitState>> {
        if !self.in_flight.is_empty() {
            // The source's state would cover rows not returned yet.
            return Err(Error::Host(anyhow::anyhow!("a checkpoint with a batch still decoding (flush first)")));
        }
        let mut states = BTreeMap::new();
        for (split, slot) in self.plan.splits.iter().zip(&self.slots) {
            let state = match slot {
                Slot::Open(reader, ..) => {
                    checkpoint::SplitState::Reading(checkpoint::hex(&self.component.checkpoint(*reader).await?))
                }
                Slot::Pending(Some(state)) => checkpoint::SplitState::Reading(checkpoint::hex(state)),
                Slot::Pending(None) | Slot::Elsewhere => continue,
                Slot::Done => checkpoint::SplitState::Finished,
            };
            states.insert(split.id.clone(), state);
        }
        Ok(states)
    }

    /// The next non-empty batch of query rows, [`Step::Idle`] when every
    /// open split had nothing, or [`Step::End`].
    pub(super) async fn next(&mut self) -> Result<Step> {
        let source = self.source.clone();
        let mut idle_turns = 0;
        loop {
            self.open_readers().await?;
            let open: Vec<usize> =
                self.slots.iter().enumerate().filter(|(_, s)| matches!(s, Slot::Open(..))).map(|(i, _)| i).collect();
            if self.remaining == Some(0) {
                // The LIMIT is reached: batches still decoding hold rows
                // past it. Their answers are dropped (their worker tasks
                // end), so the final checkpoint has nothing in flight.
                self.in_flight.clear();
                return Ok(Step::End);
            }
            if open.is_empty() {
                return Ok(match self.flush().await? {
                    Some(rows) => Step::Rows(rows),
                    None => Step::End,
                });
            }
            self.turn = (self.turn + 1) % open.len();
            let i = open[self.turn];
            let Slot::Open(reader, before, resumed) = self.slots[i] else { unreachable!() };
            let rows = match self.component.read(reader, READ_BATCH).await? {
                Read::Rows(rows) => rows,
                Read::Records(Records { values, keys, metadata, .. }) => {
                    self.bytes += values.byte_len() as u64;
                    self.slots[i] = Slot::Open(reader, before + values.len() as u64, resumed);
                    if !self.workers.is_empty() {
                        // Hand the batch to the next worker; once every
                        // worker has one, take the oldest batch's rows (it
                        // was decoded while the later ones were read).
                        let worker = &self.workers[self.next_worker];
                        self.next_worker = (self.next_worker + 1) % self.workers.len();
                        let Some(answer) = worker.submit(DecodeJob { values, keys, metadata }).await else {
                            return Err(Error::Host(anyhow::anyhow!("the decoding task ended early")));
                        };
                        self.in_flight.push_back(InFlight { answer, split: i, before, resumed });
                        if self.in_flight.len() > self.workers.len()
                            && let Some(oldest) = self.in_flight.pop_front()
                        {
                            let rows = self.finish(oldest).await?;
                            if rows.rows.num_rows() > 0 {
                                return Ok(Step::Rows(rows));
                            }
                        }
                        continue;
                    }
                    let decoder = self.decoder.as_mut().expect("raw records only come from connectors with a format");
                    let decoded =
                        decode_records(&source, decoder, self.key_decoder.as_mut(), &values, keys.as_ref(), metadata)
                            .await;
                    let (decoded, metadata) = match decoded {
                        Ok(rows) => rows,
                        Err(e) => return Err(placed(e, &self.plan.splits[i].id, before, resumed)),
                    };
                    let rows = with_partitions(&source.table, decoded, &metadata)?;
                    let rows = self.apply(rows).await?;
                    if rows.rows.num_rows() > 0 {
                        return Ok(Step::Rows(rows));
                    }
                    continue;
                }
                Read::WouldBlock => {
                    // Nothing new: first the batch still decoding.
                    if let Some(rows) = self.flush().await? {
                        return Ok(Step::Rows(rows));
                    }
                    // Nothing ready: pause once every open split had its turn.
                    idle_turns += 1;
                    if idle_turns >= open.len() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        return Ok(Step::Idle);
                    }
                    continue;
                }
                Read::EndOfSplit => {
                    self.slots[i] = Slot::Done;
                    continue;
                }
            };
            idle_turns = 0;
            let rows = with_computed(&source.table, rows)?;
            let rows = self.apply(rows).await?;
            if rows.rows.num_rows() > 0 {
                return Ok(Step::Rows(rows));
            }
        }
    }

    /// Filters, projection and limit the source did not take, and the
    /// lookup join (after the filters, before the projection and limit).
    pub(super) async fn apply(&mut self, rows: ChangelogBatch) -> Result<ChangelogBatch> {
        let ChangelogBatch { rows, row_kinds } = rows;
        let accepted = &self.plan.accepted;
        let mut keep: Option<Vec<bool>> = None;
        for (i, filter) in self.query.filters.iter().enumerate() {
            if accepted.filters.contains(&i) {
                continue;
            }
            let mask = evaluate(rows.column(filter.column), filter).map_err(|m| {
                let field = &self.source.table.schema.fields[filter.column];
                let why = check_filter(field, &filter.value).err().unwrap_or(m);
                Error::Config(format!(
                    "table '{}': WHERE {} {} {}: {why}",
                    self.source.table.name, field.name, filter.op, filter.value
                ))
            })?;
            let keep = keep.get_or_insert_with(|| vec![true; rows.num_rows()]);
            for (k, m) in keep.iter_mut().zip(mask.iter()) {
                *k &= m == Some(true);
            }
        }
        let (mut rows, mut row_kinds) = match keep {
            Some(keep) => {
                let mask = BooleanArray::from(keep.clone());
                let filtered = arrow_select::filter::filter_record_batch(&rows, &mask)
                    .map_err(|e| Error::Host(anyhow::anyhow!("filter: {e}")))?;
                let kinds = if row_kinds.is_empty() {
                    row_kinds
                } else {
                    row_kinds.iter().zip(&keep).filter(|(_, k)| **k).map(|(b, _)| *b).collect()
                };
                (filtered, kinds)
            }
            None => (rows, row_kinds),
        };
        let project = |rows: &arrow_array::RecordBatch, columns: &[usize]| {
            rows.project(columns).map_err(|e| Error::Host(anyhow::anyhow!("projection: {e}")))
        };
        if let Some(lookup) = self.lookup.as_mut() {
            let name = lookup.table_name().to_owned();
            let joined = lookup.join(ChangelogBatch { rows, row_kinds }).await.map_err(|e| e.in_table(&name))?;
            rows = project(&joined.rows, &self.query.columns)?;
            row_kinds = joined.row_kinds;
        } else if let Some(search) = self.search.as_mut() {
            let name = search.table_name().to_owned();
            let joined = search.join(ChangelogBatch { rows, row_kinds }).await.map_err(|e| e.in_table(&name))?;
            rows = project(&joined.rows, &self.query.columns)?;
            row_kinds = joined.row_kinds;
        } else if !accepted.projection {
            rows = project(&rows, &self.query.columns)?;
        }
        if let Some(remaining) = self.remaining.as_mut() {
            let n = (*remaining).min(rows.num_rows() as u64) as usize;
            rows = rows.slice(0, n);
            row_kinds.truncate(n);
            *remaining -= n as u64;
        }
        Ok(ChangelogBatch { rows, row_kinds })
    }
}

/// The source's value and key decoders (each if it has that format). The
/// format decodes the columns in the records; partition columns come from
/// the path (the connector's per-record metadata).
async fn open_decoders(source: &Resolved, operator: &Grants) -> Result<(Option<Decoder>, Option<Decoder>)> {
    let decoder = match &source.format {
        Some((entry, options)) => {
            let grants = source.format_grants(operator)?;
            Some(
                Decoder::open(entry, options, &source.value_schema(), &grants)
                    .await
                    .map_err(|e| source.format_error(e))?,
            )
        }
        None => None,
    };
    let key_decoder = match &source.key {
        Some(key) => {
            let grants = source.format_grants(operator)?;
            Some(
                Decoder::open(&key.entry, &key.options, &key.schema, &grants)
                    .await
                    .map_err(|e| key.error(e).in_table(&source.table.name))?,
            )
        }
        None => None,
    };
    Ok((decoder, key_decoder))
}

/// A format's data error placed in its split: the record's number in the
/// split instead of its position in one call's batch.
fn placed(e: Error, split: &str, before: u64, resumed: bool) -> Error {
    match e {
        Error::Guest { component, error: weir::GuestError::Data { position, excerpt, message } } => Error::Record {
            component,
            split: split.to_owned(),
            record: before + position + 1,
            resumed,
            message,
            excerpt,
        },
        other => other,
    }
}
