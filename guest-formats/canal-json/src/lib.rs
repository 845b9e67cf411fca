//! Flink's `canal-json` format: one Canal message per frame.
//!
//! Decoding follows Flink's `CanalJsonDeserializationSchema`: `type`
//! `INSERT` (and `INIT`, Canal's initial load) gives `+I` of every row of
//! `data`; `UPDATE` gives, per row, `-U` of the old row — the row of `data`
//! with the changed fields `old` holds put back — then `+U` of `data`;
//! `DELETE` gives `-D` of every row of `data`. `CREATE` and other DDL
//! messages (`isDdl`, no `data`) give no row. `database.include` and
//! `table.include` are regular expressions the whole name must match;
//! other messages are skipped before their rows are read. Values may be
//! strings (Canal writes every value as one), read as the `json` format
//! reads them.
//!
//! Encoding follows Flink's `CanalJsonSerializationSchema`: `+I` and `+U`
//! become `{"data":[{…}],"type":"INSERT"}`, `-U` and `-D`
//! `{"data":[{…}],"type":"DELETE"}`.

use regex_lite::Regex;
use serde::Deserialize;
use serde_json::value::RawValue;
use weir_format_json::{CDC_OPTIONS, Json};
use weir_sdk::{
    Batch, BatchBuilder, ComponentSpec, Error, Format, OptionSpec, Options, OptionsExt, Result, RowKind, Schema,
    VarData,
};

/// State of one decoder or encoder.
pub struct CanalJson {
    rows: Json,
    database: Option<Regex>,
    table: Option<Regex>,
}

/// A Canal message; its rows stay JSON text until read.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    data: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    old: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    database: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    table: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, rename = "isDdl")]
    is_ddl: bool,
}

/// A pattern the whole name must match (Java's `Matcher.matches`).
fn pattern(options: &Options, key: &str) -> Result<Option<Regex>> {
    match options.get(key) {
        None => Ok(None),
        Some(p) => Regex::new(&format!("^(?:{p})$"))
            .map(Some)
            .map_err(|e| Error::config(Some(key), format!("not a regular expression: {e}"))),
    }
}

impl Format for CanalJson {
    fn spec() -> ComponentSpec {
        weir_format_json::cdc_spec(
            "canal-json",
            "Canal change messages (data/old/type) as changelog rows (Flink's canal-json format)",
            &CDC_OPTIONS,
        )
        .option(OptionSpec::string(
            "database.include",
            "Only messages of databases whose name matches this regular expression",
        ))
        .option(OptionSpec::string(
            "table.include",
            "Only messages of tables whose name matches this regular expression",
        ))
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Self::open(options, schema).map(drop)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        Ok(CanalJson {
            rows: weir_format_json::rows_with(options, &CDC_OPTIONS, schema)?,
            database: pattern(options, "database.include")?,
            table: pattern(options, "table.include")?,
        })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        self.rows.decode_frames(frames, |_, frame, out| self.decode_message(frame, out))
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        self.rows.encode_rows(rows, |kind| match kind {
            RowKind::Insert | RowKind::UpdateAfter => ("{\"data\":[", "],\"type\":\"INSERT\"}"),
            RowKind::UpdateBefore | RowKind::Delete => ("{\"data\":[", "],\"type\":\"DELETE\"}"),
        })
    }
}

impl CanalJson {
    fn decode_message(&self, frame: &[u8], out: &mut BatchBuilder) -> Result<(), String> {
        let m: Message<'_> = serde_json::from_slice(frame).map_err(|e| format!("malformed JSON: {e}"))?;
        let included = |pattern: &Option<Regex>, name: &Option<std::borrow::Cow<'_, str>>| {
            pattern.as_ref().is_none_or(|p| name.as_deref().is_some_and(|n| p.is_match(n)))
        };
        if !included(&self.database, &m.database) || !included(&self.table, &m.table) {
            return Ok(());
        }
        let data = m.data.unwrap_or_default();
        let kind = m.kind.as_deref().unwrap_or_default();
        match kind {
            "INSERT" | "INIT" => {
                for row in data {
                    self.rows.decode_object(row.get().as_bytes(), out, RowKind::Insert)?;
                }
                Ok(())
            }
            "UPDATE" => {
                let old = m.old.ok_or("an UPDATE without \"old\"")?;
                if old.len() != data.len() {
                    return Err(format!("an UPDATE with {} rows in \"data\" but {} in \"old\"", data.len(), old.len()));
                }
                for (after, old) in data.iter().zip(&old) {
                    let after = after.get().as_bytes();
                    self.rows
                        .decode_object_with(after, old.get().as_bytes(), out, RowKind::UpdateBefore)
                        .map_err(|m| format!("old: {m}"))?;
                    self.rows.decode_object(after, out, RowKind::UpdateAfter)?;
                }
                Ok(())
            }
            "DELETE" => {
                for row in data {
                    self.rows.decode_object(row.get().as_bytes(), out, RowKind::Delete)?;
                }
                Ok(())
            }
            // Schema changes (CREATE, ALTER, …): nothing for the rows.
            _ if m.is_ddl || kind == "CREATE" => Ok(()),
            other => Err(format!("unknown \"type\" value \"{other}\" (expected INSERT, UPDATE, DELETE or a DDL type)")),
        }
    }
}

weir_sdk::export_format!(CanalJson);
