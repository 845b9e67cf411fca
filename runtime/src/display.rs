//! Rows as Flink prints them (`Row.toString`, what the `print` sink writes):
//! `+I[Alice, 12]`, `-D[Bob, null]`, arrays as `[1, 2]`, maps as `{k=v}`,
//! nested rows as `+I[…]`, timestamps as `LocalDateTime.toString`
//! (`2026-11-22T12:34:56.500`), doubles as `Double.toString`, bytes as
//! `[1, -2]`.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, BinaryArray, BooleanArray, StringArray};
use arrow_schema::{DataType, TimeUnit};

use crate::batch::ChangelogBatch;

/// Flink's short string of a row kind byte.
pub fn row_kind_short(kind: u8) -> &'static str {
    match kind {
        1 => "-U",
        2 => "+U",
        3 => "-D",
        _ => "+I",
    }
}

/// Row `row` of `batch`, as Flink prints it.
pub fn format_row(batch: &ChangelogBatch, row: usize) -> String {
    let mut out = String::from(row_kind_short(batch.row_kinds.get(row).copied().unwrap_or(0)));
    out.push('[');
    for (i, column) in batch.rows.columns().iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(&mut out, column.as_ref(), row);
    }
    out.push(']');
    out
}

/// Writes every row of `batch` to `out`, one per line, as Flink prints them,
/// with control characters inside values escaped (values are a component's
/// choice and may end up on a terminal). The text goes out in chunks of
/// about 64 KiB: the host never renders a whole batch at once, so what a
/// component returns (bounded by the result limit) bounds the host's memory,
/// not the text it expands to.
pub fn print_rows(batch: &ChangelogBatch, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    const CHUNK: usize = 64 * 1024;
    // Writes the text out once a chunk's worth has gathered.
    let spill = |text: &mut String, out: &mut dyn std::io::Write| -> std::io::Result<()> {
        if text.len() >= CHUNK {
            out.write_all(text.as_bytes())?;
            text.clear();
        }
        Ok(())
    };
    let mut text = String::with_capacity(CHUNK + 1024);
    let mut value = String::new();
    for row in 0..batch.rows.num_rows() {
        text.push_str(row_kind_short(batch.row_kinds.get(row).copied().unwrap_or(0)));
        text.push('[');
        for (i, column) in batch.rows.columns().iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            value.clear();
            write_value(&mut value, column.as_ref(), row);
            text.push_str(&crate::terminal::escape(&value));
            // Within a row too: one row may hold many large values.
            spill(&mut text, out)?;
        }
        text.push_str("]\n");
        spill(&mut text, out)?;
    }
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Every row of `batch`, one per line.
pub fn format_rows(batch: &ChangelogBatch) -> Vec<String> {
    (0..batch.rows.num_rows()).map(|r| format_row(batch, r)).collect()
}

fn unit_precision(unit: &TimeUnit) -> u8 {
    match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    }
}

/// Appends value `i` of `a`.
pub fn write_value(out: &mut String, a: &dyn Array, i: usize) {
    use weir_text as t;
    if a.is_null(i) {
        out.push_str("null");
        return;
    }
    match a.data_type() {
        DataType::Boolean => {
            let b = a.as_any().downcast_ref::<BooleanArray>().is_some_and(|b| b.value(i));
            out.push_str(if b { "true" } else { "false" });
        }
        DataType::Int8 => t::write_display(out, a.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => t::write_display(out, a.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => t::write_display(out, a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => t::write_display(out, a.as_primitive::<Int64Type>().value(i)),
        DataType::Float32 => t::write_f32(out, a.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => t::write_f64(out, a.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, s) => {
            t::write_decimal(out, a.as_primitive::<Decimal128Type>().value(i), *s as u8, true);
        }
        DataType::Utf8 => out.push_str(a.as_any().downcast_ref::<StringArray>().map_or("", |s| s.value(i))),
        DataType::Binary => {
            t::write_java_bytes(out, a.as_any().downcast_ref::<BinaryArray>().map_or(&[], |b| b.value(i)))
        }
        DataType::Date32 => t::write_date(out, a.as_primitive::<Date32Type>().value(i)),
        DataType::Time32(TimeUnit::Second) => {
            t::write_java_time(out, i64::from(a.as_primitive::<Time32SecondType>().value(i)) * 1_000_000_000);
        }
        DataType::Time32(_) => {
            t::write_java_time(out, i64::from(a.as_primitive::<Time32MillisecondType>().value(i)) * 1_000_000);
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            t::write_java_time(out, a.as_primitive::<Time64MicrosecondType>().value(i) * 1_000);
        }
        DataType::Time64(_) => t::write_java_time(out, a.as_primitive::<Time64NanosecondType>().value(i)),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
            };
            // TIMESTAMP_LTZ (Arrow: with a zone) prints as a Java Instant.
            let instant = matches!(a.data_type(), DataType::Timestamp(_, Some(_)));
            t::write_java_timestamp(out, v, unit_precision(unit), instant);
        }
        DataType::List(_) => {
            let list = a.as_list::<i32>();
            let values = list.value(i);
            out.push('[');
            for j in 0..values.len() {
                if j > 0 {
                    out.push_str(", ");
                }
                write_value(out, values.as_ref(), j);
            }
            out.push(']');
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(i);
            out.push('{');
            for j in 0..entries.len() {
                if j > 0 {
                    out.push_str(", ");
                }
                write_value(out, entries.column(0).as_ref(), j);
                out.push('=');
                write_value(out, entries.column(1).as_ref(), j);
            }
            out.push('}');
        }
        DataType::Struct(_) => {
            let s = a.as_struct();
            out.push_str("+I[");
            for (j, c) in s.columns().iter().enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                write_value(out, c.as_ref(), i);
            }
            out.push(']');
        }
        other => t::write_display(out, format_args!("<{other}>")),
    }
}
