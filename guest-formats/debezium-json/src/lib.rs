//! Flink's `debezium-json` format: one Debezium change event per frame.
//!
//! Decoding follows Flink's `DebeziumJsonDeserializationSchema`: `op` `c`
//! (create) and `r` (snapshot read) give `+I` of `after`; `u` gives `-U` of
//! `before` then `+U` of `after`; `d` gives `-D` of `before`. A tombstone
//! (an empty frame or `null`, what Kafka's log compaction leaves after a
//! delete) gives no row. With `schema-include` the event sits in the
//! `payload` of a `{"schema": …, "payload": …}` envelope (Kafka Connect's
//! JsonConverter with schemas enabled). An update or delete without a
//! `before` image — PostgreSQL tables without `REPLICA IDENTITY FULL` —
//! is an error naming that setting, as in Flink (skipped and counted with
//! `ignore-parse-errors`). The images are read as the `json` format reads
//! rows (its types and layouts), with this format's options.
//!
//! Encoding follows Flink's `DebeziumJsonSerializationSchema`: `+I` and
//! `+U` become `{"before":null,"after":{…},"op":"c"}`, `-U` and `-D`
//! `{"before":{…},"after":null,"op":"d"}`.

use serde::Deserialize;
use serde_json::value::RawValue;
use weir_format_json::{CDC_OPTIONS, Json};
use weir_sdk::{
    Batch, BatchBuilder, ComponentSpec, Format, OptionSpec, Options, OptionsExt, Result, RowKind, Schema, VarData,
};

/// State of one decoder or encoder.
pub struct DebeziumJson {
    rows: Json,
    schema_include: bool,
}

/// A change event; absent and `null` images are both `None`.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, default)]
    before: Option<&'a RawValue>,
    #[serde(borrow, default)]
    after: Option<&'a RawValue>,
    #[serde(borrow, default)]
    op: Option<std::borrow::Cow<'a, str>>,
}

/// Kafka Connect's envelope (`schema-include`).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
}

/// An image's JSON text (`None`: absent or `null`).
fn image(raw: Option<&RawValue>) -> Option<&[u8]> {
    raw.map(|r| r.get().as_bytes())
}

fn replica_identity(what: &str) -> String {
    format!(
        "the \"before\" field of the {what} message is null; if you are using the Debezium PostgreSQL connector, \
         set the table's REPLICA IDENTITY to FULL (ALTER TABLE … REPLICA IDENTITY FULL)"
    )
}

impl Format for DebeziumJson {
    fn spec() -> ComponentSpec {
        weir_format_json::cdc_spec(
            "debezium-json",
            "Debezium change events (before/after/op) as changelog rows (Flink's debezium-json format)",
            &CDC_OPTIONS,
        )
        .option(
            OptionSpec::boolean(
                "schema-include",
                "Events come in Kafka Connect's {\"schema\":…,\"payload\":…} envelope (JsonConverter with schemas)",
            )
            .default_value("false"),
        )
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Self::open(options, schema).map(drop)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        let rows = weir_format_json::rows_with(options, &CDC_OPTIONS, schema)?;
        Ok(DebeziumJson { rows, schema_include: options.boolean("schema-include")? })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        self.rows.decode_frames(frames, |_, frame, out| self.decode_event(frame, out))
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        self.rows.encode_rows(rows, |kind| match kind {
            RowKind::Insert | RowKind::UpdateAfter => ("{\"before\":null,\"after\":", ",\"op\":\"c\"}"),
            RowKind::UpdateBefore | RowKind::Delete => ("{\"before\":", ",\"after\":null,\"op\":\"d\"}"),
        })
    }
}

impl DebeziumJson {
    fn decode_event(&self, frame: &[u8], out: &mut BatchBuilder) -> Result<(), String> {
        let text = frame.trim_ascii();
        // A tombstone: what follows a delete in a compacted Kafka topic.
        if text.is_empty() || text == b"null" {
            return Ok(());
        }
        let event_text: &[u8] = if self.schema_include {
            let envelope: Envelope<'_> = serde_json::from_slice(text).map_err(|e| format!("malformed JSON: {e}"))?;
            match envelope.payload {
                Some(payload) => payload.get().as_bytes(),
                None if envelope.schema.is_some() => return Ok(()), // a tombstone with its schema
                None => {
                    return Err("no \"payload\" field; set 'debezium-json.schema-include' = 'false' for events \
                                without Kafka Connect's schema envelope"
                        .to_owned());
                }
            }
        } else {
            text
        };
        let event: Event<'_> = serde_json::from_slice(event_text).map_err(|e| format!("malformed JSON: {e}"))?;
        match event.op.as_deref() {
            Some("c" | "r") => {
                let after = image(event.after).ok_or("a create (\"op\": \"c\") without an \"after\" image")?;
                self.rows.decode_object(after, out, RowKind::Insert).map_err(|m| format!("after: {m}"))
            }
            Some("u") => {
                let before = image(event.before).ok_or_else(|| replica_identity("UPDATE"))?;
                let after = image(event.after).ok_or("an update (\"op\": \"u\") without an \"after\" image")?;
                self.rows.decode_object(before, out, RowKind::UpdateBefore).map_err(|m| format!("before: {m}"))?;
                self.rows.decode_object(after, out, RowKind::UpdateAfter).map_err(|m| format!("after: {m}"))
            }
            Some("d") => {
                let before = image(event.before).ok_or_else(|| replica_identity("DELETE"))?;
                self.rows.decode_object(before, out, RowKind::Delete).map_err(|m| format!("before: {m}"))
            }
            Some(other) => Err(format!("unknown \"op\" value \"{other}\" (expected c, r, u or d)")),
            None if !self.schema_include && event_text.windows(9).any(|w| w == b"\"payload\"") => {
                Err("no \"op\" field, but a \"payload\": set 'debezium-json.schema-include' = 'true' for events in \
                 Kafka Connect's schema envelope"
                    .to_owned())
            }
            None => Err("no \"op\" field: not a Debezium change event".to_owned()),
        }
    }
}

weir_sdk::export_format!(DebeziumJson);
