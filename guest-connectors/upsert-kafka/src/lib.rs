//! Flink's `upsert-kafka` connector: the `kafka` connector's client,
//! reader and writer in upsert mode.
//!
//! - The key is the table's PRIMARY KEY, encoded with `key.format`; the
//!   value with `value.format` (`value.fields-include` as in Flink).
//! - **Reading** starts at the earliest offset; a record with a value is a
//!   +I (the value format's row), a tombstone (null value) a -D of its key.
//! - **Writing**: +I and +U write the row under its key, -D writes a
//!   tombstone, -U is dropped (the +U that follows replaces the value).
//!   `sink.buffer-flush.max-rows` / `.interval` keep only the last row per
//!   key in a buffer before it is produced, as Flink's reducing buffer.

use weir_connector_kafka::{KafkaReader, KafkaWriter, Settings};
use weir_sdk::{
    Committable, ComponentSpec, Connector, Error, Options, ReadResult, Result, ScanPlan, ScanRequest, Schema, Sink,
    SinkInput, Source, Split, WriterContext, export_connector,
};

/// The `upsert-kafka` connector.
struct UpsertKafka;

impl Connector for UpsertKafka {
    fn spec() -> ComponentSpec {
        weir_connector_kafka::upsert_spec()
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        if schema.primary_key.is_empty() {
            return Err(Error::config(
                None,
                "an upsert-kafka table needs a PRIMARY KEY (…) NOT ENFORCED: its columns are the record key",
            ));
        }
        Settings::parse(options, true).map(|_| ())
    }
}

/// The reader in upsert mode.
pub struct Reader(KafkaReader);

impl Source for Reader {
    fn plan(options: &Options, _schema: &Schema, request: &ScanRequest) -> Result<ScanPlan> {
        weir_connector_kafka::plan(options, request, true)
    }

    fn open(
        options: &Options,
        _schema: &Schema,
        request: &ScanRequest,
        split: &Split,
        state: Option<&[u8]>,
    ) -> Result<Self> {
        let settings = Settings::parse(options, true)?;
        KafkaReader::open(settings, &split.payload, state, request.metadata_keys.clone()).map(Reader)
    }

    fn next(&mut self, max_records: u32) -> Result<ReadResult> {
        self.0.next(max_records)
    }

    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(self.0.checkpoint())
    }
}

/// The writer in upsert mode.
pub struct Writer(KafkaWriter);

impl Sink for Writer {
    fn open(options: &Options, _schema: &Schema, context: &WriterContext) -> Result<Self> {
        KafkaWriter::open(Settings::parse(options, true)?, context).map(Writer)
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        match input {
            SinkInput::Records(records) => self.0.write(records),
            SinkInput::Rows(_) => Err(Error::unsupported("upsert-kafka writes encoded records")),
        }
    }

    fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<Committable>> {
        self.0.prepare_commit(checkpoint_id)
    }

    fn commit(options: &Options, committables: Vec<Committable>) -> Result<()> {
        weir_connector_kafka::end_all(&Settings::parse(options, true)?, committables, true)
    }

    fn abort(options: &Options, committables: Vec<Committable>) -> Result<()> {
        weir_connector_kafka::end_all(&Settings::parse(options, true)?, committables, false)
    }
}

export_connector!(UpsertKafka, Reader, Writer);
