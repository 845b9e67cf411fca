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
use weir_format_json::Json;
use weir_sdk::{
    Batch, BatchBuilder, BatchReader, ComponentSpec, Error, Format, Options, Result, RowKind, Schema, VarData,
    VarDataBuilder,
};

/// State of one decoder or encoder.
pub struct MaxwellJson {
    schema: Schema,
    rows: Json,
}

/// The options this format shares with `json`.
const JSON_OPTIONS: [&str; 5] = [
    "ignore-parse-errors",
    "timestamp-format.standard",
    "map-null-key.mode",
    "map-null-key.literal",
    "encode.decimal-as-plain-number",
];

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
        let mut spec = ComponentSpec::new(
            "maxwell-json",
            "Maxwell change messages (data/old/type) as changelog rows (Flink's maxwell-json format)",
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
        Ok(MaxwellJson { schema: schema.clone(), rows: weir_format_json::rows_with(options, &JSON_OPTIONS, schema)? })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        let skip = self.rows.ignores_parse_errors();
        BatchBuilder::with_capacity(&self.schema, frames.len())
            .decode_frames(frames, skip, |frame, out| self.decode_message(frame, out))
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        let reader = BatchReader::new(rows);
        let columns = (0..self.schema.fields.len()).map(|c| reader.column(c)).collect::<Result<Vec<_>>>()?;
        let mut out = VarDataBuilder::new();
        for row in 0..reader.rows() {
            let kind = match reader.row_kind(row) {
                RowKind::Insert | RowKind::UpdateAfter => "insert",
                RowKind::UpdateBefore | RowKind::Delete => "delete",
            };
            let mut buf = std::mem::take(out.buffer());
            buf.extend_from_slice(b"{\"data\":");
            let written = self.rows.write_row(&mut buf, &columns, row);
            buf.extend_from_slice(format!(",\"type\":\"{kind}\"}}").as_bytes());
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
