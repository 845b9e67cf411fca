//! Flink's `kafka` connector as a sandboxed component. The Kafka protocol
//! is spoken here, inside the component, over wasi:sockets (`std::net`),
//! with the `kafka-protocol` codec; the host has no Kafka client.
//!
//! - **Grants.** It declares `tcp-connect` to every server listed in
//!   `properties.bootstrap.servers`; the operator grants each with
//!   `--allow-net host:port`. Brokers that metadata names are reached only
//!   if they are among those grants, so list every broker of the cluster
//!   there (a Kafka client accepts any subset, so this changes nothing
//!   else). `weir check` prints the exact grants.
//! - **Source.** One split per topic-partition; the state is the next
//!   offset (plus records fetched and not yet handed out, and open
//!   transactions' records in `read_committed`). `scan.startup.mode`,
//!   `scan.bounded.mode` and their companions as in Flink.
//! - **Sink.** `sink.partitioner` and `sink.delivery-guarantee` as in
//!   Flink; `exactly-once` writes a Kafka transaction per checkpoint.
//! - **Options.** `properties.*` keys are the ones that mean something to
//!   this client (see the spec); any other is refused by name rather than
//!   ignored.

mod client;
mod settings;
mod sink;
mod source;

use weir_sdk::{
    Accepted, CapabilityKind, ComponentSpec, Error, OptionSpec, OptionType, Options, Payload, Result, RowKind,
    ScanPlan, ScanRequest, Split,
};

pub use settings::Settings;
pub use sink::{KafkaWriter, end_all, murmur2};
pub use source::KafkaReader;

use source::{READABLE_METADATA, split_payload};

/// What both connectors share: the client's options, the value/key layout,
/// bounded scans, the sink's guarantee, and the grants.
fn common(spec: ComponentSpec) -> ComponentSpec {
    let one_of = OptionSpec::one_of;
    spec.payload(Payload::RawRecords)
        .source_abilities(weir_sdk::SourceAbilities::READING_METADATA)
        .option(
            OptionSpec::string("properties.bootstrap.servers", "Comma-separated host:port list of the Kafka brokers")
                .required(),
        )
        .option(OptionSpec::string("properties.group.id", "Consumer group (group-offsets modes, offset commits)"))
        .option(OptionSpec::boolean(
            "properties.commit.offsets.on.checkpoint",
            "Commit the checkpointed offsets to the group (default true when a group is set)",
        ))
        .option(OptionSpec::string("properties.client.id", "Client id sent to the brokers (default 'weir')"))
        .option(one_of(
            "properties.isolation.level",
            &["read_committed", "read_uncommitted"],
            "Whether records of open or aborted transactions are read (default read_committed)",
        ))
        .option(one_of(
            "properties.auto.offset.reset",
            &["earliest", "latest", "none"],
            "Where group-offsets starts for a partition the group never committed",
        ))
        .option(OptionSpec::int("properties.max.partition.fetch.bytes", "Bytes one fetch returns per partition"))
        .option(OptionSpec::int("properties.fetch.max.wait.ms", "How long a fetch waits for data (capped at 1000)"))
        .option(OptionSpec::int("properties.request.timeout.ms", "How long a request may take"))
        .option(one_of("properties.compression.type", &["none", "gzip", "snappy"], "Compression of produced batches"))
        .option(one_of("properties.acks", &["all", "-1", "0", "1"], "Acknowledgements the sink waits for"))
        .option(OptionSpec::int("properties.transaction.timeout.ms", "Transaction timeout of exactly-once writes"))
        .option(OptionSpec::string(
            "key.fields-prefix",
            "Prefix of key column names, removed before the key format sees them",
        ))
        .option(
            one_of("value.fields-include", &["ALL", "EXCEPT_KEY"], "Whether the value holds the key columns too")
                .default_value("ALL"),
        )
        .option(
            one_of(
                "scan.bounded.mode",
                &["unbounded", "latest-offset", "group-offsets", "timestamp", "specific-offsets"],
                "Where the scan ends",
            )
            .default_value("unbounded"),
        )
        .option(OptionSpec::string(
            "scan.bounded.specific-offsets",
            "End offsets: 'partition:0,offset:42;partition:1,offset:300'",
        ))
        .option(OptionSpec::long("scan.bounded.timestamp-millis", "End before the first record at or after this time"))
        .option(OptionSpec::int("scan.parallelism", "Readers in parallel"))
        .option(
            one_of(
                "sink.delivery-guarantee",
                &["none", "at-least-once", "exactly-once"],
                "at-least-once flushes at checkpoints; exactly-once writes a transaction per checkpoint",
            )
            .default_value("at-least-once"),
        )
        .option(OptionSpec::string("sink.transactional-id-prefix", "Prefix of the transactional ids (exactly-once)"))
        .option(OptionSpec::int("sink.parallelism", "Writers in parallel"))
        .capability(CapabilityKind::TcpConnect, "{properties.bootstrap.servers}")
}

/// The `kafka` connector's spec: Flink's options and defaults.
pub fn kafka_spec() -> ComponentSpec {
    common(ComponentSpec::new(
        "kafka",
        "Kafka topics: partitions as splits, offsets in checkpoints, transactional exactly-once sink",
    ))
    .changelog(&[RowKind::Insert, RowKind::UpdateBefore, RowKind::UpdateAfter, RowKind::Delete])
    .sink_abilities(weir_sdk::SinkAbilities::WRITING_METADATA)
    .option(OptionSpec::string("topic", "Topic name(s) to read or the topic to write; several separated by ';'"))
    .option(OptionSpec::string("topic-pattern", "Regular expression of the topics to read (instead of 'topic')"))
    .option(OptionSpec::string("value.format", "Format of the record value (same as 'format')"))
    .option(OptionSpec::string("key.format", "Format of the record key"))
    .option(OptionSpec::string("key.fields", "Columns that make the key, separated by ';'"))
    .option(
        OptionSpec::one_of(
            "scan.startup.mode",
            &["earliest-offset", "latest-offset", "group-offsets", "timestamp", "specific-offsets"],
            "Where the scan starts",
        )
        .default_value("group-offsets"),
    )
    .option(OptionSpec::string(
        "scan.startup.specific-offsets",
        "Start offsets: 'partition:0,offset:42;partition:1,offset:300'",
    ))
    .option(OptionSpec::long("scan.startup.timestamp-millis", "Start at the first record at or after this time"))
    .option(
        OptionSpec::new(
            "scan.topic-partition-discovery.interval",
            OptionType::Duration,
            "Accepted for Flink compatibility; partitions are found once, when the scan starts",
        )
        .default_value("5 min"),
    )
    .option(
        OptionSpec::one_of("sink.partitioner", &["default", "fixed", "round-robin"], "How records pick a partition")
            .default_value("default"),
    )
}

/// The `upsert-kafka` connector's spec: a compacted topic as a table keyed
/// by its PRIMARY KEY (Flink's options and defaults).
pub fn upsert_spec() -> ComponentSpec {
    common(ComponentSpec::new(
        "upsert-kafka",
        "A Kafka topic as an upsert changelog keyed by the PRIMARY KEY; deletes are tombstones",
    ))
    .changelog(&[RowKind::Insert, RowKind::UpdateAfter, RowKind::Delete])
    .sink_abilities(weir_sdk::SinkAbilities::UPSERT | weir_sdk::SinkAbilities::WRITING_METADATA)
    .option(
        OptionSpec::string("topic", "Topic name(s) to read or the topic to write; several separated by ';'").required(),
    )
    .option(OptionSpec::string("value.format", "Format of the record value").required())
    .option(OptionSpec::string("key.format", "Format of the record key (the PRIMARY KEY columns)").required())
    .option(
        OptionSpec::int("sink.buffer-flush.max-rows", "Rows buffered (the last per key) before a flush; 0: no buffer")
            .default_value("0"),
    )
    .option(
        OptionSpec::new(
            "sink.buffer-flush.interval",
            OptionType::Duration,
            "Longest a buffered row waits; 0: no buffer",
        )
        .default_value("0"),
    )
}

/// Plans one split per topic-partition of the table's topics.
pub fn plan(options: &Options, request: &ScanRequest, upsert: bool) -> Result<ScanPlan> {
    let settings = Settings::parse(options, upsert)?;
    settings.check_source()?;
    if let Some(key) = request.metadata_keys.iter().find(|k| !READABLE_METADATA.contains(&k.as_str())) {
        let why = if key == "headers" {
            " ('headers' is a MAP column, which the 0.1.0 contract cannot carry as record metadata)"
        } else {
            ""
        };
        return Err(Error::config(
            None,
            format!("Kafka has no readable metadata '{key}'{why}; available: {}", READABLE_METADATA.join(", ")),
        ));
    }
    let mut cluster = settings.cluster();
    let topics = match &settings.topic_pattern {
        Some(pattern) => {
            let regex = regex_lite::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| Error::config(Some("topic-pattern"), e.to_string()))?;
            let all = cluster.refresh(None)?;
            all.into_iter().filter(|t| regex.is_match(t)).collect()
        }
        None => cluster.refresh(Some(&settings.topics))?,
    };
    let mut splits = Vec::new();
    for topic in topics {
        for p in cluster.topics.get(&topic).into_iter().flatten() {
            splits.push(Split { id: format!("{topic}-{}", p.partition), payload: split_payload(&topic, p.partition) });
        }
    }
    Ok(ScanPlan {
        splits,
        bounded: settings.bound != settings::Bound::Unbounded,
        accepted: Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false },
    })
}

/// Defines and exports a Kafka component: `$connector` with `$spec`, a
/// reader and a writer in upsert mode or not, and `$check` for the table's
/// schema (upsert-kafka needs a PRIMARY KEY). The `kafka` component below
/// and `upsert-kafka` are the two uses.
#[macro_export]
macro_rules! kafka_component {
    ($connector:ident, spec: $spec:path, upsert: $upsert:expr, check: $check:path) => {
        mod kafka_component {
            use weir_sdk::{
                Committable, ComponentSpec, Connector, Error, Options, ReadResult, Result, ScanPlan, ScanRequest,
                Schema, Sink, SinkInput, Source, Split, WriterContext, export_connector,
            };
            use $crate::{KafkaReader, KafkaWriter, Settings};

            const UPSERT: bool = $upsert;

            /// The connector.
            pub struct $connector;

            impl Connector for $connector {
                fn spec() -> ComponentSpec {
                    $spec()
                }

                fn validate(options: &Options, schema: &Schema) -> Result<()> {
                    $check(schema)?;
                    Settings::parse(options, UPSERT).map(|_| ())
                }
            }

            /// The reader as this component's source.
            pub struct Reader(KafkaReader);

            impl Source for Reader {
                fn plan(options: &Options, _schema: &Schema, request: &ScanRequest) -> Result<ScanPlan> {
                    $crate::plan(options, request, UPSERT)
                }

                fn open(
                    options: &Options,
                    _schema: &Schema,
                    request: &ScanRequest,
                    split: &Split,
                    state: Option<&[u8]>,
                ) -> Result<Self> {
                    let settings = Settings::parse(options, UPSERT)?;
                    KafkaReader::open(settings, &split.payload, state, request.metadata_keys.clone()).map(Reader)
                }

                fn next(&mut self, max_records: u32) -> Result<ReadResult> {
                    self.0.next(max_records)
                }

                fn checkpoint(&mut self) -> Result<Vec<u8>> {
                    Ok(self.0.checkpoint())
                }
            }

            /// The writer as this component's sink.
            pub struct Writer(KafkaWriter);

            impl Sink for Writer {
                fn open(options: &Options, _schema: &Schema, context: &WriterContext) -> Result<Self> {
                    KafkaWriter::open(Settings::parse(options, UPSERT)?, context).map(Writer)
                }

                fn write(&mut self, input: SinkInput) -> Result<()> {
                    match input {
                        SinkInput::Records(records) => self.0.write(records),
                        SinkInput::Rows(_) => {
                            Err(Error::unsupported("a Kafka sink writes encoded records; give the table a format"))
                        }
                    }
                }

                fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<Committable>> {
                    self.0.prepare_commit(checkpoint_id)
                }

                fn commit(options: &Options, committables: Vec<Committable>) -> Result<()> {
                    $crate::end_all(&Settings::parse(options, UPSERT)?, committables, true)
                }

                fn abort(options: &Options, committables: Vec<Committable>) -> Result<()> {
                    $crate::end_all(&Settings::parse(options, UPSERT)?, committables, false)
                }
            }

            export_connector!($connector, Reader, Writer);
        }
    };
}

/// Any schema will do for `kafka`.
pub fn any_schema(_schema: &weir_sdk::Schema) -> Result<()> {
    Ok(())
}

#[cfg(feature = "component")]
kafka_component!(Kafka, spec: crate::kafka_spec, upsert: false, check: crate::any_schema);
