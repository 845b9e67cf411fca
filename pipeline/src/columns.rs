//! Columns the host fills in or converts: partition values from directory
//! names (text ↔ Arrow), metadata columns, implicit widening casts.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

use weir::batch::ChangelogBatch;
use weir::error::{Error, Result};
use weir::handles::Metadata;
use weir::model::Schema;

use super::model;

/// Adds the table's partition columns, parsed from the connector's
/// per-record metadata under each partition key, to the decoded columns.
pub(super) fn with_partitions(
    table: &model::Table,
    decoded: ChangelogBatch,
    metadata: &Metadata,
) -> Result<ChangelogBatch> {
    if table.partition_keys.is_empty() && table.metadata.is_empty() {
        return with_computed(table, decoded);
    }
    let fail = |m: String| Error::Host(anyhow::anyhow!("table '{}': {m}", table.name));
    let n = decoded.rows.num_rows();
    let mut physical = decoded.rows.columns().iter();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(table.schema.fields.len());
    let schema = Arc::new(table.schema.to_arrow().map_err(fail)?);
    for (i, field) in table.schema.fields.iter().enumerate() {
        if let Some(c) = table.computed.iter().find(|c| c.column == i) {
            columns.push(computed_array(c.expression, n));
            continue;
        }
        // A partition column comes from the metadata under its name, a
        // METADATA column from the metadata under its key.
        let key = match table.metadata.iter().find(|m| m.column == i) {
            Some(m) => m.key.as_str(),
            None if table.partition_keys.contains(&i) => field.name.as_str(),
            None => {
                columns
                    .push(physical.next().cloned().ok_or_else(|| fail("the decoder returned too few columns".into()))?);
                continue;
            }
        };
        let (_, column) = metadata.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).ok_or_else(|| {
            if table.partition_keys.contains(&i) {
                fail(format!("partition column '{}' has no '{}=…' directory above this file", field.name, field.name))
            } else {
                fail(format!("the connector gave no metadata '{key}' for column '{}'", field.name))
            }
        })?;
        let target = schema.field(i).data_type();
        if !table.partition_keys.contains(&i) && column.data_type() != &DataType::Utf8 {
            columns.push(
                metadata_array(target, column)
                    .map_err(|m| fail(format!("column '{}' (METADATA FROM '{key}'): {m}", field.name)))?,
            );
            continue;
        }
        let Some(values) = column.as_any().downcast_ref::<arrow_array::StringArray>() else {
            return Err(fail(format!("partition metadata '{}' is not text", field.name)));
        };
        let texts: Vec<Option<&str>> = (0..n).map(|r| values.is_valid(r).then(|| values.value(r))).collect();
        columns.push(text_array(target, &texts).map_err(|m| fail(format!("partition '{}': {m}", field.name)))?);
    }
    let rows = arrow_array::RecordBatch::try_new(schema, columns).map_err(|e| fail(e.to_string()))?;
    Ok(ChangelogBatch { rows, row_kinds: decoded.row_kinds })
}

/// Adds the table's computed columns to `rows`, which has the others.
pub(super) fn with_computed(table: &model::Table, rows: ChangelogBatch) -> Result<ChangelogBatch> {
    if table.computed.is_empty() {
        return Ok(rows);
    }
    let fail = |m: String| Error::Host(anyhow::anyhow!("table '{}': {m}", table.name));
    let n = rows.rows.num_rows();
    let mut stored = rows.rows.columns().iter();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(table.schema.fields.len());
    for i in 0..table.schema.fields.len() {
        match table.computed.iter().find(|c| c.column == i) {
            Some(c) => columns.push(computed_array(c.expression, n)),
            None => {
                columns.push(stored.next().cloned().ok_or_else(|| fail("the source returned too few columns".into()))?)
            }
        }
    }
    let schema = Arc::new(table.schema.to_arrow().map_err(fail)?);
    let batch = arrow_array::RecordBatch::try_new(schema, columns).map_err(|e| fail(e.to_string()))?;
    Ok(ChangelogBatch { rows: batch, row_kinds: rows.row_kinds })
}

/// `schema` with every field nullable (a tombstone's or a null key's
/// columns, a LEFT join's missing row, a search's found rows).
pub(super) fn nullable(schema: &arrow_schema::Schema) -> arrow_schema::Schema {
    arrow_schema::Schema::new(
        schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>(),
    )
}

/// What a join or a search yields: the rows of `source` picked by
/// `picks` (with their row kinds), then the `extra` columns.
pub(super) fn joined(
    source: &ChangelogBatch,
    picks: Vec<u32>,
    extra: Vec<(arrow_schema::FieldRef, ArrayRef)>,
) -> Result<ChangelogBatch> {
    let fail = |e: arrow_schema::ArrowError| Error::Host(anyhow::anyhow!("joining rows: {e}"));
    let picks = arrow_array::UInt32Array::from(picks);
    let mut fields: Vec<arrow_schema::FieldRef> = source.rows.schema().fields().iter().cloned().collect();
    let mut columns = Vec::with_capacity(fields.len() + extra.len());
    for column in source.rows.columns() {
        columns.push(arrow_select::take::take(column, &picks, None).map_err(fail)?);
    }
    for (field, column) in extra {
        fields.push(field);
        columns.push(column);
    }
    let rows = arrow_array::RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).map_err(fail)?;
    let row_kinds = if source.row_kinds.is_empty() {
        Vec::new()
    } else {
        picks.values().iter().map(|&r| source.row_kinds[r as usize]).collect()
    };
    Ok(ChangelogBatch { rows, row_kinds })
}

/// `n` values of a computed column.
fn computed_array(expression: model::Computed, n: usize) -> ArrayRef {
    match expression {
        model::Computed::ProcTime => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            Arc::new(arrow_array::TimestampMillisecondArray::from(vec![now; n]).with_timezone("UTC"))
        }
    }
}

/// A typed metadata column (Kafka's `offset` BIGINT, `partition` INT,
/// `timestamp` as epoch milliseconds) as the declared column type: the
/// same type as is, integers narrowed or widened with a range check,
/// milliseconds as TIMESTAMP / TIMESTAMP_LTZ of any precision.
pub(super) fn metadata_array(target: &DataType, column: &ArrayRef) -> std::result::Result<ArrayRef, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type};
    use arrow_array::{Int64Array, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray};
    use arrow_array::{TimestampSecondArray, types::Int8Type, types::Int16Type};
    use arrow_schema::TimeUnit;
    if column.data_type() == target {
        return Ok(column.clone());
    }
    let longs: Int64Array = match column.data_type() {
        DataType::Int8 => column.as_primitive::<Int8Type>().iter().map(|v| v.map(i64::from)).collect(),
        DataType::Int16 => column.as_primitive::<Int16Type>().iter().map(|v| v.map(i64::from)).collect(),
        DataType::Int32 => column.as_primitive::<Int32Type>().iter().map(|v| v.map(i64::from)).collect(),
        DataType::Int64 => column.as_primitive::<Int64Type>().clone(),
        other => return Err(format!("the connector gives {other}, which cannot become {target}")),
    };
    let scaled = |factor: i64| longs.iter().map(move |v| v.map(|ms| ms.saturating_mul(factor)));
    Ok(match target {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => arrow_cast_int(target, longs)?,
        DataType::Timestamp(unit, tz) => match unit {
            TimeUnit::Second => Arc::new(
                longs
                    .iter()
                    .map(|v| v.map(|ms| ms.div_euclid(1000)))
                    .collect::<TimestampSecondArray>()
                    .with_timezone_opt(tz.clone()),
            ),
            TimeUnit::Millisecond => {
                Arc::new(longs.iter().collect::<TimestampMillisecondArray>().with_timezone_opt(tz.clone()))
            }
            TimeUnit::Microsecond => {
                Arc::new(scaled(1000).collect::<TimestampMicrosecondArray>().with_timezone_opt(tz.clone()))
            }
            TimeUnit::Nanosecond => {
                Arc::new(scaled(1_000_000).collect::<TimestampNanosecondArray>().with_timezone_opt(tz.clone()))
            }
        },
        other => {
            return Err(format!(
                "a metadata column of type {other} is not supported; declare it BIGINT or TIMESTAMP_LTZ(3)"
            ));
        }
    })
}

/// Text values (partition directory names) as an Arrow array of `ty`.
pub(super) fn text_array(ty: &DataType, texts: &[Option<&str>]) -> std::result::Result<ArrayRef, String> {
    use arrow_array::*;
    use weir_text as t;
    let each = |f: &dyn Fn(&str) -> std::result::Result<(), String>| texts.iter().flatten().try_for_each(|v| f(v));
    Ok(match ty {
        DataType::Utf8 => Arc::new(StringArray::from(texts.to_vec())),
        DataType::Boolean => {
            each(&|v| t::parse_bool(v).map(|_| ()))?;
            Arc::new(texts.iter().map(|v| v.and_then(|v| t::parse_bool(v).ok())).collect::<BooleanArray>())
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            each(&|v| t::parse_int::<i64>(v, "BIGINT").map(|_| ()))?;
            let values: Int64Array =
                texts.iter().map(|v| v.and_then(|v| t::parse_int::<i64>(v, "BIGINT").ok())).collect();
            arrow_cast_int(ty, values)?
        }
        DataType::Float64 => Arc::new(
            texts.iter().map(|v| v.and_then(|v| t::parse_float::<f64>(v, "DOUBLE").ok())).collect::<Float64Array>(),
        ),
        DataType::Date32 => {
            each(&|v| t::parse_date(v).map(|_| ()))?;
            Arc::new(texts.iter().map(|v| v.and_then(|v| t::parse_date(v).ok())).collect::<Date32Array>())
        }
        other => {
            return Err(format!("partition columns of type {other} are not supported yet; use STRING, INT or DATE"));
        }
    })
}

pub(super) fn arrow_cast_int(ty: &DataType, values: arrow_array::Int64Array) -> std::result::Result<ArrayRef, String> {
    use arrow_array::*;
    let narrow = |name: &str| format!("a value does not fit {name}");
    Ok(match ty {
        DataType::Int8 => Arc::new(
            values
                .iter()
                .map(|v| v.map(i8::try_from).transpose())
                .collect::<std::result::Result<Int8Array, _>>()
                .map_err(|_| narrow("TINYINT"))?,
        ),
        DataType::Int16 => Arc::new(
            values
                .iter()
                .map(|v| v.map(i16::try_from).transpose())
                .collect::<std::result::Result<Int16Array, _>>()
                .map_err(|_| narrow("SMALLINT"))?,
        ),
        DataType::Int32 => Arc::new(
            values
                .iter()
                .map(|v| v.map(i32::try_from).transpose())
                .collect::<std::result::Result<Int32Array, _>>()
                .map_err(|_| narrow("INT"))?,
        ),
        _ => Arc::new(values),
    })
}

/// The table's physical columns: neither partition nor metadata columns.
pub(super) fn physical_columns(table: &model::Table) -> Vec<usize> {
    (0..table.schema.fields.len())
        .filter(|i| {
            !table.partition_keys.contains(i)
                && !table.metadata.iter().any(|m| m.column == *i)
                && !table.is_computed(*i)
        })
        .collect()
}

/// A partition column's value in row `r` as directory text (`None`: null).
pub(super) fn partition_text(column: &ArrayRef, r: usize) -> std::result::Result<Option<String>, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Int8Type, Int16Type, Int32Type, Int64Type};
    if column.is_null(r) {
        return Ok(None);
    }
    let mut text = String::new();
    match column.data_type() {
        DataType::Utf8 => text.push_str(column.as_string::<i32>().value(r)),
        DataType::Int8 => weir_text::write_int(&mut text, column.as_primitive::<Int8Type>().value(r)),
        DataType::Int16 => weir_text::write_int(&mut text, column.as_primitive::<Int16Type>().value(r)),
        DataType::Int32 => weir_text::write_int(&mut text, column.as_primitive::<Int32Type>().value(r)),
        DataType::Int64 => weir_text::write_int(&mut text, column.as_primitive::<Int64Type>().value(r)),
        DataType::Date32 => weir_text::write_date(&mut text, column.as_primitive::<Date32Type>().value(r)),
        DataType::Boolean => text.push_str(if column.as_boolean().value(r) { "true" } else { "false" }),
        other => {
            return Err(format!("partition columns of type {other} are not supported yet; use STRING, INT or DATE"));
        }
    }
    Ok(Some(text))
}

/// `n` copies of `value` (or nulls) as a text column.
pub(super) fn constant_text(value: Option<&str>, n: usize) -> ArrayRef {
    Arc::new(arrow_array::StringArray::from(vec![value; n]))
}

/// `rows` with columns widened to `schema`'s types where the `INSERT`
/// allows an implicit cast (the SQL front end checks `weir_sql::types::widens`); `None` if nothing
/// needs casting.
pub(super) fn widen(rows: &ChangelogBatch, schema: &Schema) -> Result<Option<ChangelogBatch>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Int8Type, Int16Type, Int32Type, Int64Type};
    use arrow_array::{Float64Array, Int16Array, Int32Array, Int64Array};
    let target = Arc::new(schema.to_arrow().map_err(|m| Error::Host(anyhow::anyhow!(m)))?);
    if rows.rows.num_columns() != target.fields().len()
        || rows.rows.columns().iter().zip(target.fields()).all(|(c, f)| c.data_type() == f.data_type())
    {
        return Ok(None);
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for (column, field) in rows.rows.columns().iter().zip(target.fields()) {
        macro_rules! to {
            ($out:ty, $in:ty, $conv:expr) => {{
                let a: $out = column.as_primitive::<$in>().iter().map(|v| v.map($conv)).collect();
                Arc::new(a) as ArrayRef
            }};
        }
        let widened = match (column.data_type(), field.data_type()) {
            (a, b) if a == b => column.clone(),
            (DataType::Int8, DataType::Int16) => to!(Int16Array, Int8Type, i16::from),
            (DataType::Int8, DataType::Int32) => to!(Int32Array, Int8Type, i32::from),
            (DataType::Int8, DataType::Int64) => to!(Int64Array, Int8Type, i64::from),
            (DataType::Int16, DataType::Int32) => to!(Int32Array, Int16Type, i32::from),
            (DataType::Int16, DataType::Int64) => to!(Int64Array, Int16Type, i64::from),
            (DataType::Int32, DataType::Int64) => to!(Int64Array, Int32Type, i64::from),
            (DataType::Int8, DataType::Float64) => to!(Float64Array, Int8Type, f64::from),
            (DataType::Int16, DataType::Float64) => to!(Float64Array, Int16Type, f64::from),
            (DataType::Int32, DataType::Float64) => to!(Float64Array, Int32Type, f64::from),
            (DataType::Int64, DataType::Float64) => to!(Float64Array, Int64Type, |v: i64| v as f64),
            (DataType::Float32, DataType::Float64) => to!(Float64Array, Float32Type, f64::from),
            (a, b) => return Err(Error::Host(anyhow::anyhow!("cannot write a {a} column into a {b} column"))),
        };
        columns.push(widened);
    }
    let batch = arrow_array::RecordBatch::try_new(target, columns).map_err(|e| Error::Host(e.into()))?;
    Ok(Some(ChangelogBatch { rows: batch, row_kinds: rows.row_kinds.clone() }))
}
