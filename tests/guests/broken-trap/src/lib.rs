//! Broken on purpose (for `weir verify`): malformed input (invalid UTF-8)
//! panics instead of returning a data error.

#[path = "../../broken-lines.rs"]
mod lines;

use lines::Lines;
use weir_sdk::{Batch, ComponentSpec, Format, Options, Result, Schema, VarData, export_format};

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
