//! Keyed records (Kafka): the key format (`key.format`), the columns that
//! make the key (`key.fields`, or the PRIMARY KEY for a connector without
//! that option, such as `upsert-kafka`), `key.fields-prefix` and
//! `value.fields-include`, as Flink defines them; turning records (value,
//! key, per-record metadata, tombstones) into rows and rows into records.
//!
//! **Rows and records.** A format may give zero rows for a record (a
//! skipped bad record, a DDL event) or two (a CDC update). Per-record data
//! — the key, metadata columns — must follow each row to its record, so
//! when there is such data and the value format is not insert-only (at
//! most one row per record), records are decoded one by one.
//!
//! **Tombstones.** A connector marks a record with a null value by the
//! metadata column [`ROW_KIND`] (Flink's row-kind byte, `3` = delete): it
//! is not decoded; its row is a -D with the key columns from the key and
//! the value columns null. Writing, a sink that declares the `upsert`
//! ability receives each record's row kind in the same column.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BinaryArray, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Schema as ArrowSchema};

use weir::Runtime;
use weir::batch::ChangelogBatch;
use weir::catalog::{Entry, Role};
use weir::error::{Error, Result};
use weir::handles::{Decoder, Frames, Metadata};
use weir::model::Schema;
use weir::options::{self, Target};
use weir::spec::{RowKind, Spec};

use super::columns::{nullable, physical_columns};
use super::model;
use super::resolve::Resolved;

/// The metadata key carrying a record's row kind between the host and a
/// keyed connector (an Int8 column of Flink's row-kind bytes).
pub const ROW_KIND: &str = "row-kind";

/// A table's key format and key columns.
#[derive(Clone)]
pub struct KeyFormat {
    /// The key format component.
    pub entry: Entry,
    /// Its options, without prefix.
    pub options: Vec<(String, String)>,
    /// Its option prefix as written (`key.csv`).
    pub prefix: String,
    /// Table columns of the key, in key order.
    pub fields: Vec<usize>,
    /// The key format's schema: the key columns, `key.fields-prefix` removed.
    pub schema: Schema,
    /// `'value.fields-include' = 'EXCEPT_KEY'`: the value leaves the key
    /// columns out.
    pub except_key: bool,
}

impl KeyFormat {
    /// Resolves `'key.format' = name` of `table`, taking its prefixed
    /// options out of `given`.
    pub(super) fn resolve(
        runtime: &Runtime,
        table: &model::Table,
        connector: &Spec,
        name: &str,
        given: &mut Vec<(String, String)>,
    ) -> Result<KeyFormat> {
        let fail = |m: String| Error::Config(format!("table '{}': {m}", table.name));
        let entry = runtime
            .catalog()
            .find(name, Role::Format)
            .map_err(|e| fail(format!("'key.format' = '{name}': {e}")))?
            .clone();
        let prefix = format!("key.{name}");
        let given_options = options::take_prefixed(given, &prefix);
        let target = Target { table: &table.name, role: "format", prefix: Some(&prefix) };
        let options = options::validate(target, &entry.spec, &given_options)?;
        let field_prefix = table.option("key.fields-prefix").unwrap_or_default();
        let except_key =
            table.option("value.fields-include").is_some_and(|v| v.trim().eq_ignore_ascii_case("EXCEPT_KEY"));
        if !field_prefix.is_empty() && !except_key {
            return Err(fail(
                "a 'key.fields-prefix' needs 'value.fields-include' = 'EXCEPT_KEY' (with ALL the value would hold \
                 the prefixed names too)"
                    .to_owned(),
            ));
        }
        let names: Vec<String> = match table.option("key.fields") {
            Some(list) => list.split(';').map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect(),
            None if connector.option("key.fields").is_none() && !table.schema.primary_key.is_empty() => {
                table.schema.primary_key.clone()
            }
            None if connector.option("key.fields").is_none() => {
                return Err(fail(format!(
                    "connector '{}' takes its key from the PRIMARY KEY; declare one (PRIMARY KEY (…) NOT ENFORCED)",
                    connector.identifier
                )));
            }
            None => {
                return Err(fail(
                    "'key.format' needs 'key.fields': the columns that make the key, separated by ';'".to_owned(),
                ));
            }
        };
        let physical = physical_columns(table);
        let mut fields = Vec::with_capacity(names.len());
        for name in &names {
            let i = table
                .schema
                .fields
                .iter()
                .position(|f| &f.name == name)
                .ok_or_else(|| fail(format!("key field '{name}' is not a column of the table")))?;
            if !physical.contains(&i) {
                return Err(fail(format!(
                    "key field '{name}' is a metadata or partition column; key fields are physical columns"
                )));
            }
            if !name.starts_with(field_prefix) {
                return Err(fail(format!(
                    "key field '{name}' does not start with the 'key.fields-prefix' '{field_prefix}'"
                )));
            }
            fields.push(i);
        }
        if fields.is_empty() {
            return Err(fail("'key.fields' names no column".to_owned()));
        }
        let mut schema = table.schema.project(&fields);
        schema.primary_key.clear();
        for f in &mut schema.fields {
            f.name = f.name[field_prefix.len()..].to_owned();
        }
        Ok(KeyFormat { entry, options, prefix, fields, schema, except_key })
    }

    /// A key format's error with its option keys as the user writes them.
    pub fn error(&self, e: Error) -> Error {
        e.with_option_prefix(&self.prefix)
    }
}

/// Rows of one batch of records: the value decoded, the key decoded into
/// the key columns, tombstones as deletes, and the per-record metadata
/// (`metadata`, returned aligned with the rows).
pub(super) async fn decode_records(
    source: &Resolved,
    decoder: &mut Decoder,
    key_decoder: Option<&mut Decoder>,
    values: &Frames,
    keys: Option<&ArrayRef>,
    metadata: Metadata,
) -> Result<(ChangelogBatch, Metadata)> {
    let n = values.len();
    let tombstone: Vec<bool> = match metadata.iter().find(|(k, _)| k == ROW_KIND) {
        Some((_, kinds)) => match kinds.data_type() {
            DataType::Int8 => kinds
                .as_primitive::<arrow_array::types::Int8Type>()
                .iter()
                .map(|k| k == Some(RowKind::Delete as i8))
                .collect(),
            _ => vec![false; n],
        },
        None => vec![false; n],
    };
    let per_record = key_decoder.is_some() || !source.table.metadata.is_empty() || tombstone.contains(&true);
    if !per_record {
        return Ok((decoder.decode(values).await?, metadata));
    }
    let value_schema = Arc::new(nullable(&source.value_schema().to_arrow().map_err(host)?));
    // An insert-only value format gives at most one row per record.
    let one_row_per_record = source
        .format
        .as_ref()
        .is_some_and(|(f, _)| f.spec.changelog_mode.is_empty() || f.spec.changelog_mode == [RowKind::Insert]);
    // The value rows and, for each, its record.
    let mut parts: Vec<ChangelogBatch> = Vec::new();
    let mut record_of_row: Vec<u32> = Vec::new();
    let mut run_start = 0;
    let mut i = 0;
    while i <= n {
        let at_end = i == n;
        if at_end || tombstone[i] {
            // Decode the run of records before this one.
            if run_start < i {
                let run = slice_frames(values, run_start, i);
                let decoded = decoder.decode(&run).await?;
                if one_row_per_record && decoded.rows.num_rows() == run.len() {
                    record_of_row.extend((run_start..i).map(|r| r as u32));
                    parts.push(decoded);
                } else {
                    // Record by record, so each row knows its record.
                    for r in run_start..i {
                        let decoded = decoder.decode(&slice_frames(values, r, r + 1)).await?;
                        record_of_row.extend(std::iter::repeat_n(r as u32, decoded.rows.num_rows()));
                        parts.push(decoded);
                    }
                }
            }
            if !at_end {
                let nulls: Vec<ArrayRef> =
                    value_schema.fields().iter().map(|f| arrow_array::new_null_array(f.data_type(), 1)).collect();
                let rows = RecordBatch::try_new(value_schema.clone(), nulls).map_err(|e| host(e.to_string()))?;
                parts.push(ChangelogBatch { rows, row_kinds: vec![RowKind::Delete as u8] });
                record_of_row.push(i as u32);
            }
            run_start = i + 1;
        }
        i += 1;
    }
    let value_rows = concat(&value_schema, &parts)?;
    let indices = UInt32Array::from(record_of_row);
    // The key columns, decoded once per record and taken per row.
    let key_rows = match (key_decoder, source.key.as_ref()) {
        (Some(key_decoder), Some(key)) => Some(decode_keys(key_decoder, key, keys, n, &indices).await?),
        _ => None,
    };
    // Physical columns in table order: key columns from the key when the
    // value leaves them out (or for a tombstone), the rest from the value.
    let value_columns = source.value_columns();
    let physical = physical_columns(&source.table);
    let key_fields = source.key.as_ref().map(|k| k.fields.clone()).unwrap_or_default();
    let mut columns = Vec::with_capacity(physical.len());
    let mut fields = Vec::with_capacity(physical.len());
    let tombstone_rows: Vec<bool> = indices.values().iter().map(|&r| tombstone[r as usize]).collect();
    for &c in &physical {
        let from_value = value_columns.iter().position(|&v| v == c).map(|p| value_rows.rows.column(p).clone());
        let from_key =
            key_fields.iter().position(|&k| k == c).and_then(|p| key_rows.as_ref().map(|k| k.column(p).clone()));
        let column = match (from_value, from_key) {
            // ALL: the value's, except in tombstones, which have none.
            (Some(v), Some(k)) => zip_where(&tombstone_rows, &k, &v)?,
            (Some(v), None) => v,
            (None, Some(k)) => k,
            (None, None) => return Err(host(format!("column {c} comes neither from the value nor from the key"))),
        };
        fields.push(arrow_schema::Field::new(
            source.table.schema.fields[c].name.clone(),
            column.data_type().clone(),
            true,
        ));
        columns.push(column);
    }
    let rows = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns).map_err(|e| host(e.to_string()))?;
    let metadata = metadata
        .into_iter()
        .map(|(k, column)| {
            let taken = arrow_select::take::take(column.as_ref(), &indices, None).map_err(|e| host(e.to_string()))?;
            Ok((k, taken))
        })
        .collect::<Result<Metadata>>()?;
    Ok((ChangelogBatch { rows, row_kinds: value_rows.row_kinds }, metadata))
}

/// The key rows for each value row (`indices`: its record).
async fn decode_keys(
    decoder: &mut Decoder,
    key: &KeyFormat,
    keys: Option<&ArrayRef>,
    n: usize,
    indices: &UInt32Array,
) -> Result<RecordBatch> {
    let keys = keys.ok_or_else(|| host("the connector gave no record keys for the key format".to_owned()))?;
    let keys: &BinaryArray = keys.as_binary_opt().ok_or_else(|| host("record keys are not bytes".to_owned()))?;
    // Null keys decode to null key columns.
    let present: Vec<u32> = (0..n as u32).filter(|&r| keys.is_valid(r as usize)).collect();
    let frames = Frames::new(present.iter().map(|&r| keys.value(r as usize)));
    let decoded = decoder.decode(&frames).await.map_err(|e| key.error(e))?;
    if decoded.rows.num_rows() != present.len() {
        return Err(Error::Config(format!(
            "key format '{}' gave {} rows for {} keys; a key format must give one row per key",
            key.entry.spec.identifier,
            decoded.rows.num_rows(),
            present.len()
        )));
    }
    // Row of each record's key (None: null key), then per value row.
    let mut key_row: Vec<Option<u32>> = vec![None; n];
    for (k, &r) in present.iter().enumerate() {
        key_row[r as usize] = Some(k as u32);
    }
    let take: UInt32Array = indices.values().iter().map(|&r| key_row[r as usize]).collect();
    let schema = Arc::new(nullable(decoded.rows.schema().as_ref()));
    let columns = decoded
        .rows
        .columns()
        .iter()
        .map(|c| arrow_select::take::take(c.as_ref(), &take, None).map_err(|e| host(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema, columns).map_err(|e| host(e.to_string()))
}

/// `key` where `pick` is set, else `value`.
fn zip_where(pick: &[bool], key: &ArrayRef, value: &ArrayRef) -> Result<ArrayRef> {
    if !pick.contains(&true) {
        return Ok(value.clone());
    }
    let mask = arrow_array::BooleanArray::from(pick.to_vec());
    arrow_select::zip::zip(&mask, key, value).map_err(|e| host(e.to_string()))
}

/// Frames `from..to` of `frames`.
fn slice_frames(frames: &Frames, from: usize, to: usize) -> Frames {
    Frames::new((from..to).map(|i| frames.get(i).unwrap_or_default()))
}

fn concat(schema: &Arc<ArrowSchema>, parts: &[ChangelogBatch]) -> Result<ChangelogBatch> {
    let mut batches = Vec::with_capacity(parts.len());
    let mut kinds = Vec::new();
    let any_kinds = parts.iter().any(|p| !p.row_kinds.is_empty());
    for p in parts {
        let columns = p.rows.columns().to_vec();
        batches.push(RecordBatch::try_new(schema.clone(), columns).map_err(|e| host(e.to_string()))?);
        if any_kinds {
            if p.row_kinds.is_empty() {
                kinds.extend(std::iter::repeat_n(RowKind::Insert as u8, p.rows.num_rows()));
            } else {
                kinds.extend_from_slice(&p.row_kinds);
            }
        }
    }
    let rows = arrow_select::concat::concat_batches(schema, &batches).map_err(|e| host(e.to_string()))?;
    Ok(ChangelogBatch { rows, row_kinds: kinds })
}

fn host(m: String) -> Error {
    Error::Host(anyhow::anyhow!("{m}"))
}
