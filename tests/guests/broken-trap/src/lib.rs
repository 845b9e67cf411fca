//! Broken on purpose (for `weir verify`): malformed input (invalid UTF-8)
//! panics instead of returning a data error.

use weir_sdk::{
    Batch, BatchBuilder, BatchReader, ComponentSpec, Error, Format, LogicalType, Options, Result, RowKind, Schema,
    ValueRef, VarData, VarDataBuilder, export_format,
};

struct Lines {
    schema: Schema,
}

impl Lines {
    /// One STRING column, or a config error.
    fn check_schema(schema: &Schema) -> Result<()> {
        match schema.fields.as_slice() {
            [f] if matches!(f.data_type, LogicalType::String) => Ok(()),
            _ => Err(Error::config(None, "takes exactly one STRING column")),
        }
    }

    fn decode_lines(frames: &VarData, schema: &Schema) -> Result<Batch> {
        let mut out = BatchBuilder::new(schema);
        for (i, frame) in frames.iter().enumerate() {
            let text =
                std::str::from_utf8(frame).map_err(|e| Error::data(i as u64, frame, format!("invalid UTF-8 ({e})")))?;
            out.column(0).push_str(text)?;
            out.end_row(RowKind::Insert)?;
        }
        out.finish()
    }

    fn encode_lines(rows: &Batch) -> Result<VarData> {
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

impl Format for Lines {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("broken-trap", "Test guest: panics on malformed input")
    }

    fn open(_options: &Options, schema: &Schema) -> Result<Self> {
        Self::check_schema(schema)?;
        Ok(Lines { schema: schema.clone() })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        for frame in frames.iter() {
            #[allow(clippy::unwrap_used)]
            std::str::from_utf8(frame).unwrap();
        }
        Self::decode_lines(frames, &self.schema)
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        Self::encode_lines(rows)
    }
}

export_format!(Lines);
