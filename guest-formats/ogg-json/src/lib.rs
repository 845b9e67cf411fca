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
use weir_format_json::Json;
use weir_sdk::{
    Batch, BatchBuilder, BatchReader, ComponentSpec, Error, Format, Options, Result, RowKind, Schema, VarData,
    VarDataBuilder,
};

/// State of one decoder or encoder.
pub struct OggJson {
    schema: Schema,
    rows: Json,
}

/// The options this format shares with `json`.
const JSON_OPTIONS: [&str; 4] =
    ["ignore-parse-errors", "timestamp-format.standard", "map-null-key.mode", "map-null-key.literal"];

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
        let mut spec = ComponentSpec::new(
            "ogg-json",
            "Oracle GoldenGate change records (before/after/op_type) as changelog rows (Flink's ogg-json format)",
        )
        .changelog(&[RowKind::Insert, RowKind::UpdateBefore, RowKind::UpdateAfter, RowKind::Delete]);
        for option in weir_format_json::options_named(&JSON_OPTIONS) {
            spec = spec.option(option);
        }
        spec
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Self::open(options, schema).map(drop)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        Ok(OggJson { schema: schema.clone(), rows: weir_format_json::rows_with(options, &JSON_OPTIONS, schema)? })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        let skip = self.rows.ignores_parse_errors();
        BatchBuilder::with_capacity(&self.schema, frames.len())
            .decode_frames(frames, skip, |frame, out| self.decode_record(frame, out))
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        let reader = BatchReader::new(rows);
        let columns = (0..self.schema.fields.len()).map(|c| reader.column(c)).collect::<Result<Vec<_>>>()?;
        let mut out = VarDataBuilder::new();
        for row in 0..reader.rows() {
            let before = matches!(reader.row_kind(row), RowKind::UpdateBefore | RowKind::Delete);
            let mut buf = std::mem::take(out.buffer());
            buf.extend_from_slice(b"{\"before\":");
            let written = if before {
                let w = self.rows.write_row(&mut buf, &columns, row);
                buf.extend_from_slice(b",\"after\":null,\"op_type\":\"D\"}");
                w
            } else {
                buf.extend_from_slice(b"null,\"after\":");
                let w = self.rows.write_row(&mut buf, &columns, row);
                buf.extend_from_slice(b",\"op_type\":\"I\"}");
                w
            };
            *out.buffer() = buf;
            if let Err(message) = written {
                out.discard_partial();
                return Err(Error::data(row as u64, b"", message));
            }
            out.end_value()?;
        }
        Ok(out.finish())
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
