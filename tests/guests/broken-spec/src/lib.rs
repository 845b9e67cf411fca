//! Broken on purpose (for `weir verify`): the spec declares an INT option
//! whose default is not an integer. Everything else is a correct one-column
//! text format.

#[path = "../../broken-lines.rs"]
mod lines;

use lines::Lines;
use weir_sdk::{Batch, ComponentSpec, Format, OptionSpec, Options, Result, Schema, VarData, export_format};

impl Format for Lines {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("broken-spec", "Test guest: a default that fails its own validation")
            .option(OptionSpec::int("max-line-length", "Longest line").default_value("a lot"))
    }

    fn open(_options: &Options, schema: &Schema) -> Result<Self> {
        Self::check_schema(schema)?;
        Ok(Lines { schema: schema.clone() })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        Self::decode_lines(frames, &self.schema)
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        Self::encode_lines(rows)
    }
}

export_format!(Lines);
