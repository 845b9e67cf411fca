//! Building and reading batches without touching offsets or bitmaps.
//!
//! A [`Batch`] is columnar in Arrow's physical layout (see the WIT docs of
//! `column-data` for which layout each logical type uses). Authors append
//! values with [`BatchBuilder`] and read them with [`BatchReader`].

use crate::bindings::weir::connector::types::{
    Batch, Column, ColumnData, ListData, LogicalType, NestedType, RowKind, Schema, VarData,
};
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------
// Variable-length data (frames, strings)
// ---------------------------------------------------------------------------

impl VarData {
    /// An empty list of values.
    pub fn empty() -> Self {
        VarData { offsets: vec![0], data: Vec::new() }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i`, or `None` if out of range or the offsets are malformed.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let start = usize::try_from(*self.offsets.get(i)?).ok()?;
        let end = usize::try_from(*self.offsets.get(i + 1)?).ok()?;
        self.data.get(start..end)
    }

    /// Iterates over the values (stops at the first malformed offset).
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map_while(|i| self.get(i))
    }
}

/// Appends variable-length values (frames, records) to one buffer.
#[derive(Debug, Clone)]
pub struct VarDataBuilder {
    offsets: Vec<i32>,
    data: Vec<u8>,
}

impl Default for VarDataBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl VarDataBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        VarDataBuilder { offsets: vec![0], data: Vec::new() }
    }

    /// Appends one value.
    pub fn push(&mut self, value: &[u8]) -> Result<()> {
        self.data.extend_from_slice(value);
        self.end_value()
    }

    /// The buffer to write the current value into, piece by piece; close it
    /// with [`end_value`](Self::end_value).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Ends the value written through [`buffer`](Self::buffer).
    pub fn end_value(&mut self) -> Result<()> {
        let end = i32::try_from(self.data.len())
            .map_err(|_| Error::unsupported("a batch's data buffer is limited to 2 GiB"))?;
        self.offsets.push(end);
        Ok(())
    }

    /// Drops the bytes written since the last completed value.
    pub fn discard_partial(&mut self) {
        let end = self.offsets.last().copied().unwrap_or(0) as usize;
        self.data.truncate(end);
    }

    /// Number of completed values.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether no value was completed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn truncate(&mut self, len: usize) {
        self.offsets.truncate(len + 1);
        self.discard_partial();
    }

    /// The finished values.
    pub fn finish(self) -> VarData {
        VarData { offsets: self.offsets, data: self.data }
    }
}

// ---------------------------------------------------------------------------
// Bitmaps
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Bits {
    bytes: Vec<u8>,
    len: usize,
}

impl Bits {
    /// `len` set bits.
    fn set_ones(&mut self, len: usize) {
        self.bytes.clear();
        self.bytes.resize(len / 8, 0xFF);
        if !len.is_multiple_of(8) {
            self.bytes.push((1u8 << (len % 8)) - 1);
        }
        self.len = len;
    }

    fn push(&mut self, bit: bool) {
        if self.len.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.len % 8);
        }
        self.len += 1;
    }

    fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.len = len;
        self.bytes.truncate(len.div_ceil(8));
        if !len.is_multiple_of(8) {
            let last = self.bytes.len() - 1;
            self.bytes[last] &= (1u8 << (len % 8)) - 1;
        }
    }
}

fn bit(bytes: &[u8], i: usize) -> bool {
    bool_at(bytes, i).unwrap_or(false)
}

// ---------------------------------------------------------------------------
// Column builders
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Values {
    Boolean(Bits),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    Decimal(Vec<u64>),
    Utf8(VarDataBuilder),
    Binary(VarDataBuilder),
    /// ARRAY: offsets into the element column.
    List {
        offsets: Vec<i32>,
        element: Box<ColumnBuilder>,
    },
    /// MAP: offsets into the key and value columns.
    Map {
        offsets: Vec<i32>,
        keys: Box<ColumnBuilder>,
        values: Box<ColumnBuilder>,
    },
    /// ROW: one column per field.
    Struct(Vec<ColumnBuilder>),
    /// A type reference that is not in the schema's nested table.
    Invalid(String),
}

/// Appends the values of one column. Each `push_*` fails with a clear error
/// if the column's type does not take that kind of value.
#[derive(Debug, Clone)]
pub struct ColumnBuilder {
    name: String,
    nullable: bool,
    /// Values appended, nulls included.
    len: usize,
    /// Written only once the column has a null (empty while `nulls` is 0):
    /// a column without nulls pays nothing per value for it.
    validity: Bits,
    nulls: usize,
    values: Values,
}

macro_rules! push_fixed {
    ($(#[$doc:meta] $fn:ident, $variant:ident, $ty:ty;)*) => {$(
        #[$doc]
        #[inline]
        pub fn $fn(&mut self, v: $ty) -> Result<()> {
            match &mut self.values {
                Values::$variant(values) => values.push(v),
                _ => return Err(self.mismatch(stringify!($ty))),
            }
            self.push_valid();
            Ok(())
        }
    )*};
}

impl ColumnBuilder {
    /// A builder for a column of `ty` named `name`; `nested` is the schema's
    /// table of element and field types (see [`Schema::nested`]).
    pub fn new(name: &str, ty: &LogicalType, nullable: bool, nested: &[NestedType]) -> Self {
        use LogicalType as T;
        let element = |r: u32, nullable: bool, what: &str| match nested.get(r as usize) {
            Some(NestedType::Type(t)) => {
                Ok(Box::new(ColumnBuilder::new(&format!("{name}.{what}"), t, nullable, nested)))
            }
            _ => Err(format!("column '{name}': type reference {r} is not a type in the schema's nested table")),
        };
        let values = match ty {
            T::Boolean => Values::Boolean(Bits::default()),
            T::Tinyint => Values::Int8(Vec::new()),
            T::Smallint => Values::Int16(Vec::new()),
            T::Int | T::Date => Values::Int32(Vec::new()),
            T::Time(p) if *p <= 3 => Values::Int32(Vec::new()),
            T::Bigint | T::Time(_) | T::Timestamp(_) | T::TimestampLtz(_) => Values::Int64(Vec::new()),
            T::Float => Values::Float32(Vec::new()),
            T::Double => Values::Float64(Vec::new()),
            T::Decimal(_) => Values::Decimal(Vec::new()),
            T::Char(_) | T::Varchar(_) | T::String => Values::Utf8(VarDataBuilder::new()),
            T::Binary(_) | T::Varbinary(_) | T::Bytes => Values::Binary(VarDataBuilder::new()),
            T::Array(e) => match element(e.element, e.nullable, "element") {
                Ok(element) => Values::List { offsets: vec![0], element },
                Err(e) => Values::Invalid(e),
            },
            T::Map(m) => match (element(m.key, false, "key"), element(m.value.element, m.value.nullable, "value")) {
                (Ok(keys), Ok(values)) => Values::Map { offsets: vec![0], keys, values },
                (Err(e), _) | (_, Err(e)) => Values::Invalid(e),
            },
            T::Row(r) => match nested.get(*r as usize) {
                Some(NestedType::RowFields(fields)) => Values::Struct(
                    fields
                        .iter()
                        .map(|f| ColumnBuilder::new(&format!("{name}.{}", f.name), &f.data_type, f.nullable, nested))
                        .collect(),
                ),
                _ => Values::Invalid(format!("column '{name}': row reference {r} is not a ROW in the nested table")),
            },
        };
        ColumnBuilder { name: name.to_owned(), nullable, len: 0, validity: Bits::default(), nulls: 0, values }
    }

    /// Makes room for `rows` more top-level values (no effect on nested
    /// children, whose sizes are unknown).
    pub fn reserve(&mut self, rows: usize) {
        self.validity.bytes.reserve(rows.div_ceil(8));
        match &mut self.values {
            Values::Boolean(bits) => bits.bytes.reserve(rows.div_ceil(8)),
            Values::Int8(v) => v.reserve(rows),
            Values::Int16(v) => v.reserve(rows),
            Values::Int32(v) => v.reserve(rows),
            Values::Int64(v) => v.reserve(rows),
            Values::Float32(v) => v.reserve(rows),
            Values::Float64(v) => v.reserve(rows),
            Values::Decimal(v) => v.reserve(2 * rows),
            Values::Utf8(v) | Values::Binary(v) => v.offsets.reserve(rows),
            Values::List { offsets, .. } | Values::Map { offsets, .. } => offsets.reserve(rows),
            Values::Struct(fields) => fields.iter_mut().for_each(|f| f.reserve(rows)),
            Values::Invalid(_) => {}
        }
    }

    fn mismatch(&self, what: &str) -> Error {
        let kind = match &self.values {
            Values::Boolean(_) => "BOOLEAN",
            Values::Int8(_) => "TINYINT",
            Values::Int16(_) => "SMALLINT",
            Values::Int32(_) => "INT/DATE/TIME(0-3)",
            Values::Int64(_) => "BIGINT/TIME(4-9)/TIMESTAMP",
            Values::Float32(_) => "FLOAT",
            Values::Float64(_) => "DOUBLE",
            Values::Decimal(_) => "DECIMAL",
            Values::Utf8(_) => "STRING",
            Values::Binary(_) => "BYTES",
            Values::List { .. } => "ARRAY",
            Values::Map { .. } => "MAP",
            Values::Struct(_) => "ROW",
            Values::Invalid(_) => "INVALID",
        };
        Error::unsupported(format!("column '{}' is {kind}; cannot append a {what}", self.name))
    }

    /// Number of values appended.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Counts a value appended (see `validity`).
    #[inline(always)]
    fn push_valid(&mut self) {
        if self.nulls > 0 {
            self.validity.push(true);
        }
        self.len += 1;
    }

    /// Whether no value was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a null; fails on a `NOT NULL` column.
    pub fn push_null(&mut self) -> Result<()> {
        if !self.nullable {
            // Callers name the column (or element) in their own message.
            return Err(Error::data(self.len() as u64, b"", "NOT NULL, but the value is null"));
        }
        self.push_placeholder()
    }

    /// A null slot, also in a NOT NULL column: the fields under a null ROW.
    fn push_placeholder(&mut self) -> Result<()> {
        match &mut self.values {
            Values::Boolean(b) => b.push(false),
            Values::Int8(v) => v.push(0),
            Values::Int16(v) => v.push(0),
            Values::Int32(v) => v.push(0),
            Values::Int64(v) => v.push(0),
            Values::Float32(v) => v.push(0.0),
            Values::Float64(v) => v.push(0.0),
            Values::Decimal(v) => v.extend([0, 0]),
            Values::Utf8(v) | Values::Binary(v) => v.end_value()?,
            Values::List { offsets, .. } | Values::Map { offsets, .. } => offsets.push(*offsets.last().unwrap_or(&0)),
            Values::Struct(fields) => {
                for f in fields {
                    f.push_placeholder()?;
                }
            }
            Values::Invalid(e) => return Err(Error::unsupported(e.clone())),
        }
        if self.nulls == 0 {
            // The first null: every value before it was valid.
            self.validity.set_ones(self.len);
        }
        self.validity.push(false);
        self.nulls += 1;
        self.len += 1;
        Ok(())
    }

    /// Appends a BOOLEAN.
    #[inline]
    pub fn push_bool(&mut self, v: bool) -> Result<()> {
        match &mut self.values {
            Values::Boolean(b) => b.push(v),
            _ => return Err(self.mismatch("bool")),
        }
        self.push_valid();
        Ok(())
    }

    push_fixed! {
        /// Appends a TINYINT.
        push_i8, Int8, i8;
        /// Appends a SMALLINT.
        push_i16, Int16, i16;
        /// Appends an INT, DATE (days since 1970-01-01) or TIME(0..=3).
        push_i32, Int32, i32;
        /// Appends a BIGINT, TIME(4..=9), TIMESTAMP or TIMESTAMP_LTZ.
        push_i64, Int64, i64;
        /// Appends a FLOAT.
        push_f32, Float32, f32;
        /// Appends a DOUBLE.
        push_f64, Float64, f64;
    }

    /// Appends a DECIMAL given as its unscaled value.
    pub fn push_decimal(&mut self, unscaled: i128) -> Result<()> {
        match &mut self.values {
            Values::Decimal(v) => v.extend([unscaled as u64, (unscaled >> 64) as u64]),
            _ => return Err(self.mismatch("decimal")),
        }
        self.push_valid();
        Ok(())
    }

    /// Appends a CHAR / VARCHAR / STRING.
    #[inline]
    pub fn push_str(&mut self, v: &str) -> Result<()> {
        match &mut self.values {
            Values::Utf8(b) => b.push(v.as_bytes())?,
            _ => return Err(self.mismatch("string")),
        }
        self.push_valid();
        Ok(())
    }

    /// Appends a BINARY / VARBINARY / BYTES.
    pub fn push_bytes(&mut self, v: &[u8]) -> Result<()> {
        match &mut self.values {
            Values::Binary(b) => b.push(v)?,
            _ => return Err(self.mismatch("bytes")),
        }
        self.push_valid();
        Ok(())
    }

    /// The element column of an ARRAY: append the elements of the current
    /// value to it, then call [`end_array`](Self::end_array).
    pub fn array_elements(&mut self) -> Result<&mut ColumnBuilder> {
        if !matches!(self.values, Values::List { .. }) {
            return Err(self.mismatch("array"));
        }
        match &mut self.values {
            Values::List { element, .. } => Ok(element),
            _ => unreachable!("checked above"),
        }
    }

    /// Completes an ARRAY value from the elements appended since the last.
    pub fn end_array(&mut self) -> Result<()> {
        match &mut self.values {
            Values::List { offsets, element } => offsets.push(child_offset(element.len())?),
            _ => return Err(self.mismatch("array")),
        }
        self.push_valid();
        Ok(())
    }

    /// The key and value columns of a MAP: append one key and one value per
    /// entry, then call [`end_map`](Self::end_map).
    pub fn map_entries(&mut self) -> Result<(&mut ColumnBuilder, &mut ColumnBuilder)> {
        if !matches!(self.values, Values::Map { .. }) {
            return Err(self.mismatch("map"));
        }
        match &mut self.values {
            Values::Map { keys, values, .. } => Ok((keys, values)),
            _ => unreachable!("checked above"),
        }
    }

    /// Completes a MAP value from the entries appended since the last.
    pub fn end_map(&mut self) -> Result<()> {
        match &mut self.values {
            Values::Map { offsets, keys, values } => {
                if keys.len() != values.len() {
                    let message = format!("map '{}' got {} keys and {} values", self.name, keys.len(), values.len());
                    return Err(Error::data(self.len as u64, b"", message));
                }
                offsets.push(child_offset(keys.len())?);
            }
            _ => return Err(self.mismatch("map")),
        }
        self.push_valid();
        Ok(())
    }

    /// Field `i` of a ROW column: append one value to every field, then
    /// call [`end_row_value`](Self::end_row_value).
    pub fn field(&mut self, i: usize) -> Result<&mut ColumnBuilder> {
        if !matches!(&self.values, Values::Struct(fields) if i < fields.len()) {
            return Err(self.mismatch("row field"));
        }
        match &mut self.values {
            Values::Struct(fields) => Ok(&mut fields[i]),
            _ => unreachable!("checked above"),
        }
    }

    /// Completes a ROW value. Fails if a field did not get exactly one value.
    pub fn end_row_value(&mut self) -> Result<()> {
        let want = self.len() + 1;
        match &self.values {
            Values::Struct(fields) => {
                if let Some(f) = fields.iter().find(|f| f.len() != want) {
                    let message = format!("field '{}' got {} values for this row", f.name, f.len() + 1 - want);
                    return Err(Error::data(self.len() as u64, b"", message));
                }
            }
            _ => return Err(self.mismatch("row")),
        }
        self.push_valid();
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        if self.nulls > 0 {
            let dropped_nulls = (len..self.len).filter(|&i| !bit(&self.validity.bytes, i)).count();
            self.nulls -= dropped_nulls;
            self.validity.truncate(len);
            if self.nulls == 0 {
                self.validity.set_ones(0);
            }
        }
        self.len = len;
        match &mut self.values {
            Values::Boolean(b) => b.truncate(len),
            Values::Int8(v) => v.truncate(len),
            Values::Int16(v) => v.truncate(len),
            Values::Int32(v) => v.truncate(len),
            Values::Int64(v) => v.truncate(len),
            Values::Float32(v) => v.truncate(len),
            Values::Float64(v) => v.truncate(len),
            Values::Decimal(v) => v.truncate(len * 2),
            Values::Utf8(v) | Values::Binary(v) => v.truncate(len),
            Values::List { offsets, element } => {
                offsets.truncate(len + 1);
                element.truncate(offsets[len] as usize);
            }
            Values::Map { offsets, keys, values } => {
                offsets.truncate(len + 1);
                keys.truncate(offsets[len] as usize);
                values.truncate(offsets[len] as usize);
            }
            Values::Struct(fields) => fields.iter_mut().for_each(|f| f.truncate(len)),
            Values::Invalid(_) => {}
        }
    }

    /// Drops values appended to this column (and its children) beyond `len`
    /// — after a nested value turned out to be malformed half way.
    fn discard_after(&mut self, len: usize) {
        self.truncate(len);
        match &mut self.values {
            Values::List { offsets, element } => element.truncate(offsets[len.min(offsets.len() - 1)] as usize),
            Values::Map { offsets, keys, values } => {
                let end = offsets[len.min(offsets.len() - 1)] as usize;
                keys.truncate(end);
                values.truncate(end);
            }
            Values::Struct(fields) => fields.iter_mut().for_each(|f| f.discard_after(len)),
            _ => {}
        }
    }

    /// Finishes the column; its nested children go to `children` in
    /// pre-order, so a child's index is always greater than its parent's.
    fn finish(self, children: &mut Vec<Column>) -> Result<Column> {
        let data = match self.values {
            Values::Boolean(b) => ColumnData::Boolean(b.bytes),
            Values::Int8(v) => ColumnData::Int8(v),
            Values::Int16(v) => ColumnData::Int16(v),
            Values::Int32(v) => ColumnData::Int32(v),
            Values::Int64(v) => ColumnData::Int64(v),
            Values::Float32(v) => ColumnData::Float32(v),
            Values::Float64(v) => ColumnData::Float64(v),
            Values::Decimal(v) => ColumnData::Decimal128(v),
            Values::Utf8(v) => ColumnData::Utf8(v.finish()),
            Values::Binary(v) => ColumnData::Binary(v.finish()),
            Values::List { offsets, element } => {
                let child = reserve(children, 1);
                children[child as usize] = element.finish(children)?;
                ColumnData::List(ListData { offsets, child })
            }
            Values::Map { offsets, keys, values } => {
                let entries = reserve(children, 3);
                children[entries as usize] =
                    Column { validity: None, data: ColumnData::Struct(vec![entries + 1, entries + 2]) };
                children[entries as usize + 1] = keys.finish(children)?;
                children[entries as usize + 2] = values.finish(children)?;
                ColumnData::List(ListData { offsets, child: entries })
            }
            Values::Struct(fields) => {
                let count = fields.len() as u32;
                let first = reserve(children, fields.len());
                for (i, f) in fields.into_iter().enumerate() {
                    children[first as usize + i] = f.finish(children)?;
                }
                ColumnData::Struct((first..first + count).collect())
            }
            Values::Invalid(e) => return Err(Error::unsupported(e)),
        };
        let validity = (self.nulls > 0).then_some(self.validity.bytes);
        Ok(Column { validity, data })
    }
}

fn child_offset(len: usize) -> Result<i32> {
    i32::try_from(len).map_err(|_| Error::unsupported("a nested column is limited to 2^31 values"))
}

/// Reserves `n` child slots (filled by the caller) and returns the first index.
fn reserve(children: &mut Vec<Column>, n: usize) -> u32 {
    let first = children.len() as u32;
    children.extend((0..n).map(|_| Column { validity: None, data: ColumnData::Int8(Vec::new()) }));
    first
}

// ---------------------------------------------------------------------------
// Batch builder
// ---------------------------------------------------------------------------

/// Builds a [`Batch`] row by row: append one value to every column, then
/// call [`end_row`](Self::end_row).
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    columns: Vec<ColumnBuilder>,
    kinds: Vec<u8>,
    only_inserts: bool,
    rows: usize,
}

impl BatchBuilder {
    /// A builder with one column per schema field.
    pub fn new(schema: &Schema) -> Self {
        let columns = schema
            .fields
            .iter()
            .map(|f| ColumnBuilder::new(&f.name, &f.data_type, f.nullable, &schema.nested))
            .collect();
        BatchBuilder { columns, kinds: Vec::new(), only_inserts: true, rows: 0 }
    }

    /// A builder with room for `rows` rows (a decoder knows how many frames
    /// it got), so columns do not grow by copying.
    pub fn with_capacity(schema: &Schema, rows: usize) -> Self {
        let mut builder = BatchBuilder::new(schema);
        builder.columns.iter_mut().for_each(|c| c.reserve(rows));
        builder
    }

    /// The builder of column `i`. Panics if `i` is not a schema index, which
    /// is a bug in the component, not bad input.
    pub fn column(&mut self, i: usize) -> &mut ColumnBuilder {
        &mut self.columns[i]
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Number of completed rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Completes the current row with its change kind. Fails if a column
    /// did not get exactly one value for it.
    pub fn end_row(&mut self, kind: RowKind) -> Result<()> {
        let want = self.rows + 1;
        if let Some(c) = self.columns.iter().find(|c| c.len() != want) {
            let got = c.len() as i64 - self.rows as i64;
            let message = format!("column '{}' got {got} values for this row instead of 1", c.name);
            self.discard_row();
            return Err(Error::data(self.rows as u64, b"", message));
        }
        let byte = kind as u8;
        if byte != 0 && self.only_inserts {
            self.only_inserts = false;
            self.kinds = vec![0; self.rows];
        }
        if !self.only_inserts {
            self.kinds.push(byte);
        }
        self.rows = want;
        Ok(())
    }

    /// Drops the values appended since the last completed row (after a
    /// record turned out to be malformed half way).
    pub fn discard_row(&mut self) {
        for c in &mut self.columns {
            c.discard_after(self.rows);
        }
    }

    /// Drops what column `i` got for the row being built (a field that
    /// turned out to be malformed half way), so another value can go there.
    pub fn reset_column(&mut self, i: usize) {
        let rows = self.rows;
        self.columns[i].discard_after(rows);
    }

    /// Drops every row after the first `rows` (and any partial one): a
    /// record that makes several rows (a CDC update's -U and +U) and fails
    /// half way leaves none of them.
    pub fn rollback(&mut self, rows: usize) {
        if rows < self.rows {
            self.rows = rows;
            if !self.only_inserts {
                self.kinds.truncate(rows);
            }
        }
        self.discard_row();
    }

    /// Decodes each frame into rows with `record` and finishes the batch:
    /// the loop every record-per-frame format shares. A record that fails is
    /// dropped; with `skip_errors` it is counted in the `records-skipped`
    /// metric, otherwise the call fails with a data error giving the
    /// record's position and an excerpt.
    pub fn decode_frames(
        mut self,
        frames: &VarData,
        skip_errors: bool,
        mut record: impl FnMut(&[u8], &mut BatchBuilder) -> core::result::Result<(), String>,
    ) -> Result<Batch> {
        let mut skipped = 0;
        for (i, frame) in frames.iter().enumerate() {
            let before = self.rows;
            if let Err(message) = record(frame, &mut self) {
                // Every row of the failed record goes, not only a partial one.
                self.rollback(before);
                if !skip_errors {
                    return Err(Error::data(i as u64, frame, message));
                }
                skipped += 1;
            }
        }
        if skipped > 0 {
            crate::log::counter_add("records-skipped", skipped);
        }
        self.finish()
    }

    /// The finished batch.
    pub fn finish(mut self) -> Result<Batch> {
        self.discard_row();
        let row_count = u32::try_from(self.rows).map_err(|_| Error::unsupported("more than 2^32 rows in one batch"))?;
        let mut children = Vec::new();
        let columns = self.columns.into_iter().map(|c| c.finish(&mut children)).collect::<Result<_>>()?;
        Ok(Batch { row_count, row_kinds: self.kinds, columns, children })
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// One value read from a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// TINYINT.
    I8(i8),
    /// SMALLINT.
    I16(i16),
    /// INT, DATE, TIME(0..=3).
    I32(i32),
    /// BIGINT, TIME(4..=9), TIMESTAMP, TIMESTAMP_LTZ.
    I64(i64),
    /// FLOAT.
    F32(f32),
    /// DOUBLE.
    F64(f64),
    /// DECIMAL, unscaled.
    Decimal(i128),
    /// CHAR, VARCHAR, STRING.
    Str(&'a str),
    /// BINARY, VARBINARY, BYTES.
    Bytes(&'a [u8]),
    /// ARRAY, MAP, ROW (read their children through the batch).
    Nested,
}

/// A column's values by type (see [`ColumnRef::typed`]).
#[derive(Debug, Clone, Copy)]
pub enum Typed<'a> {
    /// BOOLEAN, bit-packed (read with [`bool_at`]).
    Bool(&'a [u8]),
    /// TINYINT.
    I8(&'a [i8]),
    /// SMALLINT.
    I16(&'a [i16]),
    /// INT, DATE, TIME(0..=3).
    I32(&'a [i32]),
    /// BIGINT, TIME(4..=9), TIMESTAMP, TIMESTAMP_LTZ.
    I64(&'a [i64]),
    /// FLOAT.
    F32(&'a [f32]),
    /// DOUBLE.
    F64(&'a [f64]),
    /// DECIMAL: two words per value, low first.
    Decimal(&'a [u64]),
    /// CHAR, VARCHAR, STRING (UTF-8, checked by the host).
    Str(&'a VarData),
    /// BINARY, VARBINARY, BYTES.
    Bytes(&'a VarData),
    /// ARRAY, MAP, ROW.
    Nested,
}

/// Value `i` of a bit-packed BOOLEAN column; `None` past its end.
pub fn bool_at(bits: &[u8], i: usize) -> Option<bool> {
    bits.get(i / 8).map(|b| b & (1 << (i % 8)) != 0)
}

/// Reads a batch received from the host.
#[derive(Debug, Clone, Copy)]
pub struct BatchReader<'a> {
    batch: &'a Batch,
}

impl<'a> BatchReader<'a> {
    /// A reader over `batch`.
    pub fn new(batch: &'a Batch) -> Self {
        BatchReader { batch }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.batch.row_count as usize
    }

    /// Number of top-level columns.
    pub fn width(&self) -> usize {
        self.batch.columns.len()
    }

    /// The change kind of row `i`.
    pub fn row_kind(&self, i: usize) -> RowKind {
        match self.batch.row_kinds.get(i) {
            Some(1) => RowKind::UpdateBefore,
            Some(2) => RowKind::UpdateAfter,
            Some(3) => RowKind::Delete,
            _ => RowKind::Insert,
        }
    }

    /// Value of column `col` in row `row`.
    pub fn value(&self, col: usize, row: usize) -> Result<ValueRef<'a>> {
        self.column(col)?.value(row)
    }

    /// Column `col`, to read nested values.
    pub fn column(&self, col: usize) -> Result<ColumnRef<'a>> {
        let column =
            self.batch.columns.get(col).ok_or_else(|| Error::unsupported(format!("batch has no column {col}")))?;
        Ok(ColumnRef { batch: self.batch, column })
    }
}

/// One column of a batch, top level or nested.
#[derive(Debug, Clone, Copy)]
pub struct ColumnRef<'a> {
    batch: &'a Batch,
    column: &'a Column,
}

impl<'a> ColumnRef<'a> {
    /// Value at `index` (`Nested` for ARRAY, MAP and ROW values).
    pub fn value(&self, index: usize) -> Result<ValueRef<'a>> {
        read_value(self.column, index)
    }

    /// Whether the value at `index` is null.
    pub fn is_null(&self, index: usize) -> bool {
        self.column.validity.as_deref().is_some_and(|v| !bit(v, index))
    }

    /// The column's values as one typed slice: an encoder writing many rows
    /// matches on this once per batch rather than on every value (see
    /// [`value`](Self::value)). Slots under a null hold any value; check
    /// [`is_null`](Self::is_null) first, and index with `get` (the host's
    /// batch may be shorter than its row count says).
    pub fn typed(&self) -> Typed<'a> {
        match &self.column.data {
            ColumnData::Boolean(b) => Typed::Bool(b),
            ColumnData::Int8(v) => Typed::I8(v),
            ColumnData::Int16(v) => Typed::I16(v),
            ColumnData::Int32(v) => Typed::I32(v),
            ColumnData::Int64(v) => Typed::I64(v),
            ColumnData::Float32(v) => Typed::F32(v),
            ColumnData::Float64(v) => Typed::F64(v),
            ColumnData::Decimal128(v) => Typed::Decimal(v),
            ColumnData::Utf8(v) => Typed::Str(v),
            ColumnData::Binary(v) => Typed::Bytes(v),
            ColumnData::List(_) | ColumnData::Struct(_) => Typed::Nested,
        }
    }

    fn child_at(&self, i: u32) -> Result<ColumnRef<'a>> {
        let column = self.batch.children.get(i as usize).ok_or_else(|| Error::unsupported("dangling child column"))?;
        Ok(ColumnRef { batch: self.batch, column })
    }

    /// For an ARRAY or MAP value: the range of its elements or entries in
    /// [`elements`](Self::elements) / [`map_columns`](Self::map_columns).
    pub fn range(&self, index: usize) -> Result<core::ops::Range<usize>> {
        let ColumnData::List(l) = &self.column.data else { return Err(Error::unsupported("not an ARRAY or MAP")) };
        let (Some(&start), Some(&end)) = (l.offsets.get(index), l.offsets.get(index + 1)) else {
            return Err(Error::data(index as u64, b"", "row index out of range"));
        };
        if start < 0 || end < start {
            return Err(Error::data(index as u64, b"", "malformed list offsets"));
        }
        Ok(start as usize..end as usize)
    }

    /// The element column of an ARRAY column.
    pub fn elements(&self) -> Result<ColumnRef<'a>> {
        match &self.column.data {
            ColumnData::List(l) => self.child_at(l.child),
            _ => Err(Error::unsupported("not an ARRAY")),
        }
    }

    /// The key and value columns of a MAP column.
    pub fn map_columns(&self) -> Result<(ColumnRef<'a>, ColumnRef<'a>)> {
        let entries = self.elements()?;
        match &entries.column.data {
            ColumnData::Struct(f) if f.len() == 2 => Ok((entries.child_at(f[0])?, entries.child_at(f[1])?)),
            _ => Err(Error::unsupported("not a MAP")),
        }
    }

    /// Field `i` of a ROW column.
    pub fn field(&self, i: usize) -> Result<ColumnRef<'a>> {
        match &self.column.data {
            ColumnData::Struct(f) => self.child_at(*f.get(i).ok_or_else(|| Error::unsupported("no such field"))?),
            _ => Err(Error::unsupported("not a ROW")),
        }
    }
}

fn read_value(column: &Column, row: usize) -> Result<ValueRef<'_>> {
    if column.validity.as_deref().is_some_and(|v| !bit(v, row)) {
        return Ok(ValueRef::Null);
    }
    let out_of_range = || Error::data(row as u64, b"", "row index out of range");
    let v = match &column.data {
        ColumnData::Boolean(b) => ValueRef::Bool(bool_at(b, row).ok_or_else(out_of_range)?),
        ColumnData::Int8(v) => ValueRef::I8(*v.get(row).ok_or_else(out_of_range)?),
        ColumnData::Int16(v) => ValueRef::I16(*v.get(row).ok_or_else(out_of_range)?),
        ColumnData::Int32(v) => ValueRef::I32(*v.get(row).ok_or_else(out_of_range)?),
        ColumnData::Int64(v) => ValueRef::I64(*v.get(row).ok_or_else(out_of_range)?),
        ColumnData::Float32(v) => ValueRef::F32(*v.get(row).ok_or_else(out_of_range)?),
        ColumnData::Float64(v) => ValueRef::F64(*v.get(row).ok_or_else(out_of_range)?),
        ColumnData::Decimal128(v) => {
            let lo = *v.get(2 * row).ok_or_else(out_of_range)?;
            let hi = *v.get(2 * row + 1).ok_or_else(out_of_range)?;
            ValueRef::Decimal(((hi as u128) << 64 | lo as u128) as i128)
        }
        ColumnData::Utf8(d) => {
            let bytes = d.get(row).ok_or_else(out_of_range)?;
            ValueRef::Str(core::str::from_utf8(bytes).map_err(|_| Error::data(row as u64, bytes, "invalid UTF-8"))?)
        }
        ColumnData::Binary(d) => ValueRef::Bytes(d.get(row).ok_or_else(out_of_range)?),
        ColumnData::List(_) | ColumnData::Struct(_) => ValueRef::Nested,
    };
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values, nulls and truncations in a pseudo-random order: the bitmap,
    /// written only from the first null on, matches a plain model.
    #[test]
    fn validity_is_written_from_the_first_null_and_survives_truncation() {
        for seed in 1..200u64 {
            let mut column = ColumnBuilder::new("c", &LogicalType::Bigint, true, &[]);
            let mut model: Vec<Option<i64>> = Vec::new();
            let mut h = seed;
            for step in 0..(seed % 40) as i64 {
                h = h.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                match (h >> 33) % 10 {
                    0 => {
                        column.push_null().expect("nullable");
                        model.push(None);
                    }
                    1 => {
                        let keep = model.len().saturating_sub(((h >> 40) % 4) as usize);
                        column.truncate(keep);
                        model.truncate(keep);
                    }
                    _ => {
                        column.push_i64(step).expect("BIGINT");
                        model.push(Some(step));
                    }
                }
                assert_eq!(column.len(), model.len());
                assert_eq!(column.nulls, model.iter().filter(|v| v.is_none()).count());
            }
            let done = column.finish(&mut Vec::new()).expect("finish");
            let ColumnData::Int64(values) = &done.data else { panic!("{:?}", done.data) };
            assert_eq!(values.len(), model.len());
            assert_eq!(done.validity.is_some(), model.contains(&None), "seed {seed}");
            for (i, want) in model.iter().enumerate() {
                let valid = done.validity.as_deref().is_none_or(|v| bit(v, i));
                assert_eq!(valid, want.is_some(), "seed {seed}, value {i}");
                if let Some(v) = want {
                    assert_eq!(values[i], *v, "seed {seed}, value {i}");
                }
            }
            if let Some(v) = &done.validity {
                assert_eq!(v.len(), model.len().div_ceil(8), "seed {seed}");
            }
        }
    }
}
