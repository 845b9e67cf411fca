//! Flink's `datagen` source: rows of random or sequential values, with
//! Flink's options (`rows-per-second`, `number-of-rows`, `fields.#.kind`,
//! `fields.#.min` / `max` / `max-past` / `length` / `start` / `end` /
//! `null-rate`) plus `seed`. ARRAY, MAP and ROW columns are generated as
//! Flink's DataGen does: `fields.#.length` elements or entries (default 3),
//! each element, key, value or field from its own options one level down
//! (`fields.tags.element.length`, `fields.m.key.max`, `fields.r.city.null-rate`);
//! map keys are distinct.
//!
//! Every value is a pure function of (seed, row number, column), so a
//! reader restored from a checkpoint — its state is the next row number —
//! produces exactly the rows it would have produced, and the same seed
//! gives the same rows on every run. Dates and timestamps count back from
//! the moment the scan was planned, which travels in the split and the
//! checkpoint, so a restore sees the same "now".
//!
//! Splits: `scan.parallelism` splits, split `i` of `n` producing rows `i`,
//! `i + n`, … The rate limit is shared evenly; a reader that is ahead of it
//! returns `would-block` instead of sleeping.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use weir_sdk::{
    Accepted, BatchBuilder, ComponentSpec, Connector, Error, LogicalType, OptionSpec, Options, OptionsExt, Payload,
    ReadResult, Result, RowKind, ScanPlan, ScanRequest, Schema, Source, Split, export_source,
};

/// How one value — a column, or an element, key, value or field inside
/// one — is generated.
#[derive(Debug, Clone)]
enum Kind {
    Random { min: Option<f64>, max: Option<f64>, max_past: Duration, length: usize },
    Sequence { start: i64, end: i64 },
    Array { length: usize, element: Box<Column> },
    Map { length: usize, key: Box<Column>, value: Box<Column> },
    Row(Vec<Column>),
}

#[derive(Debug, Clone)]
struct Column {
    /// Its type.
    ty: LogicalType,
    kind: Kind,
    null_rate: f64,
}

/// Elements or entries of a random ARRAY or MAP unless `fields.#.length`
/// says otherwise (Flink's default).
const COLLECTION_LENGTH: usize = 3;
/// Characters or bytes of a random string unless `fields.#.length` says
/// otherwise (Flink's default).
const STRING_LENGTH: usize = 100;

/// One split reader.
pub struct Datagen {
    schema: Schema,
    columns: Vec<Column>,
    seed: u64,
    split: u64,
    splits: u64,
    /// Rows of the whole scan (`None`: unbounded).
    total: Option<u64>,
    /// The next global row number this reader produces.
    next_row: u64,
    now_millis: i64,
    rows_per_second: f64,
    started: Instant,
    emitted: u64,
}

const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

impl Connector for Datagen {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("datagen", "Random or sequential rows, rate-limited (Flink's DataGen source)")
            .payload(Payload::Rows)
            .option(
                OptionSpec::long("rows-per-second", "Rows per second to emit, over all splits").default_value("10000"),
            )
            .option(OptionSpec::long(
                "number-of-rows",
                "Total rows to emit; unbounded when unset (unless a sequence field ends first)",
            ))
            .option(OptionSpec::int("scan.parallelism", "Number of splits read in parallel").default_value("1"))
            .option(
                OptionSpec::long("seed", "Seed of the random values; the same seed gives the same rows")
                    .default_value("0"),
            )
            .option(
                OptionSpec::one_of("fields.#.kind", &["random", "sequence"], "Generator of the field's values")
                    .default_value("random"),
            )
            .option(OptionSpec::string("fields.#.min", "Minimum of a random number (default: the type's minimum)"))
            .option(OptionSpec::string("fields.#.max", "Maximum of a random number (default: the type's maximum)"))
            .option(
                OptionSpec::new(
                    "fields.#.max-past",
                    weir_sdk::OptionType::Duration,
                    "How far into the past a random DATE/TIME/TIMESTAMP may lie",
                )
                .default_value("0"),
            )
            .option(OptionSpec::int(
                "fields.#.length",
                "Length of random strings and bytes (default 100, capped by CHAR/VARCHAR(n)); elements or entries \
                 of a random ARRAY or MAP (default 3)",
            ))
            .option(OptionSpec::long("fields.#.start", "First value of a sequence (required for sequences)"))
            .option(OptionSpec::long("fields.#.end", "Last value of a sequence (required for sequences)"))
            .option(
                OptionSpec::new("fields.#.null-rate", weir_sdk::OptionType::Double, "Fraction of null values")
                    .default_value("0.0"),
            )
            // One level inside ARRAY (`element`), MAP (`key`, `value`) and ROW
            // (the field's name) columns.
            .option(OptionSpec::string("fields.#.#.min", "Minimum of a random nested number"))
            .option(OptionSpec::string("fields.#.#.max", "Maximum of a random nested number"))
            .option(OptionSpec::new(
                "fields.#.#.max-past",
                weir_sdk::OptionType::Duration,
                "How far into the past a random nested DATE/TIME/TIMESTAMP may lie",
            ))
            .option(OptionSpec::int("fields.#.#.length", "Length of nested random strings, bytes and collections"))
            .option(OptionSpec::new(
                "fields.#.#.null-rate",
                weir_sdk::OptionType::Double,
                "Fraction of null nested values",
            ))
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        columns(options, schema).map(|_| ())
    }
}

impl Source for Datagen {
    fn plan(options: &Options, schema: &Schema, _request: &ScanRequest) -> Result<ScanPlan> {
        let columns = columns(options, schema)?;
        let splits = u64::try_from(options.long("scan.parallelism")?)
            .ok()
            .filter(|n| (1..=1024).contains(n))
            .ok_or_else(|| Error::config(Some("scan.parallelism"), "must be between 1 and 1024"))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let bounded = total_rows(options, &columns)?.is_some();
        Ok(ScanPlan {
            splits: (0..splits)
                .map(|i| Split { id: format!("datagen-{i}-of-{splits}"), payload: state(i, splits, i, now) })
                .collect(),
            bounded,
            accepted: Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false },
        })
    }

    fn open(
        options: &Options,
        schema: &Schema,
        _request: &ScanRequest,
        split: &Split,
        saved: Option<&[u8]>,
    ) -> Result<Self> {
        let columns = columns(options, schema)?;
        let [split_index, splits, next_row, now] = read_state(saved.unwrap_or(&split.payload))?;
        let rows_per_second = options.long("rows-per-second")?;
        if rows_per_second <= 0 {
            return Err(Error::config(Some("rows-per-second"), "must be positive"));
        }
        Ok(Datagen {
            schema: schema.clone(),
            total: total_rows(options, &columns)?,
            columns,
            seed: options.long("seed")? as u64,
            split: split_index,
            splits,
            next_row,
            now_millis: now as i64,
            rows_per_second: rows_per_second as f64 / splits as f64,
            started: Instant::now(),
            emitted: 0,
        })
    }

    fn next(&mut self, max_records: u32) -> Result<ReadResult> {
        if self.total.is_some_and(|t| self.next_row >= t) {
            return Ok(ReadResult::EndOfSplit);
        }
        let allowed = (self.started.elapsed().as_secs_f64() * self.rows_per_second) as u64 + 1;
        let budget = allowed.saturating_sub(self.emitted).min(u64::from(max_records.max(1)));
        if budget == 0 {
            return Ok(ReadResult::WouldBlock);
        }
        let mut out = BatchBuilder::with_capacity(&self.schema, budget as usize);
        for _ in 0..budget {
            if self.total.is_some_and(|t| self.next_row >= t) {
                break;
            }
            self.row(&mut out)?;
            self.next_row += self.splits;
            self.emitted += 1;
        }
        Ok(ReadResult::Rows(out.finish()?))
    }

    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(state(self.split, self.splits, self.next_row, self.now_millis))
    }
}

impl Datagen {
    fn row(&self, out: &mut BatchBuilder) -> Result<()> {
        let r = self.next_row;
        for (c, column) in self.columns.iter().enumerate() {
            let mut rng = Rng::new(self.seed, r, c as u64);
            self.push(out.column(c), column, &mut rng, r)?;
        }
        out.end_row(RowKind::Insert)
    }

    /// Appends one value of `column` (row `r`) to `b`.
    fn push(&self, b: &mut weir_sdk::ColumnBuilder, column: &Column, rng: &mut Rng, r: u64) -> Result<()> {
        if column.null_rate > 0.0 && rng.unit() < column.null_rate {
            return b.push_null();
        }
        match &column.kind {
            Kind::Sequence { start, .. } => push_sequence(b, &column.ty, start + r as i64),
            Kind::Random { min, max, max_past, length } => {
                let v = random_scalar(&column.ty, rng, *min, *max, *max_past, *length, self.now_millis)?;
                push_scalar(b, v)
            }
            Kind::Array { length, element } => {
                let elements = b.array_elements()?;
                for _ in 0..*length {
                    self.push(elements, element, rng, r)?;
                }
                b.end_array()
            }
            Kind::Map { length, key, value } => {
                let (keys, values) = b.map_entries()?;
                // Distinct keys, as in Flink's (hash) map: a repeated key
                // is dropped, so a small key type gives fewer entries.
                let mut seen: Vec<Scalar> = Vec::with_capacity(*length);
                for _ in 0..*length {
                    match &key.kind {
                        Kind::Random { min, max, max_past, length } => {
                            let k = random_scalar(&key.ty, rng, *min, *max, *max_past, *length, self.now_millis)?;
                            if seen.contains(&k) {
                                continue;
                            }
                            seen.push(k.clone());
                            push_scalar(keys, k)?;
                        }
                        _ => self.push(keys, key, rng, r)?,
                    }
                    self.push(values, value, rng, r)?;
                }
                b.end_map()
            }
            Kind::Row(fields) => {
                for (i, field) in fields.iter().enumerate() {
                    self.push(b.field(i)?, field, rng, r)?;
                }
                b.end_row_value()
            }
        }
    }
}

fn push_sequence(b: &mut weir_sdk::ColumnBuilder, ty: &LogicalType, v: i64) -> Result<()> {
    use LogicalType as T;
    let range = |name: &str| Error::data(0, b"", format!("sequence value {v} does not fit {name}"));
    match ty {
        T::Tinyint => b.push_i8(i8::try_from(v).map_err(|_| range("TINYINT"))?),
        T::Smallint => b.push_i16(i16::try_from(v).map_err(|_| range("SMALLINT"))?),
        T::Int => b.push_i32(i32::try_from(v).map_err(|_| range("INT"))?),
        T::Bigint => b.push_i64(v),
        T::Float => b.push_f32(v as f32),
        T::Double => b.push_f64(v as f64),
        T::Decimal(d) => b.push_decimal(i128::from(v) * 10i128.pow(u32::from(d.scale))),
        T::Char(_) | T::Varchar(_) | T::String => b.push_str(&v.to_string()),
        _ => Err(Error::config(None, "sequence fields must be numbers or strings")),
    }
}

/// One generated scalar, before it goes into a column.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Decimal(i128),
    Str(String),
    Bytes(Vec<u8>),
}

fn push_scalar(b: &mut weir_sdk::ColumnBuilder, v: Scalar) -> Result<()> {
    match v {
        Scalar::Bool(v) => b.push_bool(v),
        Scalar::I8(v) => b.push_i8(v),
        Scalar::I16(v) => b.push_i16(v),
        Scalar::I32(v) => b.push_i32(v),
        Scalar::I64(v) => b.push_i64(v),
        Scalar::F32(v) => b.push_f32(v),
        Scalar::F64(v) => b.push_f64(v),
        Scalar::Decimal(v) => b.push_decimal(v),
        Scalar::Str(v) => b.push_str(&v),
        Scalar::Bytes(v) => b.push_bytes(&v),
    }
}

/// A random value of the scalar type `ty`. Without `min`/`max`, numbers
/// span Flink's defaults: the type's range for integers; for FLOAT and
/// DOUBLE Java's `MIN_VALUE` (the smallest positive value) up to `MAX_VALUE`.
#[allow(clippy::too_many_arguments)]
fn random_scalar(
    ty: &LogicalType,
    rng: &mut Rng,
    min: Option<f64>,
    max: Option<f64>,
    max_past: Duration,
    length: usize,
    now_millis: i64,
) -> Result<Scalar> {
    use LogicalType as T;
    let int = |rng: &mut Rng, lo: i64, hi: i64| {
        let lo = min.map_or(lo, |m| m as i64).max(lo);
        let hi = max.map_or(hi, |m| m as i64).min(hi);
        if hi <= lo {
            lo
        } else {
            lo.wrapping_add((rng.next() % (hi.wrapping_sub(lo) as u64).saturating_add(1)) as i64)
        }
    };
    let past_millis = max_past.as_millis() as i64;
    let at = |rng: &mut Rng| now_millis - if past_millis > 0 { (rng.next() % past_millis as u64) as i64 } else { 0 };
    Ok(match ty {
        T::Boolean => Scalar::Bool(rng.next() & 1 == 1),
        T::Tinyint => Scalar::I8(int(rng, i64::from(i8::MIN), i64::from(i8::MAX)) as i8),
        T::Smallint => Scalar::I16(int(rng, i64::from(i16::MIN), i64::from(i16::MAX)) as i16),
        T::Int => Scalar::I32(int(rng, i64::from(i32::MIN), i64::from(i32::MAX)) as i32),
        T::Bigint => Scalar::I64(int(rng, i64::MIN, i64::MAX)),
        T::Float => Scalar::F32(float(rng, min, max, f64::from(f32::from_bits(1)), f64::from(f32::MAX)) as f32),
        T::Double => Scalar::F64(float(rng, min, max, f64::from_bits(1), f64::MAX)),
        T::Decimal(d) => {
            let limit = 10f64.powi(i32::from(d.precision) - i32::from(d.scale)) - 10f64.powi(-i32::from(d.scale));
            let v = float(rng, min, max, -limit, limit);
            Scalar::Decimal((v * 10f64.powi(i32::from(d.scale))).round() as i128)
        }
        T::Char(n) | T::Varchar(n) => Scalar::Str(text(rng, length.min(*n as usize))),
        T::String => Scalar::Str(text(rng, length)),
        T::Binary(n) | T::Varbinary(n) => Scalar::Bytes(bytes(rng, length.min(*n as usize))),
        T::Bytes => Scalar::Bytes(bytes(rng, length)),
        T::Date => Scalar::I32((at(rng).div_euclid(86_400_000)) as i32),
        T::Time(p) => {
            let ms = (rng.next() % 86_400_000) as i64;
            if *p == 0 {
                Scalar::I32((ms / 1000) as i32)
            } else if *p <= 3 {
                Scalar::I32(ms as i32)
            } else {
                Scalar::I64(ms * if *p <= 6 { 1_000 } else { 1_000_000 })
            }
        }
        T::Timestamp(p) | T::TimestampLtz(p) => {
            let ms = at(rng);
            Scalar::I64(match p {
                0 => ms.div_euclid(1000),
                1..=3 => ms,
                4..=6 => ms * 1_000,
                _ => ms * 1_000_000,
            })
        }
        T::Array(_) | T::Map(_) | T::Row(_) => {
            return Err(Error::config(None, "internal: nested types are generated by their parts"));
        }
    })
}

/// Uniform in [min, max], by default [`lo`, `hi`]; never overflows to an
/// infinity, whatever the bounds.
fn float(rng: &mut Rng, min: Option<f64>, max: Option<f64>, lo: f64, hi: f64) -> f64 {
    let (lo, hi) = (min.unwrap_or(lo), max.unwrap_or(hi));
    let u = rng.unit();
    let span = hi - lo;
    if span.is_finite() { lo + u * span } else { u * hi + (1.0 - u) * lo }
}

fn text(rng: &mut Rng, length: usize) -> String {
    (0..length).map(|_| char::from(ALPHANUMERIC[(rng.next() % ALPHANUMERIC.len() as u64) as usize])).collect()
}

fn bytes(rng: &mut Rng, length: usize) -> Vec<u8> {
    (0..length).map(|_| rng.next() as u8).collect()
}

/// Per-column settings from `fields.<name>.*`.
fn columns(options: &Options, schema: &Schema) -> Result<Vec<Column>> {
    let columns = schema
        .fields
        .iter()
        .map(|field| column(options, schema, &format!("fields.{}", field.name), &field.data_type, field.nullable, true))
        .collect::<Result<Vec<_>>>()?;
    // A nested option must name a part that exists.
    for (key, _) in options {
        let parts: Vec<&str> = key.split('.').collect();
        if parts.len() == 4 && parts[0] == "fields" {
            let known = schema.fields.iter().zip(&columns).find(|(f, _)| f.name == parts[1]).is_some_and(|(_, c)| {
                match &c.kind {
                    Kind::Array { .. } => parts[2] == "element",
                    Kind::Map { .. } => parts[2] == "key" || parts[2] == "value",
                    Kind::Row(_) => row_fields(schema, &c.ty).is_some_and(|fs| fs.iter().any(|f| f.name == parts[2])),
                    _ => false,
                }
            });
            if !known {
                return Err(Error::config(
                    Some(key),
                    format!(
                        "column '{}' has no part '{}': options one level down name an ARRAY's 'element', a MAP's \
                         'key' or 'value', or a ROW's field",
                        parts[1], parts[2]
                    ),
                ));
            }
        }
    }
    Ok(columns)
}

fn row_fields<'a>(schema: &'a Schema, ty: &LogicalType) -> Option<&'a [weir_sdk::Field]> {
    match ty {
        LogicalType::Row(r) => match schema.nested.get(*r as usize) {
            Some(weir_sdk::NestedType::RowFields(fields)) => Some(fields),
            _ => None,
        },
        _ => None,
    }
}

fn nested_type(schema: &Schema, r: u32) -> Result<LogicalType> {
    match schema.nested.get(r as usize) {
        Some(weir_sdk::NestedType::Type(t)) => Ok(*t),
        _ => Err(Error::config(None, format!("the schema's nested type {r} is missing"))),
    }
}

/// How the value at `path` (`fields.x`, `fields.x.element`, …) of type `ty`
/// is generated; `top` for a column (only columns can be sequences).
fn column(
    options: &Options,
    schema: &Schema,
    path: &str,
    ty: &LogicalType,
    nullable: bool,
    top: bool,
) -> Result<Column> {
    let key = |what: &str| format!("{path}.{what}");
    let number = |what: &str| -> Result<Option<f64>> {
        options
            .get(&key(what))
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| Error::config(Some(&key(what)), format!("expected a number, got '{v}'")))
            })
            .transpose()
    };
    let length = |default: usize| -> Result<usize> {
        match options.get(&key("length")) {
            Some(_) => usize::try_from(options.long(&key("length"))?)
                .map_err(|_| Error::config(Some(&key("length")), "must not be negative")),
            None => Ok(default),
        }
    };
    let sequence = top && options.get(&key("kind")).is_some_and(|k| k.eq_ignore_ascii_case("sequence"));
    let nested = |part: &str, ty: &LogicalType, nullable: bool| {
        column(options, schema, &format!("{path}.{part}"), ty, nullable, false)
    };
    let kind = match ty {
        LogicalType::Array(e) => Kind::Array {
            length: length(COLLECTION_LENGTH)?,
            element: Box::new(nested("element", &nested_type(schema, e.element)?, e.nullable)?),
        },
        LogicalType::Map(m) => Kind::Map {
            length: length(COLLECTION_LENGTH)?,
            key: Box::new(nested("key", &nested_type(schema, m.key)?, false)?),
            value: Box::new(nested("value", &nested_type(schema, m.value.element)?, m.value.nullable)?),
        },
        LogicalType::Row(_) => Kind::Row(
            row_fields(schema, ty)
                .ok_or_else(|| Error::config(None, format!("the ROW type of '{path}' is missing from the schema")))?
                .iter()
                .map(|f| nested(&f.name, &f.data_type, f.nullable))
                .collect::<Result<_>>()?,
        ),
        _ if sequence => {
            let bound = |what: &str| {
                options.get(&key(what)).ok_or_else(|| {
                    Error::config(Some(&key(what)), format!("a sequence needs '{}' and '{}'", key("start"), key("end")))
                })?;
                options.long(&key(what))
            };
            let (start, end) = (bound("start")?, bound("end")?);
            if end < start {
                return Err(Error::config(Some(&key("end")), "must not be below the start"));
            }
            Kind::Sequence { start, end }
        }
        _ => Kind::Random {
            min: number("min")?,
            max: number("max")?,
            max_past: match options.get(&key("max-past")) {
                Some(_) => options.duration(&key("max-past"))?,
                None => Duration::ZERO,
            },
            length: length(STRING_LENGTH)?,
        },
    };
    if sequence && !matches!(kind, Kind::Sequence { .. }) {
        return Err(Error::config(Some(&key("kind")), "only number and string columns can be sequences"));
    }
    let null_rate = number("null-rate")?.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&null_rate) {
        return Err(Error::config(Some(&key("null-rate")), "must be between 0 and 1"));
    }
    if null_rate > 0.0 && !nullable {
        return Err(Error::config(Some(&key("null-rate")), format!("'{path}' is NOT NULL")));
    }
    Ok(Column { ty: *ty, kind, null_rate })
}

/// Rows of the whole scan: `number-of-rows`, or fewer when a sequence ends.
fn total_rows(options: &Options, columns: &[Column]) -> Result<Option<u64>> {
    let mut total = match options.get("number-of-rows") {
        Some(_) => Some(
            u64::try_from(options.long("number-of-rows")?)
                .map_err(|_| Error::config(Some("number-of-rows"), "must not be negative"))?,
        ),
        None => None,
    };
    for column in columns {
        if let Kind::Sequence { start, end } = column.kind {
            let len = (end - start) as u64 + 1;
            total = Some(total.map_or(len, |t| t.min(len)));
        }
    }
    Ok(total)
}

fn state(split: u64, splits: u64, next_row: u64, now: i64) -> Vec<u8> {
    [split, splits, next_row, now as u64].iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn read_state(bytes: &[u8]) -> Result<[u64; 4]> {
    if bytes.len() != 32 {
        return Err(Error::config(None, "datagen split or checkpoint state is damaged (expected 32 bytes)"));
    }
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    Ok([word(0), word(1), word(2), word(3)])
}

/// SplitMix64 seeded from (seed, row, column): a stateless stream per cell.
struct Rng(u64);

/// SplitMix64's finaliser: every input bit affects every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream of one value: its state is a hash of seed, row and
    /// column, so neighbouring rows draw independent values (a state that
    /// is a multiple of the increment would make row `r + 1` the stream of
    /// row `r` shifted by one draw).
    fn new(seed: u64, row: u64, column: u64) -> Rng {
        Rng(mix(seed ^ mix(row ^ mix(column.wrapping_add(0xc2b2_ae3d_27d4_eb4f)))))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

export_source!(Datagen);
