//! A minimal Kafka client over `std::net` (wasi:sockets inside the
//! component): one connection per broker, requests and responses encoded
//! by `kafka-protocol`, metadata for the leaders of topic-partitions.
//!
//! Everything a broker sends is checked before it is trusted: a frame
//! length beyond [`MAX_RESPONSE`] or a response that does not decode ends
//! the call with a connection error naming the broker, never a panic.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use weir_sdk::{Error, Result};

/// The largest response frame accepted (Kafka's own default
/// `fetch.max.bytes` is 50 MiB).
pub const MAX_RESPONSE: usize = 64 << 20;

/// Kafka's error for a topic or partition it does not know.
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// One connection to one broker.
pub struct Connection {
    address: String,
    stream: TcpStream,
    correlation: i32,
    client_id: StrBytes,
}

impl Connection {
    /// Connects to `address` (`host:port`).
    pub fn open(address: &str, client_id: &str, timeout: Duration) -> Result<Connection> {
        let stream = TcpStream::connect(address).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                "; the operator has not granted it: list every broker in 'properties.bootstrap.servers' and grant each with --allow-net host:port"
            } else {
                "; is the broker running and is this its advertised address?"
            };
            Error::connection(format!("cannot connect to Kafka broker {address}: {e}{hint}"))
        })?;
        // Best effort: without a timeout a dead broker would hold the call.
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            address: address.to_owned(),
            stream,
            correlation: 0,
            client_id: StrBytes::from_string(client_id.to_owned()),
        })
    }

    /// The broker's `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends `request` at `version` and reads its response.
    pub fn call<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response> {
        self.send_only(request, version)?;
        self.receive::<R>(version)
    }

    /// Sends `request` without waiting for an answer (Produce with acks 0).
    pub fn send_only<R: Request>(&mut self, request: &R, version: i16) -> Result<()> {
        self.correlation = self.correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(self.client_id.clone()));
        let bad = |e: &dyn std::fmt::Display| {
            Error::connection(format!("cannot encode a Kafka request (api {}, version {version}): {e}", R::KEY))
        };
        let mut body = BytesMut::new();
        header.encode(&mut body, R::header_version(version)).map_err(|e| bad(&e))?;
        request.encode(&mut body, version).map_err(|e| bad(&e))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.put_slice(&body);
        self.stream.write_all(&frame).map_err(|e| self.io_error("send to", &e))
    }

    fn receive<R: Request>(&mut self, version: i16) -> Result<R::Response> {
        let mut length = [0u8; 4];
        self.stream.read_exact(&mut length).map_err(|e| self.io_error("read from", &e))?;
        let length = i32::from_be_bytes(length);
        if length < 4 || length as usize > MAX_RESPONSE {
            return Err(Error::connection(format!(
                "Kafka broker {} sent a response frame of {length} bytes (expected 4 to {MAX_RESPONSE}); is it a Kafka broker?",
                self.address
            )));
        }
        let mut buffer = vec![0u8; length as usize];
        self.stream.read_exact(&mut buffer).map_err(|e| self.io_error("read from", &e))?;
        let mut buffer = Bytes::from(buffer);
        // The header (correlation id, and tagged fields when flexible).
        let header = ResponseHeader::decode(&mut buffer, R::Response::header_version(version))
            .map_err(|e| self.garbled(R::KEY, version, &format!("header: {e}")))?;
        if header.correlation_id != self.correlation {
            return Err(Error::connection(format!(
                "Kafka broker {} answered request {} with correlation id {}",
                self.address, self.correlation, header.correlation_id
            )));
        }
        R::Response::decode(&mut buffer, version).map_err(|e| self.garbled(R::KEY, version, &e.to_string()))
    }

    fn io_error(&self, what: &str, e: &std::io::Error) -> Error {
        if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
            Error::transient(format!("Kafka broker {} did not answer in time", self.address))
        } else {
            Error::connection(format!("cannot {what} Kafka broker {}: {e}", self.address))
        }
    }

    fn garbled(&self, key: i16, version: i16, what: &str) -> Error {
        Error::connection(format!(
            "Kafka broker {} sent a response that does not decode (api {key}, version {version}): {what}",
            self.address
        ))
    }
}

/// A topic name as the protocol types want it.
pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// One partition's leader.
#[derive(Debug, Clone)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: BrokerId,
    pub leader_epoch: i32,
}

/// The cluster as metadata describes it, and connections to its brokers.
pub struct Cluster {
    bootstrap: Vec<String>,
    client_id: String,
    timeout: Duration,
    brokers: BTreeMap<i32, String>,
    connections: BTreeMap<String, Connection>,
    /// Partitions of each topic metadata was asked about.
    pub topics: BTreeMap<String, Vec<PartitionInfo>>,
}

impl Cluster {
    /// A cluster reached through `bootstrap` (`host:port` list).
    pub fn new(bootstrap: &[String], client_id: &str, timeout: Duration) -> Cluster {
        Cluster {
            bootstrap: bootstrap.to_vec(),
            client_id: client_id.to_owned(),
            timeout,
            brokers: BTreeMap::new(),
            connections: BTreeMap::new(),
            topics: BTreeMap::new(),
        }
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A connection to any broker: the first bootstrap server that answers.
    pub fn any(&mut self) -> Result<&mut Connection> {
        let mut last = None;
        let mut found = None;
        for address in self.bootstrap.clone() {
            match self.connection_to(&address) {
                Ok(_) => {
                    found = Some(address);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        match found {
            Some(address) => self.connection_to(&address),
            None => Err(last.unwrap_or_else(|| Error::config(Some("properties.bootstrap.servers"), "is empty"))),
        }
    }

    /// A connection to `address`, opened on first use.
    pub fn connection_to(&mut self, address: &str) -> Result<&mut Connection> {
        if !self.connections.contains_key(address) {
            let connection = Connection::open(address, &self.client_id, self.timeout)?;
            self.connections.insert(address.to_owned(), connection);
        }
        Ok(self.connections.get_mut(address).expect("inserted above"))
    }

    /// A connection to broker `id` (known from metadata).
    pub fn connection_to_broker(&mut self, id: BrokerId) -> Result<&mut Connection> {
        let address =
            self.brokers.get(&id.0).cloned().ok_or_else(|| {
                Error::transient(format!("Kafka broker {} is not in the cluster's metadata (yet)", id.0))
            })?;
        self.connection_to(&address)
    }

    /// Drops the connection to `address` (after an error on it).
    pub fn forget(&mut self, address: &str) {
        self.connections.remove(address);
    }

    /// Asks for the metadata of `topics` (`None`: every topic) and records
    /// brokers and partition leaders. Returns the topics' names.
    pub fn refresh(&mut self, topics: Option<&[String]>) -> Result<Vec<String>> {
        let request = MetadataRequest::default()
            .with_topics(topics.map(|t| {
                t.iter().map(|name| MetadataRequestTopic::default().with_name(Some(topic_name(name)))).collect()
            }))
            .with_allow_auto_topic_creation(false);
        let connection = self.any()?;
        let address = connection.address().to_owned();
        let response: MetadataResponse = match connection.call(&request, 4) {
            Ok(r) => r,
            Err(e) => {
                self.forget(&address);
                return Err(e);
            }
        };
        for broker in &response.brokers {
            self.brokers.insert(broker.node_id.0, format!("{}:{}", broker.host.as_str(), broker.port));
        }
        let mut names = Vec::new();
        for topic in response.topics {
            let Some(name) = topic.name else { continue };
            let name = name.0.as_str().to_owned();
            if let Some(e) = topic.error_code.err() {
                if topic.error_code == UNKNOWN_TOPIC_OR_PARTITION {
                    return Err(Error::config(
                        Some("topic"),
                        format!(
                            "Kafka topic '{name}' does not exist on {address}; create it first (Weir does not create topics)"
                        ),
                    ));
                }
                return Err(Error::connection(format!("Kafka metadata for topic '{name}': {e}")));
            }
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id,
                    leader_epoch: p.leader_epoch,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            self.topics.insert(name.clone(), partitions);
            names.push(name);
        }
        Ok(names)
    }

    /// The leader of `topic`/`partition`, refreshing metadata when unknown.
    pub fn leader(&mut self, topic: &str, partition: i32) -> Result<BrokerId> {
        let find = |c: &Cluster| {
            c.topics.get(topic).and_then(|ps| ps.iter().find(|p| p.partition == partition)).map(|p| p.leader)
        };
        if let Some(leader) = find(self).filter(|l| l.0 >= 0) {
            return Ok(leader);
        }
        self.refresh(Some(&[topic.to_owned()]))?;
        find(self)
            .filter(|l| l.0 >= 0)
            .ok_or_else(|| Error::transient(format!("Kafka partition {topic}-{partition} has no leader right now")))
    }

    /// Sends `request` to the leader of `topic`/`partition`; a broken
    /// connection is dropped so the next call reconnects.
    pub fn call_leader<R: Request>(
        &mut self,
        topic: &str,
        partition: i32,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        let leader = self.leader(topic, partition)?;
        let connection = self.connection_to_broker(leader)?;
        let address = connection.address().to_owned();
        connection.call(request, version).inspect_err(|_| self.forget(&address))
    }
}
