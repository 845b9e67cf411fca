//! Flink's `json` format: one JSON object per frame, fields by name, with
//! ARRAY, MAP and nested ROW, and Flink's option names and defaults.
//!
//! Decoding follows Flink's `JsonToRowDataConverters`: numbers may also be
//! given as strings, a STRING column takes any JSON value (non-strings as
//! their JSON text), BINARY is base64, dates and times are strings in the
//! layout `timestamp-format.standard` selects; a JSON number with a fraction
//! in an integer column is truncated, a string in a BOOLEAN column is true
//! only for "true", fractional seconds beyond the column's precision are cut
//! off. It is stricter where Flink would produce a wrong value: an integer
//! out of range, a DECIMAL that would be rounded — each a data error with the
//! record's position. With `ignore-parse-errors` a field that cannot be read
//! is null and its row kept; a record that cannot be read at all is skipped
//! and counted in `records-skipped`.
//!
//! Encoding writes fields in schema order; DECIMAL as a JSON number (plain
//! or `BigDecimal.toString`), NaN and infinities as strings (Jackson's
//! default), nulls as `null` unless `encode.ignore-null-fields`.

mod scan;

use core::fmt::Write as _;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use weir_sdk::text::{self, TextStyle, TimestampStyle};
use weir_sdk::{
    Batch, BatchBuilder, BatchReader, ColumnBuilder, ColumnRef, ComponentSpec, Error, Field, Format, LogicalType,
    NestedType, OptionSpec, Options, OptionsExt, Result, RowKind, Schema, Typed, ValueRef, VarData, VarDataBuilder,
    bool_at,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NullKeyMode {
    Fail,
    Drop,
    Literal,
}

/// State of one decoder or encoder. Public so benchmarks can run the same
/// code natively.
pub struct Json {
    schema: Schema,
    /// The top-level column names, for the fast path's key matching.
    names: Vec<String>,
    /// Each top-level column's `"name":`, rendered once for the encoder.
    keys: Vec<Vec<u8>>,
    fail_on_missing_field: bool,
    ignore_parse_errors: bool,
    style: TextStyle,
    null_key_mode: NullKeyMode,
    null_key_literal: String,
    ignore_null_fields: bool,
}

impl Format for Json {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("json", "One JSON object per frame, with ARRAY, MAP and ROW (Flink's json format)")
            .option(
                OptionSpec::boolean("fail-on-missing-field", "Fail when a field is missing (otherwise it is null)")
                    .default_value("false"),
            )
            .option(
                OptionSpec::boolean(
                    "ignore-parse-errors",
                    "Skip records with parse errors (counted in records-skipped) instead of failing",
                )
                .default_value("false"),
            )
            .option(
                OptionSpec::one_of(
                    "timestamp-format.standard",
                    &["SQL", "ISO-8601"],
                    "Layout of TIMESTAMP values: 'yyyy-MM-dd HH:mm:ss.s{p}' (SQL) or 'yyyy-MM-ddTHH:mm:ss.s{p}'",
                )
                .default_value("SQL"),
            )
            .option(
                OptionSpec::one_of(
                    "map-null-key.mode",
                    &["FAIL", "DROP", "LITERAL"],
                    "On a null MAP key when encoding: fail, drop the entry, or write map-null-key.literal",
                )
                .default_value("FAIL"),
            )
            .option(
                OptionSpec::string("map-null-key.literal", "Key written for a null MAP key in LITERAL mode")
                    .default_value("null"),
            )
            .option(
                OptionSpec::boolean(
                    "encode.decimal-as-plain-number",
                    "Write DECIMAL as a plain number (0.000000027) instead of scientific notation (2.7E-8)",
                )
                .default_value("false"),
            )
            .option(
                OptionSpec::boolean("encode.ignore-null-fields", "Leave out fields whose value is null")
                    .default_value("false"),
            )
            .option(
                OptionSpec::boolean(
                    "decode.json-parser.enabled",
                    "Accepted for compatibility with Flink; Weir has a single (streaming serde_json) parser",
                )
                .default_value("true"),
            )
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Self::open(options, schema).map(drop)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        let fail_on_missing_field = options.boolean("fail-on-missing-field")?;
        let ignore_parse_errors = options.boolean("ignore-parse-errors")?;
        if fail_on_missing_field && ignore_parse_errors {
            return Err(Error::config(
                Some("ignore-parse-errors"),
                "fail-on-missing-field and ignore-parse-errors cannot both be true",
            ));
        }
        let timestamp = if options.string("timestamp-format.standard")?.eq_ignore_ascii_case("ISO-8601") {
            TimestampStyle::Iso8601
        } else {
            TimestampStyle::Sql
        };
        let null_key_mode = match options.string("map-null-key.mode")?.to_ascii_uppercase().as_str() {
            "DROP" => NullKeyMode::Drop,
            "LITERAL" => NullKeyMode::Literal,
            _ => NullKeyMode::Fail,
        };
        Ok(Json {
            schema: schema.clone(),
            names: schema.fields.iter().map(|f| f.name.clone()).collect(),
            keys: schema
                .fields
                .iter()
                .map(|f| {
                    let mut key = Vec::new();
                    write_string(&mut key, &f.name);
                    key.push(b':');
                    key
                })
                .collect(),
            fail_on_missing_field,
            ignore_parse_errors,
            style: TextStyle { timestamp, decimal_scientific: !options.boolean("encode.decimal-as-plain-number")? },
            null_key_mode,
            null_key_literal: options.string("map-null-key.literal")?.to_owned(),
            ignore_null_fields: options.boolean("encode.ignore-null-fields")?,
        })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        self.decode_frames(frames, Json::decode_record)
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        self.encode_rows(rows, |_| ("", ""))
    }
}

/// The json options the CDC formats share, under their own prefix (ogg-json
/// takes the first four: it has no `encode.decimal-as-plain-number`).
pub const CDC_OPTIONS: [&str; 5] = [
    "ignore-parse-errors",
    "timestamp-format.standard",
    "map-null-key.mode",
    "map-null-key.literal",
    "encode.decimal-as-plain-number",
];

/// The spec of a CDC format built on this one: every row kind, and json's
/// options called `keys`, with json's meaning and default.
pub fn cdc_spec(identifier: &str, description: &str, keys: &[&str]) -> ComponentSpec {
    let spec = ComponentSpec::new(identifier, description).changelog(&[
        RowKind::Insert,
        RowKind::UpdateBefore,
        RowKind::UpdateAfter,
        RowKind::Delete,
    ]);
    options_named(keys).into_iter().fold(spec, ComponentSpec::option)
}

/// json's options called `keys`, for a format built on this one (the CDC
/// formats) to declare under its own prefix, with json's meaning and default.
pub fn options_named(keys: &[&str]) -> Vec<OptionSpec> {
    <Json as Format>::spec().options.into_iter().filter(|o| keys.contains(&o.key.as_str())).collect()
}

/// A row reader and writer for a format built on this one: its options
/// `keys` from `options`, json's other options at their defaults.
pub fn rows_with(options: &Options, keys: &[&str], schema: &Schema) -> Result<Json> {
    let json_options: Options = <Json as Format>::spec()
        .options
        .into_iter()
        .filter_map(|o| {
            let given = if keys.contains(&o.key.as_str()) { options.get(&o.key).map(str::to_owned) } else { None };
            given.or(o.default_value).map(|v| (o.key, v))
        })
        .collect();
    <Json as Format>::open(&json_options, schema)
}

impl Json {
    fn decode_record(&self, frame: &[u8], out: &mut BatchBuilder) -> Result<(), String> {
        self.decode_object(frame, out, RowKind::Insert)
    }

    /// One JSON object (the bytes of its text) as one row of `kind` — what
    /// the CDC formats built on this one read their `before` / `after`
    /// images with.
    pub fn decode_object(&self, frame: &[u8], out: &mut BatchBuilder, kind: RowKind) -> Result<(), String> {
        if frame.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            // Not an object: the general path gives the precise error.
            let value: Value = serde_json::from_slice(frame).map_err(|e| format!("malformed JSON: {e}"))?;
            return Err(format!("expected a JSON object, found {}", kind_of(&value)));
        }
        // The top-level object is read without building a tree: each field
        // stays a slice of the frame until its column parses it. The fast
        // path (`scan`) handles the usual records in one pass; it declines
        // the rest (escaped keys, anything malformed), which serde_json
        // reads here, with its precise error.
        // The slots live on the stack for the usual table: no allocation
        // per record (malloc and free were ~2.5 % of decoding inside WASM).
        let n = self.schema.fields.len();
        let mut on_stack = [None; 32];
        let mut on_heap = Vec::new();
        let found: &mut [Option<scan::Raw<'_>>] = if n <= on_stack.len() {
            &mut on_stack[..n]
        } else {
            on_heap.resize(n, None);
            &mut on_heap
        };
        if scan::object(frame, &self.names, found).is_none() {
            found.iter_mut().for_each(|f| *f = None);
            let Object(entries) = serde_json::from_slice(frame).map_err(|e| format!("malformed JSON: {e}"))?;
            let mut next = 0;
            for (key, raw) in entries {
                if let Some(c) = scan::column(&self.names, next, key.as_bytes()) {
                    found[c] = Some(scan::Raw::of(raw.get()));
                    next = c + 1;
                }
            }
        }
        for (c, (field, &raw)) in self.schema.fields.iter().zip(found.iter()).enumerate() {
            let column = out.column(c);
            match raw {
                Some(raw) => match self.read_raw(column, &field.data_type, raw) {
                    Ok(()) => {}
                    // Flink: "Fields are set to null in case of errors" (a
                    // NOT NULL field cannot be, and the record is skipped).
                    Err(m) if self.ignore_parse_errors && field.nullable => {
                        out.reset_column(c);
                        out.column(c)
                            .push_null()
                            .map_err(|e| format!("field '{}': {m} ({})", field.name, e.message()))?;
                    }
                    Err(m) => return Err(format!("field '{}': {m}", field.name)),
                },
                None if self.fail_on_missing_field => return Err(format!("field '{}' is missing", field.name)),
                None => {
                    column.push_null().map_err(|e| format!("field '{}' is missing: {}", field.name, e.message()))?
                }
            }
        }
        out.end_row(kind).map_err(|e| e.message())
    }

    /// The row of JSON object `after` with the fields of JSON object `old`
    /// put in place (canal-json and maxwell-json give an update's old row
    /// as the changed fields only): the update's before image, as `kind`.
    pub fn decode_object_with(
        &self,
        after: &[u8],
        old: &[u8],
        out: &mut BatchBuilder,
        kind: RowKind,
    ) -> Result<(), String> {
        let mut row: Map<String, Value> = serde_json::from_slice(after).map_err(|e| format!("malformed JSON: {e}"))?;
        let old: Map<String, Value> = serde_json::from_slice(old).map_err(|e| format!("malformed JSON: {e}"))?;
        row.extend(old);
        let text = serde_json::to_vec(&row).map_err(|e| e.to_string())?;
        self.decode_object(&text, out, kind)
    }

    /// Decodes each frame with `record` (one record may make several rows,
    /// or none); with `ignore-parse-errors` a record that fails is skipped
    /// and counted, otherwise it is a data error at its position.
    pub fn decode_frames(
        &self,
        frames: &VarData,
        mut record: impl FnMut(&Json, &[u8], &mut BatchBuilder) -> Result<(), String>,
    ) -> Result<Batch> {
        BatchBuilder::with_capacity(&self.schema, frames.len()).decode_frames(
            frames,
            self.ignore_parse_errors,
            |frame, out| record(self, frame, out),
        )
    }

    /// Writes each row as a JSON object between the two texts `envelope`
    /// gives for its kind (`("", "")` for plain json; a CDC format's
    /// `{"before":null,"after":` … `,"op":"c"}`).
    pub fn encode_rows(
        &self,
        rows: &Batch,
        envelope: impl Fn(RowKind) -> (&'static str, &'static str),
    ) -> Result<VarData> {
        let reader = BatchReader::new(rows);
        let mut out = VarDataBuilder::new();
        let columns = (0..self.schema.fields.len()).map(|c| reader.column(c)).collect::<Result<Vec<_>>>()?;
        let cells: Vec<Cell<'_>> =
            self.schema.fields.iter().zip(&columns).map(|(f, c)| Cell::of(&f.data_type, c.typed())).collect();
        // Values' text is formed here, one buffer for the whole batch.
        let mut scratch = String::new();
        for row in 0..reader.rows() {
            let (before, after) = envelope(reader.row_kind(row));
            let mut buf = std::mem::take(out.buffer());
            buf.extend_from_slice(before.as_bytes());
            let top = Some((&self.keys[..], &cells[..]));
            let written = self.write_fields(&mut buf, &mut scratch, &self.schema.fields, top, &columns, row);
            buf.extend_from_slice(after.as_bytes());
            *out.buffer() = buf;
            if let Err(message) = written {
                out.discard_partial();
                return Err(Error::data(row as u64, b"", message));
            }
            out.end_value()?;
        }
        Ok(out.finish())
    }

    /// One field from its JSON text: scalars straight from the text, the
    /// rest (objects, arrays, unusual combinations) through a parsed value.
    fn read_raw(&self, column: &mut ColumnBuilder, ty: &LogicalType, raw: scan::Raw<'_>) -> Result<(), String> {
        use LogicalType as T;
        let text = raw.text;
        let is_string_type = matches!(ty, T::Char(_) | T::Varchar(_) | T::String);
        let is_number_type =
            matches!(ty, T::Tinyint | T::Smallint | T::Int | T::Bigint | T::Float | T::Double | T::Decimal(_));
        let nested = matches!(ty, T::Array(_) | T::Map(_) | T::Row(_));
        match text.as_bytes().first() {
            // A valid JSON value starting with `n` is `null`.
            Some(b'n') => column.push_null().map_err(|e| e.message()),
            Some(b'"') if !nested => {
                // A JSON string without escapes is its own value.
                let s: std::borrow::Cow<'_, str> = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                    Some(inner) if !raw.escaped => std::borrow::Cow::Borrowed(inner),
                    _ => serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?,
                };
                if is_string_type {
                    column.push_str(&s).map_err(|e| e.message())
                } else {
                    text::push_text_as_flink(column, ty, &s, &self.style)
                }
            }
            // A JSON number with a fraction or exponent in an integer column
            // is truncated, as Flink (Jackson's asInt/asLong) does.
            Some(b'-' | b'0'..=b'9') if is_integer(ty) && text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) => {
                let value: f64 = text.parse().map_err(|_| format!("'{text}' is not a number"))?;
                text::push_text(column, ty, &format!("{}", value.trunc()), &self.style)
            }
            Some(b'-' | b'0'..=b'9') if is_number_type => text::push_text(column, ty, text, &self.style),
            Some(b'-' | b'0'..=b'9' | b't' | b'f') if is_string_type => column.push_str(text).map_err(|e| e.message()),
            Some(b't') if matches!(ty, T::Boolean) => column.push_bool(true).map_err(|e| e.message()),
            Some(b'f') if matches!(ty, T::Boolean) => column.push_bool(false).map_err(|e| e.message()),
            _ => {
                let value: Value = serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
                self.read_value(column, ty, &value)
            }
        }
    }

    fn read_field(&self, column: &mut ColumnBuilder, field: &Field, object: &Map<String, Value>) -> Result<(), String> {
        match object.get(&field.name) {
            Some(v) => self.read_value(column, &field.data_type, v).map_err(|m| format!("field '{}': {m}", field.name)),
            None if self.fail_on_missing_field => Err(format!("field '{}' is missing", field.name)),
            None => column.push_null().map_err(|e| e.message()),
        }
    }

    fn nested(&self, r: u32) -> Result<&NestedType, String> {
        self.schema.nested.get(r as usize).ok_or_else(|| format!("type reference {r} is not in the schema"))
    }

    fn element(&self, r: u32) -> Result<&LogicalType, String> {
        match self.nested(r)? {
            NestedType::Type(t) => Ok(t),
            NestedType::RowFields(_) => Err(format!("type reference {r} is a row, not a type")),
        }
    }

    fn read_value(&self, column: &mut ColumnBuilder, ty: &LogicalType, v: &Value) -> Result<(), String> {
        use LogicalType as T;
        let pushed = match (ty, v) {
            (_, Value::Null) => column.push_null(),
            (T::Char(_) | T::Varchar(_) | T::String, Value::String(s)) => column.push_str(s),
            (T::Char(_) | T::Varchar(_) | T::String, other) => column.push_str(&other.to_string()),
            (T::Boolean, Value::Bool(b)) => column.push_bool(*b),
            (T::Array(e), Value::Array(items)) => {
                let element = self.element(e.element)?;
                let elements = column.array_elements().map_err(|e| e.message())?;
                for (i, item) in items.iter().enumerate() {
                    self.read_value(elements, element, item).map_err(|m| format!("element {i}: {m}"))?;
                }
                column.end_array()
            }
            (T::Map(m), Value::Object(entries)) => {
                let (key_type, value_type) = (self.element(m.key)?, self.element(m.value.element)?);
                let (keys, values) = column.map_entries().map_err(|e| e.message())?;
                for (k, item) in entries {
                    text::push_text(keys, key_type, k, &self.style).map_err(|m| format!("key '{k}': {m}"))?;
                    self.read_value(values, value_type, item).map_err(|m| format!("key '{k}': {m}"))?;
                }
                column.end_map()
            }
            (T::Row(r), Value::Object(object)) => {
                let NestedType::RowFields(fields) = self.nested(*r)? else {
                    return Err(format!("type reference {r} is not a row"));
                };
                for (i, f) in fields.iter().enumerate() {
                    self.read_field(column.field(i).map_err(|e| e.message())?, f, object)?;
                }
                column.end_row_value()
            }
            (T::Array(_) | T::Map(_) | T::Row(_) | T::Boolean, other) => {
                if let (T::Boolean, Value::String(s)) = (ty, other) {
                    return text::push_text_as_flink(column, ty, s, &self.style);
                }
                return Err(format!("expected {}, found {}", type_word(ty), kind_of(other)));
            }
            (_, Value::Number(n)) => {
                if matches!(
                    ty,
                    T::Date
                        | T::Time(_)
                        | T::Timestamp(_)
                        | T::TimestampLtz(_)
                        | T::Binary(_)
                        | T::Varbinary(_)
                        | T::Bytes
                ) {
                    return Err(format!("expected a string for {}, found a number", type_word(ty)));
                }
                let n = n.to_string();
                if is_integer(ty) && n.contains(['.', 'e', 'E']) {
                    let value: f64 = n.parse().map_err(|_| format!("'{n}' is not a number"))?;
                    return text::push_text(column, ty, &format!("{}", value.trunc()), &self.style);
                }
                return text::push_text(column, ty, &n, &self.style);
            }
            (_, Value::String(s)) => return text::push_text_as_flink(column, ty, s, &self.style),
            (_, other) => return Err(format!("expected {}, found {}", type_word(ty), kind_of(other))),
        };
        pushed.map_err(|e| e.message())
    }

    /// A JSON object of `fields`; `top`, at the top level, their `"name":`
    /// rendered beforehand and their [`Cell`]s.
    fn write_fields(
        &self,
        out: &mut Vec<u8>,
        scratch: &mut String,
        fields: &[Field],
        top: Option<(&[Vec<u8>], &[Cell<'_>])>,
        columns: &[ColumnRef<'_>],
        row: usize,
    ) -> Result<(), String> {
        out.push(b'{');
        let mut first = true;
        for (f, (field, column)) in fields.iter().zip(columns).enumerate() {
            let null = column.is_null(row);
            if null && self.ignore_null_fields {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            match top {
                Some((keys, cells)) => {
                    out.extend_from_slice(&keys[f]);
                    if write_cell(out, scratch, cells[f], &self.style, null, row) {
                        continue;
                    }
                }
                None => {
                    write_string(out, &field.name);
                    out.push(b':');
                }
            }
            self.write_value(out, scratch, &field.data_type, column, row)
                .map_err(|m| format!("field '{}': {m}", field.name))?;
        }
        out.push(b'}');
        Ok(())
    }

    fn write_value(
        &self,
        out: &mut Vec<u8>,
        scratch: &mut String,
        ty: &LogicalType,
        column: &ColumnRef<'_>,
        i: usize,
    ) -> Result<(), String> {
        use LogicalType as T;
        let value = column.value(i).map_err(|e| e.message())?;
        match (ty, value) {
            (_, ValueRef::Null) => out.extend_from_slice(b"null"),
            (_, ValueRef::Str(s)) => write_string(out, s),
            (_, ValueRef::Bool(b)) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            (T::Array(e), ValueRef::Nested) => {
                let element = self.element(e.element)?;
                let elements = column.elements().map_err(|e| e.message())?;
                out.push(b'[');
                for (n, j) in column.range(i).map_err(|e| e.message())?.enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    self.write_value(out, scratch, element, &elements, j)?;
                }
                out.push(b']');
            }
            (T::Map(m), ValueRef::Nested) => {
                let (key_type, value_type) = (self.element(m.key)?, self.element(m.value.element)?);
                let (keys, values) = column.map_columns().map_err(|e| e.message())?;
                out.push(b'{');
                let mut first = true;
                for j in column.range(i).map_err(|e| e.message())? {
                    let mut key = String::new();
                    if keys.is_null(j) {
                        match self.null_key_mode {
                            NullKeyMode::Fail => {
                                return Err("a MAP key is null (set map-null-key.mode to DROP or LITERAL)".into());
                            }
                            NullKeyMode::Drop => continue,
                            NullKeyMode::Literal => key.push_str(&self.null_key_literal),
                        }
                    } else {
                        text::write_text(&mut key, key_type, keys.value(j).map_err(|e| e.message())?, &self.style)?;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    write_string(out, &key);
                    out.push(b':');
                    self.write_value(out, scratch, value_type, &values, j)?;
                }
                out.push(b'}');
            }
            (T::Row(r), ValueRef::Nested) => {
                let NestedType::RowFields(fields) = self.nested(*r)? else {
                    return Err(format!("type reference {r} is not a row"));
                };
                let children =
                    (0..fields.len()).map(|f| column.field(f)).collect::<Result<Vec<_>>>().map_err(|e| e.message())?;
                self.write_fields(out, scratch, fields, None, &children, i)?;
            }
            (_, ValueRef::F32(v)) if !v.is_finite() => write_string(out, &java_special(f64::from(v))),
            (_, ValueRef::F64(v)) if !v.is_finite() => write_string(out, &java_special(v)),
            (
                T::Date | T::Time(_) | T::Timestamp(_) | T::TimestampLtz(_) | T::Binary(_) | T::Varbinary(_) | T::Bytes,
                _,
            ) => {
                scratch.clear();
                text::write_text(scratch, ty, value, &self.style)?;
                write_string(out, scratch);
            }
            _ => {
                scratch.clear();
                text::write_text(scratch, ty, value, &self.style)?;
                out.extend_from_slice(scratch.as_bytes());
            }
        }
        Ok(())
    }
}

/// How a top-level column's values are written, chosen once per batch
/// from its type: the usual scalars straight from their slice, without a
/// type `match` per value; anything else through `write_value`.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Bigint(&'a [i64]),
    Int(&'a [i32]),
    Double(&'a [f64]),
    Str(&'a VarData),
    Boolean(&'a [u8]),
    Timestamp(&'a [i64], u8),
    General,
}

impl<'a> Cell<'a> {
    fn of(ty: &LogicalType, values: Typed<'a>) -> Cell<'a> {
        use LogicalType as T;
        match (ty, values) {
            (T::Bigint, Typed::I64(v)) => Cell::Bigint(v),
            (T::Int, Typed::I32(v)) => Cell::Int(v),
            (T::Double, Typed::F64(v)) => Cell::Double(v),
            (T::Char(_) | T::Varchar(_) | T::String, Typed::Str(v)) => Cell::Str(v),
            (T::Boolean, Typed::Bool(v)) => Cell::Boolean(v),
            (T::Timestamp(p), Typed::I64(v)) => Cell::Timestamp(v, *p),
            _ => Cell::General,
        }
    }
}

/// Writes value `row` of `cell` (`null`: the row's slot is null) as
/// `write_value` would; `false` when it leaves it to `write_value`: a
/// `General` cell, a NaN or infinity (written as Java's quoted text), a row
/// past the slice's end (an error there).
fn write_cell(
    out: &mut Vec<u8>,
    scratch: &mut String,
    cell: Cell<'_>,
    style: &TextStyle,
    null: bool,
    row: usize,
) -> bool {
    if null {
        out.extend_from_slice(b"null");
        return true;
    }
    scratch.clear();
    match cell {
        Cell::Bigint(v) => match v.get(row) {
            Some(&v) => text::write_int(scratch, v),
            None => return false,
        },
        Cell::Int(v) => match v.get(row) {
            Some(&v) => text::write_int(scratch, v),
            None => return false,
        },
        Cell::Double(v) => match v.get(row) {
            Some(&v) if v.is_finite() => text::write_f64(scratch, v),
            _ => return false,
        },
        Cell::Str(v) => match v.get(row).map(std::str::from_utf8) {
            Some(Ok(s)) => {
                write_string(out, s);
                return true;
            }
            _ => return false,
        },
        Cell::Boolean(v) => match bool_at(v, row) {
            Some(b) => scratch.push_str(if b { "true" } else { "false" }),
            None => return false,
        },
        Cell::Timestamp(v, p) => match v.get(row) {
            Some(&v) => {
                text::write_timestamp(scratch, v, p, style.timestamp, false);
                write_string(out, scratch);
                return true;
            }
            None => return false,
        },
        Cell::General => return false,
    }
    out.extend_from_slice(scratch.as_bytes());
    true
}

fn java_special(v: f64) -> String {
    let mut s = String::new();
    text::write_f64(&mut s, v);
    s
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    // Most strings need no escape: one SIMD pass says so.
    if scan::special::<false>(s.as_bytes(), 0) == s.len() {
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..0x20 => None,
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                let mut u = String::new();
                let _ = write!(u, "\\u{b:04x}");
                out.extend_from_slice(u.as_bytes());
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn type_word(ty: &LogicalType) -> String {
    match ty {
        LogicalType::Array(_) => "an array".to_owned(),
        LogicalType::Map(_) | LogicalType::Row(_) => "an object".to_owned(),
        other => text::type_name(other),
    }
}

/// A JSON object as its entries, values left as JSON text (no tree, no
/// copies unless a key has escapes).
struct Object<'a>(Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<std::borrow::Cow<'de, str>, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Object(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

fn is_integer(ty: &LogicalType) -> bool {
    matches!(ty, LogicalType::Tinyint | LogicalType::Smallint | LogicalType::Int | LogicalType::Bigint)
}

// Built as a library of another component (the CDC formats), the json
// crate leaves the exports to that component.
#[cfg(feature = "component")]
weir_sdk::export_format!(Json);
