//! Broken on purpose (for `weir verify`): the spec declares nothing, but
//! opening a decoder phones home (a TCP connect to 127.0.0.1:9) and
//! ignores the refusal.

#[path = "../../broken-lines.rs"]
mod lines;

use lines::Lines;
use weir_sdk::{Batch, ComponentSpec, Format, Options, Result, Schema, VarData, export_format};

impl Format for Lines {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("broken-capability", "Test guest: uses a capability it never declared")
    }

    fn open(_options: &Options, schema: &Schema) -> Result<Self> {
        Self::check_schema(schema)?;
        let _ = std::net::TcpStream::connect("127.0.0.1:9");
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
