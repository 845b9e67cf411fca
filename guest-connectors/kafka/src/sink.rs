//! The sink: records go to partitions as `sink.partitioner` says, are
//! buffered per partition and produced in record batches; every checkpoint
//! flushes them (`at-least-once`), or — with `exactly-once` — they are
//! written inside a Kafka transaction per checkpoint that `commit` ends.
//!
//! **Transactions.** The writer of subtask `s` uses the transactional id
//! `<prefix>-<s>-<checkpoint>` for the data after checkpoint
//! `checkpoint - 1`. `prepare-commit` flushes and hands out
//! (id, producer id, epoch) as the committable; `commit` sends EndTxn.
//! On a restart from checkpoint `c`, the id `<prefix>-<s>-<c+1>` — the only
//! one whose transaction can be open and not in a checkpoint — is
//! re-initialised, which fences its producer, and explicitly aborted.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest, InitProducerIdRequest, ProduceRequest,
    ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as Codec, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, Record,
    RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use weir_sdk::{ColumnData, Committable, Error, RawRecords, Result, WriterContext};

use crate::client::{Cluster, Connection, topic_name};
use crate::settings::{Compression, Delivery, Partitioner, Settings};
use crate::source::ROW_KIND;

/// A partition's buffer is produced once it holds this many bytes.
const BATCH_BYTES: usize = 1 << 20;

/// Kafka's errors meaning "this transaction is already over" when a
/// commit is repeated after a restart: INVALID_PRODUCER_EPOCH (47),
/// INVALID_TXN_STATE (48), PRODUCER_FENCED (90).
const ALREADY_ENDED: [i16; 3] = [47, 48, 90];

/// An open transaction.
#[derive(Debug, Clone)]
struct Transaction {
    id: String,
    producer_id: i64,
    epoch: i16,
    /// Partitions added to it.
    partitions: Vec<i32>,
}

/// Writes one subtask's records.
pub struct KafkaWriter {
    settings: Settings,
    cluster: Cluster,
    topic: String,
    partitions: i32,
    subtask: u32,
    /// The checkpoint the data being written will belong to.
    checkpoint: u64,
    buffers: BTreeMap<i32, (Vec<Record>, usize)>,
    round_robin: u32,
    transaction: Option<Transaction>,
    /// Next sequence number per partition (idempotent/transactional batches).
    sequences: BTreeMap<i32, i32>,
    /// upsert-kafka's reducing buffer (`sink.buffer-flush.*`).
    reducer: Option<Reducer>,
}

/// The last record per key, until `max_rows` keys or `interval` since the
/// first; then they are produced (Flink's reducing buffer).
struct Reducer {
    max_rows: usize,
    interval: std::time::Duration,
    since: Option<std::time::Instant>,
    records: Vec<(i32, Record)>,
    index: std::collections::HashMap<Bytes, usize>,
}

impl KafkaWriter {
    /// Opens the writer; with exactly-once, aborts what a crash left open.
    pub fn open(settings: Settings, context: &WriterContext) -> Result<KafkaWriter> {
        let topic = settings.sink_topic()?.to_owned();
        if settings.delivery == Delivery::ExactlyOnce && settings.transactional_id_prefix.is_none() {
            return Err(Error::config(
                Some("sink.transactional-id-prefix"),
                "is required with 'sink.delivery-guarantee' = 'exactly-once' (a prefix unique to this job)",
            ));
        }
        let mut cluster = settings.cluster();
        cluster.refresh(Some(std::slice::from_ref(&topic)))?;
        let partitions = cluster.topics.get(&topic).map_or(0, |p| p.len() as i32);
        if partitions == 0 {
            return Err(Error::config(Some("topic"), format!("Kafka topic '{topic}' has no partitions")));
        }
        let mut writer = KafkaWriter {
            settings,
            cluster,
            topic,
            partitions,
            subtask: context.subtask,
            checkpoint: context.restored_checkpoint + 1,
            buffers: BTreeMap::new(),
            round_robin: context.subtask,
            transaction: None,
            sequences: BTreeMap::new(),
            reducer: None,
        };
        if let Some((max_rows, interval)) = writer.settings.buffer_flush {
            writer.reducer = Some(Reducer {
                max_rows,
                interval,
                since: None,
                records: Vec::new(),
                index: std::collections::HashMap::new(),
            });
        }
        if writer.settings.delivery == Delivery::ExactlyOnce {
            let id = writer.transactional_id(writer.checkpoint);
            let mut coordinator = coordinator(&mut writer.cluster, &id)?;
            let (producer_id, epoch) = init_producer(&mut coordinator, &id, writer.settings.transaction_timeout_ms)?;
            // Re-initialising fenced the old producer; abort explicitly too,
            // for brokers that do not abort on fencing.
            let _ = end_transaction(&mut coordinator, &id, producer_id, epoch, false);
        }
        Ok(writer)
    }

    fn transactional_id(&self, checkpoint: u64) -> String {
        format!("{}-{}-{checkpoint}", self.settings.transactional_id_prefix.as_deref().unwrap_or("weir"), self.subtask)
    }

    /// Buffers a batch of encoded records.
    pub fn write(&mut self, records: RawRecords) -> Result<()> {
        let n = records.values.offsets.len().saturating_sub(1);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let keys = match &records.keys {
            Some(column) => match &column.data {
                ColumnData::Binary(v) | ColumnData::Utf8(v) => Some((v, column.validity.as_deref())),
                _ => return Err(Error::unsupported("record keys must be bytes")),
            },
            None => None,
        };
        let slice = |v: &weir_sdk::VarData, i: usize| -> Bytes {
            Bytes::copy_from_slice(&v.data[v.offsets[i] as usize..v.offsets[i + 1] as usize])
        };
        // Written metadata: `timestamp` (epoch milliseconds; null: now);
        // upsert-kafka's row kinds: -U is dropped, -D becomes a tombstone.
        let mut timestamps: Option<(&[i64], Option<&[u8]>)> = None;
        let mut kinds: Option<&[i8]> = None;
        for (key, column) in &records.metadata {
            match (key.as_str(), &column.data) {
                ("timestamp", ColumnData::Int64(t)) => timestamps = Some((t.as_slice(), column.validity.as_deref())),
                (ROW_KIND, ColumnData::Int8(k)) if self.settings.upsert => kinds = Some(k.as_slice()),
                (ROW_KIND, _) => {}
                (other, _) => {
                    return Err(Error::config(
                        None,
                        format!(
                            "Kafka cannot write metadata '{other}'; writable: timestamp (declare it TIMESTAMP_LTZ(3))"
                        ),
                    ));
                }
            }
        }
        for i in 0..n {
            let kind = kinds.and_then(|k| k.get(i).copied()).unwrap_or(0);
            if kind == 1 {
                continue;
            }
            let key = keys.and_then(|(v, bits)| valid(bits, i).then(|| slice(v, i)));
            let value = (kind != 3).then(|| slice(&records.values, i));
            if value.is_none() && key.is_none() {
                return Err(Error::data(
                    i as u64,
                    b"",
                    "a delete without a key cannot become a tombstone; the table needs a PRIMARY KEY",
                ));
            }
            let timestamp = timestamps
                .and_then(|(t, bits)| valid(bits, i).then(|| t.get(i).copied()).flatten())
                .or_else(|| records.timestamps.as_ref().and_then(|t| t.get(i).copied()))
                .unwrap_or(now);
            let partition = self.partition_for(key.as_deref());
            let record = Record {
                transactional: false,
                control: false,
                partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
                producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
                timestamp_type: TimestampType::Creation,
                offset: 0,
                sequence: NO_SEQUENCE,
                timestamp,
                key,
                value,
                headers: Default::default(),
                delete_horizon: false,
            };
            match &mut self.reducer {
                Some(reducer) => {
                    let key = record.key.clone().unwrap_or_default();
                    match reducer.index.get(&key) {
                        Some(&at) => reducer.records[at] = (partition, record),
                        None => {
                            reducer.index.insert(key, reducer.records.len());
                            reducer.records.push((partition, record));
                        }
                    }
                    reducer.since.get_or_insert_with(std::time::Instant::now);
                }
                None => self.stage(partition, record)?,
            }
        }
        let due = self
            .reducer
            .as_ref()
            .is_some_and(|r| r.records.len() >= r.max_rows || r.since.is_some_and(|t| t.elapsed() >= r.interval));
        if due {
            self.drain_reducer()?;
        }
        Ok(())
    }

    /// Adds a record to its partition's buffer, producing a full one.
    fn stage(&mut self, partition: i32, record: Record) -> Result<()> {
        // About the record's bytes in a batch.
        let size = record.value.as_ref().map_or(0, Bytes::len) + record.key.as_ref().map_or(0, Bytes::len) + 16;
        let full = {
            let (buffer, bytes) = self.buffers.entry(partition).or_default();
            buffer.push(record);
            *bytes += size;
            *bytes >= BATCH_BYTES
        };
        if full {
            self.flush_partition(partition)?;
        }
        Ok(())
    }

    /// Moves the reducing buffer's records to the partition buffers.
    fn drain_reducer(&mut self) -> Result<()> {
        let Some(reducer) = &mut self.reducer else { return Ok(()) };
        let records = std::mem::take(&mut reducer.records);
        reducer.index.clear();
        reducer.since = None;
        for (partition, record) in records {
            self.stage(partition, record)?;
        }
        Ok(())
    }

    fn partition_for(&mut self, key: Option<&[u8]>) -> i32 {
        match (self.settings.partitioner, key) {
            (Partitioner::Fixed, _) => (self.subtask % self.partitions as u32) as i32,
            (Partitioner::Default, Some(key)) => ((murmur2(key) & 0x7fff_ffff) % self.partitions as u32) as i32,
            (Partitioner::Default | Partitioner::RoundRobin, _) => {
                self.round_robin = self.round_robin.wrapping_add(1);
                (self.round_robin % self.partitions as u32) as i32
            }
        }
    }

    /// Produces one partition's buffered records.
    fn flush_partition(&mut self, partition: i32) -> Result<()> {
        let Some((mut records, _)) = self.buffers.remove(&partition) else { return Ok(()) };
        if records.is_empty() {
            return Ok(());
        }
        let transactional_id = if self.settings.delivery == Delivery::ExactlyOnce {
            let txn = self.begin(partition)?;
            let sequence = self.sequences.entry(partition).or_insert(0);
            for (i, r) in records.iter_mut().enumerate() {
                r.transactional = true;
                r.producer_id = txn.producer_id;
                r.producer_epoch = txn.epoch;
                r.sequence = sequence.wrapping_add(i as i32);
            }
            *sequence = sequence.wrapping_add(records.len() as i32);
            Some(TransactionalId(StrBytes::from_string(txn.id.clone())))
        } else {
            None
        };
        // kafka-protocol starts a new batch wherever `offset - sequence`
        // changes: without a producer id the sequence runs one behind the
        // offset delta, so the first record's is NO_SEQUENCE (-1) and all
        // records share one batch (otherwise each record is a batch of one,
        // which costs brokers and consumers dearly).
        let transactional = transactional_id.is_some();
        for (i, r) in records.iter_mut().enumerate() {
            r.offset = i as i64;
            if !transactional {
                r.sequence = i as i32 + NO_SEQUENCE;
            }
        }
        let mut encoded = BytesMut::new();
        let compression = match self.settings.compression {
            Compression::None => Codec::None,
            Compression::Gzip => Codec::Gzip,
            Compression::Snappy => Codec::Snappy,
        };
        RecordBatchEncoder::encode(&mut encoded, records.iter(), &RecordEncodeOptions { version: 2, compression })
            .map_err(|e| Error::connection(format!("cannot encode a Kafka record batch: {e}")))?;
        let request = ProduceRequest::default()
            .with_transactional_id(transactional_id)
            .with_acks(self.settings.acks)
            .with_timeout_ms(self.settings.timeout.as_millis() as i32)
            .with_topic_data(vec![TopicProduceData::default().with_name(topic_name(&self.topic)).with_partition_data(
                vec![PartitionProduceData::default().with_index(partition).with_records(Some(encoded.freeze()))],
            )]);
        let topic = self.topic.clone();
        if self.settings.acks == 0 {
            // No response comes: send and go on.
            let leader = self.cluster.leader(&topic, partition)?;
            return self.cluster.connection_to_broker(leader)?.send_only(&request, 3);
        }
        let response = self.cluster.call_leader(&topic, partition, &request, 3)?;
        for p in response.responses.iter().flat_map(|t| &t.partition_responses) {
            if let Some(e) = p.error_code.err() {
                self.cluster.topics.remove(&topic);
                return Err(Error::connection(format!(
                    "Kafka refused records for {topic}-{}: {e}{}",
                    p.index,
                    p.error_message.as_ref().map(|m| format!(" ({})", m.as_str())).unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// The open transaction, begun (and `partition` added) if needed.
    fn begin(&mut self, partition: i32) -> Result<Transaction> {
        if self.transaction.is_none() {
            let id = self.transactional_id(self.checkpoint);
            let mut coordinator = coordinator(&mut self.cluster, &id)?;
            let (producer_id, epoch) = init_producer(&mut coordinator, &id, self.settings.transaction_timeout_ms)?;
            self.sequences.clear();
            self.transaction = Some(Transaction { id, producer_id, epoch, partitions: Vec::new() });
        }
        let txn = self.transaction.as_mut().expect("set above");
        if !txn.partitions.contains(&partition) {
            let request = AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_string(txn.id.clone())))
                .with_v3_and_below_producer_id(ProducerId(txn.producer_id))
                .with_v3_and_below_producer_epoch(txn.epoch)
                .with_v3_and_below_topics(vec![
                    AddPartitionsToTxnTopic::default()
                        .with_name(topic_name(&self.topic))
                        .with_partitions(vec![partition]),
                ]);
            let id = txn.id.clone();
            let mut coordinator = coordinator(&mut self.cluster, &id)?;
            let response = coordinator.call(&request, 1)?;
            for r in response.results_by_topic_v3_and_below.iter().flat_map(|t| &t.results_by_partition) {
                if let Some(e) = r.partition_error_code.err() {
                    return Err(Error::connection(format!("Kafka AddPartitionsToTxn for '{id}': {e}")));
                }
            }
            self.transaction.as_mut().expect("set above").partitions.push(partition);
        }
        Ok(self.transaction.clone().expect("set above"))
    }

    /// Flushes everything; with exactly-once, hands out the transaction.
    pub fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<Committable>> {
        self.drain_reducer()?;
        let partitions: Vec<i32> = self.buffers.keys().copied().collect();
        for p in partitions {
            self.flush_partition(p)?;
        }
        self.checkpoint = checkpoint_id + 1;
        Ok(match self.transaction.take() {
            Some(txn) => vec![format!("{}\n{}\n{}", txn.id, txn.producer_id, txn.epoch).into_bytes()],
            None => Vec::new(),
        })
    }
}

/// Whether value `i` is set in a validity bitmap (`None`: all are).
fn valid(bits: Option<&[u8]>, i: usize) -> bool {
    bits.is_none_or(|b| b.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
}

/// Ends each committed (or aborted) transaction; repeating it is harmless.
pub fn end_all(settings: &Settings, committables: Vec<Committable>, commit: bool) -> Result<()> {
    let mut cluster = settings.cluster();
    for c in committables {
        let text = String::from_utf8(c).map_err(|_| Error::unsupported("not a Kafka committable"))?;
        let mut parts = text.split('\n');
        let (Some(id), Some(pid), Some(epoch)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::unsupported("not a Kafka committable (id, producer id, epoch)"));
        };
        let (pid, epoch) = match (pid.parse::<i64>(), epoch.parse::<i16>()) {
            (Ok(p), Ok(e)) => (p, e),
            _ => return Err(Error::unsupported("not a Kafka committable (producer id or epoch is not a number)")),
        };
        let mut coordinator = coordinator(&mut cluster, id)?;
        match end_transaction(&mut coordinator, id, pid, epoch, commit) {
            Ok(()) => {}
            Err(code) if ALREADY_ENDED.contains(&code) => {
                weir_sdk::log::info(&format!(
                    "Kafka transaction '{id}' was already ended (a repeated commit after a restart)"
                ));
            }
            Err(code) => {
                return Err(Error::connection(format!(
                    "Kafka EndTxn ({}) for '{id}': {}",
                    if commit { "commit" } else { "abort" },
                    code.err().map_or_else(|| code.to_string(), |e| e.to_string())
                )));
            }
        }
    }
    Ok(())
}

/// A connection to the transaction coordinator of `id`.
fn coordinator(cluster: &mut Cluster, id: &str) -> Result<Connection> {
    let request = FindCoordinatorRequest::default().with_key(StrBytes::from_string(id.to_owned())).with_key_type(1);
    let response = cluster.any()?.call(&request, 1)?;
    if let Some(e) = response.error_code.err() {
        return Err(Error::connection(format!("Kafka FindCoordinator for transaction '{id}': {e}")));
    }
    let address = format!("{}:{}", response.host.as_str(), response.port);
    Connection::open(&address, "weir", cluster.timeout())
}

fn init_producer(coordinator: &mut Connection, id: &str, timeout_ms: i32) -> Result<(i64, i16)> {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(StrBytes::from_string(id.to_owned()))))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(NO_PRODUCER_ID))
        .with_producer_epoch(NO_PRODUCER_EPOCH);
    // Version 4 (as librdkafka sends): Tansu needs the producer id and
    // epoch fields, which versions before 3 do not carry.
    let response = coordinator.call(&request, 4)?;
    if let Some(e) = response.error_code.err() {
        return Err(Error::connection(format!("Kafka InitProducerId for '{id}': {e}")));
    }
    Ok((response.producer_id.0, response.producer_epoch))
}

/// EndTxn; `Err(code)` carries Kafka's error code.
fn end_transaction(
    coordinator: &mut Connection,
    id: &str,
    pid: i64,
    epoch: i16,
    commit: bool,
) -> std::result::Result<(), i16> {
    let request = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(StrBytes::from_string(id.to_owned())))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    let response = coordinator.call(&request, 1).map_err(|_| -1i16)?;
    match response.error_code {
        0 => Ok(()),
        code => Err(code),
    }
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), which
/// its default partitioner applies to the key.
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h = SEED ^ length as u32;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    match tail.len() {
        3 => {
            h ^= u32::from(tail[2]) << 16;
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}
