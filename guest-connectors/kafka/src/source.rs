//! The scan: one split per topic-partition; a reader fetches from the
//! partition's leader, keeps the next offset (and records not yet handed
//! out) as its checkpoint state, and ends at the bound of
//! `scan.bounded.mode`.
//!
//! **Transactions.** With `isolation.level = read_committed` (the
//! default, as in Flink) records of a transaction are held until its
//! commit or abort marker — the control record in the log — arrives:
//! committed ones are then handed out, aborted ones dropped. This does not
//! rely on the broker's aborted-transaction list (Tansu sends none), and it
//! is exact with Apache Kafka too.

use std::collections::{BTreeMap, VecDeque};

use bytes::{Buf, Bytes};
use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FindCoordinatorRequest, GroupId, ListOffsetsRequest, OffsetCommitRequest,
    OffsetFetchRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{RecordBatchDecoder, TimestampType};
use weir_sdk::{Column, ColumnData, Error, RawRecords, ReadResult, Result, VarData, VarDataBuilder};

use crate::client::{Cluster, topic_name};
use crate::settings::{Bound, Settings, Start};

/// The metadata key of the row kind the host and a keyed connector
/// exchange (Flink's row-kind byte; 3 = delete, i.e. a tombstone).
pub const ROW_KIND: &str = "row-kind";

/// Metadata a Kafka source exposes (`METADATA FROM '…'`), as in Flink.
pub const READABLE_METADATA: &[&str] = &["topic", "partition", "offset", "timestamp", "timestamp-type", "leader-epoch"];

/// Byte offset of `lastOffsetDelta` in a record batch header, and the
/// header's size up to it (baseOffset, batchLength, partitionLeaderEpoch,
/// magic, crc, attributes).
const LAST_OFFSET_DELTA_AT: usize = 23;

/// One record held by a reader.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    offset: i64,
    timestamp: i64,
    log_append_time: bool,
    leader_epoch: i32,
    key: Option<Vec<u8>>,
    /// `None`: a tombstone (upsert-kafka's delete).
    value: Option<Vec<u8>>,
}

/// Reads one topic-partition.
pub struct KafkaReader {
    settings: Settings,
    cluster: Cluster,
    topic: String,
    partition: i32,
    /// The offset the next fetch starts at.
    next: i64,
    /// The offset the split ends before (`None`: unbounded).
    end: Option<i64>,
    /// Transactional records waiting for their marker, per producer id.
    pending: BTreeMap<i64, Vec<Held>>,
    /// Records ready to hand out, in offset order.
    ready: VecDeque<Held>,
    /// Fetched record batches not decoded yet (starting at `next`). They
    /// are decoded as records are asked for, so `ready` — which the
    /// checkpoint state carries — stays about one call's worth; these bytes
    /// are not in the state, a restore fetches them again.
    unparsed: Bytes,
    metadata_keys: Vec<String>,
    /// The offset the previous checkpoint resumes at: committed to the
    /// group at the next checkpoint, by which time that one completed.
    to_commit: Option<i64>,
}

/// The split payload: `topic` NUL `partition`.
pub fn split_payload(topic: &str, partition: i32) -> Vec<u8> {
    format!("{topic}\0{partition}").into_bytes()
}

fn parse_payload(payload: &[u8]) -> Result<(String, i32)> {
    let text = std::str::from_utf8(payload).ok();
    text.and_then(|t| t.split_once('\0'))
        .and_then(|(t, p)| Some((t.to_owned(), p.parse().ok()?)))
        .ok_or_else(|| Error::unsupported("not a Kafka split (payload is not topic NUL partition)"))
}

impl KafkaReader {
    /// Opens the reader of split `payload`, resuming from `state`.
    pub fn open(settings: Settings, payload: &[u8], state: Option<&[u8]>, metadata_keys: Vec<String>) -> Result<Self> {
        let (topic, partition) = parse_payload(payload)?;
        let cluster = settings.cluster();
        let mut reader = KafkaReader {
            settings,
            cluster,
            topic,
            partition,
            next: 0,
            end: None,
            pending: BTreeMap::new(),
            ready: VecDeque::new(),
            unparsed: Bytes::new(),
            metadata_keys,
            to_commit: None,
        };
        match state {
            Some(state) => reader.restore(state)?,
            None => {
                reader.next = reader.start_offset()?;
                reader.end = reader.end_offset()?;
            }
        }
        Ok(reader)
    }

    fn start_offset(&mut self) -> Result<i64> {
        match self.settings.start.clone() {
            Start::Earliest => self.list_offset(-2),
            Start::Latest => self.list_offset(-1),
            Start::Timestamp(t) => self.offset_for_time(t),
            Start::Specific(offsets) => match offsets.get(&self.partition) {
                Some(&o) => Ok(o),
                None => self.list_offset(-2),
            },
            Start::Group => match self.committed_offset()? {
                Some(o) => Ok(o),
                None => match self.settings.auto_offset_reset.as_deref() {
                    Some("earliest") => self.list_offset(-2),
                    Some("latest") => self.list_offset(-1),
                    _ => Err(Error::config(
                        Some("scan.startup.mode"),
                        format!(
                            "group '{}' has no committed offset for {}-{} and 'properties.auto.offset.reset' is not set; \
                             set it to 'earliest' or 'latest', or choose another 'scan.startup.mode'",
                            self.settings.group_id.as_deref().unwrap_or(""),
                            self.topic,
                            self.partition
                        ),
                    )),
                },
            },
        }
    }

    fn end_offset(&mut self) -> Result<Option<i64>> {
        Ok(match self.settings.bound.clone() {
            Bound::Unbounded => None,
            Bound::Latest => Some(self.log_end()?),
            Bound::Timestamp(t) => Some(self.offset_for_time(t)?),
            Bound::Specific(offsets) => match offsets.get(&self.partition) {
                Some(&o) => Some(o),
                None => Some(self.log_end()?),
            },
            Bound::Group => Some(match self.committed_offset()? {
                Some(o) => o,
                None => self.log_end()?,
            }),
        })
    }

    /// The end of the log now: the latest offset ListOffsets reports,
    /// checked against the log itself — the end of the record batch holding
    /// the offset before it. (Tansu reports the base offset of the last
    /// batch + 1, which would cut that batch short; with Apache Kafka the
    /// two agree, as the latest offset is always a batch boundary.)
    fn log_end(&mut self) -> Result<i64> {
        let reported = self.list_offset(-1)?;
        if reported <= 0 {
            return Ok(reported.max(0));
        }
        let next = self.next;
        self.next = reported - 1;
        let batch_end = self.fetch_batch_end();
        self.next = next;
        Ok(batch_end?.map_or(reported, |end| end.max(reported)))
    }

    /// The end offset of the first batch a fetch at `self.next` returns.
    fn fetch_batch_end(&mut self) -> Result<Option<i64>> {
        let data = self.fetch_partition(false)?;
        let bytes = data.and_then(|d| d.records).unwrap_or_default();
        Ok(batch_header(&bytes).map(|h| h.end))
    }

    /// The first offset whose timestamp is at or after `t`, or the end.
    fn offset_for_time(&mut self, t: i64) -> Result<i64> {
        match self.list_offset(t)? {
            -1 => self.list_offset(-1),
            o => Ok(o),
        }
    }

    /// `ListOffsets` for one timestamp (-2 earliest, -1 latest).
    fn list_offset(&mut self, timestamp: i64) -> Result<i64> {
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(i8::from(self.settings.read_committed))
            .with_topics(vec![ListOffsetsTopic::default().with_name(topic_name(&self.topic)).with_partitions(vec![
                ListOffsetsPartition::default().with_partition_index(self.partition).with_timestamp(timestamp),
            ])]);
        let response = self.cluster.call_leader(&self.topic, self.partition, &request, 2)?;
        let p = response
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == self.partition)
            .ok_or_else(|| self.broker_error("ListOffsets answered without the partition"))?;
        if let Some(e) = p.error_code.err() {
            return Err(self.broker_error(&format!("ListOffsets: {e}")));
        }
        Ok(p.offset)
    }

    /// The address of `group`'s coordinator.
    fn group_coordinator(&mut self, group: &str) -> Result<String> {
        let request = FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_owned()));
        let response = self.cluster.any()?.call(&request, 1)?;
        if let Some(e) = response.error_code.err() {
            return Err(self.broker_error(&format!("FindCoordinator for group '{group}': {e}")));
        }
        Ok(format!("{}:{}", response.host.as_str(), response.port))
    }

    /// Commits `offset` for this partition to the group (as a consumer
    /// outside any group generation, as Flink's source does).
    fn commit_offset(&mut self, group: &str, offset: i64) -> Result<()> {
        let coordinator = self.group_coordinator(group)?;
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
            .with_generation_id_or_member_epoch(-1)
            .with_retention_time_ms(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default().with_name(topic_name(&self.topic)).with_partitions(
                vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(self.partition)
                        .with_committed_offset(offset),
                ],
            )]);
        let response = self.cluster.connection_to(&coordinator)?.call(&request, 2)?;
        match response.topics.iter().flat_map(|t| &t.partitions).find_map(|p| p.error_code.err()) {
            Some(e) => Err(self.broker_error(&format!("OffsetCommit for group '{group}': {e}"))),
            None => Ok(()),
        }
    }

    /// The group's committed offset for this partition, if any.
    fn committed_offset(&mut self) -> Result<Option<i64>> {
        let group = self.settings.group_id.clone().ok_or_else(|| {
            Error::config(Some("properties.group.id"), "is needed by the 'group-offsets' startup and bounded modes")
        })?;
        let coordinator = self.group_coordinator(&group)?;
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.clone())))
            .with_topics(Some(vec![
                OffsetFetchRequestTopic::default()
                    .with_name(topic_name(&self.topic))
                    .with_partition_indexes(vec![self.partition]),
            ]));
        let response = self.cluster.connection_to(&coordinator)?.call(&request, 1)?;
        let p = response.topics.iter().flat_map(|t| &t.partitions).find(|p| p.partition_index == self.partition);
        match p {
            Some(p) if p.error_code.is_ok() && p.committed_offset >= 0 => Ok(Some(p.committed_offset)),
            _ => Ok(None),
        }
    }

    fn broker_error(&self, what: &str) -> Error {
        Error::connection(format!("Kafka partition {}-{}: {what}", self.topic, self.partition))
    }

    /// Reads up to `max` records.
    pub fn next(&mut self, max: u32) -> Result<ReadResult> {
        let max = max.max(1) as usize;
        if self.ready.len() < max && !self.unparsed.is_empty() {
            self.take_batches(max)?;
        }
        if self.ready.is_empty() {
            if self.end.is_some_and(|end| self.next >= end) {
                // Transactions still open at the bound are not part of it.
                self.pending.clear();
                return Ok(ReadResult::EndOfSplit);
            }
            self.fetch()?;
            self.take_batches(max)?;
            if self.ready.is_empty() {
                return Ok(ReadResult::WouldBlock);
            }
        }
        let n = self.ready.len().min(max);
        let records: Vec<Held> = self.ready.drain(..n).collect();
        Ok(ReadResult::Records(self.raw_records(&records)?))
    }

    /// One Fetch from the leader; decoded records go to `ready` or `pending`.
    fn fetch(&mut self) -> Result<()> {
        if let Some(records) = self.fetch_partition(self.settings.read_committed)?.and_then(|d| d.records) {
            self.unparsed = records;
        }
        Ok(())
    }

    /// Fetches from `self.next`; the partition's data, errors turned into
    /// messages that name the partition.
    fn fetch_partition(&mut self, read_committed: bool) -> Result<Option<PartitionData>> {
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(self.settings.fetch_max_wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(self.settings.fetch_max_bytes)
            .with_isolation_level(i8::from(read_committed))
            .with_topics(vec![FetchTopic::default().with_topic(topic_name(&self.topic)).with_partitions(vec![
                FetchPartition::default()
                    .with_partition(self.partition)
                    .with_fetch_offset(self.next)
                    .with_partition_max_bytes(self.settings.fetch_max_bytes),
            ])]);
        let response = self.cluster.call_leader(&self.topic, self.partition, &request, 4)?;
        if let Some(e) = response.error_code.err() {
            return Err(self.broker_error(&format!("Fetch: {e}")));
        }
        let Some(data) =
            response.responses.into_iter().flat_map(|t| t.partitions).find(|p| p.partition_index == self.partition)
        else {
            return Ok(None);
        };
        if data.error_code == 1 {
            return Err(Error::connection(format!(
                "Kafka partition {}-{}: offset {} is out of range (log starts at {}, ends at {}); the records were deleted \
                 or the checkpoint belongs to another topic",
                self.topic, self.partition, self.next, data.log_start_offset, data.high_watermark
            )));
        }
        if let Some(e) = data.error_code.err() {
            // Leadership moved: ask again for metadata on the next call.
            self.cluster.topics.remove(&self.topic);
            return Err(Error::transient(format!("Kafka partition {}-{}: Fetch: {e}", self.topic, self.partition)));
        }
        Ok(Some(data))
    }

    /// Decodes fetched record batches until `ready` holds `want` records or
    /// none is left (a fetch may end in a partial batch, which the next
    /// fetch returns whole).
    fn take_batches(&mut self, want: usize) -> Result<()> {
        while self.ready.len() < want {
            let Some(BatchHeader { base, length, end: batch_end }) = batch_header(&self.unparsed) else { break };
            if length < (LAST_OFFSET_DELTA_AT + 4 - 12) as i32 {
                return Err(self.broker_error(&format!("a record batch at offset {base} claims {length} bytes")));
            }
            let size = 12 + length as usize;
            if self.unparsed.remaining() < size {
                self.unparsed = Bytes::new();
                break;
            }
            let mut batch = self.unparsed.split_to(size);
            if batch_end <= self.next {
                continue;
            }
            let set = RecordBatchDecoder::decode(&mut batch)
                .map_err(|e| self.broker_error(&format!("the record batch at offset {base} does not decode: {e}")))?;
            for record in set.records {
                if record.offset < self.next || self.end.is_some_and(|end| record.offset >= end) {
                    continue;
                }
                if record.control {
                    // Key: version (int16), type (int16): 0 abort, 1 commit.
                    let kind = record.key.as_ref().filter(|k| k.len() >= 4).map(|k| i16::from_be_bytes([k[2], k[3]]));
                    let held = self.pending.remove(&record.producer_id).unwrap_or_default();
                    match kind {
                        Some(1) => self.ready.extend(held),
                        Some(0) => weir_sdk::log::counter_add("aborted-records-skipped", held.len() as u64),
                        _ => {}
                    }
                    continue;
                }
                if record.value.is_none() && !self.settings.upsert {
                    // A tombstone: no value for a format to decode.
                    weir_sdk::log::counter_add("null-values-skipped", 1);
                    continue;
                }
                let held = Held {
                    offset: record.offset,
                    timestamp: record.timestamp,
                    log_append_time: matches!(record.timestamp_type, TimestampType::LogAppend),
                    leader_epoch: record.partition_leader_epoch,
                    key: record.key.map(|k| k.to_vec()),
                    value: record.value.map(|v| v.to_vec()),
                };
                if record.transactional && self.settings.read_committed {
                    self.pending.entry(record.producer_id).or_default().push(held);
                } else {
                    self.ready.push_back(held);
                }
            }
            self.next = self.next.max(batch_end);
        }
        Ok(())
    }

    fn raw_records(&self, records: &[Held]) -> Result<RawRecords> {
        let mut values = VarDataBuilder::new();
        let mut keys = VarDataBuilder::new();
        let mut key_valid = vec![0u8; records.len().div_ceil(8)];
        for (i, r) in records.iter().enumerate() {
            values.push(r.value.as_deref().unwrap_or_default())?;
            if r.key.is_some() {
                key_valid[i / 8] |= 1 << (i % 8);
            }
            keys.push(r.key.as_deref().unwrap_or_default())?;
        }
        let mut metadata = Vec::with_capacity(self.metadata_keys.len() + 1);
        for key in &self.metadata_keys {
            let data = match key.as_str() {
                "topic" => {
                    let weir_framing::VarData { offsets, data } =
                        weir_framing::VarData::repeated(self.topic.as_bytes(), records.len());
                    ColumnData::Utf8(VarData { offsets, data })
                }
                "partition" => ColumnData::Int32(vec![self.partition; records.len()]),
                "offset" => ColumnData::Int64(records.iter().map(|r| r.offset).collect()),
                "timestamp" => ColumnData::Int64(records.iter().map(|r| r.timestamp).collect()),
                "timestamp-type" => {
                    let mut out = VarDataBuilder::new();
                    for r in records {
                        out.push(if r.log_append_time { b"LogAppendTime" } else { b"CreateTime" })?;
                    }
                    ColumnData::Utf8(out.finish())
                }
                // "leader-epoch"; plan refuses any other key.
                _ => ColumnData::Int32(records.iter().map(|r| r.leader_epoch).collect()),
            };
            metadata.push((key.clone(), Column { validity: None, data }));
        }
        if self.settings.upsert {
            // Row kinds for the host: 3 (delete) for a tombstone, else 0.
            let kinds = records.iter().map(|r| if r.value.is_none() { 3 } else { 0 }).collect();
            metadata.push((ROW_KIND.to_owned(), Column { validity: None, data: ColumnData::Int8(kinds) }));
        }
        Ok(RawRecords {
            values: values.finish(),
            keys: Some(Column { validity: Some(key_valid), data: ColumnData::Binary(keys.finish()) }),
            timestamps: Some(records.iter().map(|r| r.timestamp).collect()),
            metadata,
        })
    }

    /// State: next offset, end, then the records not handed out yet. With
    /// a `properties.group.id` (and `properties.commit.offsets.on.checkpoint`
    /// not false) the offset of the *previous* checkpoint is committed to
    /// the group now: the runner asks for a checkpoint only after the one
    /// before completed, so the group never gets ahead of a completed
    /// checkpoint (Flink commits on completion; only for monitoring and
    /// for a fresh start — a restore reads Weir's checkpoint).
    pub fn checkpoint(&mut self) -> Vec<u8> {
        if let (Some(group), true) = (self.settings.group_id.clone(), self.settings.commit_offsets) {
            if let Some(offset) = self.to_commit.take()
                && let Err(e) = self.commit_offset(&group, offset)
            {
                weir_sdk::log::warn(&format!("could not commit offsets to group '{group}': {}", e.message()));
            }
            // Where this checkpoint resumes: before any record not handed out.
            let first_held = self.ready.iter().chain(self.pending.values().flatten()).map(|h| h.offset).min();
            self.to_commit = Some(first_held.map_or(self.next, |o| o.min(self.next)));
        }
        let mut out = Vec::new();
        out.extend_from_slice(&self.next.to_le_bytes());
        out.extend_from_slice(&self.end.unwrap_or(-1).to_le_bytes());
        let groups: Vec<(i64, &[Held])> = std::iter::once((i64::MIN, &*self.ready.make_contiguous()))
            .chain(self.pending.iter().map(|(p, h)| (*p, h.as_slice())))
            .collect();
        out.extend_from_slice(&(groups.len() as u32).to_le_bytes());
        for (producer, held) in groups {
            out.extend_from_slice(&producer.to_le_bytes());
            out.extend_from_slice(&(held.len() as u32).to_le_bytes());
            for h in held {
                out.extend_from_slice(&h.offset.to_le_bytes());
                out.extend_from_slice(&h.timestamp.to_le_bytes());
                out.push(u8::from(h.log_append_time));
                out.extend_from_slice(&h.leader_epoch.to_le_bytes());
                match &h.key {
                    Some(k) => {
                        out.extend_from_slice(&(k.len() as i32).to_le_bytes());
                        out.extend_from_slice(k);
                    }
                    None => out.extend_from_slice(&(-1i32).to_le_bytes()),
                }
                match &h.value {
                    Some(v) => {
                        out.extend_from_slice(&(v.len() as i32).to_le_bytes());
                        out.extend_from_slice(v);
                    }
                    None => out.extend_from_slice(&(-1i32).to_le_bytes()),
                }
            }
        }
        out
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let bad = || Error::unsupported("the checkpoint state is not a Kafka reader's (truncated or foreign)");
        let mut s = state;
        let mut take = |n: usize| -> Result<&[u8]> {
            if s.len() < n {
                return Err(bad());
            }
            let (head, rest) = s.split_at(n);
            s = rest;
            Ok(head)
        };
        let i64_ = |b: &[u8]| i64::from_le_bytes(b.try_into().expect("8 bytes"));
        let u32_ = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        self.next = i64_(take(8)?);
        self.end = Some(i64_(take(8)?)).filter(|e| *e >= 0);
        let groups = u32_(take(4)?);
        for _ in 0..groups {
            let producer = i64_(take(8)?);
            let n = u32_(take(4)?);
            let mut held = Vec::new();
            for _ in 0..n {
                let offset = i64_(take(8)?);
                let timestamp = i64_(take(8)?);
                let log_append_time = take(1)?[0] == 1;
                let leader_epoch = u32_(take(4)?) as i32;
                let key_len = u32_(take(4)?) as i32;
                let key = if key_len < 0 { None } else { Some(take(key_len as usize)?.to_vec()) };
                let value_len = u32_(take(4)?) as i32;
                let value = if value_len < 0 { None } else { Some(take(value_len as usize)?.to_vec()) };
                held.push(Held { offset, timestamp, log_append_time, leader_epoch, key, value });
            }
            if producer == i64::MIN {
                self.ready.extend(held);
            } else {
                self.pending.insert(producer, held);
            }
        }
        Ok(())
    }
}

/// The start of a record batch: enough to frame it and know its offsets.
struct BatchHeader {
    /// baseOffset.
    base: i64,
    /// batchLength: the bytes after this field.
    length: i32,
    /// The offset after its last record (baseOffset + lastOffsetDelta + 1).
    end: i64,
}

/// The header of the record batch `bytes` starts with, if that much is there.
fn batch_header(bytes: &[u8]) -> Option<BatchHeader> {
    let field = |at: usize, n: usize| bytes.get(at..at + n);
    let base = i64::from_be_bytes(field(0, 8)?.try_into().ok()?);
    let length = i32::from_be_bytes(field(8, 4)?.try_into().ok()?);
    let delta = i32::from_be_bytes(field(LAST_OFFSET_DELTA_AT, 4)?.try_into().ok()?);
    Some(BatchHeader { base, length, end: base.saturating_add(i64::from(delta)).saturating_add(1) })
}
