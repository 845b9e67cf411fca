//! The boundary batch and Arrow.
//!
//! [`to_arrow`] turns a batch lifted from a guest into an Arrow
//! `RecordBatch`, taking ownership of each buffer (a `Vec` becomes an Arrow
//! buffer without copying), and validates everything on the way: a guest is
//! untrusted, so lengths, offsets, bitmaps, UTF-8, row kinds and decimal
//! precision are checked before any value is read. [`from_arrow`] builds a
//! batch to lower into a guest with one copy per buffer.
//!
//! Types map as in Flink's own Arrow conversion (`ArrowUtils`): TIME and
//! TIMESTAMP units follow the precision (0 → s, ≤ 3 → ms, ≤ 6 → µs, else ns),
//! TIMESTAMP_LTZ carries the time zone "UTC". ARRAY is a `List` with an
//! `element` field, MAP a `Map` of `entries` (`key`, `value`), ROW a
//! `Struct`; their child columns are checked like top-level ones (each
//! referenced once, offsets in bounds of the child's length).

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, ListArray, MapArray, PrimitiveArray, RecordBatch,
    RecordBatchOptions, StringArray, StructArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field as ArrowField, Fields, Schema as ArrowSchema, TimeUnit};

use crate::bindings::v0_1_0::weir::connector::types::{
    Batch, Column, ColumnData, DecimalType, ElementRef, Field, ListData, LogicalType, MapType, NestedType, Schema,
    VarData,
};
use crate::error::{Error, Result};

/// Rows with their change kinds, as embedders see them.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangelogBatch {
    /// The rows.
    pub rows: RecordBatch,
    /// One `RowKind` byte per row (Flink's byte values), or empty when every
    /// row is an insert.
    pub row_kinds: Vec<u8>,
}

fn unit(precision: u8) -> TimeUnit {
    match precision {
        0 => TimeUnit::Second,
        1..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

fn precision(unit: &TimeUnit) -> u8 {
    match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    }
}

fn nested_type(nested: &[NestedType], r: u32) -> Result<&LogicalType, String> {
    match nested.get(r as usize) {
        Some(NestedType::Type(t)) => Ok(t),
        _ => Err(format!("type reference {r} is not a type in the schema's nested table")),
    }
}

fn row_fields(nested: &[NestedType], r: u32) -> Result<&[Field], String> {
    match nested.get(r as usize) {
        Some(NestedType::RowFields(f)) => Ok(f),
        _ => Err(format!("row reference {r} is not a ROW in the schema's nested table")),
    }
}

/// Depth limit of nested types: a schema is untrusted input too.
const MAX_DEPTH: usize = 32;

/// The Arrow type of a Flink logical type; `nested` is the schema's table
/// of element and field types.
pub fn arrow_type(ty: &LogicalType, nested: &[NestedType]) -> Result<DataType, String> {
    arrow_type_at(ty, nested, 0)
}

fn arrow_fields(fields: &[Field], nested: &[NestedType], depth: usize) -> Result<Fields, String> {
    fields
        .iter()
        .map(|f| {
            let dt = arrow_type_at(&f.data_type, nested, depth).map_err(|e| format!("field '{}': {e}", f.name))?;
            Ok(ArrowField::new(&f.name, dt, f.nullable))
        })
        .collect()
}

fn map_entries_field(m: &MapType, nested: &[NestedType], depth: usize) -> Result<ArrowField, String> {
    let key = arrow_type_at(nested_type(nested, m.key)?, nested, depth + 1)?;
    let value = arrow_type_at(nested_type(nested, m.value.element)?, nested, depth + 1)?;
    let entries =
        Fields::from(vec![ArrowField::new("key", key, false), ArrowField::new("value", value, m.value.nullable)]);
    Ok(ArrowField::new("entries", DataType::Struct(entries), false))
}

fn arrow_type_at(ty: &LogicalType, nested: &[NestedType], depth: usize) -> Result<DataType, String> {
    use LogicalType as T;
    if depth > MAX_DEPTH {
        return Err(format!("types nest deeper than {MAX_DEPTH} levels"));
    }
    Ok(match ty {
        T::Boolean => DataType::Boolean,
        T::Tinyint => DataType::Int8,
        T::Smallint => DataType::Int16,
        T::Int => DataType::Int32,
        T::Bigint => DataType::Int64,
        T::Float => DataType::Float32,
        T::Double => DataType::Float64,
        T::Decimal(DecimalType { precision, scale }) => {
            if *precision == 0 || *precision > 38 || scale > precision {
                return Err(format!(
                    "DECIMAL({precision}, {scale}) is out of range (precision 1..=38, scale <= precision)"
                ));
            }
            DataType::Decimal128(*precision, *scale as i8)
        }
        T::Char(_) | T::Varchar(_) | T::String => DataType::Utf8,
        T::Binary(_) | T::Varbinary(_) | T::Bytes => DataType::Binary,
        T::Date => DataType::Date32,
        T::Time(p) if *p <= 3 => DataType::Time32(unit(*p)),
        T::Time(p) => DataType::Time64(unit(*p)),
        T::Timestamp(p) => DataType::Timestamp(unit(*p), None),
        T::TimestampLtz(p) => DataType::Timestamp(unit(*p), Some("UTC".into())),
        T::Array(ElementRef { element, nullable }) => {
            let element = arrow_type_at(nested_type(nested, *element)?, nested, depth + 1)?;
            DataType::List(Arc::new(ArrowField::new("element", element, *nullable)))
        }
        T::Map(m) => DataType::Map(Arc::new(map_entries_field(m, nested, depth)?), false),
        T::Row(r) => DataType::Struct(arrow_fields(row_fields(nested, *r)?, nested, depth + 1)?),
    })
}

impl crate::model::Schema {
    /// The Arrow schema of this schema (the types Flink's own Arrow
    /// conversion uses).
    pub fn to_arrow(&self) -> Result<ArrowSchema, String> {
        arrow_schema(&crate::bindings::convert::schema(self))
    }

    /// The schema of an Arrow schema (the inverse of
    /// [`Schema::to_arrow`](crate::model::Schema::to_arrow)).
    pub fn from_arrow(schema: &ArrowSchema) -> Result<crate::model::Schema, String> {
        crate::bindings::convert::schema_from_contract(&schema_from_arrow(schema)?)
    }
}

/// The Arrow schema of a table schema.
pub fn arrow_schema(schema: &Schema) -> Result<ArrowSchema, String> {
    let fields = schema
        .fields
        .iter()
        .map(|f| {
            Ok(ArrowField::new(
                &f.name,
                arrow_type(&f.data_type, &schema.nested).map_err(|e| format!("column '{}': {e}", f.name))?,
                f.nullable,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(ArrowSchema::new(fields))
}

/// The table schema of an Arrow schema (the inverse of [`arrow_schema()`]).
pub fn schema_from_arrow(schema: &ArrowSchema) -> Result<Schema, String> {
    let mut nested = Vec::new();
    let fields =
        schema.fields().iter().map(|f| field_from_arrow(f, &mut nested, 0)).collect::<Result<Vec<_>, String>>()?;
    Ok(Schema { fields, nested, primary_key: Vec::new() })
}

fn field_from_arrow(f: &ArrowField, nested: &mut Vec<NestedType>, depth: usize) -> Result<Field, String> {
    use LogicalType as T;
    if depth > MAX_DEPTH {
        return Err(format!("types nest deeper than {MAX_DEPTH} levels"));
    }
    let element = |f: &ArrowField, nested: &mut Vec<NestedType>| -> Result<ElementRef, String> {
        let field = field_from_arrow(f, nested, depth + 1)?;
        nested.push(NestedType::Type(field.data_type));
        Ok(ElementRef { element: nested.len() as u32 - 1, nullable: field.nullable })
    };
    let ty = match f.data_type() {
        DataType::Boolean => T::Boolean,
        DataType::Int8 => T::Tinyint,
        DataType::Int16 => T::Smallint,
        DataType::Int32 => T::Int,
        DataType::Int64 => T::Bigint,
        DataType::Float32 => T::Float,
        DataType::Float64 => T::Double,
        DataType::Decimal128(p, s) if *s >= 0 => T::Decimal(DecimalType { precision: *p, scale: *s as u8 }),
        DataType::Utf8 => T::String,
        DataType::Binary => T::Bytes,
        DataType::Date32 => T::Date,
        DataType::Time32(u) | DataType::Time64(u) => T::Time(precision(u)),
        DataType::Timestamp(u, None) => T::Timestamp(precision(u)),
        DataType::Timestamp(u, Some(_)) => T::TimestampLtz(precision(u)),
        DataType::List(e) => T::Array(element(e, nested)?),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                let key = element(&kv[0], nested)?.element;
                T::Map(MapType { key, value: element(&kv[1], nested)? })
            }
            other => return Err(format!("column '{}': map entries of type {other}", f.name())),
        },
        DataType::Struct(fields) => {
            let fields =
                fields.iter().map(|f| field_from_arrow(f, nested, depth + 1)).collect::<Result<Vec<_>, String>>()?;
            nested.push(NestedType::RowFields(fields));
            T::Row(nested.len() as u32 - 1)
        }
        other => {
            return Err(format!("column '{}': Arrow type {other} has no Flink equivalent in Weir 0.1", f.name()));
        }
    };
    Ok(Field { name: f.name().clone(), data_type: ty, nullable: f.is_nullable() })
}

/// Validates a batch from `component` against `schema` and converts it to
/// Arrow without copying its buffers.
pub fn to_arrow(component: &str, schema: &Schema, batch: Batch) -> Result<ChangelogBatch> {
    let invalid = |message: String| Error::InvalidBatch { component: component.to_owned(), message };
    let n = batch.row_count as usize;
    if batch.columns.len() != schema.fields.len() {
        return Err(invalid(format!("{} columns, the schema has {}", batch.columns.len(), schema.fields.len())));
    }
    if !batch.row_kinds.is_empty() && batch.row_kinds.len() != n {
        return Err(invalid(format!("{} row kinds for {n} rows", batch.row_kinds.len())));
    }
    if let Some(pos) = batch.row_kinds.iter().position(|&k| k > 3) {
        return Err(invalid(format!("row {pos} has row kind {}, valid kinds are 0..=3", batch.row_kinds[pos])));
    }
    let arrow = arrow_schema(schema).map_err(invalid)?;
    let mut children = Children { columns: batch.children.into_iter().map(Some).collect() };
    let columns = batch
        .columns
        .into_iter()
        .zip(arrow.fields())
        .map(|(column, field)| {
            column_to_arrow(column, field, n, &mut children)
                .map_err(|e| invalid(format!("column '{}': {e}", field.name())))
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(i) = children.columns.iter().position(Option::is_some) {
        return Err(invalid(format!("child column {i} is not referenced by any column")));
    }
    let options = RecordBatchOptions::new().with_row_count(Some(n));
    let rows =
        RecordBatch::try_new_with_options(Arc::new(arrow), columns, &options).map_err(|e| invalid(e.to_string()))?;
    Ok(ChangelogBatch { rows, row_kinds: batch.row_kinds })
}

/// The batch's child columns, each taken at most once.
struct Children {
    columns: Vec<Option<Column>>,
}

impl Children {
    fn take(&mut self, i: u32) -> Result<Column, String> {
        match self.columns.get_mut(i as usize) {
            Some(slot) => slot.take().ok_or_else(|| format!("child column {i} is referenced twice")),
            None => Err(format!("child column {i} does not exist ({} children)", self.columns.len())),
        }
    }
}

/// Offsets of a list column: `n + 1`, monotone, from 0 or more; returns
/// them with the child's length (the last offset).
fn list_offsets(list: &ListData, n: usize) -> Result<(OffsetBuffer<i32>, usize), String> {
    let o = &list.offsets;
    expect_len(o.len(), n + 1, "list offsets (expected rows + 1)")?;
    if o.first().is_some_and(|&f| f < 0) {
        return Err("negative first list offset".to_owned());
    }
    if let Some(i) = o.windows(2).position(|w| w[1] < w[0]) {
        return Err(format!("list offsets decrease at value {i}"));
    }
    let last = o.last().copied().unwrap_or(0) as usize;
    Ok((OffsetBuffer::new(ScalarBuffer::from(o.clone())), last))
}

fn nulls(validity: Option<Vec<u8>>, n: usize, nullable: bool) -> Result<Option<NullBuffer>, String> {
    let Some(bits) = validity else { return Ok(None) };
    if bits.len() < n.div_ceil(8) {
        return Err(format!("validity bitmap has {} bytes for {n} rows", bits.len()));
    }
    let nulls = NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(bits), 0, n));
    if nulls.null_count() > 0 && !nullable {
        return Err(format!("{} nulls in a NOT NULL column", nulls.null_count()));
    }
    Ok(Some(nulls))
}

fn expect_len(got: usize, n: usize, what: &str) -> Result<(), String> {
    if got == n { Ok(()) } else { Err(format!("{got} {what} for {n} rows")) }
}

fn primitive<T: ArrowPrimitiveType>(
    values: Vec<T::Native>,
    n: usize,
    nulls: Option<NullBuffer>,
    dt: &DataType,
) -> Result<ArrayRef, String> {
    expect_len(values.len(), n, "values")?;
    let array = PrimitiveArray::<T>::try_new(ScalarBuffer::from(values), nulls).map_err(|e| e.to_string())?;
    Ok(Arc::new(array.with_data_type(dt.clone())))
}

fn offsets(values: &VarData, n: usize) -> Result<OffsetBuffer<i32>, String> {
    let o = &values.offsets;
    expect_len(o.len(), n + 1, "offsets (expected rows + 1)")?;
    if o.first().is_some_and(|&f| f < 0) {
        return Err("negative first offset".to_owned());
    }
    if let Some(i) = o.windows(2).position(|w| w[1] < w[0]) {
        return Err(format!("offsets decrease at value {i}"));
    }
    let last = o.last().copied().unwrap_or(0) as usize;
    if last > values.data.len() {
        return Err(format!("offsets point to byte {last}, the data has {}", values.data.len()));
    }
    Ok(OffsetBuffer::new(ScalarBuffer::from(o.clone())))
}

fn column_to_arrow(column: Column, field: &ArrowField, n: usize, children: &mut Children) -> Result<ArrayRef, String> {
    let dt = field.data_type().clone();
    let nulls = nulls(column.validity, n, field.is_nullable())?;
    let mismatch = |got: &str| Err(format!("{got} values for a column of type {dt}"));
    match (column.data, &dt) {
        (ColumnData::Boolean(bits), DataType::Boolean) => {
            if bits.len() < n.div_ceil(8) {
                return Err(format!("{} bytes of booleans for {n} rows", bits.len()));
            }
            Ok(Arc::new(BooleanArray::new(BooleanBuffer::new(Buffer::from_vec(bits), 0, n), nulls)))
        }
        (ColumnData::Int8(v), DataType::Int8) => primitive::<Int8Type>(v, n, nulls, &dt),
        (ColumnData::Int16(v), DataType::Int16) => primitive::<Int16Type>(v, n, nulls, &dt),
        (ColumnData::Int32(v), DataType::Int32) => primitive::<Int32Type>(v, n, nulls, &dt),
        (ColumnData::Int32(v), DataType::Date32) => primitive::<Date32Type>(v, n, nulls, &dt),
        (ColumnData::Int32(v), DataType::Time32(TimeUnit::Second)) => primitive::<Time32SecondType>(v, n, nulls, &dt),
        (ColumnData::Int32(v), DataType::Time32(_)) => primitive::<Time32MillisecondType>(v, n, nulls, &dt),
        (ColumnData::Int64(v), DataType::Int64) => primitive::<Int64Type>(v, n, nulls, &dt),
        (ColumnData::Int64(v), DataType::Time64(TimeUnit::Microsecond)) => {
            primitive::<Time64MicrosecondType>(v, n, nulls, &dt)
        }
        (ColumnData::Int64(v), DataType::Time64(_)) => primitive::<Time64NanosecondType>(v, n, nulls, &dt),
        (ColumnData::Int64(v), DataType::Timestamp(u, _)) => match u {
            TimeUnit::Second => primitive::<TimestampSecondType>(v, n, nulls, &dt),
            TimeUnit::Millisecond => primitive::<TimestampMillisecondType>(v, n, nulls, &dt),
            TimeUnit::Microsecond => primitive::<TimestampMicrosecondType>(v, n, nulls, &dt),
            TimeUnit::Nanosecond => primitive::<TimestampNanosecondType>(v, n, nulls, &dt),
        },
        (ColumnData::Float32(v), DataType::Float32) => primitive::<Float32Type>(v, n, nulls, &dt),
        (ColumnData::Float64(v), DataType::Float64) => primitive::<Float64Type>(v, n, nulls, &dt),
        (ColumnData::Decimal128(words), DataType::Decimal128(p, _)) => {
            expect_len(words.len(), 2 * n, "64-bit words (expected 2 per DECIMAL value)")?;
            let buffer = Buffer::from_vec(words);
            // An i128 buffer must be 16-byte aligned; the allocator usually
            // gives that, otherwise copy once.
            let buffer =
                if buffer.as_ptr().align_offset(16) == 0 { buffer } else { Buffer::from_slice_ref(buffer.as_slice()) };
            let values = ScalarBuffer::<i128>::new(buffer, 0, n);
            let array = PrimitiveArray::<Decimal128Type>::try_new(values, nulls)
                .map_err(|e| e.to_string())?
                .with_data_type(dt.clone());
            array.validate_decimal_precision(*p).map_err(|e| e.to_string())?;
            Ok(Arc::new(array))
        }
        (ColumnData::Utf8(values), DataType::Utf8) => {
            let offsets = offsets(&values, n)?;
            let array =
                StringArray::try_new(offsets, Buffer::from_vec(values.data), nulls).map_err(|e| e.to_string())?;
            Ok(Arc::new(array))
        }
        (ColumnData::Binary(values), DataType::Binary) => {
            let offsets = offsets(&values, n)?;
            let array =
                BinaryArray::try_new(offsets, Buffer::from_vec(values.data), nulls).map_err(|e| e.to_string())?;
            Ok(Arc::new(array))
        }
        (ColumnData::Boolean(_), _) => mismatch("boolean"),
        (ColumnData::Int8(_), _) => mismatch("int8"),
        (ColumnData::Int16(_), _) => mismatch("int16"),
        (ColumnData::Int32(_), _) => mismatch("int32"),
        (ColumnData::Int64(_), _) => mismatch("int64"),
        (ColumnData::Float32(_), _) => mismatch("float32"),
        (ColumnData::Float64(_), _) => mismatch("float64"),
        (ColumnData::Decimal128(_), _) => mismatch("decimal128"),
        (ColumnData::Utf8(_), _) => mismatch("utf8"),
        (ColumnData::Binary(_), _) => mismatch("binary"),
        (ColumnData::List(list), DataType::List(element)) => {
            let (offsets, len) = list_offsets(&list, n)?;
            let child = children.take(list.child)?;
            let values = column_to_arrow(child, element, len, children).map_err(|e| format!("element: {e}"))?;
            Ok(Arc::new(ListArray::try_new(element.clone(), offsets, values, nulls).map_err(|e| e.to_string())?))
        }
        (ColumnData::List(list), DataType::Map(entries, _)) => {
            let (offsets, len) = list_offsets(&list, n)?;
            let child = children.take(list.child)?;
            let values = column_to_arrow(child, entries, len, children).map_err(|e| format!("entries: {e}"))?;
            let values = values.as_any().downcast_ref::<StructArray>().ok_or("map entries are not a struct")?.clone();
            let map = MapArray::try_new(entries.clone(), offsets, values, nulls, false).map_err(|e| e.to_string())?;
            Ok(Arc::new(map))
        }
        (ColumnData::Struct(indices), DataType::Struct(fields)) => {
            expect_len(indices.len(), fields.len(), "struct fields")?;
            let arrays = indices
                .into_iter()
                .zip(fields.iter())
                .map(|(i, f)| {
                    let child = children.take(i)?;
                    column_to_arrow(child, f, n, children).map_err(|e| format!("field '{}': {e}", f.name()))
                })
                .collect::<Result<Vec<_>, String>>()?;
            if n > 0 && arrays.is_empty() {
                return Err("a ROW without fields".to_owned());
            }
            Ok(Arc::new(StructArray::try_new(fields.clone(), arrays, nulls).map_err(|e| e.to_string())?))
        }
        (ColumnData::List(_), _) => mismatch("list"),
        (ColumnData::Struct(_), _) => mismatch("struct"),
    }
}

/// Builds a batch from Arrow rows (one copy per buffer, none per value).
pub fn from_arrow(batch: &ChangelogBatch) -> Result<Batch, String> {
    let rows = &batch.rows;
    let n = rows.num_rows();
    if !batch.row_kinds.is_empty() && batch.row_kinds.len() != n {
        return Err(format!("{} row kinds for {n} rows", batch.row_kinds.len()));
    }
    if let Some(k) = batch.row_kinds.iter().find(|&&k| k > 3) {
        return Err(format!("row kind {k} is not one of 0..=3"));
    }
    let mut children = Vec::new();
    let columns = rows
        .columns()
        .iter()
        .zip(rows.schema().fields())
        .map(|(a, f)| column_from_arrow(a.as_ref(), &mut children).map_err(|e| format!("column '{}': {e}", f.name())))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Batch {
        row_count: u32::try_from(n).map_err(|_| "more than 2^32 rows".to_owned())?,
        row_kinds: batch.row_kinds.clone(),
        columns,
        children,
    })
}

fn prim<T: ArrowPrimitiveType>(a: &dyn Array) -> Result<Vec<T::Native>, String> {
    let array = a.as_any().downcast_ref::<PrimitiveArray<T>>();
    array.map(|a| a.values().to_vec()).ok_or_else(|| format!("array of {} is not a {}", a.data_type(), T::DATA_TYPE))
}

fn var_data(offsets: &OffsetBuffer<i32>, data: &[u8]) -> VarData {
    let first = offsets.as_ref().first().copied().unwrap_or(0);
    let last = offsets.as_ref().last().copied().unwrap_or(0);
    let offsets = if first == 0 { offsets.to_vec() } else { offsets.iter().map(|o| o - first).collect() };
    VarData { offsets, data: data[first as usize..last as usize].to_vec() }
}

/// Appends `a` as a child column (pre-order, so its own children come after
/// it) and returns its index.
fn child_from_arrow(a: &dyn Array, children: &mut Vec<Column>) -> Result<u32, String> {
    let index = children.len();
    children.push(Column { validity: None, data: ColumnData::Int8(Vec::new()) });
    children[index] = column_from_arrow(a, children)?;
    u32::try_from(index).map_err(|_| "too many child columns".to_owned())
}

/// Offsets rebased to 0 and the child sliced to match.
fn list_from_arrow(
    offsets: &OffsetBuffer<i32>,
    values: &ArrayRef,
    children: &mut Vec<Column>,
) -> Result<ColumnData, String> {
    let first = offsets.as_ref().first().copied().unwrap_or(0);
    let last = offsets.as_ref().last().copied().unwrap_or(0);
    let values = values.slice(first as usize, (last - first) as usize);
    let child = child_from_arrow(values.as_ref(), children)?;
    Ok(ColumnData::List(ListData { offsets: offsets.iter().map(|o| o - first).collect(), child }))
}

fn column_from_arrow(a: &dyn Array, children: &mut Vec<Column>) -> Result<Column, String> {
    let validity = a.logical_nulls().filter(|n| n.null_count() > 0).map(|n| n.inner().sliced().as_slice().to_vec());
    let data = match a.data_type() {
        DataType::Boolean => {
            let b = a.as_any().downcast_ref::<BooleanArray>().ok_or("not a boolean array")?;
            ColumnData::Boolean(b.values().sliced().as_slice().to_vec())
        }
        DataType::Int8 => ColumnData::Int8(prim::<Int8Type>(a)?),
        DataType::Int16 => ColumnData::Int16(prim::<Int16Type>(a)?),
        DataType::Int32 => ColumnData::Int32(prim::<Int32Type>(a)?),
        DataType::Date32 => ColumnData::Int32(prim::<Date32Type>(a)?),
        DataType::Time32(TimeUnit::Second) => ColumnData::Int32(prim::<Time32SecondType>(a)?),
        DataType::Time32(_) => ColumnData::Int32(prim::<Time32MillisecondType>(a)?),
        DataType::Int64 => ColumnData::Int64(prim::<Int64Type>(a)?),
        DataType::Time64(TimeUnit::Microsecond) => ColumnData::Int64(prim::<Time64MicrosecondType>(a)?),
        DataType::Time64(_) => ColumnData::Int64(prim::<Time64NanosecondType>(a)?),
        DataType::Timestamp(TimeUnit::Second, _) => ColumnData::Int64(prim::<TimestampSecondType>(a)?),
        DataType::Timestamp(TimeUnit::Millisecond, _) => ColumnData::Int64(prim::<TimestampMillisecondType>(a)?),
        DataType::Timestamp(TimeUnit::Microsecond, _) => ColumnData::Int64(prim::<TimestampMicrosecondType>(a)?),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => ColumnData::Int64(prim::<TimestampNanosecondType>(a)?),
        DataType::Float32 => ColumnData::Float32(prim::<Float32Type>(a)?),
        DataType::Float64 => ColumnData::Float64(prim::<Float64Type>(a)?),
        DataType::Decimal128(..) => {
            let d = a.as_any().downcast_ref::<PrimitiveArray<Decimal128Type>>().ok_or("not a decimal array")?;
            ColumnData::Decimal128(d.values().inner().typed_data::<u64>().to_vec())
        }
        DataType::Utf8 => {
            let s = a.as_any().downcast_ref::<StringArray>().ok_or("not a string array")?;
            ColumnData::Utf8(var_data(s.offsets(), s.values()))
        }
        DataType::Binary => {
            let b = a.as_any().downcast_ref::<BinaryArray>().ok_or("not a binary array")?;
            ColumnData::Binary(var_data(b.offsets(), b.values()))
        }
        DataType::List(_) => {
            let l = a.as_any().downcast_ref::<ListArray>().ok_or("not a list array")?;
            list_from_arrow(l.offsets(), l.values(), children)?
        }
        DataType::Map(..) => {
            let m = a.as_any().downcast_ref::<MapArray>().ok_or("not a map array")?;
            let entries: ArrayRef = Arc::new(m.entries().clone());
            list_from_arrow(m.offsets(), &entries, children)?
        }
        DataType::Struct(_) => {
            let s = a.as_any().downcast_ref::<StructArray>().ok_or("not a struct array")?;
            let first = children.len();
            children.extend(s.columns().iter().map(|_| Column { validity: None, data: ColumnData::Int8(Vec::new()) }));
            for (i, c) in s.columns().iter().enumerate() {
                children[first + i] = column_from_arrow(c.as_ref(), children)?;
            }
            ColumnData::Struct((first as u32..(first + s.num_columns()) as u32).collect())
        }
        other => return Err(format!("Arrow type {other} is not supported by Weir 0.1")),
    };
    Ok(Column { validity, data })
}

/// A flat column a component attached to raw records (a key, a metadata
/// value) as Arrow: its type follows its layout (BOOLEAN, the integers,
/// FLOAT, DOUBLE, STRING, BYTES), and it must have one value per record.
pub(crate) fn flat_column_to_arrow(component: &str, name: &str, column: Column, n: usize) -> Result<ArrayRef> {
    use LogicalType as T;
    let data_type = match &column.data {
        ColumnData::Boolean(_) => T::Boolean,
        ColumnData::Int8(_) => T::Tinyint,
        ColumnData::Int16(_) => T::Smallint,
        ColumnData::Int32(_) => T::Int,
        ColumnData::Int64(_) => T::Bigint,
        ColumnData::Float32(_) => T::Float,
        ColumnData::Float64(_) => T::Double,
        ColumnData::Utf8(_) => T::String,
        ColumnData::Binary(_) => T::Bytes,
        ColumnData::Decimal128(_) | ColumnData::List(_) | ColumnData::Struct(_) => {
            return Err(Error::InvalidBatch {
                component: component.to_owned(),
                message: format!("'{name}' of the raw records is not a flat column (text, bytes, number, boolean)"),
            });
        }
    };
    let schema = Schema {
        fields: vec![Field { name: name.to_owned(), data_type, nullable: true }],
        nested: Vec::new(),
        primary_key: Vec::new(),
    };
    let n = u32::try_from(n).map_err(|_| Error::InvalidBatch {
        component: component.to_owned(),
        message: "more than 2^32 records".to_owned(),
    })?;
    let batch = Batch { row_count: n, row_kinds: Vec::new(), columns: vec![column], children: Vec::new() };
    Ok(to_arrow(component, &schema, batch)?.rows.column(0).clone())
}

/// A flat Arrow array (no lists or structs) as a column of raw records.
pub(crate) fn flat_column_from_arrow(a: &dyn Array) -> Result<Column, String> {
    let mut children = Vec::new();
    let column = column_from_arrow(a, &mut children)?;
    if !children.is_empty() {
        return Err(format!("{} is not a flat type", a.data_type()));
    }
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::v0_1_0::weir::connector::types::LogicalType;

    fn schema(ty: LogicalType, nullable: bool) -> Schema {
        Schema {
            fields: vec![Field { name: "c".into(), data_type: ty, nullable }],
            nested: vec![],
            primary_key: vec![],
        }
    }

    fn one(data: ColumnData, validity: Option<Vec<u8>>, rows: u32) -> Batch {
        Batch { row_count: rows, row_kinds: vec![], columns: vec![Column { validity, data }], children: vec![] }
    }

    fn utf8(offsets: Vec<i32>, data: &[u8]) -> ColumnData {
        ColumnData::Utf8(VarData { offsets, data: data.to_vec() })
    }

    fn rejects(ty: LogicalType, nullable: bool, batch: Batch, needle: &str) {
        let err = to_arrow("evil", &schema(ty, nullable), batch).expect_err("must be rejected").to_string();
        assert!(err.starts_with("component 'evil' returned an invalid batch"), "{err}");
        assert!(err.contains(needle), "{err} does not mention {needle:?}");
    }

    #[test]
    fn accepts_a_well_formed_batch() {
        let b = one(utf8(vec![0, 1, 3], b"abc"), Some(vec![0b11]), 2);
        let out = to_arrow("ok", &schema(LogicalType::String, true), b).expect("valid");
        assert_eq!(out.rows.num_rows(), 2);
    }

    #[test]
    fn rejects_offsets_past_the_data() {
        rejects(LogicalType::String, true, one(utf8(vec![0, 1, 99], b"abc"), None, 2), "offsets point to byte 99");
    }

    #[test]
    fn rejects_decreasing_or_negative_offsets() {
        rejects(
            LogicalType::Bytes,
            true,
            one(ColumnData::Binary(VarData { offsets: vec![0, 3, 1], data: b"abc".to_vec() }), None, 2),
            "offsets decrease",
        );
        rejects(LogicalType::String, true, one(utf8(vec![-4, 1, 2], b"abc"), None, 2), "negative first offset");
    }

    #[test]
    fn rejects_wrong_offset_count_and_lengths() {
        rejects(LogicalType::String, true, one(utf8(vec![0, 1], b"abc"), None, 2), "offsets (expected rows + 1)");
        rejects(LogicalType::Int, true, one(ColumnData::Int32(vec![1, 2, 3]), None, 2), "3 values for 2 rows");
        rejects(
            LogicalType::Boolean,
            true,
            one(ColumnData::Boolean(vec![]), None, 9),
            "0 bytes of booleans for 9 rows",
        );
        rejects(
            LogicalType::Decimal(DecimalType { precision: 10, scale: 2 }),
            true,
            one(ColumnData::Decimal128(vec![1]), None, 1),
            "64-bit words",
        );
    }

    #[test]
    fn rejects_invalid_utf8() {
        rejects(LogicalType::String, true, one(utf8(vec![0, 2], &[0xff, 0xfe]), None, 1), "utf-8");
    }

    #[test]
    fn rejects_short_bitmaps_and_nulls_in_not_null_columns() {
        rejects(
            LogicalType::Int,
            true,
            one(ColumnData::Int32(vec![0; 9]), Some(vec![0xff]), 9),
            "validity bitmap has 1 bytes for 9 rows",
        );
        rejects(
            LogicalType::Int,
            false,
            one(ColumnData::Int32(vec![0; 2]), Some(vec![0b01]), 2),
            "1 nulls in a NOT NULL column",
        );
    }

    #[test]
    fn rejects_wrong_physical_type_and_column_count() {
        rejects(
            LogicalType::String,
            true,
            one(ColumnData::Int64(vec![1]), None, 1),
            "int64 values for a column of type Utf8",
        );
        let mut b = one(ColumnData::Int32(vec![1]), None, 1);
        b.columns.push(b.columns[0].clone());
        rejects(LogicalType::Int, true, b, "2 columns, the schema has 1");
    }

    #[test]
    fn rejects_bad_row_kinds_and_nested_children() {
        let mut b = one(ColumnData::Int32(vec![1, 2]), None, 2);
        b.row_kinds = vec![0, 9];
        rejects(LogicalType::Int, true, b, "row 1 has row kind 9");
        let mut b = one(ColumnData::Int32(vec![1]), None, 1);
        b.row_kinds = vec![0, 0, 0];
        rejects(LogicalType::Int, true, b, "3 row kinds for 1 rows");
        let mut b = one(ColumnData::Int32(vec![1]), None, 1);
        b.children.push(Column { validity: None, data: ColumnData::Int32(vec![]) });
        rejects(LogicalType::Int, true, b, "not referenced by any column");
    }

    #[test]
    fn rejects_decimals_beyond_their_precision() {
        let too_big = 10i128.pow(5);
        let words = vec![too_big as u64, (too_big >> 64) as u64];
        rejects(
            LogicalType::Decimal(DecimalType { precision: 5, scale: 0 }),
            true,
            one(ColumnData::Decimal128(words), None, 1),
            "precision",
        );
    }

    #[test]
    fn sliced_arrow_input_is_rebased() {
        let strings = StringArray::from(vec!["skip", "keep", "me"]).slice(1, 2);
        let rows = RecordBatch::try_new(
            Arc::new(ArrowSchema::new(vec![ArrowField::new("c", DataType::Utf8, true)])),
            vec![Arc::new(strings)],
        )
        .expect("batch");
        let b = from_arrow(&ChangelogBatch { rows, row_kinds: vec![] }).expect("converts");
        let ColumnData::Utf8(v) = &b.columns[0].data else { panic!("utf8") };
        assert_eq!(v.offsets, [0, 4, 6]);
        assert_eq!(v.data, b"keepme");
    }
}
