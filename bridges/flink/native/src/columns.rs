//! Rows across the JNI boundary: one byte array per batch, column by
//! column, so a batch costs one JNI call and Java builds Flink's `RowData`
//! from plain buffers (`Columns.java` reads and writes the same layout).
//!
//! Little-endian throughout:
//!
//! ```text
//! u32 rows | u8 has-kinds | [rows × u8 Flink RowKind] | per column:
//!   u8 has-nulls | [ceil(rows / 8) validity bytes, bit i = row i is set]
//!   values:
//!     BOOLEAN            rows × u8
//!     TINYINT … BIGINT   rows × i8 / i16 / i32 / i64
//!     FLOAT, DOUBLE      rows × f32 / f64
//!     DATE               rows × i32 days since the epoch
//!     TIME(p)            rows × i32 milliseconds of the day (Flink's TIME)
//!     TIMESTAMP(_LTZ)(p) rows × i64 in the unit of p (0: s, 1–3: ms,
//!                        4–6: µs, 7–9: ns)
//!     DECIMAL(p, s)      rows × i128 unscaled
//!     STRING, BYTES      (rows + 1) × i32 offsets from 0 | the bytes
//!     ARRAY<FLOAT|DOUBLE> (rows + 1) × i32 element offsets from 0 |
//!                        u8 has-null-elements | [element validity bits] |
//!                        the elements as f32 / f64
//! ```
//!
//! A null row's value is present and ignored.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, PrimitiveArray, RecordBatch, StringArray,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use weir::ChangelogBatch;

/// The bytes of `batch`.
pub fn encode(batch: &ChangelogBatch) -> Result<Vec<u8>, String> {
    let rows = batch.rows.num_rows();
    let mut out = Vec::with_capacity(64 + rows * 16 * batch.rows.num_columns().max(1));
    out.extend_from_slice(&(rows as u32).to_le_bytes());
    if batch.row_kinds.is_empty() {
        out.push(0);
    } else {
        out.push(1);
        out.extend_from_slice(&batch.row_kinds);
    }
    for (column, field) in batch.rows.columns().iter().zip(batch.rows.schema().fields()) {
        match column.logical_nulls() {
            Some(nulls) if nulls.null_count() > 0 => {
                out.push(1);
                let start = out.len();
                out.resize(start + rows.div_ceil(8), 0);
                for i in 0..rows {
                    if nulls.is_valid(i) {
                        out[start + i / 8] |= 1 << (i % 8);
                    }
                }
            }
            _ => out.push(0),
        }
        encode_values(column, &mut out).map_err(|e| format!("column '{}': {e}", field.name()))?;
    }
    Ok(out)
}

fn raw<T: ArrowPrimitiveType>(column: &ArrayRef, out: &mut Vec<u8>, bytes: impl Fn(T::Native, &mut Vec<u8>)) {
    for &v in column.as_primitive::<T>().values().iter() {
        bytes(v, out);
    }
}

fn encode_values(column: &ArrayRef, out: &mut Vec<u8>) -> Result<(), String> {
    match column.data_type() {
        DataType::Boolean => {
            let values = column.as_boolean().values();
            out.extend(values.iter().map(u8::from));
        }
        DataType::Int8 => raw::<Int8Type>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Int16 => raw::<Int16Type>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Int32 => raw::<Int32Type>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Int64 => raw::<Int64Type>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Float32 => raw::<Float32Type>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Float64 => raw::<Float64Type>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Date32 => raw::<Date32Type>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Time32(TimeUnit::Second) => {
            raw::<Time32SecondType>(column, out, |v, o| o.extend_from_slice(&(v * 1000).to_le_bytes()))
        }
        DataType::Time32(_) => raw::<Time32MillisecondType>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Time64(TimeUnit::Microsecond) => {
            raw::<Time64MicrosecondType>(column, out, |v, o| o.extend_from_slice(&((v / 1000) as i32).to_le_bytes()))
        }
        DataType::Time64(_) => raw::<Time64NanosecondType>(column, out, |v, o| {
            o.extend_from_slice(&((v / 1_000_000) as i32).to_le_bytes())
        }),
        DataType::Timestamp(TimeUnit::Second, _) => {
            raw::<TimestampSecondType>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes()))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            raw::<TimestampMillisecondType>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes()))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            raw::<TimestampMicrosecondType>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes()))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            raw::<TimestampNanosecondType>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes()))
        }
        DataType::Decimal128(..) => raw::<Decimal128Type>(column, out, |v, o| o.extend_from_slice(&v.to_le_bytes())),
        DataType::Utf8 => {
            let strings = column.as_string::<i32>();
            var(strings.value_offsets(), strings.value_data(), out);
        }
        DataType::Binary => {
            let bytes = column.as_binary::<i32>();
            var(bytes.value_offsets(), bytes.value_data(), out);
        }
        DataType::List(item) if matches!(item.data_type(), DataType::Float32 | DataType::Float64) => {
            let list = column.as_list::<i32>();
            let offsets = list.value_offsets();
            let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
            for &o in offsets {
                out.extend_from_slice(&(o - first).to_le_bytes());
            }
            let elements = list.values().slice(first as usize, (last - first) as usize);
            match elements.logical_nulls() {
                Some(nulls) if nulls.null_count() > 0 => {
                    out.push(1);
                    let start = out.len();
                    out.resize(start + elements.len().div_ceil(8), 0);
                    for i in 0..elements.len() {
                        if nulls.is_valid(i) {
                            out[start + i / 8] |= 1 << (i % 8);
                        }
                    }
                }
                _ => out.push(0),
            }
            encode_values(&elements, out)?;
        }
        other => return Err(format!("the Flink bridge does not carry {other} columns yet")),
    }
    Ok(())
}

/// Offsets rebased to 0, then the bytes they cover.
fn var(offsets: &[i32], data: &[u8], out: &mut Vec<u8>) {
    let first = offsets.first().copied().unwrap_or(0);
    for &o in offsets {
        out.extend_from_slice(&(o - first).to_le_bytes());
    }
    let last = offsets.last().copied().unwrap_or(0);
    out.extend_from_slice(&data[first as usize..last as usize]);
}

/// Reads the layout back.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end =
            self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or("the batch from Flink is cut short")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "short")?))
    }

    fn primitive<T: ArrowPrimitiveType, const N: usize>(
        &mut self,
        rows: usize,
        nulls: Option<NullBuffer>,
        value: impl Fn([u8; N]) -> T::Native,
    ) -> Result<ArrayRef, String> {
        let bytes = self.take(rows * N)?;
        let values: ScalarBuffer<T::Native> =
            bytes.chunks_exact(N).map(|c| value(c.try_into().expect("chunks of N"))).collect();
        Ok(Arc::new(PrimitiveArray::<T>::new(values, nulls)))
    }

    fn var(&mut self, rows: usize) -> Result<(OffsetBuffer<i32>, Vec<u8>), String> {
        let raw = self.take((rows + 1) * 4)?;
        let offsets: Vec<i32> = raw.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4"))).collect();
        if offsets[0] != 0 || offsets.windows(2).any(|w| w[1] < w[0]) {
            return Err("the batch from Flink has bad string offsets".to_owned());
        }
        let data = self.take(offsets[rows] as usize)?.to_vec();
        Ok((OffsetBuffer::new(ScalarBuffer::from(offsets)), data))
    }
}

/// The batch Java wrote for a table of `schema`.
pub fn decode(bytes: &[u8], schema: &SchemaRef) -> Result<ChangelogBatch, String> {
    let mut r = Reader { bytes, at: 0 };
    let rows = r.u32()? as usize;
    let row_kinds = if r.u8()? == 1 { r.take(rows)?.to_vec() } else { Vec::new() };
    if row_kinds.iter().any(|&k| k > 3) {
        return Err("a row kind from Flink is not +I, -U, +U or -D".to_owned());
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let nulls = if r.u8()? == 1 {
            let bits = r.take(rows.div_ceil(8))?;
            Some(NullBuffer::new(BooleanBuffer::new(bits.to_vec().into(), 0, rows)))
        } else {
            None
        };
        let le2 = i16::from_le_bytes;
        let le4 = i32::from_le_bytes;
        let le8 = i64::from_le_bytes;
        let column: ArrayRef = match field.data_type() {
            DataType::Boolean => {
                let values: BooleanBuffer = r.take(rows)?.iter().map(|&b| b != 0).collect();
                Arc::new(BooleanArray::new(values, nulls))
            }
            DataType::Int8 => r.primitive::<Int8Type, 1>(rows, nulls, i8::from_le_bytes)?,
            DataType::Int16 => r.primitive::<Int16Type, 2>(rows, nulls, le2)?,
            DataType::Int32 => r.primitive::<Int32Type, 4>(rows, nulls, le4)?,
            DataType::Int64 => r.primitive::<Int64Type, 8>(rows, nulls, le8)?,
            DataType::Float32 => r.primitive::<Float32Type, 4>(rows, nulls, f32::from_le_bytes)?,
            DataType::Float64 => r.primitive::<Float64Type, 8>(rows, nulls, f64::from_le_bytes)?,
            DataType::Date32 => r.primitive::<Date32Type, 4>(rows, nulls, le4)?,
            DataType::Time32(TimeUnit::Second) => r.primitive::<Time32SecondType, 4>(rows, nulls, |b| le4(b) / 1000)?,
            DataType::Time32(_) => r.primitive::<Time32MillisecondType, 4>(rows, nulls, le4)?,
            DataType::Time64(TimeUnit::Microsecond) => {
                r.primitive::<Time64MicrosecondType, 4>(rows, nulls, |b| le4(b) as i64 * 1000)?
            }
            DataType::Time64(_) => {
                r.primitive::<Time64NanosecondType, 4>(rows, nulls, |b| le4(b) as i64 * 1_000_000)?
            }
            DataType::Timestamp(unit, zone) => {
                let a: ArrayRef = match unit {
                    TimeUnit::Second => r.primitive::<TimestampSecondType, 8>(rows, nulls, le8)?,
                    TimeUnit::Millisecond => r.primitive::<TimestampMillisecondType, 8>(rows, nulls, le8)?,
                    TimeUnit::Microsecond => r.primitive::<TimestampMicrosecondType, 8>(rows, nulls, le8)?,
                    TimeUnit::Nanosecond => r.primitive::<TimestampNanosecondType, 8>(rows, nulls, le8)?,
                };
                match zone {
                    Some(zone) => arrow_cast_zone(a, unit, zone.clone()),
                    None => a,
                }
            }
            DataType::Decimal128(p, s) => {
                let a = r.primitive::<Decimal128Type, 16>(rows, nulls, i128::from_le_bytes)?;
                Arc::new(
                    a.as_primitive::<Decimal128Type>()
                        .clone()
                        .with_precision_and_scale(*p, *s)
                        .map_err(|e| format!("column '{}': {e}", field.name()))?,
                )
            }
            DataType::Utf8 => {
                let (offsets, data) = r.var(rows)?;
                Arc::new(
                    StringArray::try_new(offsets, data.into(), nulls)
                        .map_err(|e| format!("column '{}': {e}", field.name()))?,
                )
            }
            DataType::Binary => {
                let (offsets, data) = r.var(rows)?;
                Arc::new(
                    BinaryArray::try_new(offsets, data.into(), nulls)
                        .map_err(|e| format!("column '{}': {e}", field.name()))?,
                )
            }
            DataType::List(item) if matches!(item.data_type(), DataType::Float32 | DataType::Float64) => {
                let raw = r.take((rows + 1) * 4)?;
                let offsets: Vec<i32> =
                    raw.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4"))).collect();
                if offsets[0] != 0 || offsets.windows(2).any(|w| w[1] < w[0]) {
                    return Err(format!("column '{}': bad array offsets from Flink", field.name()));
                }
                let n = offsets[rows] as usize;
                let element_nulls = if r.u8()? == 1 {
                    let bits = r.take(n.div_ceil(8))?;
                    Some(NullBuffer::new(BooleanBuffer::new(bits.to_vec().into(), 0, n)))
                } else {
                    None
                };
                let elements = match item.data_type() {
                    DataType::Float32 => r.primitive::<Float32Type, 4>(n, element_nulls, f32::from_le_bytes)?,
                    _ => r.primitive::<Float64Type, 8>(n, element_nulls, f64::from_le_bytes)?,
                };
                Arc::new(
                    arrow_array::ListArray::try_new(
                        item.clone(),
                        OffsetBuffer::new(ScalarBuffer::from(offsets)),
                        elements,
                        nulls,
                    )
                    .map_err(|e| format!("column '{}': {e}", field.name()))?,
                )
            }
            other => {
                return Err(format!("column '{}': the Flink bridge does not carry {other} columns yet", field.name()));
            }
        };
        columns.push(column);
    }
    let rows = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    Ok(ChangelogBatch { rows, row_kinds })
}

/// A timestamp column with its zone (TIMESTAMP_LTZ).
fn arrow_cast_zone(column: ArrayRef, unit: &TimeUnit, zone: Arc<str>) -> ArrayRef {
    match unit {
        TimeUnit::Second => Arc::new(column.as_primitive::<TimestampSecondType>().clone().with_timezone(zone)),
        TimeUnit::Millisecond => {
            Arc::new(column.as_primitive::<TimestampMillisecondType>().clone().with_timezone(zone))
        }
        TimeUnit::Microsecond => {
            Arc::new(column.as_primitive::<TimestampMicrosecondType>().clone().with_timezone(zone))
        }
        TimeUnit::Nanosecond => Arc::new(column.as_primitive::<TimestampNanosecondType>().clone().with_timezone(zone)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMillisecondArray};
    use arrow_schema::{Field, Schema};

    #[test]
    fn a_batch_survives_the_round_trip_with_nulls_kinds_and_a_sliced_string_column() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("ok", DataType::Boolean, true),
        ]));
        let full = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(0), Some(1), None, Some(3)])),
                Arc::new(StringArray::from(vec![Some("skip"), Some("a,\"b"), Some(""), None])),
                Arc::new(TimestampMillisecondArray::from(vec![Some(5), None, Some(-7), Some(1_700_000_000_000)])),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)])),
            ],
        )
        .expect("batch");
        let batch = ChangelogBatch { rows: full.slice(1, 3), row_kinds: vec![0, 3, 2] };
        let back = decode(&encode(&batch).expect("encode"), &schema).expect("decode");
        assert_eq!(back.rows, batch.rows);
        assert_eq!(back.row_kinds, batch.row_kinds);
    }

    #[test]
    fn an_array_of_floats_column_survives_the_round_trip_sliced_with_null_arrays_and_elements() {
        use arrow_array::ListArray;
        use arrow_array::types::Float32Type;
        let list = ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
            Some(vec![Some(9.0)]),
            Some(vec![Some(1.0), None, Some(2.5)]),
            None,
            Some(vec![]),
        ]);
        let schema = Arc::new(Schema::new(vec![Field::new("v", list.data_type().clone(), true)]));
        let full = RecordBatch::try_new(schema.clone(), vec![Arc::new(list)]).expect("batch");
        let batch = ChangelogBatch { rows: full.slice(1, 3), row_kinds: Vec::new() };
        let back = decode(&encode(&batch).expect("encode"), &schema).expect("decode");
        assert_eq!(back.rows, batch.rows);
    }

    #[test]
    fn a_cut_short_batch_is_an_error_not_a_panic() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let batch = ChangelogBatch {
            rows: RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))]).expect("batch"),
            row_kinds: Vec::new(),
        };
        let bytes = encode(&batch).expect("encode");
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], &schema).is_err());
        }
    }
}
