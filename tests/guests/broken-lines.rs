//! The correct part the broken test formats share (`broken-spec`,
//! `broken-trap`, `broken-capability`): a one-STRING-column text format.
//! Each crate includes it with `#[path]` and breaks one thing on top.

use weir_sdk::{
    Batch, BatchBuilder, BatchReader, Error, LogicalType, Result, RowKind, Schema, ValueRef, VarData, VarDataBuilder,
};

/// A correct one-STRING-column text format: one frame per row.
pub struct Lines {
    /// The table schema (one STRING column).
    pub schema: Schema,
}

impl Lines {
    /// One STRING column, or a config error.
    pub fn check_schema(schema: &Schema) -> Result<()> {
        match schema.fields.as_slice() {
            [f] if matches!(f.data_type, LogicalType::String) => Ok(()),
            _ => Err(Error::config(None, "takes exactly one STRING column")),
        }
    }

    /// Each frame as one row.
    pub fn decode_lines(frames: &VarData, schema: &Schema) -> Result<Batch> {
        let mut out = BatchBuilder::new(schema);
        for (i, frame) in frames.iter().enumerate() {
            let text =
                std::str::from_utf8(frame).map_err(|e| Error::data(i as u64, frame, format!("invalid UTF-8 ({e})")))?;
            out.column(0).push_str(text)?;
            out.end_row(RowKind::Insert)?;
        }
        out.finish()
    }

    /// Each row as one frame.
    pub fn encode_lines(rows: &Batch) -> Result<VarData> {
        let reader = BatchReader::new(rows);
        let mut out = VarDataBuilder::new();
        for row in 0..reader.rows() {
            if let ValueRef::Str(s) = reader.value(0, row)? {
                out.buffer().extend_from_slice(s.as_bytes());
            }
            out.end_value()?;
        }
        Ok(out.finish())
    }
}
