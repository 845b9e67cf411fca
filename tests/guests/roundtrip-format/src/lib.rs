//! A test format that exercises the SDK's batch reader and builder on every
//! scalar type: the encoder writes each row as one frame of tagged
//! little-endian values, the decoder reads them back. Host → guest → host
//! must be bit-exact.
//!
//! Frame layout: row-kind byte, then per column a tag (0 = null, 1 = value)
//! followed by the value: fixed-width types little-endian, strings and bytes
//! as a u32 length and the bytes.

use weir_sdk::{
    Batch, BatchBuilder, BatchReader, ColumnBuilder, ComponentSpec, Error, Format, LogicalType, OptionSpec, Options,
    OptionsExt, Result, RowKind, Schema, ValueRef, VarData, VarDataBuilder, export_format,
};

struct Roundtrip {
    schema: Schema,
}

impl Format for Roundtrip {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("roundtrip", "Test guest: tagged binary rows")
            .option(OptionSpec::string("marker", "Required test option, must be non-empty").required())
            .option(OptionSpec::boolean("strict", "Optional test option").default_value("true"))
            .changelog(&[RowKind::Insert, RowKind::UpdateBefore, RowKind::UpdateAfter, RowKind::Delete])
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        if options.string("marker")?.is_empty() {
            return Err(Error::config(Some("marker"), "must not be empty"));
        }
        if schema.fields.is_empty() {
            return Err(Error::config(None, "the schema needs at least one column"));
        }
        Ok(())
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        Self::validate(options, schema)?;
        Ok(Roundtrip { schema: schema.clone() })
    }

    fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        let reader = BatchReader::new(rows);
        let mut out = VarDataBuilder::new();
        for row in 0..reader.rows() {
            let buf = out.buffer();
            buf.push(reader.row_kind(row) as u8);
            for col in 0..reader.width() {
                write_value(buf, reader.value(col, row)?)?;
            }
            out.end_value()?;
        }
        Ok(out.finish())
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        let mut out = BatchBuilder::new(&self.schema);
        for (position, frame) in frames.iter().enumerate() {
            let mut input = Input { bytes: frame, at: 0, position: position as u64 };
            let kind = match input.take(1)?[0] {
                0 => RowKind::Insert,
                1 => RowKind::UpdateBefore,
                2 => RowKind::UpdateAfter,
                3 => RowKind::Delete,
                k => return Err(input.error(&format!("unknown row kind {k}"))),
            };
            for (i, field) in self.schema.fields.iter().enumerate() {
                read_value(&mut input, &field.data_type, out.column(i))?;
            }
            if input.at != frame.len() {
                return Err(input.error("trailing bytes after the last column"));
            }
            out.end_row(kind)?;
        }
        out.finish()
    }
}

fn write_value(buf: &mut Vec<u8>, value: ValueRef<'_>) -> Result<()> {
    if value == ValueRef::Null {
        buf.push(0);
        return Ok(());
    }
    buf.push(1);
    match value {
        ValueRef::Null => {}
        ValueRef::Bool(v) => buf.push(v as u8),
        ValueRef::I8(v) => buf.extend(v.to_le_bytes()),
        ValueRef::I16(v) => buf.extend(v.to_le_bytes()),
        ValueRef::I32(v) => buf.extend(v.to_le_bytes()),
        ValueRef::I64(v) => buf.extend(v.to_le_bytes()),
        ValueRef::F32(v) => buf.extend(v.to_le_bytes()),
        ValueRef::F64(v) => buf.extend(v.to_le_bytes()),
        ValueRef::Decimal(v) => buf.extend(v.to_le_bytes()),
        ValueRef::Str(s) => {
            buf.extend((s.len() as u32).to_le_bytes());
            buf.extend(s.as_bytes());
        }
        ValueRef::Bytes(b) => {
            buf.extend((b.len() as u32).to_le_bytes());
            buf.extend(b);
        }
        ValueRef::Nested => return Err(Error::unsupported("nested columns in the roundtrip format")),
    }
    Ok(())
}

struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
    position: u64,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.error("frame ends in the middle of a value"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn error(&self, message: &str) -> Error {
        Error::data(self.position, self.bytes, message)
    }
}

fn read_value(input: &mut Input<'_>, ty: &LogicalType, out: &mut ColumnBuilder) -> Result<()> {
    use LogicalType as T;
    if input.take(1)?[0] == 0 {
        return out.push_null();
    }
    match ty {
        T::Boolean => out.push_bool(input.take(1)?[0] != 0),
        T::Tinyint => out.push_i8(i8::from_le_bytes(input.array()?)),
        T::Smallint => out.push_i16(i16::from_le_bytes(input.array()?)),
        T::Int | T::Date => out.push_i32(i32::from_le_bytes(input.array()?)),
        T::Time(p) if *p <= 3 => out.push_i32(i32::from_le_bytes(input.array()?)),
        T::Bigint | T::Time(_) | T::Timestamp(_) | T::TimestampLtz(_) => {
            out.push_i64(i64::from_le_bytes(input.array()?))
        }
        T::Float => out.push_f32(f32::from_le_bytes(input.array()?)),
        T::Double => out.push_f64(f64::from_le_bytes(input.array()?)),
        T::Decimal(_) => out.push_decimal(i128::from_le_bytes(input.array()?)),
        T::Char(_) | T::Varchar(_) | T::String => {
            let len = u32::from_le_bytes(input.array()?) as usize;
            let bytes = input.take(len)?;
            let s = std::str::from_utf8(bytes).map_err(|_| input.error("invalid UTF-8"))?;
            out.push_str(s)
        }
        T::Binary(_) | T::Varbinary(_) | T::Bytes => {
            let len = u32::from_le_bytes(input.array()?) as usize;
            out.push_bytes(input.take(len)?)
        }
        T::Array(_) | T::Map(_) | T::Row(_) => Err(Error::unsupported("nested columns in the roundtrip format")),
    }
}

export_format!(Roundtrip);
