//! Random rows of every scalar type: what `weir verify` round-trips
//! through a format, and what the format tests generate.

use std::sync::Arc;

use crate::batch::ChangelogBatch;
use arrow_array::types::Decimal128Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, PrimitiveArray, RecordBatch, StringArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};

use crate::model::{DataType as LogicalType, Schema};

/// Seconds since the epoch of 0001-01-01 00:00:00 and 9999-12-31 23:59:59,
/// the years the text layouts cover.
const FIRST_SECOND: i64 = -62_135_596_800;
const LAST_SECOND: i64 = 253_402_300_799;

/// Units per second of a TIME / TIMESTAMP of precision `p` in the batch.
fn units(p: u8) -> i64 {
    match p {
        0 => 1,
        1..=3 => 1_000,
        4..=6 => 1_000_000,
        _ => 1_000_000_000,
    }
}

/// A random value in batch units whose digits stop at precision `p`.
fn fraction(r: &mut Rng, p: u8) -> i64 {
    let step = units(p) / 10i64.pow(u32::from(p)).min(units(p));
    r.range(0, units(p) / step - 1) * step
}

/// `rows` random values for every column of `schema` (scalar types only).
/// `text` lists the characters strings are made of; `None` values appear
/// in nullable columns about one time in five, and edge values (extremes,
/// empty strings, -0.0, NaN) about one time in four.
pub fn random_rows(schema: &Schema, rows: usize, seed: u64, text: &[char]) -> ChangelogBatch {
    let mut r = Rng(seed);
    let arrow_schema = Arc::new(schema.to_arrow().expect("schema converts"));
    let mut columns: Vec<ArrayRef> = Vec::new();
    for field in &schema.fields {
        let nulls: Vec<bool> = (0..rows).map(|_| field.nullable && r.next().is_multiple_of(5)).collect();
        macro_rules! values {
            ($array:ty, |$r:ident| $value:expr) => {{
                let values: $array = nulls
                    .iter()
                    .map(|&null| {
                        if null {
                            None
                        } else {
                            let $r = &mut r;
                            Some($value)
                        }
                    })
                    .collect();
                values
            }};
        }
        let edge = |r: &mut Rng| r.next().is_multiple_of(4);
        let column: ArrayRef = match &field.data_type {
            LogicalType::Boolean => Arc::new(values!(BooleanArray, |r| r.next() & 1 == 1)),
            LogicalType::TinyInt => Arc::new(values!(Int8Array, |r| r.next() as i8)),
            LogicalType::SmallInt => Arc::new(values!(Int16Array, |r| r.next() as i16)),
            LogicalType::Int => Arc::new(values!(Int32Array, |r| if edge(r) {
                *r.pick(&[i32::MIN, i32::MAX, 0])
            } else {
                r.next() as i32
            })),
            LogicalType::BigInt => Arc::new(values!(Int64Array, |r| if edge(r) {
                *r.pick(&[i64::MIN, i64::MAX, 0])
            } else {
                r.next() as i64
            })),
            LogicalType::Float => Arc::new(values!(Float32Array, |r| if edge(r) {
                *r.pick(&[f32::NAN, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE, f32::MAX, 1e-45])
            } else {
                f32::from_bits(r.next() as u32 & 0x7f7f_ffff | (r.next() as u32 & 0x8000_0000))
            })),
            LogicalType::Double => Arc::new(values!(Float64Array, |r| if edge(r) {
                *r.pick(&[f64::NAN, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE, f64::MAX, 5e-324])
            } else {
                f64::from_bits(r.next() & 0x7fef_ffff_ffff_ffff | (r.next() & 0x8000_0000_0000_0000))
            })),
            &LogicalType::Decimal { precision, scale } => {
                let limit = 10i128.pow(u32::from(precision)) - 1;
                let values: PrimitiveArray<Decimal128Type> = nulls
                    .iter()
                    .map(|&null| {
                        let v = (i128::from(r.next()) << 64 | i128::from(r.next())) % (limit + 1);
                        let v = if r.next().is_multiple_of(3) { v % 1000 } else { v };
                        (!null).then_some(if r.next() & 1 == 1 { -v } else { v })
                    })
                    .collect();
                Arc::new(values.with_precision_and_scale(precision, scale as i8).expect("decimal type"))
            }
            LogicalType::Char(_) | LogicalType::Varchar(_) | LogicalType::String => {
                Arc::new(values!(StringArray, |r| (0..r.range(0, 12)).map(|_| *r.pick(text)).collect::<String>()))
            }
            LogicalType::Binary(_) | LogicalType::Varbinary(_) | LogicalType::Bytes => {
                let values: Vec<Option<Vec<u8>>> = nulls
                    .iter()
                    .map(|&null| (!null).then(|| (0..r.range(0, 20)).map(|_| r.next() as u8).collect()))
                    .collect();
                Arc::new(BinaryArray::from_iter(values))
            }
            LogicalType::Date => {
                Arc::new(values!(Date32Array, |r| r.range(FIRST_SECOND / 86_400, LAST_SECOND / 86_400) as i32))
            }
            LogicalType::Time(p) => {
                let day = |r: &mut Rng| r.range(0, 86_399) * units(*p) + fraction(r, *p);
                match p {
                    0 => Arc::new(values!(Time32SecondArray, |r| day(r) as i32)),
                    1..=3 => Arc::new(values!(Time32MillisecondArray, |r| day(r) as i32)),
                    4..=6 => Arc::new(values!(Time64MicrosecondArray, |r| day(r))),
                    _ => Arc::new(values!(Time64NanosecondArray, |r| day(r))),
                }
            }
            LogicalType::Timestamp(p) | LogicalType::TimestampLtz(p) => {
                // Nanoseconds in an i64 reach the years 1677 to 2262 only.
                let (first, last) = if *p > 6 { (-9_200_000_000, 9_200_000_000) } else { (FIRST_SECOND, LAST_SECOND) };
                let at = |r: &mut Rng| r.range(first, last) * units(*p) + fraction(r, *p);
                let zone = matches!(field.data_type, LogicalType::TimestampLtz(_)).then_some("UTC");
                match p {
                    0 => Arc::new(values!(TimestampSecondArray, |r| at(r)).with_timezone_opt(zone)),
                    1..=3 => Arc::new(values!(TimestampMillisecondArray, |r| at(r)).with_timezone_opt(zone)),
                    4..=6 => Arc::new(values!(TimestampMicrosecondArray, |r| at(r)).with_timezone_opt(zone)),
                    _ => Arc::new(values!(TimestampNanosecondArray, |r| at(r)).with_timezone_opt(zone)),
                }
            }
            other => panic!("random_rows makes scalar columns only, not {other:?}"),
        };
        columns.push(column);
    }
    let rows_batch = RecordBatch::try_new(arrow_schema, columns).expect("valid record batch");
    ChangelogBatch { rows: rows_batch, row_kinds: Vec::new() }
}

/// Every scalar type, at several precisions.
pub const ALL_SCALARS: &str = "b BOOLEAN, ti TINYINT, si SMALLINT, i INT NOT NULL, bi BIGINT, f FLOAT, d DOUBLE, \
    d0 DECIMAL(1,0), d2 DECIMAL(10,2), d38 DECIMAL(38,10), s STRING, c CHAR(5), vc VARCHAR(20), by BYTES, \
    bin BINARY(8), vb VARBINARY(30), dt DATE, t0 TIME(0), t3 TIME(3), t6 TIME(6), t9 TIME(9), ts0 TIMESTAMP(0), \
    ts3 TIMESTAMP(3), ts6 TIMESTAMP(6), ts9 TIMESTAMP(9), l0 TIMESTAMP_LTZ(0), l3 TIMESTAMP_LTZ(3), l9 TIMESTAMP_LTZ(9)";

/// Characters generated strings are made of: delimiters, quotes, escapes,
/// line breaks, control characters and multi-byte UTF-8.
pub const TEXT: &[char] = &[
    'a', 'Z', '0', ' ', ',', ';', '|', '"', '\'', '\\', '\n', '\r', '\t', '#', '{', '}', 'é', '日', '🦀', '\u{0}',
    '\u{7f}',
];

/// Deterministic pseudo-random numbers (xorshift64*), so failures
/// reproduce.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo) as u64 + 1)) as i64
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// [`random_rows`] for a schema whose nested columns are all vectors,
/// ARRAY<FLOAT> or ARRAY<DOUBLE>: those hold `dimension` finite elements in
/// [-1, 1) per row (NULL about one row in five of a nullable column), what a
/// vector store takes. `None` when another nested column is present.
pub fn random_rows_with_vectors(
    schema: &Schema,
    rows: usize,
    seed: u64,
    text: &[char],
    dimension: usize,
) -> Option<ChangelogBatch> {
    use arrow_buffer::{NullBuffer, OffsetBuffer};
    let vector = |t: &LogicalType| match t {
        LogicalType::Array { element, .. } => match **element {
            LogicalType::Float => Some(false),
            LogicalType::Double => Some(true),
            _ => None,
        },
        _ => None,
    };
    if schema.fields.iter().any(|f| f.data_type.is_nested() && vector(&f.data_type).is_none()) {
        return None;
    }
    let scalar: Vec<usize> =
        (0..schema.fields.len()).filter(|&i| vector(&schema.fields[i].data_type).is_none()).collect();
    let scalars = random_rows(&schema.project(&scalar), rows, seed, text);
    let arrow_schema = Arc::new(schema.to_arrow().ok()?);
    let mut r = Rng(seed ^ 0x005e_ed0f_7ec7);
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, field) in schema.fields.iter().enumerate() {
        if let Some(at) = scalar.iter().position(|&s| s == i) {
            columns.push(scalars.rows.column(at).clone());
            continue;
        }
        let arrow_schema::DataType::List(item) = arrow_schema.field(i).data_type() else { return None };
        let nulls: Vec<bool> = (0..rows).map(|_| field.nullable && r.next().is_multiple_of(5)).collect();
        let lengths = nulls.iter().map(|&null| if null { 0 } else { dimension });
        let offsets = OffsetBuffer::<i32>::from_lengths(lengths);
        let count = offsets.last() as usize;
        let element = |r: &mut Rng| (r.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        let values: ArrayRef = if vector(&field.data_type) == Some(true) {
            Arc::new((0..count).map(|_| element(&mut r)).collect::<Float64Array>())
        } else {
            Arc::new((0..count).map(|_| element(&mut r) as f32).collect::<Float32Array>())
        };
        let validity = field.nullable.then(|| NullBuffer::from(nulls.iter().map(|&n| !n).collect::<Vec<bool>>()));
        columns.push(Arc::new(arrow_array::ListArray::try_new(item.clone(), offsets, values, validity).ok()?));
    }
    let rows_batch = RecordBatch::try_new(arrow_schema, columns).ok()?;
    Some(ChangelogBatch { rows: rows_batch, row_kinds: Vec::new() })
}
