//! A format whose decoder panics: the host must turn the trap into an error
//! naming the component and keep running.

use weir_sdk::{Batch, ComponentSpec, Format, Options, Result, Schema, VarData, export_format};

struct Panicky;

impl Format for Panicky {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("panicky", "Test guest: panics when decoding")
    }

    fn open(_options: &Options, _schema: &Schema) -> Result<Self> {
        Ok(Panicky)
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        panic!("panicky decoder asked to decode {} frames", frames.len());
    }
}

export_format!(Panicky);
