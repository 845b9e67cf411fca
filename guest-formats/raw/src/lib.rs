//! Flink's `raw` format: the record's bytes are the value of the table's
//! single column, as Flink's `RawFormatFactory` defines it.
//!
//! * STRING / VARCHAR / CHAR: the bytes decoded with `raw.charset`.
//! * BYTES / VARBINARY / BINARY: the bytes as they are.
//! * BOOLEAN (1 byte), TINYINT (1), SMALLINT (2), INT (4), BIGINT (8),
//!   FLOAT (4), DOUBLE (8): fixed-size numbers in `raw.endianness`.
//!
//! Charsets: UTF-8, US-ASCII, ISO-8859-1, UTF-16 (byte-order mark),
//! UTF-16BE, UTF-16LE; bytes that are not valid in the charset, or text it
//! cannot represent, are data errors.
//!
//! A frame of the wrong size for a number is a data error. Flink writes a
//! null value as a null message; frames cannot be null, so a null is
//! written as an empty frame: an empty frame decodes to null for a number,
//! and to the empty string or bytes for text and binary columns.

use weir_sdk::{
    Batch, BatchBuilder, BatchReader, ComponentSpec, Error, Format, LogicalType, OptionSpec, Options, OptionsExt,
    Result, RowKind, Schema, ValueRef, VarData, VarDataBuilder, export_format,
};

const CHARSETS: &[&str] = &["UTF-8", "US-ASCII", "ISO-8859-1", "UTF-16", "UTF-16BE", "UTF-16LE"];

#[derive(Clone, Copy)]
enum Charset {
    Utf8,
    Ascii,
    Latin1,
    /// UTF-16 with a byte-order mark on decode (big-endian without one);
    /// encodes big-endian with a mark, as Java's `UTF-16` does.
    Utf16,
    Utf16Be,
    Utf16Le,
}

#[derive(Clone, Copy)]
enum Kind {
    Text(Charset),
    Bytes,
    Number { size: usize, big_endian: bool },
}

struct Raw {
    schema: Schema,
    kind: Kind,
}

impl Format for Raw {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("raw", "The record's bytes as a single column (Flink's raw format)")
            .option(
                OptionSpec::string(
                    "charset",
                    "Charset of STRING values: UTF-8, US-ASCII, ISO-8859-1, UTF-16, UTF-16BE or UTF-16LE",
                )
                .default_value("UTF-8"),
            )
            .option(
                OptionSpec::one_of("endianness", &["big-endian", "little-endian"], "Byte order of numeric values")
                    .default_value("big-endian"),
            )
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        kind(options, schema).map(drop)
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        Ok(Raw { schema: schema.clone(), kind: kind(options, schema)? })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        let mut out = BatchBuilder::with_capacity(&self.schema, frames.len());
        for (i, frame) in frames.iter().enumerate() {
            let column = out.column(0);
            match self.kind {
                Kind::Text(charset) => {
                    let text = decode_text(charset, frame)
                        .ok_or_else(|| Error::data(i as u64, frame, format!("not valid {}", charset_name(charset))))?;
                    column.push_str(&text)?;
                }
                Kind::Bytes => column.push_bytes(frame)?,
                Kind::Number { .. } if frame.is_empty() => column.push_null()?,
                Kind::Number { size, big_endian } => {
                    if frame.len() != size {
                        let message =
                            format!("expected {size} bytes for type {}, got {}", type_name(&self.schema), frame.len());
                        return Err(Error::data(i as u64, frame, message));
                    }
                    let mut be = [0u8; 8];
                    be[8 - size..].copy_from_slice(frame);
                    if !big_endian {
                        be[8 - size..].reverse();
                    }
                    push_number(column, &self.schema.fields[0].data_type, be, size)?;
                }
            }
            out.end_row(RowKind::Insert)?;
        }
        out.finish()
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        let reader = BatchReader::new(rows);
        let mut out = VarDataBuilder::new();
        for row in 0..reader.rows() {
            let buf = out.buffer();
            let big_endian = matches!(self.kind, Kind::Number { big_endian: true, .. });
            let number = |bytes: &[u8], buf: &mut Vec<u8>| {
                if big_endian {
                    buf.extend(bytes.iter().rev());
                } else {
                    buf.extend(bytes);
                }
            };
            match reader.value(0, row)? {
                ValueRef::Null => {}
                ValueRef::Str(s) => match self.kind {
                    Kind::Text(charset) => encode_text(charset, s, buf).ok_or_else(|| {
                        Error::data(row as u64, s.as_bytes(), format!("not representable in {}", charset_name(charset)))
                    })?,
                    _ => buf.extend(s.as_bytes()),
                },
                ValueRef::Bytes(b) => buf.extend(b),
                ValueRef::Bool(v) => buf.push(v as u8),
                ValueRef::I8(v) => buf.push(v as u8),
                ValueRef::I16(v) => number(&v.to_le_bytes(), buf),
                ValueRef::I32(v) => number(&v.to_le_bytes(), buf),
                ValueRef::I64(v) => number(&v.to_le_bytes(), buf),
                ValueRef::F32(v) => number(&v.to_le_bytes(), buf),
                ValueRef::F64(v) => number(&v.to_le_bytes(), buf),
                ValueRef::Decimal(_) | ValueRef::Nested => {
                    return Err(Error::unsupported("raw encodes only the types it decodes"));
                }
            }
            out.end_value()?;
        }
        Ok(out.finish())
    }
}

fn kind(options: &Options, schema: &Schema) -> Result<Kind> {
    use LogicalType as T;
    let [field] = schema.fields.as_slice() else {
        return Err(Error::config(
            None,
            format!("the raw format needs exactly one column, the table has {}", schema.fields.len()),
        ));
    };
    let charset = match options.string("charset")?.to_ascii_uppercase().as_str() {
        "UTF-8" | "UTF8" => Charset::Utf8,
        "US-ASCII" | "ASCII" => Charset::Ascii,
        "ISO-8859-1" | "LATIN1" => Charset::Latin1,
        "UTF-16" | "UTF16" => Charset::Utf16,
        "UTF-16BE" => Charset::Utf16Be,
        "UTF-16LE" => Charset::Utf16Le,
        other => {
            return Err(Error::config(
                Some("charset"),
                format!("unsupported charset '{other}'; supported: {}", CHARSETS.join(", ")),
            ));
        }
    };
    let big_endian = options.string("endianness")?.eq_ignore_ascii_case("big-endian");
    let number = |size| Kind::Number { size, big_endian };
    Ok(match &field.data_type {
        T::Char(_) | T::Varchar(_) | T::String => Kind::Text(charset),
        T::Binary(_) | T::Varbinary(_) | T::Bytes => Kind::Bytes,
        T::Boolean | T::Tinyint => number(1),
        T::Smallint => number(2),
        T::Int | T::Float => number(4),
        T::Bigint | T::Double => number(8),
        other => {
            return Err(Error::config(
                None,
                format!(
                    "the raw format does not support column '{}' of type {other:?}; use a string, \
                     binary or numeric (BOOLEAN … DOUBLE) column",
                    field.name
                ),
            ));
        }
    })
}

fn type_name(schema: &Schema) -> String {
    weir_sdk::text::type_name(&schema.fields[0].data_type)
}

fn push_number(column: &mut weir_sdk::ColumnBuilder, ty: &LogicalType, be: [u8; 8], size: usize) -> Result<()> {
    let word = u64::from_be_bytes(be);
    match ty {
        LogicalType::Boolean => column.push_bool(word != 0),
        LogicalType::Tinyint => column.push_i8(word as u8 as i8),
        LogicalType::Smallint => column.push_i16(word as u16 as i16),
        LogicalType::Int => column.push_i32(word as u32 as i32),
        LogicalType::Bigint => column.push_i64(word as i64),
        LogicalType::Float => column.push_f32(f32::from_bits(word as u32)),
        LogicalType::Double => column.push_f64(f64::from_bits(word)),
        _ => Err(Error::unsupported(format!("{size}-byte numbers of this type"))),
    }
}

fn charset_name(c: Charset) -> &'static str {
    match c {
        Charset::Utf8 => "UTF-8",
        Charset::Ascii => "US-ASCII",
        Charset::Latin1 => "ISO-8859-1",
        Charset::Utf16 => "UTF-16",
        Charset::Utf16Be => "UTF-16BE",
        Charset::Utf16Le => "UTF-16LE",
    }
}

fn decode_text(charset: Charset, bytes: &[u8]) -> Option<String> {
    match charset {
        Charset::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Charset::Ascii => bytes.is_ascii().then(|| String::from_utf8_lossy(bytes).into_owned()),
        Charset::Latin1 => Some(bytes.iter().map(|&b| b as char).collect()),
        Charset::Utf16 => match bytes {
            [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
            [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
            _ => utf16(bytes, u16::from_be_bytes),
        },
        Charset::Utf16Be => utf16(bytes, u16::from_be_bytes),
        Charset::Utf16Le => utf16(bytes, u16::from_le_bytes),
    }
}

/// UTF-16 code units to a string; `None` on an odd length or an unpaired
/// surrogate.
fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units).collect::<Result<String, _>>().ok()
}

fn encode_text(charset: Charset, s: &str, out: &mut Vec<u8>) -> Option<()> {
    match charset {
        Charset::Utf8 => out.extend(s.as_bytes()),
        Charset::Ascii if s.is_ascii() => out.extend(s.as_bytes()),
        Charset::Ascii => return None,
        Charset::Latin1 => {
            for c in s.chars() {
                out.push(u8::try_from(u32::from(c)).ok()?);
            }
        }
        Charset::Utf16 => {
            out.extend([0xFE, 0xFF]);
            s.encode_utf16().for_each(|u| out.extend(u.to_be_bytes()));
        }
        Charset::Utf16Be => s.encode_utf16().for_each(|u| out.extend(u.to_be_bytes())),
        Charset::Utf16Le => s.encode_utf16().for_each(|u| out.extend(u.to_le_bytes())),
    }
    Some(())
}

export_format!(Raw);
