//! The table's options, parsed once: Flink's Kafka option names and
//! defaults, with messages that name the option and say what to write.

use std::collections::BTreeMap;
use std::time::Duration;

use weir_sdk::{Error, Options, OptionsExt, Result};

use crate::client::Cluster;

/// Where a scan starts (`scan.startup.mode`).
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    Earliest,
    Latest,
    Group,
    Timestamp(i64),
    Specific(BTreeMap<i32, i64>),
}

/// Where a scan ends (`scan.bounded.mode`).
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Unbounded,
    Latest,
    Group,
    Timestamp(i64),
    Specific(BTreeMap<i32, i64>),
}

/// How the sink picks a partition (`sink.partitioner`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Partitioner {
    /// Kafka's default: murmur2 of the key; keyless records round-robin.
    Default,
    /// Each writer into one partition (its subtask index modulo the count).
    Fixed,
    RoundRobin,
}

/// `sink.delivery-guarantee`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delivery {
    None,
    AtLeastOnce,
    ExactlyOnce,
}

/// Compression of produced batches (`properties.compression.type`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
}

/// Everything the options say.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bootstrap: Vec<String>,
    pub topics: Vec<String>,
    pub topic_pattern: Option<String>,
    pub group_id: Option<String>,
    pub client_id: String,
    pub read_committed: bool,
    pub auto_offset_reset: Option<String>,
    pub start: Start,
    pub bound: Bound,
    pub fetch_max_bytes: i32,
    pub fetch_max_wait_ms: i32,
    pub timeout: Duration,
    pub partitioner: Partitioner,
    pub delivery: Delivery,
    pub transactional_id_prefix: Option<String>,
    pub compression: Compression,
    pub acks: i16,
    pub transaction_timeout_ms: i32,
    pub upsert: bool,
    /// upsert-kafka's reducing buffer: rows (the last per key) and the
    /// longest wait; on only when both are set above zero, as in Flink.
    pub buffer_flush: Option<(usize, Duration)>,
    /// `properties.commit.offsets.on.checkpoint` (true): commit the
    /// checkpointed offsets to the group.
    pub commit_offsets: bool,
}

impl Settings {
    /// Parses and checks the options.
    pub fn parse(options: &Options, upsert: bool) -> Result<Settings> {
        let get = |k: &str| options.get(k).map(str::trim).filter(|v| !v.is_empty());
        let bootstrap: Vec<String> = options
            .string("properties.bootstrap.servers")?
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        for server in &bootstrap {
            if !server.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) {
                return Err(Error::config(
                    Some("properties.bootstrap.servers"),
                    format!("'{server}' is not host:port; write e.g. 'broker1:9092,broker2:9092'"),
                ));
            }
        }
        if bootstrap.is_empty() {
            return Err(Error::config(Some("properties.bootstrap.servers"), "is empty; write e.g. 'broker1:9092'"));
        }
        let topics: Vec<String> = get("topic")
            .map(|t| t.split(';').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let topic_pattern = get("topic-pattern").map(str::to_owned);
        if !topics.is_empty() && topic_pattern.is_some() {
            return Err(Error::config(Some("topic-pattern"), "set either 'topic' or 'topic-pattern', not both"));
        }
        if let Some(p) = &topic_pattern {
            regex_lite::Regex::new(p)
                .map_err(|e| Error::config(Some("topic-pattern"), format!("is not a regular expression: {e}")))?;
        }
        if topics.is_empty() && topic_pattern.is_none() {
            return Err(Error::config(
                Some("topic"),
                "set 'topic' (one name or several separated by ';') or 'topic-pattern'",
            ));
        }
        let group_id = get("properties.group.id").map(str::to_owned);
        let read_committed = match get("properties.isolation.level").unwrap_or("read_committed") {
            v if v.eq_ignore_ascii_case("read_committed") => true,
            v if v.eq_ignore_ascii_case("read_uncommitted") => false,
            v => {
                return Err(Error::config(
                    Some("properties.isolation.level"),
                    format!("'{v}' is neither read_committed nor read_uncommitted"),
                ));
            }
        };
        let auto_offset_reset = get("properties.auto.offset.reset").map(str::to_ascii_lowercase);
        if let Some(r) = &auto_offset_reset
            && !["earliest", "latest", "none"].contains(&r.as_str())
        {
            return Err(Error::config(
                Some("properties.auto.offset.reset"),
                format!("'{r}' is not earliest, latest or none"),
            ));
        }
        let single_topic = topics.len() == 1 && topic_pattern.is_none();
        let specific = |key: &str| -> Result<BTreeMap<i32, i64>> {
            let text =
                get(key).ok_or_else(|| Error::config(Some(key), "is required by the 'specific-offsets' mode"))?;
            if !single_topic {
                return Err(Error::config(Some(key), "specific offsets need exactly one 'topic'"));
            }
            parse_specific(text).map_err(|m| Error::config(Some(key), m))
        };
        let millis = |key: &str| -> Result<i64> {
            get(key)
                .ok_or_else(|| Error::config(Some(key), "is required by the 'timestamp' mode"))?
                .parse()
                .map_err(|_| Error::config(Some(key), "must be milliseconds since the epoch"))
        };
        // upsert-kafka has no startup mode: it always reads from the start.
        let start_mode = if upsert { "earliest-offset" } else { get("scan.startup.mode").unwrap_or("group-offsets") };
        let start = match start_mode.to_ascii_lowercase().as_str() {
            "earliest-offset" => Start::Earliest,
            "latest-offset" => Start::Latest,
            "timestamp" => Start::Timestamp(millis("scan.startup.timestamp-millis")?),
            "specific-offsets" => Start::Specific(specific("scan.startup.specific-offsets")?),
            _ => Start::Group,
        };
        let bound = match get("scan.bounded.mode").unwrap_or("unbounded").to_ascii_lowercase().as_str() {
            "latest-offset" => Bound::Latest,
            "group-offsets" => Bound::Group,
            "timestamp" => Bound::Timestamp(millis("scan.bounded.timestamp-millis")?),
            "specific-offsets" => Bound::Specific(specific("scan.bounded.specific-offsets")?),
            _ => Bound::Unbounded,
        };
        let partitioner = match get("sink.partitioner").unwrap_or("default").to_ascii_lowercase().as_str() {
            "fixed" => Partitioner::Fixed,
            "round-robin" => Partitioner::RoundRobin,
            "default" => Partitioner::Default,
            other => {
                return Err(Error::config(
                    Some("sink.partitioner"),
                    format!(
                        "'{other}' is not default, fixed or round-robin (custom partitioner classes do not exist in Weir)"
                    ),
                ));
            }
        };
        let delivery = match get("sink.delivery-guarantee").unwrap_or("at-least-once").to_ascii_lowercase().as_str() {
            "none" => Delivery::None,
            "exactly-once" => Delivery::ExactlyOnce,
            _ => Delivery::AtLeastOnce,
        };
        let transactional_id_prefix = get("sink.transactional-id-prefix").map(str::to_owned);
        let compression = match get("properties.compression.type").unwrap_or("none").to_ascii_lowercase().as_str() {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            other => {
                return Err(Error::config(
                    Some("properties.compression.type"),
                    format!("'{other}' is not supported by Weir's Kafka client; use none, gzip or snappy"),
                ));
            }
        };
        let acks = match get("properties.acks").unwrap_or("all") {
            "all" | "-1" => -1,
            "1" => 1,
            "0" => 0,
            other => return Err(Error::config(Some("properties.acks"), format!("'{other}' is not all, -1, 0 or 1"))),
        };
        let int = |key: &str, default: i32| -> Result<i32> {
            get(key).map_or(Ok(default), |v| {
                v.parse().map_err(|_| Error::config(Some(key), format!("'{v}' is not a whole number")))
            })
        };
        let buffer_rows = int("sink.buffer-flush.max-rows", 0)?.max(0) as usize;
        let buffer_interval = match get("sink.buffer-flush.interval") {
            Some(_) => options.duration("sink.buffer-flush.interval")?,
            None => Duration::ZERO,
        };
        let buffer_flush = (buffer_rows > 0 && !buffer_interval.is_zero()).then_some((buffer_rows, buffer_interval));
        Ok(Settings {
            bootstrap,
            topics,
            topic_pattern,
            group_id,
            client_id: get("properties.client.id").unwrap_or("weir").to_owned(),
            read_committed,
            auto_offset_reset,
            start,
            bound,
            fetch_max_bytes: int("properties.max.partition.fetch.bytes", 1 << 20)?.max(1024),
            fetch_max_wait_ms: int("properties.fetch.max.wait.ms", 100)?.clamp(0, 1000),
            timeout: Duration::from_millis(int("properties.request.timeout.ms", 30_000)?.max(100) as u64),
            partitioner,
            delivery,
            transactional_id_prefix,
            compression,
            acks,
            transaction_timeout_ms: int("properties.transaction.timeout.ms", 900_000)?,
            upsert,
            buffer_flush,
            commit_offsets: !get("properties.commit.offsets.on.checkpoint")
                .is_some_and(|v| v.eq_ignore_ascii_case("false")),
        })
    }

    /// What only a source needs: a group for the group-offsets modes.
    pub fn check_source(&self) -> Result<()> {
        if (self.start == Start::Group || self.bound == Bound::Group) && self.group_id.is_none() {
            return Err(Error::config(
                Some("properties.group.id"),
                "is required by 'group-offsets' (the default 'scan.startup.mode'); set it, or choose e.g. 'scan.startup.mode' = 'earliest-offset'",
            ));
        }
        Ok(())
    }

    /// A cluster handle for these settings.
    pub fn cluster(&self) -> Cluster {
        Cluster::new(&self.bootstrap, &self.client_id, self.timeout)
    }

    /// The sink's topic: exactly one.
    pub fn sink_topic(&self) -> Result<&str> {
        match (self.topics.as_slice(), &self.topic_pattern) {
            ([topic], None) => Ok(topic),
            _ => Err(Error::config(Some("topic"), "a Kafka sink writes to exactly one 'topic' (no list, no pattern)")),
        }
    }
}

/// Flink's `partition:0,offset:42;partition:1,offset:300`.
fn parse_specific(text: &str) -> std::result::Result<BTreeMap<i32, i64>, String> {
    let mut out = BTreeMap::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let mut partition = None;
        let mut offset = None;
        for kv in part.split(',') {
            match kv.trim().split_once(':') {
                Some(("partition", v)) => partition = v.trim().parse::<i32>().ok(),
                Some(("offset", v)) => offset = v.trim().parse::<i64>().ok(),
                _ => {}
            }
        }
        match (partition, offset) {
            (Some(p), Some(o)) => {
                out.insert(p, o);
            }
            _ => return Err(format!("'{part}' is not 'partition:<n>,offset:<n>' (entries separated by ';')")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_offsets_are_flinks_syntax() {
        let m = parse_specific("partition:0,offset:42;partition:1,offset:300").expect("parses");
        assert_eq!(m, BTreeMap::from([(0, 42), (1, 300)]));
        assert!(parse_specific("0:42").is_err());
    }
}
