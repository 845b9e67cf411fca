//! Flink's `blackhole` sink: accepts every row and discards it, counting
//! rows in the `rows-discarded` metric. Useful for measuring a source and a
//! format without a sink's cost.

use weir_sdk::{
    Committable, ComponentSpec, Connector, Options, Payload, Result, RowKind, Schema, Sink, SinkAbilities, SinkInput,
    WriterContext, export_sink,
};

struct Blackhole;

impl Connector for Blackhole {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("blackhole", "Swallows every row (Flink's BlackHole sink)")
            .payload(Payload::Rows)
            .changelog(&[RowKind::Insert, RowKind::UpdateBefore, RowKind::UpdateAfter, RowKind::Delete])
            .sink_abilities(SinkAbilities::OVERWRITE | SinkAbilities::PARTITIONING)
    }
}

impl Sink for Blackhole {
    fn open(_options: &Options, _schema: &Schema, _context: &WriterContext) -> Result<Self> {
        Ok(Blackhole)
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        let rows = match &input {
            SinkInput::Rows(batch) => u64::from(batch.row_count),
            SinkInput::Records(records) => records.values.len() as u64,
        };
        weir_sdk::log::counter_add("rows-discarded", rows);
        Ok(())
    }

    fn prepare_commit(&mut self, _checkpoint_id: u64) -> Result<Vec<Committable>> {
        Ok(Vec::new())
    }

    fn commit(_options: &Options, _committables: Vec<Committable>) -> Result<()> {
        Ok(())
    }

    fn abort(_options: &Options, _committables: Vec<Committable>) -> Result<()> {
        Ok(())
    }
}

export_sink!(Blackhole);
