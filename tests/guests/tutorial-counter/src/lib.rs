//! A counter: the numbers 1 to `count`, in `splits` ranges read side by side.
use weir_sdk::{
    Accepted, BatchBuilder, ComponentSpec, Connector, Error, LogicalType, OptionSpec, Options, OptionsExt, Payload,
    ReadResult, Result, RowKind, ScanPlan, ScanRequest, Schema, Source, Split, export_source,
};

/// One split reader: where it is in its range.
pub struct Counter {
    next: i64,
    end: i64,
    schema: Schema,
}

impl Connector for Counter {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("counter", "The numbers 1 to count, in splits")
            .payload(Payload::Rows) // rows, not raw records: no 'format'
            .option(OptionSpec::long("count", "How many numbers").default_value("100"))
            .option(OptionSpec::int("splits", "How many ranges").default_value("2"))
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        if !matches!(schema.fields.as_slice(), [f] if matches!(f.data_type, LogicalType::Bigint)) {
            return Err(Error::config(None, "the table must have one BIGINT column"));
        }
        if options.long("count")? < 0 || options.long("splits")? < 1 {
            return Err(Error::config(Some("splits"), "count must be 0 or more, splits 1 or more"));
        }
        Ok(())
    }
}

impl Source for Counter {
    /// Called once per scan (not again on restore: the host keeps the plan).
    fn plan(options: &Options, _schema: &Schema, _request: &ScanRequest) -> Result<ScanPlan> {
        let (count, splits) = (options.long("count")?, options.long("splits")?);
        let splits = (0..splits)
            .map(|i| {
                let (start, end) = (1 + count * i / splits, 1 + count * (i + 1) / splits);
                // The payload is the split's own description, opaque to the host.
                Split { id: format!("range-{i}"), payload: format!("{start}-{end}").into_bytes() }
            })
            .collect();
        let accepted = Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false };
        Ok(ScanPlan { splits, bounded: true, accepted })
    }

    /// A reader for one split; `state` is what `checkpoint` returned
    /// before a restart.
    fn open(_: &Options, schema: &Schema, _: &ScanRequest, split: &Split, state: Option<&[u8]>) -> Result<Self> {
        let range = String::from_utf8_lossy(&split.payload).into_owned();
        let (start, end) = range.split_once('-').ok_or_else(|| Error::config(None, "bad split"))?;
        let parse = |s: &str| s.parse::<i64>().map_err(|e| Error::config(None, e.to_string()));
        let next = match state {
            Some(bytes) => i64::from_le_bytes(bytes.try_into().map_err(|_| Error::config(None, "bad state"))?),
            None => parse(start)?,
        };
        Ok(Counter { next, end: parse(end)?, schema: schema.clone() })
    }

    /// Up to about `max_records` rows; the host calls again until the end.
    fn next(&mut self, max_records: u32) -> Result<ReadResult> {
        if self.next >= self.end {
            return Ok(ReadResult::EndOfSplit);
        }
        let stop = self.end.min(self.next + i64::from(max_records.max(1)));
        let mut rows = BatchBuilder::with_capacity(&self.schema, (stop - self.next) as usize);
        for n in self.next..stop {
            rows.column(0).push_i64(n)?;
            rows.end_row(RowKind::Insert)?;
        }
        self.next = stop;
        Ok(ReadResult::Rows(rows.finish()?))
    }

    /// Where to resume: after every row returned so far.
    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(self.next.to_le_bytes().to_vec())
    }
}

export_source!(Counter);
