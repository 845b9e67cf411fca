//! Flink's `maxwell-json` format: one Maxwell message per frame.
//!
//! Decoding follows Flink's `MaxwellJsonDeserializationSchema`: `type`
//! `insert` gives `+I` of `data`; `update` gives `-U` of the old row — `data`
//! with the changed fields `old` holds put back — then `+U` of `data`;
//! `delete` gives `-D` of `data`. Encoding follows Flink's
//! `MaxwellJsonSerializationSchema`: `+I` and `+U` become
//! `{"data":{…},"type":"insert"}`, `-U` and `-D` `{"data":{…},"type":"delete"}`.

use serde::Deserialize;
use serde_json::value::RawValue;
use weir_format_json::{CDC_OPTIONS, Json};
use weir_sdk::{Batch, BatchBuilder, ComponentSpec, Format, Options, Result, RowKind, Schema, VarData};

/// State of one decoder or encoder.
pub struct MaxwellJson {
    rows: Json,
}

/// A Maxwell message; its rows stay JSON text until read.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    old: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
}

impl Format for MaxwellJson {
    fn spec() -> ComponentSpec {
        weir_format_json::cdc_spec(
            "maxwell-json",
            "Maxwell change messages (data/old/type) as changelog rows (Flink's maxwell-json format)",
            &CDC_OPTIONS,
        )
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Self::open(options, schema).map(drop)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        Ok(MaxwellJson { rows: weir_format_json::rows_with(options, &CDC_OPTIONS, schema)? })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        self.rows.decode_frames(frames, |_, frame, out| self.decode_message(frame, out))
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        self.rows.encode_rows(rows, |kind| match kind {
            RowKind::Insert | RowKind::UpdateAfter => ("{\"data\":", ",\"type\":\"insert\"}"),
            RowKind::UpdateBefore | RowKind::Delete => ("{\"data\":", ",\"type\":\"delete\"}"),
        })
    }
}

impl MaxwellJson {
    fn decode_message(&self, frame: &[u8], out: &mut BatchBuilder) -> Result<(), String> {
        let m: Message<'_> = serde_json::from_slice(frame).map_err(|e| format!("malformed JSON: {e}"))?;
        let data = || m.data.map(|d| d.get().as_bytes()).ok_or("no \"data\" field");
        match m.kind.as_deref() {
            Some("insert") => self.rows.decode_object(data()?, out, RowKind::Insert),
            Some("update") => {
                let (after, old) = (data()?, m.old.map_or(&b"{}"[..], |o| o.get().as_bytes()));
                self.rows
                    .decode_object_with(after, old, out, RowKind::UpdateBefore)
                    .map_err(|m| format!("old: {m}"))?;
                self.rows.decode_object(after, out, RowKind::UpdateAfter)
            }
            Some("delete") => self.rows.decode_object(data()?, out, RowKind::Delete),
            Some(other) => Err(format!("unknown \"type\" value \"{other}\" (expected insert, update or delete)")),
            None => Err("no \"type\" field: not a Maxwell message".to_owned()),
        }
    }
}

weir_sdk::export_format!(MaxwellJson);
