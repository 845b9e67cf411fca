//! Flink's `csv` format: one frame is one CSV record (RFC 4180, as Flink's
//! Jackson-based `CsvRowDataDeserializationSchema` reads it), with Flink's
//! option names and defaults.
//!
//! Values are read and written as in [`weir_sdk::text`]: timestamps in SQL
//! layout, BINARY as base64, DECIMAL as `BigDecimal.toString` unless
//! `write-bigdecimal-in-scientific-notation` is off. An ARRAY or a ROW of
//! scalars is one field whose elements (fields) are separated by
//! `array-element-delimiter`; a ROW with fewer parts has its last fields null.
//!
//! Nulls: a field equal to `null-literal` is null, and an empty field is
//! null for every type except strings, where it is the empty string (as in
//! Flink) — set `null-literal` to round-trip null strings. With a null
//! literal an empty field of a BYTES or ARRAY column is the empty value;
//! without one, null and empty bytes, and null, `[]`, `[null]` and `['']`,
//! all write as an empty field, as in Flink. An array element that contains the element delimiter is refused
//! when writing (it would read back as two elements).
//! A null is written as the null literal, or as an empty field.
//!
//! Where Flink would guess, this format refuses: a record with the wrong
//! number of fields, a number out of its type's range, a DECIMAL that would
//! be rounded, a BOOLEAN other than true/false, invalid UTF-8 — each is a
//! data error with the record's position, or with `ignore-parse-errors` a
//! skipped record counted in the metric `records-skipped`.

use weir_sdk::text::{self, TextStyle};
use weir_sdk::{
    Batch, BatchBuilder, BatchReader, ColumnBuilder, ColumnRef, ComponentSpec, Error, Format, LogicalType, NestedType,
    OptionSpec, Options, OptionsExt, Result, RowKind, Schema, ValueRef, VarData, VarDataBuilder, export_format,
};

/// The options of one decoder or encoder, parsed.
#[derive(Debug, Clone)]
struct Settings {
    delimiter: u8,
    quote: Option<u8>,
    escape: Option<u8>,
    allow_comments: bool,
    ignore_parse_errors: bool,
    array_delimiter: String,
    null_literal: Option<String>,
    style: TextStyle,
}

/// The csv format's decoder and encoder state. Public so benchmarks can run
/// the same code natively.
pub struct Csv {
    schema: Schema,
    settings: Settings,
    /// Unquoted, unescaped field bytes, for records that needed it.
    fields: Vec<u8>,
    /// Where each field of the current record lies: in the frame itself
    /// (`in_frame`), or in `fields`.
    ranges: Vec<(usize, usize)>,
    in_frame: bool,
    scratch: String,
}

impl Format for Csv {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("csv", "Comma-separated values, one record per frame (Flink's csv format)")
            .option(OptionSpec::character("field-delimiter", "Field delimiter character").default_value(","))
            .option(
                OptionSpec::boolean("disable-quote-character", "Disable the quote character for enclosing values")
                    .default_value("false"),
            )
            .option(
                OptionSpec::character("quote-character", "Quote character for enclosing values").default_value("\""),
            )
            .option(
                OptionSpec::boolean("allow-comments", "Ignore comment lines that start with '#'")
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
                OptionSpec::string("array-element-delimiter", "Separator of the elements of an ARRAY value")
                    .default_value(";"),
            )
            .option(OptionSpec::character(
                "escape-character",
                "Escape character for escaping values (disabled by default)",
            ))
            .option(OptionSpec::string("null-literal", "String that stands for a null value (disabled by default)"))
            .option(
                OptionSpec::boolean(
                    "write-bigdecimal-in-scientific-notation",
                    "Write DECIMAL values like BigDecimal.toString (1.0E-7) rather than plain (0.00000010)",
                )
                .default_value("true"),
            )
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        settings(options)?;
        check_schema(schema)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        let settings = settings(options)?;
        check_schema(schema)?;
        Ok(Csv {
            schema: schema.clone(),
            settings,
            fields: Vec::new(),
            ranges: Vec::with_capacity(schema.fields.len() + 1),
            in_frame: true,
            scratch: String::new(),
        })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        let skip_errors = self.settings.ignore_parse_errors;
        BatchBuilder::with_capacity(&self.schema, frames.len())
            .decode_frames(frames, skip_errors, |frame, out| self.decode_record(frame, out))
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        let reader = BatchReader::new(rows);
        let mut out = VarDataBuilder::new();
        for row in 0..reader.rows() {
            for (c, field) in self.schema.fields.iter().enumerate() {
                if c > 0 {
                    out.buffer().push(self.settings.delimiter);
                }
                self.scratch.clear();
                let column = reader.column(c)?;
                let null = column.is_null(row);
                if null {
                    if let Some(null_literal) = &self.settings.null_literal {
                        self.scratch.push_str(null_literal);
                    }
                } else {
                    write_value(&mut self.scratch, &column, row, &field.data_type, &self.schema.nested, &self.settings)
                        .map_err(|m| Error::data(row as u64, b"", format!("column '{}': {m}", field.name)))?;
                }
                let textual = is_written_as_text(&field.data_type);
                write_field(out.buffer(), &self.scratch, null, textual, &self.settings).map_err(|m| {
                    Error::data(row as u64, self.scratch.as_bytes(), format!("column '{}': {m}", field.name))
                })?;
            }
            out.end_value()?;
        }
        Ok(out.finish())
    }
}

impl Csv {
    /// Splits one record into fields and appends its row; on error the
    /// caller discards the partial row.
    fn decode_record(&mut self, frame: &[u8], out: &mut BatchBuilder) -> Result<(), String> {
        let Some(count) = self.split(frame)? else { return Ok(()) };
        if count != self.schema.fields.len() {
            return Err(format!("expected {} fields, found {count}", self.schema.fields.len()));
        }
        let source = if self.in_frame { frame } else { &self.fields };
        // One UTF-8 check for the whole record; fields are cut from it at
        // ASCII delimiters. Only a failure looks at each field, to name it.
        let all = std::str::from_utf8(source).ok();
        for (c, field) in self.schema.fields.iter().enumerate() {
            let (start, end) = self.ranges[c];
            let text = match all.and_then(|all| all.get(start..end)) {
                Some(text) => text,
                None => std::str::from_utf8(&source[start..end])
                    .map_err(|e| format!("column '{}': invalid UTF-8 ({e})", field.name))?,
            };
            let column = out.column(c);
            match read_value(column, &field.data_type, text, &self.schema.nested, &self.settings) {
                Ok(()) => {}
                // Flink: "Fields are set to null in case of errors" (a NOT
                // NULL field cannot be, and the record is skipped).
                Err(m) if self.settings.ignore_parse_errors && field.nullable => {
                    out.reset_column(c);
                    out.column(c).push_null().map_err(|e| format!("column '{}': {m} ({})", field.name, e.message()))?;
                }
                Err(m) => return Err(format!("column '{}': {m}", field.name)),
            }
        }
        out.end_row(RowKind::Insert).map_err(|e| e.message())
    }

    /// Splits one record into `self.ranges` (where each field lies, in the
    /// frame or, once unquoted and unescaped, in `self.fields`); `None` for
    /// a frame with no record (empty, or a comment line).
    ///
    /// The rules are Jackson's, as Flink reads CSV: a field that starts with
    /// the quote character runs to the matching quote, a doubled quote
    /// inside it is one quote, and the escape character (when set) takes
    /// the next byte literally, inside quotes and out.
    fn split(&mut self, frame: &[u8]) -> Result<Option<usize>, String> {
        let Settings { delimiter, quote, escape, allow_comments, .. } = self.settings;
        if frame.is_empty() || (allow_comments && frame[0] == b'#') {
            return Ok(None);
        }
        self.ranges.clear();
        // The common case — no quotes, escapes or line breaks — cuts the
        // fields out of the frame where they are, in one SIMD pass.
        let (q, e) = (quote.unwrap_or(delimiter), escape.unwrap_or(delimiter));
        if split_plain(frame, [delimiter, q, e], &mut self.ranges) {
            self.in_frame = true;
            return Ok(Some(self.ranges.len()));
        }
        self.ranges.clear();
        self.in_frame = false;
        self.fields.clear();
        let mut field_start = 0;
        let (mut quoted, mut at_start, mut i) = (false, true, 0);
        while i < frame.len() {
            let b = frame[i];
            if Some(b) == escape {
                i += 1;
                let next = *frame.get(i).ok_or("the record ends with the escape character")?;
                self.fields.push(next);
            } else if quoted {
                if Some(b) != quote {
                    self.fields.push(b);
                } else if frame.get(i + 1) == Some(&b) {
                    self.fields.push(b);
                    i += 1;
                } else {
                    quoted = false;
                }
            } else if at_start && Some(b) == quote {
                quoted = true;
            } else if b == b'\n' || b == b'\r' {
                return Err("a line break outside quotes: the frame holds more than one record".to_owned());
            } else if b == delimiter {
                self.ranges.push((field_start, self.fields.len()));
                field_start = self.fields.len();
                at_start = true;
                i += 1;
                continue;
            } else {
                self.fields.push(b);
            }
            at_start = false;
            i += 1;
        }
        if quoted {
            return Err("a quoted field is not closed (missing closing quote character)".to_owned());
        }
        self.ranges.push((field_start, self.fields.len()));
        Ok(Some(self.ranges.len()))
    }
}

/// Cuts `frame` at `delimiter` into `ranges` when it holds no quote,
/// escape character or line break (the usual record); `false`, with
/// `ranges` partly filled, otherwise. Sixteen bytes at a time with SIMD
/// (`simd128` inside the component, SSE2 natively), every delimiter of a
/// step taken from one mask.
fn split_plain(frame: &[u8], [delimiter, quote, escape]: [u8; 3], ranges: &mut Vec<(usize, usize)>) -> bool {
    let mut start = 0;
    let mut i = 0;
    #[cfg(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64"))]
    while i + 16 <= frame.len() {
        // SAFETY: the 16 bytes read start at `i` and end within `frame`.
        let (mut delimiters, stops) = unsafe { simd::classify(frame.as_ptr().add(i), delimiter, quote, escape) };
        if stops != 0 {
            return false;
        }
        while delimiters != 0 {
            let at = i + delimiters.trailing_zeros() as usize;
            ranges.push((start, at));
            start = at + 1;
            delimiters &= delimiters - 1;
        }
        i += 16;
    }
    for (at, &b) in frame.iter().enumerate().skip(i) {
        if b == delimiter {
            ranges.push((start, at));
            start = at + 1;
        } else if b == quote || b == escape || b == b'\n' || b == b'\r' {
            return false;
        }
    }
    ranges.push((start, frame.len()));
    true
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    /// Bit masks of the 16 bytes at `p`: which are `delimiter`, and which
    /// are `quote`, `escape`, `\n` or `\r` (a delimiter equal to one of
    /// those counts as a delimiter only).
    ///
    /// # Safety
    /// `p` must be valid for reading 16 bytes.
    #[inline(always)]
    pub unsafe fn classify(p: *const u8, delimiter: u8, quote: u8, escape: u8) -> (u32, u32) {
        // SAFETY: the caller's promise; `v128_load` has no alignment requirement.
        let v = unsafe { v128_load(p.cast()) };
        let d = u8x16_eq(v, u8x16_splat(delimiter));
        let stop = v128_or(
            v128_or(u8x16_eq(v, u8x16_splat(quote)), u8x16_eq(v, u8x16_splat(escape))),
            v128_or(u8x16_eq(v, u8x16_splat(b'\n')), u8x16_eq(v, u8x16_splat(b'\r'))),
        );
        (u32::from(u8x16_bitmask(d)), u32::from(u8x16_bitmask(v128_andnot(stop, d))))
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use core::arch::x86_64::*;

    /// See the `wasm32` version.
    ///
    /// # Safety
    /// `p` must be valid for reading 16 bytes.
    #[inline(always)]
    pub unsafe fn classify(p: *const u8, delimiter: u8, quote: u8, escape: u8) -> (u32, u32) {
        // SAFETY: the caller's promise; `_mm_loadu_si128` has no alignment
        // requirement, and SSE2 is part of every x86-64.
        unsafe {
            let v = _mm_loadu_si128(p.cast());
            let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            let d = eq(delimiter);
            let stop = _mm_or_si128(_mm_or_si128(eq(quote), eq(escape)), _mm_or_si128(eq(b'\n'), eq(b'\r')));
            (_mm_movemask_epi8(d) as u32, _mm_movemask_epi8(_mm_andnot_si128(d, stop)) as u32)
        }
    }
}

/// Parses the options and checks they do not contradict each other.
fn settings(options: &Options) -> Result<Settings> {
    let byte = |key: &str| -> Result<u8> {
        let c = options.character(key)?;
        u8::try_from(c)
            .ok()
            .filter(u8::is_ascii)
            .ok_or_else(|| Error::config(Some(key), format!("must be a single ASCII character, got '{c}'")))
    };
    let quote_disabled = options.boolean("disable-quote-character")?;
    if quote_disabled && options.string("quote-character")? != "\"" {
        return Err(Error::config(
            Some("quote-character"),
            "a quote character and a disabled quote character cannot be set at the same time",
        ));
    }
    let delimiter = byte("field-delimiter")?;
    let quote = if quote_disabled { None } else { Some(byte("quote-character")?) };
    if quote == Some(delimiter) {
        return Err(Error::config(Some("quote-character"), "must differ from the field delimiter"));
    }
    let escape = match options.get("escape-character") {
        Some(_) => Some(byte("escape-character")?),
        None => None,
    };
    let array_delimiter = options.string("array-element-delimiter")?.to_owned();
    if array_delimiter.is_empty() {
        return Err(Error::config(Some("array-element-delimiter"), "must not be empty"));
    }
    Ok(Settings {
        delimiter,
        quote,
        escape,
        allow_comments: options.boolean("allow-comments")?,
        ignore_parse_errors: options.boolean("ignore-parse-errors")?,
        array_delimiter,
        null_literal: options.get("null-literal").map(str::to_owned),
        style: TextStyle {
            timestamp: text::TimestampStyle::Sql,
            decimal_scientific: options.boolean("write-bigdecimal-in-scientific-notation")?,
        },
    })
}

/// csv takes scalar columns, ARRAYs of scalars and ROWs of scalars (their
/// fields joined with the array-element delimiter, as Flink writes them).
fn check_schema(schema: &Schema) -> Result<()> {
    for field in &schema.fields {
        let supported = match &field.data_type {
            LogicalType::Map(_) => false,
            LogicalType::Row(r) => {
                matches!(schema.nested.get(*r as usize), Some(NestedType::RowFields(f)) if f.iter().all(|f| is_scalar(&f.data_type)))
            }
            LogicalType::Array(e) => {
                matches!(schema.nested.get(e.element as usize), Some(NestedType::Type(t)) if is_scalar(t))
            }
            _ => true,
        };
        if !supported {
            return Err(Error::config(
                None,
                format!(
                    "the csv format does not support column '{}' ({:?}); use scalars, an ARRAY or ROW of \
                     scalars, or the json format for MAP and deeper nesting",
                    field.name, field.data_type
                ),
            ));
        }
    }
    Ok(())
}

fn is_scalar(ty: &LogicalType) -> bool {
    !matches!(ty, LogicalType::Array(_) | LogicalType::Map(_) | LogicalType::Row(_))
}

fn element_type<'a>(nested: &'a [NestedType], ty: &LogicalType) -> Option<&'a LogicalType> {
    match ty {
        LogicalType::Array(e) => match nested.get(e.element as usize) {
            Some(NestedType::Type(t)) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

fn row_fields<'a>(nested: &'a [NestedType], ty: &LogicalType) -> Option<&'a [weir_sdk::Field]> {
    match ty {
        LogicalType::Row(r) => match nested.get(*r as usize) {
            Some(NestedType::RowFields(f)) => Some(f),
            _ => None,
        },
        _ => None,
    }
}

/// Types Flink's csv writer hands Jackson as text (numbers and booleans it
/// hands as numbers and booleans, which are never quoted).
fn is_written_as_text(ty: &LogicalType) -> bool {
    use LogicalType as T;
    !matches!(
        ty,
        T::Boolean
            | T::Tinyint
            | T::Smallint
            | T::Int
            | T::Bigint
            | T::Float
            | T::Double
            | T::Decimal(_)
            | T::Array(_)
            | T::Row(_)
            | T::Map(_)
    )
}

fn is_text(ty: &LogicalType) -> bool {
    matches!(ty, LogicalType::Char(_) | LogicalType::Varchar(_) | LogicalType::String)
}

/// Whether an empty field of `ty` is null. It is the empty string for the
/// string types; for BYTES and ARRAY the empty value once a null literal
/// stands for null; for every other type (numbers, dates…) it can only be
/// null.
fn empty_is_null(ty: &LogicalType, nested: &[NestedType], settings: &Settings) -> bool {
    let empty_is_value = is_text(ty)
        || (settings.null_literal.is_some()
            && (element_type(nested, ty).is_some()
                || matches!(ty, LogicalType::Binary(_) | LogicalType::Varbinary(_) | LogicalType::Bytes)));
    !empty_is_value
}

fn read_value(
    column: &mut ColumnBuilder,
    ty: &LogicalType,
    text: &str,
    nested: &[NestedType],
    settings: &Settings,
) -> Result<(), String> {
    let is_null =
        settings.null_literal.as_deref() == Some(text) || (text.is_empty() && empty_is_null(ty, nested, settings));
    if is_null {
        return column.push_null().map_err(|e| e.message());
    }
    if let Some(fields) = row_fields(nested, ty) {
        // A ROW: its fields joined with the array-element delimiter; fewer
        // parts than fields leave the rest null (Jackson's reading).
        let mut parts = text.split(settings.array_delimiter.as_str());
        for (i, f) in fields.iter().enumerate() {
            let part = parts.next();
            let target = column.field(i).map_err(|e| e.message())?;
            match part {
                Some(part) => read_value(target, &f.data_type, part, nested, settings)
                    .map_err(|m| format!("field '{}': {m}", f.name))?,
                None => target.push_null().map_err(|e| format!("field '{}': {}", f.name, e.message()))?,
            }
        }
        if parts.next().is_some() {
            return Err(format!("more parts than the ROW's {} fields", fields.len()));
        }
        return column.end_row_value().map_err(|e| e.message());
    }
    let Some(element) = element_type(nested, ty) else {
        return text::push_text_as_flink(column, ty, text, &settings.style);
    };
    let elements = column.array_elements().map_err(|e| e.message())?;
    if !text.is_empty() {
        for item in text.split(settings.array_delimiter.as_str()) {
            read_value(elements, element, item, nested, settings)?;
        }
    }
    column.end_array().map_err(|e| e.message())
}

fn write_value(
    out: &mut String,
    column: &ColumnRef<'_>,
    row: usize,
    ty: &LogicalType,
    nested: &[NestedType],
    settings: &Settings,
) -> Result<(), String> {
    if let Some(fields) = row_fields(nested, ty) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push_str(&settings.array_delimiter);
            }
            let start = out.len();
            let field = column.field(i).map_err(|e| e.message())?;
            match field.value(row).map_err(|e| e.message())? {
                ValueRef::Null => out.push_str(settings.null_literal.as_deref().unwrap_or("")),
                value => text::write_text(out, &f.data_type, value, &settings.style)?,
            }
            if out[start..].contains(settings.array_delimiter.as_str()) {
                return Err(format!(
                    "ROW field '{}' contains the array-element-delimiter '{}'; choose another delimiter",
                    f.name, settings.array_delimiter
                ));
            }
        }
        return Ok(());
    }
    let Some(element) = element_type(nested, ty) else {
        let value = column.value(row).map_err(|e| e.message())?;
        // Flink writes DECIMAL stripped of trailing zeros (1.50 → 1.5,
        // 100.00 → 1E+2, or 100 without scientific notation).
        if let (LogicalType::Decimal(d), ValueRef::Decimal(unscaled)) = (ty, value) {
            text::write_decimal_stripped(out, unscaled, d.scale, settings.style.decimal_scientific);
            return Ok(());
        }
        return text::write_text(out, ty, value, &settings.style);
    };
    let elements = column.elements().map_err(|e| e.message())?;
    for (n, i) in column.range(row).map_err(|e| e.message())?.enumerate() {
        if n > 0 {
            out.push_str(&settings.array_delimiter);
        }
        let start = out.len();
        match elements.value(i).map_err(|e| e.message())? {
            ValueRef::Null => out.push_str(settings.null_literal.as_deref().unwrap_or("")),
            value => text::write_text(out, element, value, &settings.style)?,
        }
        // Refuse what could not be read back as written.
        let written = &out[start..];
        if written.contains(settings.array_delimiter.as_str()) {
            return Err(format!(
                "array element {n} contains the array-element-delimiter '{}'; choose another delimiter",
                settings.array_delimiter
            ));
        }
    }
    Ok(())
}

/// Appends one field, quoted when it must be (it contains the delimiter,
/// the quote or escape character, a line break, or surrounding spaces).
fn write_field(out: &mut Vec<u8>, value: &str, null: bool, textual: bool, settings: &Settings) -> Result<(), String> {
    let special = |b: u8| {
        b == settings.delimiter
            || Some(b) == settings.quote
            || Some(b) == settings.escape
            || b == b'\n'
            || b == b'\r'
            || (settings.allow_comments && b == b'#')
    };
    // Jackson's check, as Flink writes text: quoted when any character is
    // below the "safe" one after the delimiter, the quote and '#' — so a
    // space, '#', '!'…',' all quote (numbers and booleans never do).
    let min_safe = settings.delimiter.max(settings.quote.unwrap_or(0)).max(b'#') + 1;
    let jackson = textual && settings.escape.is_none() && value.bytes().any(|b| b < min_safe);
    let needs_quotes = value.bytes().any(special)
        || jackson
        || value.starts_with(' ')
        || value.ends_with(' ')
        // An empty string is quoted so a reader with a null literal of ""
        // can tell it from a null.
        || (value.is_empty() && !null && settings.null_literal.as_deref() == Some(""));
    match settings.quote {
        Some(q) if needs_quotes => {
            out.push(q);
            for &b in value.as_bytes() {
                if b == q || Some(b) == settings.escape {
                    out.push(settings.escape.unwrap_or(q));
                }
                out.push(b);
            }
            out.push(q);
        }
        _ if settings.escape.is_none() && value.bytes().any(special) => {
            return Err(
                "the value contains the delimiter or a line break, and quoting and escaping are disabled".to_owned()
            );
        }
        _ => {
            for &b in value.as_bytes() {
                if let Some(e) = settings.escape
                    && special(b)
                {
                    out.push(e);
                }
                out.push(b);
            }
        }
    }
    Ok(())
}

export_format!(Csv);

#[cfg(test)]
mod tests {
    use super::split_plain;

    /// The SIMD split agrees with a plain one on records of every length,
    /// with delimiters and stops at every offset around its 16-byte steps.
    #[test]
    fn split_plain_agrees_with_a_byte_loop() {
        let alphabet = [b'a', b',', b'"', b'\\', b'\n', b'\r', 0xC3, 0xA9, b';', b'x'];
        let mut h = 3u64;
        for len in 0..70 {
            for _ in 0..300 {
                let mut frame = Vec::with_capacity(len);
                for _ in 0..len {
                    h = h.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    // Mostly plain bytes, so that many records have no stop at all.
                    let pick = (h >> 59) as usize;
                    frame.push(if pick < 20 { b'a' } else { alphabet[pick % alphabet.len()] });
                }
                for (delimiter, quote, escape) in [(b',', b'"', b','), (b',', b'"', b'\\'), (b';', b';', b';')] {
                    let mut ranges = Vec::new();
                    let plain = split_plain(&frame, [delimiter, quote, escape], &mut ranges);
                    let stop = frame
                        .iter()
                        .any(|&b| b != delimiter && (b == quote || b == escape || b == b'\n' || b == b'\r'));
                    assert_eq!(plain, !stop, "{frame:?}");
                    if plain {
                        let mut want = Vec::new();
                        let mut start = 0;
                        for (i, &b) in frame.iter().enumerate() {
                            if b == delimiter {
                                want.push((start, i));
                                start = i + 1;
                            }
                        }
                        want.push((start, frame.len()));
                        assert_eq!(ranges, want, "{frame:?}");
                    }
                }
            }
        }
    }
}
