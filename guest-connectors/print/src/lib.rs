//! Flink's `print` sink: every row to the terminal as Flink's `PrintSink`
//! prints it — `+I[Alice, 12]`, with `print-identifier> ` in front when set
//! — on standard output, or standard error with `standard-error`.
//!
//! It declares the `stdout` capability (and `stderr` when `standard-error`
//! is true): the operator grants them with `--allow-stdout` /
//! `--allow-stderr`. Without a grant the guest's stdout goes nowhere, so the
//! runner refuses to start rather than lose rows.

use std::io::Write as _;

use weir_sdk::text;
use weir_sdk::{
    BatchReader, CapabilityKind, ColumnRef, Committable, ComponentSpec, Connector, Error, LogicalType, NestedType,
    OptionSpec, Options, OptionsExt, Payload, Result, RowKind, Schema, Sink, SinkInput, ValueRef, WriterContext,
    export_sink,
};

/// One writer.
pub struct Print {
    schema: Schema,
    prefix: String,
    stderr: bool,
    line: String,
}

impl Connector for Print {
    fn spec() -> ComponentSpec {
        let mut spec = ComponentSpec::new("print", "Prints every row to the terminal (Flink's Print sink)")
            .payload(Payload::Rows)
            .changelog(&[RowKind::Insert, RowKind::UpdateBefore, RowKind::UpdateAfter, RowKind::Delete])
            .option(OptionSpec::string("print-identifier", "Prefix of every printed line (`identifier> +I[…]`)"))
            .option(
                OptionSpec::boolean("standard-error", "Print to standard error instead of standard output")
                    .default_value("false"),
            )
            .capability(CapabilityKind::Stdout, "");
        spec = spec.capability(CapabilityKind::Stderr, "");
        if let Some(stderr) = spec.capabilities.last_mut() {
            stderr.when_option = Some("standard-error".to_owned());
        }
        spec
    }
}

impl Sink for Print {
    fn open(options: &Options, schema: &Schema, context: &WriterContext) -> Result<Self> {
        let identifier = options.get("print-identifier").unwrap_or_default();
        // Flink: `id:subtask> ` with parallel writers, `id> ` otherwise.
        let prefix = match (identifier.is_empty(), context.parallelism > 1) {
            (true, false) => String::new(),
            (true, true) => format!("{}> ", context.subtask + 1),
            (false, false) => format!("{identifier}> "),
            (false, true) => format!("{identifier}:{}> ", context.subtask + 1),
        };
        Ok(Print { schema: schema.clone(), prefix, stderr: options.boolean("standard-error")?, line: String::new() })
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        let SinkInput::Rows(batch) = input else {
            return Err(Error::unsupported("print takes rows, not encoded records; remove the table's 'format'"));
        };
        let reader = BatchReader::new(&batch);
        let columns: Vec<ColumnRef<'_>> =
            (0..self.schema.fields.len()).map(|c| reader.column(c)).collect::<Result<_>>()?;
        let mut text = String::new();
        for row in 0..reader.rows() {
            self.line.clear();
            self.line.push_str(&self.prefix);
            self.line.push_str(kind(reader.row_kind(row)));
            self.line.push('[');
            for (c, field) in self.schema.fields.iter().enumerate() {
                if c > 0 {
                    self.line.push_str(", ");
                }
                write_value(&mut self.line, &columns[c], &field.data_type, &self.schema.nested, row)?;
            }
            self.line.push_str("]\n");
            text.push_str(&self.line);
        }
        let written = if self.stderr {
            std::io::stderr().write_all(text.as_bytes())
        } else {
            std::io::stdout().write_all(text.as_bytes()).and_then(|()| std::io::stdout().flush())
        };
        written.map_err(|e| Error::connection(format!("cannot write to the terminal: {e}")))
    }

    fn prepare_commit(&mut self, _checkpoint_id: u64) -> Result<Vec<Committable>> {
        Ok(Vec::new())
    }

    fn commit(_options: &Options, _committables: Vec<Committable>) -> Result<()> {
        Ok(())
    }
}

fn kind(k: RowKind) -> &'static str {
    match k {
        RowKind::Insert => "+I",
        RowKind::UpdateBefore => "-U",
        RowKind::UpdateAfter => "+U",
        RowKind::Delete => "-D",
    }
}

fn nested_type(nested: &[NestedType], r: u32) -> Result<&LogicalType> {
    match nested.get(r as usize) {
        Some(NestedType::Type(t)) => Ok(t),
        _ => Err(Error::unsupported(format!("type reference {r} is not a type"))),
    }
}

/// A value as Java's `toString` shows it inside Flink's `Row.toString`.
fn write_value(
    out: &mut String,
    column: &ColumnRef<'_>,
    ty: &LogicalType,
    nested: &[NestedType],
    i: usize,
) -> Result<()> {
    use LogicalType as T;
    let value = column.value(i)?;
    match (ty, value) {
        (_, ValueRef::Null) => out.push_str("null"),
        (T::Date, ValueRef::I32(d)) => text::write_date(out, d),
        (T::Time(p), ValueRef::I32(v)) => text::write_java_time(out, i64::from(v) * nanos_per_unit(*p)),
        (T::Time(p), ValueRef::I64(v)) => text::write_java_time(out, v * nanos_per_unit(*p)),
        (T::Timestamp(p), ValueRef::I64(v)) => text::write_java_timestamp(out, v, *p, false),
        (T::TimestampLtz(p), ValueRef::I64(v)) => text::write_java_timestamp(out, v, *p, true),
        (T::Decimal(d), ValueRef::Decimal(v)) => text::write_decimal(out, v, d.scale, true),
        (_, ValueRef::Bytes(b)) => text::write_java_bytes(out, b),
        (T::Array(e), ValueRef::Nested) => {
            let element = nested_type(nested, e.element)?;
            let elements = column.elements()?;
            out.push('[');
            for (n, j) in column.range(i)?.enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_value(out, &elements, element, nested, j)?;
            }
            out.push(']');
        }
        (T::Map(m), ValueRef::Nested) => {
            let (key_type, value_type) = (nested_type(nested, m.key)?, nested_type(nested, m.value.element)?);
            let (keys, values) = column.map_columns()?;
            out.push('{');
            for (n, j) in column.range(i)?.enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_value(out, &keys, key_type, nested, j)?;
                out.push('=');
                write_value(out, &values, value_type, nested, j)?;
            }
            out.push('}');
        }
        (T::Row(r), ValueRef::Nested) => {
            let Some(NestedType::RowFields(fields)) = nested.get(*r as usize) else {
                return Err(Error::unsupported(format!("type reference {r} is not a row")));
            };
            out.push_str("+I[");
            for (n, f) in fields.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_value(out, &column.field(n)?, &f.data_type, nested, i)?;
            }
            out.push(']');
        }
        (ty, value) => text::write_text(out, ty, value, &text::TextStyle::default()).map_err(Error::unsupported)?,
    }
    Ok(())
}

fn nanos_per_unit(p: u8) -> i64 {
    1_000_000_000 / text::units_per_second(p)
}

export_sink!(Print);
