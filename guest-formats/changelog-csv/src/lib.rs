//! `changelog-csv`, the format of Flink's full-stack example ("User-defined
//! Sources & Sinks"): each frame is `KIND|field|field…`, where KIND is a
//! Flink `RowKind` name — `INSERT`, `UPDATE_BEFORE`, `UPDATE_AFTER`,
//! `DELETE` (the short forms `+I`, `-U`, `+U`, `-D` are accepted too).
//!
//! Unlike Flink's example, which parses only INT and STRING, every scalar
//! type is read and written as in [`weir_sdk::text`]. There is no quoting:
//! a value that contains the delimiter cannot be encoded and is a data
//! error. An empty field is null, except for strings and bytes, where it is
//! the empty value; so a null string or bytes value cannot be encoded.

use weir_sdk::text::{self, TextStyle};
use weir_sdk::{
    Batch, BatchBuilder, BatchReader, ComponentSpec, Error, Format, LogicalType, OptionSpec, Options, OptionsExt,
    Result, RowKind, Schema, ValueRef, VarData, VarDataBuilder, export_format,
};

/// State of one decoder or encoder. Public so benchmarks can run the same
/// code natively.
pub struct ChangelogCsv {
    schema: Schema,
    delimiter: String,
    style: TextStyle,
    scratch: String,
}

const KINDS: [(RowKind, &str, &str); 4] = [
    (RowKind::Insert, "INSERT", "+I"),
    (RowKind::UpdateBefore, "UPDATE_BEFORE", "-U"),
    (RowKind::UpdateAfter, "UPDATE_AFTER", "+U"),
    (RowKind::Delete, "DELETE", "-D"),
];

impl Format for ChangelogCsv {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("changelog-csv", "A row kind then the fields, e.g. INSERT|Alice|12 (Flink's example format)")
            .option(
                OptionSpec::string("column-delimiter", "Separator between the row kind and the fields")
                    .default_value("|"),
            )
            .changelog(&[RowKind::Insert, RowKind::UpdateBefore, RowKind::UpdateAfter, RowKind::Delete])
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Self::open(options, schema).map(drop)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        let delimiter = options.string("column-delimiter")?.to_owned();
        if delimiter.is_empty() {
            return Err(Error::config(Some("column-delimiter"), "must not be empty"));
        }
        if let Some(f) = schema
            .fields
            .iter()
            .find(|f| matches!(f.data_type, LogicalType::Array(_) | LogicalType::Map(_) | LogicalType::Row(_)))
        {
            return Err(Error::config(
                None,
                format!("changelog-csv takes scalar columns only; '{}' is nested", f.name),
            ));
        }
        Ok(ChangelogCsv { schema: schema.clone(), delimiter, style: TextStyle::default(), scratch: String::new() })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        BatchBuilder::with_capacity(&self.schema, frames.len())
            .decode_frames(frames, false, |frame, out| self.decode_record(frame, out))
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        let reader = BatchReader::new(rows);
        let mut out = VarDataBuilder::new();
        for row in 0..reader.rows() {
            let kind = reader.row_kind(row);
            let name = KINDS.iter().find(|(k, ..)| *k == kind).map_or("INSERT", |(_, name, _)| name);
            out.buffer().extend_from_slice(name.as_bytes());
            for (c, field) in self.schema.fields.iter().enumerate() {
                self.scratch.clear();
                let value = reader.value(c, row)?;
                text::write_text(&mut self.scratch, &field.data_type, value, &self.style)
                    .map_err(|m| Error::data(row as u64, b"", format!("column '{}': {m}", field.name)))?;
                if self.scratch.contains(self.delimiter.as_str()) || self.scratch.contains(['\n', '\r']) {
                    return Err(Error::data(
                        row as u64,
                        self.scratch.as_bytes(),
                        format!("column '{}': the value contains the delimiter or a line break", field.name),
                    ));
                }
                if value == ValueRef::Null && is_text(&field.data_type) {
                    return Err(Error::data(
                        row as u64,
                        b"",
                        format!(
                            "column '{}': changelog-csv cannot tell a null string or bytes value from an empty one",
                            field.name
                        ),
                    ));
                }
                out.buffer().extend_from_slice(self.delimiter.as_bytes());
                out.buffer().extend_from_slice(self.scratch.as_bytes());
            }
            out.end_value()?;
        }
        Ok(out.finish())
    }
}

/// Types whose empty field is a value (the empty string or bytes), not null.
fn is_text(ty: &LogicalType) -> bool {
    use LogicalType as T;
    matches!(ty, T::Char(_) | T::Varchar(_) | T::String | T::Binary(_) | T::Varbinary(_) | T::Bytes)
}

impl ChangelogCsv {
    fn decode_record(&self, frame: &[u8], out: &mut BatchBuilder) -> Result<(), String> {
        let line = std::str::from_utf8(frame).map_err(|e| format!("invalid UTF-8 ({e})"))?;
        let mut parts = line.split(self.delimiter.as_str());
        let kind_text = parts.next().unwrap_or_default().trim();
        let kind = KINDS
            .iter()
            .find(|(_, name, short)| kind_text == *name || kind_text == *short)
            .map(|(k, ..)| *k)
            .ok_or_else(|| format!("'{kind_text}' is not a row kind (INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE)"))?;
        let values: Vec<&str> = parts.collect();
        if values.len() != self.schema.fields.len() {
            return Err(format!("expected a row kind and {} fields, found {}", self.schema.fields.len(), values.len()));
        }
        for (c, (field, value)) in self.schema.fields.iter().zip(values).enumerate() {
            let column = out.column(c);
            let pushed = if value.is_empty() && !is_text(&field.data_type) {
                column.push_null().map_err(|e| e.message())
            } else {
                text::push_text(column, &field.data_type, value, &self.style)
            };
            if let Err(m) = pushed {
                out.discard_row();
                return Err(format!("column '{}': {m}", field.name));
            }
        }
        out.end_row(kind).map_err(|e| e.message())
    }
}

export_format!(ChangelogCsv);
