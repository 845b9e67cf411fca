//! Flink's `ogg-json` format: one Oracle GoldenGate change record per frame.
//!
//! Decoding follows Flink's `OggJsonDeserializationSchema`: `op_type` `I`
//! gives `+I` of `after`; `U` gives `-U` of `before` then `+U` of `after`;
//! `D` gives `-D` of `before`. `T` (a truncate) cannot be told as rows and
//! gives none. An update or delete without a `before` image is an error
//! naming GoldenGate's setting for full before images. Encoding: `+I` and
//! `+U` become `{"before":null,"after":{…},"op_type":"I"}`, `-U` and `-D`
//! `{"before":{…},"after":null,"op_type":"D"}`.

use serde::Deserialize;
use serde_json::value::RawValue;
use weir_format_json::{CDC_OPTIONS, Json};
use weir_sdk::{Batch, BatchBuilder, ComponentSpec, Format, Options, Result, RowKind, Schema, VarData};

/// State of one decoder or encoder.
pub struct OggJson {
    rows: Json,
}

/// The options this format shares with `json`: the CDC ones but
/// `encode.decimal-as-plain-number`, as in Flink.
const JSON_OPTIONS: &[&str] = CDC_OPTIONS.as_slice().split_at(4).0;

/// A GoldenGate record; its images stay JSON text until read.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    before: Option<&'a RawValue>,
    #[serde(borrow, default)]
    after: Option<&'a RawValue>,
    #[serde(borrow, default)]
    op_type: Option<std::borrow::Cow<'a, str>>,
}

fn no_before(what: &str) -> String {
    format!(
        "the {what} record has no \"before\" image; configure GoldenGate to capture full before images \
         (GETUPDATEBEFORES / LOGALLSUPCOLS)"
    )
}

impl Format for OggJson {
    fn spec() -> ComponentSpec {
        weir_format_json::cdc_spec(
            "ogg-json",
            "Oracle GoldenGate change records (before/after/op_type) as changelog rows (Flink's ogg-json format)",
            JSON_OPTIONS,
        )
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Self::open(options, schema).map(drop)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        Ok(OggJson { rows: weir_format_json::rows_with(options, JSON_OPTIONS, schema)? })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        self.rows.decode_frames(frames, |_, frame, out| self.decode_record(frame, out))
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        self.rows.encode_rows(rows, |kind| match kind {
            RowKind::Insert | RowKind::UpdateAfter => ("{\"before\":null,\"after\":", ",\"op_type\":\"I\"}"),
            RowKind::UpdateBefore | RowKind::Delete => ("{\"before\":", ",\"after\":null,\"op_type\":\"D\"}"),
        })
    }
}

impl OggJson {
    fn decode_record(&self, frame: &[u8], out: &mut BatchBuilder) -> Result<(), String> {
        let r: Record<'_> = serde_json::from_slice(frame).map_err(|e| format!("malformed JSON: {e}"))?;
        let image = |raw: Option<&RawValue>| raw.map(|r| r.get().as_bytes().to_vec());
        match r.op_type.as_deref() {
            Some("I") => {
                let after = image(r.after).ok_or("an insert (\"op_type\": \"I\") without an \"after\" image")?;
                self.rows.decode_object(&after, out, RowKind::Insert).map_err(|m| format!("after: {m}"))
            }
            Some("U") => {
                let before = image(r.before).ok_or_else(|| no_before("update"))?;
                let after = image(r.after).ok_or("an update (\"op_type\": \"U\") without an \"after\" image")?;
                self.rows.decode_object(&before, out, RowKind::UpdateBefore).map_err(|m| format!("before: {m}"))?;
                self.rows.decode_object(&after, out, RowKind::UpdateAfter).map_err(|m| format!("after: {m}"))
            }
            Some("D") => {
                let before = image(r.before).ok_or_else(|| no_before("delete"))?;
                self.rows.decode_object(&before, out, RowKind::Delete).map_err(|m| format!("before: {m}"))
            }
            // A truncate empties the table: no row says that.
            Some("T") => Ok(()),
            Some(other) => Err(format!("unknown \"op_type\" value \"{other}\" (expected I, U, D or T)")),
            None => Err("no \"op_type\" field: not a GoldenGate change record".to_owned()),
        }
    }
}

weir_sdk::export_format!(OggJson);
