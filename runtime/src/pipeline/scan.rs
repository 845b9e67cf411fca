//! A scan of one source table for one query: plan the splits, read a few
//! at a time in one source instance, decode raw records, apply what the
//! source did not accept (filters, limit), checkpoint split states.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::BooleanArray;
use wasmtime::component::ResourceAny;

use super::columns::{with_partitions, without_partitions};
use super::filter::evaluate;
use super::model::{self, CompareOp, Literal};
use super::resolve::Resolved;
use crate::api::Decoder;
use crate::batch::{self, ChangelogBatch};
use crate::bindings::v0_1_0::exports::weir::connector::source as wsource;
use crate::checkpoint;
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::policy::Grants;
use crate::types::{RawRecords, VarData};

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
    /// Being read.
    Open(ResourceAny),
    /// Read to the end.
    Done,
    /// Read by another reader of the same scan.
    Elsewhere,
}

/// A running scan of one source table for one query.
pub(super) struct Scan {
    pub(super) source: Arc<Resolved>,
    pub(super) query: model::Query,
    pub(super) request: wsource::ScanRequest,
    pub(super) instance: Instance,
    pub(super) decoder: Option<Decoder>,
    pub(super) plan: wsource::ScanPlan,
    /// One slot per split of the plan.
    pub(super) slots: Vec<Slot>,
    pub(super) turn: usize,
    pub(super) remaining: Option<u64>,
    /// Raw bytes read since [`Scan::take_bytes`] was last called.
    pub(super) bytes: u64,
}

impl Scan {
    pub(super) async fn open(
        source: Arc<Resolved>,
        query: model::Query,
        operator: &Grants,
        restore: Option<&checkpoint::Checkpoint>,
        plan: Option<wsource::ScanPlan>,
    ) -> Result<Scan> {
        let table = &source.table;
        let request = wsource::ScanRequest {
            projection: None,
            // Offered to the source; it says which it applies (the rest the
            // runner applies to the rows).
            filters: query.filters.iter().map(predicate).collect(),
            limit: query.limit,
            partitions: None,
            metadata_keys: table.metadata.iter().map(|m| m.key.clone()).collect(),
        };
        let grants = source.grants(operator)?;
        let mut instance = source.connector.loaded.instantiate(&source.connector.spec.identifier, &grants).await?;
        instance.validate(&source.options, &table.schema).await?;
        let plan = match plan {
            Some(plan) => plan,
            None => instance.plan(&source.options, &table.schema, &request).await?,
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
        // The format decodes the columns in the records; partition columns
        // come from the path (the connector's per-record metadata).
        let decode_schema = without_partitions(table);
        let decoder = match &source.format {
            Some((entry, options)) => {
                Some(Decoder::open(entry, options, &decode_schema, &source.format_grants(operator)?).await?)
            }
            None => None,
        };
        let remaining = query.limit;
        Ok(Scan { source, query, request, instance, decoder, plan, slots, turn: 0, remaining, bytes: 0 })
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
        let table = &self.source.table;
        loop {
            if self.slots.iter().filter(|s| matches!(s, Slot::Open(_))).count() >= OPEN_READERS {
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
            let reader = self
                .instance
                .open_reader(&self.source.options, &table.schema, &self.request, split, state.as_deref())
                .await?;
            self.slots[i] = Slot::Open(reader);
        }
    }

    /// Every split's state after the rows returned so far (splits not
    /// started yet are left out: they start from the beginning).
    pub(super) async fn checkpoint(&mut self) -> Result<BTreeMap<String, checkpoint::SplitState>> {
        let mut states = BTreeMap::new();
        for (split, slot) in self.plan.splits.iter().zip(&self.slots) {
            let state = match slot {
                Slot::Open(reader) => {
                    checkpoint::SplitState::Reading(checkpoint::hex(&self.instance.checkpoint_reader(*reader).await?))
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
        let schema = &source.table.schema;
        let mut idle_turns = 0;
        loop {
            self.open_readers().await?;
            let open: Vec<usize> =
                self.slots.iter().enumerate().filter(|(_, s)| matches!(s, Slot::Open(_))).map(|(i, _)| i).collect();
            if self.remaining == Some(0) || open.is_empty() {
                return Ok(Step::End);
            }
            self.turn = (self.turn + 1) % open.len();
            let i = open[self.turn];
            let Slot::Open(reader) = self.slots[i] else { unreachable!() };
            let batch = match self.instance.next(reader, READ_BATCH).await? {
                wsource::ReadResult::Rows(rows) => rows,
                wsource::ReadResult::Records(RawRecords { values, metadata, .. }) => {
                    self.bytes += values.data.len() as u64;
                    let decoded = self.decode(&values).await?;
                    let rows = with_partitions(&source.table, decoded, &metadata)?;
                    let rows = self.apply(rows)?;
                    if rows.rows.num_rows() > 0 {
                        return Ok(Step::Rows(rows));
                    }
                    continue;
                }
                wsource::ReadResult::WouldBlock => {
                    // Nothing ready: pause once every open split had its turn.
                    idle_turns += 1;
                    if idle_turns >= open.len() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        return Ok(Step::Idle);
                    }
                    continue;
                }
                wsource::ReadResult::EndOfSplit => {
                    self.slots[i] = Slot::Done;
                    self.instance.drop_resource(reader).await?;
                    continue;
                }
            };
            idle_turns = 0;
            let rows = batch::to_arrow(self.instance.name(), schema, batch)?;
            let rows = self.apply(rows)?;
            if rows.rows.num_rows() > 0 {
                return Ok(Step::Rows(rows));
            }
        }
    }

    /// Decodes records with the format; the batch is checked as the
    /// format's (an invalid one names the format, not the connector).
    pub(super) async fn decode(&mut self, values: &VarData) -> Result<ChangelogBatch> {
        let decoder = self.decoder.as_mut().expect("raw records only come from connectors with a format");
        decoder.decode_arrow(values).await
    }

    /// Filters, projection and limit the source did not take.
    pub(super) fn apply(&mut self, rows: ChangelogBatch) -> Result<ChangelogBatch> {
        let ChangelogBatch { rows, row_kinds } = rows;
        let accepted = &self.plan.accepted;
        let mut keep: Option<Vec<bool>> = None;
        for (i, filter) in self.query.filters.iter().enumerate() {
            if accepted.filters.contains(&(i as u32)) {
                continue;
            }
            let mask = evaluate(rows.column(filter.column), filter).map_err(|m| {
                Error::Host(anyhow::anyhow!(
                    "table '{}': WHERE on column {}: {m}",
                    self.source.table.name,
                    filter.column
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
        if !accepted.projection {
            rows = rows.project(&self.query.columns).map_err(|e| Error::Host(anyhow::anyhow!("projection: {e}")))?;
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

/// A query filter in the contract's terms.
pub(super) fn predicate(f: &model::Filter) -> wsource::Predicate {
    use wsource::{CompareOp as W, Scalar};
    let op = match f.op {
        CompareOp::Eq => W::Eq,
        CompareOp::NotEq => W::NotEq,
        CompareOp::Lt => W::Lt,
        CompareOp::LtEq => W::LtEq,
        CompareOp::Gt => W::Gt,
        CompareOp::GtEq => W::GtEq,
        CompareOp::IsNull => W::IsNull,
        CompareOp::IsNotNull => W::IsNotNull,
    };
    let value = match &f.value {
        Literal::Null => Scalar::Null,
        Literal::Boolean(b) => Scalar::Boolean(*b),
        Literal::Integer(i) => Scalar::Integer(*i),
        Literal::Double(d) => Scalar::Double(*d),
        Literal::Text(t) => Scalar::Text(t.clone()),
    };
    wsource::Predicate { column: f.column as u32, op, value }
}
