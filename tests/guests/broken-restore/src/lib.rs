//! Broken on purpose (for `weir verify`): a bounded source of 100 numbered
//! rows whose checkpoint forgets where it was — a restored reader starts
//! over, duplicating what was read before the checkpoint.

use weir_sdk::{
    Accepted, BatchBuilder, ComponentSpec, Connector, Options, Payload, ReadResult, Result, RowKind, ScanPlan,
    ScanRequest, Schema, Source, Split, export_source,
};

struct Counter {
    next: u64,
    schema: Schema,
}

const ROWS: u64 = 100;

impl Connector for Counter {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("broken-restore", "Test guest: checkpoints that lose the position").payload(Payload::Rows)
    }
}

impl Source for Counter {
    fn plan(_options: &Options, _schema: &Schema, _request: &ScanRequest) -> Result<ScanPlan> {
        let accepted = Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false };
        Ok(ScanPlan { splits: vec![Split { id: "all".into(), payload: Vec::new() }], bounded: true, accepted })
    }

    fn open(
        _options: &Options,
        schema: &Schema,
        _request: &ScanRequest,
        _split: &Split,
        _state: Option<&[u8]>,
    ) -> Result<Self> {
        // The state is ignored: the bug.
        Ok(Counter { next: 0, schema: schema.clone() })
    }

    fn next(&mut self, max_records: u32) -> Result<ReadResult> {
        if self.next >= ROWS {
            return Ok(ReadResult::EndOfSplit);
        }
        let mut out = BatchBuilder::new(&self.schema);
        let end = (self.next + u64::from(max_records.max(1))).min(ROWS);
        for i in self.next..end {
            out.column(0).push_i64(i as i64)?;
            for c in 1..self.schema.fields.len() {
                out.column(c).push_null()?;
            }
            out.end_row(RowKind::Insert)?;
        }
        self.next = end;
        Ok(ReadResult::Rows(out.finish()?))
    }

    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(self.next.to_le_bytes().to_vec())
    }
}

export_source!(Counter);
