//! The scan-source handle: plan a scan's splits, read each split with a
//! checkpointable reader. One component instance serves the plan and any
//! number of readers (each a guest resource in that instance).

use arrow_array::ArrayRef;
use wasmtime::component::ResourceAny;

use super::{Frames, Metadata, open_instance};
use crate::batch::{self, ChangelogBatch};
use crate::bindings::v0_1_0::exports::weir::connector::source as wsource;
use crate::bindings::v0_1_0::weir::connector::types as wit;
use crate::catalog::Entry;
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::model::{CompareOp, Filter, Literal, Schema};
use crate::policy::Grants;

/// What the engine would like a source to do itself; the source says in
/// [`Plan::accepted`] what it does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanRequest {
    /// Schema columns to produce, in this order (`None`: all).
    pub projection: Option<Vec<usize>>,
    /// A conjunction of filters.
    pub filters: Vec<Filter>,
    /// Stop after this many rows in total.
    pub limit: Option<u64>,
    /// Partitions to read, each as `key=value` pairs (`None`: all).
    pub partitions: Option<Vec<Vec<(String, String)>>>,
    /// Metadata keys to expose, in order (`METADATA FROM 'key'`).
    pub metadata_keys: Vec<String>,
}

/// Which parts of the [`ScanRequest`] the source applies itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// The projection.
    pub projection: bool,
    /// Indices into [`ScanRequest::filters`] applied fully.
    pub filters: Vec<usize>,
    /// The limit.
    pub limit: bool,
    /// The partition selection.
    pub partitions: bool,
}

/// A unit of parallel work (a file, a byte range, a partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Unique and stable: checkpoints and progress name splits by it.
    pub id: String,
    /// The source's own description of the split (opaque to the host).
    pub payload: Vec<u8>,
}

/// A planned scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The splits to read.
    pub splits: Vec<Split>,
    /// Whether the scan ends (files) or runs on (sockets, queues).
    pub bounded: bool,
    /// What the source applies itself.
    pub accepted: Accepted,
}

/// Raw records from a source, for the table's format to decode.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// The payloads.
    pub values: Frames,
    /// Record keys (Kafka-style sources), a binary column with nulls.
    pub keys: Option<ArrayRef>,
    /// Event time of each record, milliseconds since the epoch.
    pub timestamps: Option<Vec<i64>>,
    /// Per-record metadata by key, one value per record.
    pub metadata: Metadata,
}

/// What one [`ScanSource::read`] gave.
#[derive(Debug)]
pub enum Read {
    /// Raw records (sources with a `format`).
    Records(Records),
    /// Rows, validated against the table's schema.
    Rows(ChangelogBatch),
    /// Nothing now; read again later (unbounded sources).
    WouldBlock,
    /// The split is exhausted; the reader is closed.
    EndOfSplit,
}

/// An open reader of one split, in its [`ScanSource`]'s instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitReader(ResourceAny);

/// A source component instance for one scan request.
pub struct ScanSource {
    instance: Instance,
    options: Vec<(String, String)>,
    schema: wit::Schema,
    request: wsource::ScanRequest,
}

impl ScanSource {
    /// Opens an instance of the source `entry` with already validated
    /// `options` for a table of `schema`, and the scan `request` its plan
    /// and readers serve.
    pub async fn open(
        entry: &Entry,
        options: &[(String, String)],
        schema: &Schema,
        request: &ScanRequest,
        grants: &Grants,
    ) -> Result<ScanSource> {
        let (instance, schema) = open_instance(entry, options, schema, grants).await?;
        Ok(ScanSource { instance, options: options.to_vec(), schema, request: scan_request(request) })
    }

    /// Plans the scan's splits. Readers of the same request in other
    /// instances may share one plan (it is stable across calls).
    pub async fn plan(&mut self) -> Result<Plan> {
        let plan = self.instance.plan(&self.options, &self.schema, &self.request).await?;
        let filters = self.request.filters.len();
        let accepted = &plan.accepted;
        if let Some(bad) = accepted.filters.iter().find(|&&f| f as usize >= filters) {
            return Err(Error::InvalidBatch {
                component: self.instance.name().to_owned(),
                message: format!("its plan accepts filter {bad}, but {filters} were offered"),
            });
        }
        Ok(Plan {
            splits: plan.splits.into_iter().map(|s| Split { id: s.id, payload: s.payload }).collect(),
            bounded: plan.bounded,
            accepted: Accepted {
                projection: accepted.projection,
                filters: accepted.filters.iter().map(|&f| f as usize).collect(),
                limit: accepted.limit,
                partitions: accepted.partitions,
            },
        })
    }

    /// Opens a reader of `split`, resuming from `state` (what
    /// [`ScanSource::checkpoint`] returned before a restart) when given.
    pub async fn open_reader(&mut self, split: &Split, state: Option<&[u8]>) -> Result<SplitReader> {
        let split = wsource::Split { id: split.id.clone(), payload: split.payload.clone() };
        let reader = self.instance.open_reader(&self.options, &self.schema, &self.request, &split, state).await?;
        Ok(SplitReader(reader))
    }

    /// Reads up to about `max_records` from `reader`. At
    /// [`Read::EndOfSplit`] the reader is closed.
    pub async fn read(&mut self, reader: SplitReader, max_records: u32) -> Result<Read> {
        Ok(match self.instance.next(reader.0, max_records).await? {
            wsource::ReadResult::Rows(rows) => Read::Rows(batch::to_arrow(self.instance.name(), &self.schema, rows)?),
            wsource::ReadResult::Records(records) => Read::Records(records_to_arrow(self.instance.name(), records)?),
            wsource::ReadResult::WouldBlock => Read::WouldBlock,
            wsource::ReadResult::EndOfSplit => {
                self.instance.drop_resource(reader.0).await?;
                Read::EndOfSplit
            }
        })
    }

    /// The reader's state after the records returned so far.
    pub async fn checkpoint(&mut self, reader: SplitReader) -> Result<Vec<u8>> {
        self.instance.checkpoint_reader(reader.0).await
    }

    /// Closes a reader before its end.
    pub async fn close_reader(&mut self, reader: SplitReader) -> Result<()> {
        self.instance.drop_resource(reader.0).await
    }

    /// The instance (metrics, denials, poisoned state).
    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}

/// A request in the contract's terms.
fn scan_request(r: &ScanRequest) -> wsource::ScanRequest {
    wsource::ScanRequest {
        projection: r.projection.as_ref().map(|p| p.iter().map(|&c| c as u32).collect()),
        filters: r.filters.iter().map(predicate).collect(),
        limit: r.limit,
        partitions: r.partitions.clone(),
        metadata_keys: r.metadata_keys.clone(),
    }
}

/// A filter in the contract's terms.
fn predicate(f: &Filter) -> wsource::Predicate {
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

/// Raw records with their keys and metadata as Arrow, every length checked.
fn records_to_arrow(component: &str, r: wit::RawRecords) -> Result<Records> {
    let invalid = |message: String| Error::InvalidBatch { component: component.to_owned(), message };
    let values = Frames(r.values);
    let n = values.len();
    if let Some(t) = &r.timestamps
        && t.len() != n
    {
        return Err(invalid(format!("{} timestamps for {n} records", t.len())));
    }
    let keys = r.keys.map(|k| batch::flat_column_to_arrow(component, "key", k, n)).transpose()?;
    let metadata = r
        .metadata
        .into_iter()
        .map(|(key, column)| Ok((key.clone(), batch::flat_column_to_arrow(component, &key, column, n)?)))
        .collect::<Result<_>>()?;
    Ok(Records { values, keys, timestamps: r.timestamps, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_and_literal_reaches_the_contract() {
        let f = |op, value| Filter { column: 3, op, value };
        let p = predicate(&f(CompareOp::LtEq, Literal::Double(1.5)));
        assert_eq!((p.column, p.op), (3, wsource::CompareOp::LtEq));
        assert!(matches!(p.value, wsource::Scalar::Double(d) if d == 1.5));
        let p = predicate(&f(CompareOp::IsNotNull, Literal::Null));
        assert!(matches!((p.op, p.value), (wsource::CompareOp::IsNotNull, wsource::Scalar::Null)));
        let p = predicate(&f(CompareOp::NotEq, Literal::Text("x".into())));
        assert!(matches!(p.value, wsource::Scalar::Text(t) if t == "x"));
    }

    #[test]
    fn records_with_mismatched_metadata_are_refused() {
        let values = wit::VarData { offsets: vec![0, 1, 2], data: b"ab".to_vec() };
        let short = wit::Column { validity: None, data: wit::ColumnData::Int64(vec![7]) };
        let r = wit::RawRecords { values, keys: None, timestamps: None, metadata: vec![("offset".into(), short)] };
        let e = records_to_arrow("src", r).unwrap_err().to_string();
        assert!(e.contains("offset"), "{e}");
    }
}
