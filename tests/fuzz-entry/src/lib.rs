//! Entry points of the fuzz targets (`fuzz/`), shared with the test that
//! replays their corpora (`tests/fuzz_corpora.rs`) so a crash found by the
//! fuzzer stays fixed. Each takes arbitrary bytes and must never panic,
//! whatever it returns.
//!
//! * [`batch`]: the validation of a batch a guest returned, on batches
//!   built from the bytes with any shape — wrong lengths, offsets, bitmaps,
//!   UTF-8, row kinds, nested children — against schemas of every type.
//! * [`options`]: option validation with Flink semantics, on specs and
//!   options built from the bytes.
//! * [`url_prefix`]: the URL-prefix check of `http` grants.
//!
//! The SQL front end's target calls `weir_sql::parse` directly.

use weir::options::{self, Target};
use weir::spec::{OptionSpec, OptionType, Spec};
use weir::types::{
    Batch, Column, ColumnData, DecimalType, ElementRef, Field, ListData, LogicalType, MapType, NestedType, Schema,
    VarData,
};

/// Reads small values from the fuzzer's bytes; zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A small count, mostly below `max`.
    fn len(&mut self, max: usize) -> usize {
        usize::from(self.u8()) % (max + 1)
    }

    fn vec<T>(&mut self, max: usize, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.len(max);
        (0..n).map(|_| f(self)).collect()
    }

    fn text(&mut self, max: usize) -> String {
        let n = self.len(max).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(head).into_owned()
    }

    /// Offsets that are usually valid for `values` values over `data`
    /// bytes, and sometimes not.
    fn offsets(&mut self, values: usize, data: usize) -> Vec<i32> {
        if self.u8() < 200 {
            let mut at = 0i32;
            let mut v = vec![0];
            for _ in 0..values {
                at = (at + i32::from(self.u8() % 8)).min(data as i32);
                v.push(at);
            }
            v
        } else {
            self.vec(16, |b| b.u32() as i32)
        }
    }
}

fn logical_type(b: &mut Bytes<'_>, nested: &mut Vec<NestedType>, depth: usize) -> LogicalType {
    use LogicalType as T;
    let pick = b.u8() % if depth > 2 { 18 } else { 21 };
    let element = |b: &mut Bytes<'_>, nested: &mut Vec<NestedType>| {
        let t = logical_type(b, nested, depth + 1);
        nested.push(NestedType::Type(t));
        ElementRef { element: nested.len() as u32 - 1, nullable: b.u8().is_multiple_of(2) }
    };
    match pick {
        0 => T::Boolean,
        1 => T::Tinyint,
        2 => T::Smallint,
        3 => T::Int,
        4 => T::Bigint,
        5 => T::Float,
        6 => T::Double,
        7 => T::Decimal(DecimalType { precision: b.u8() % 40, scale: b.u8() % 40 }),
        8 => T::Char(b.u32()),
        9 => T::Varchar(b.u32()),
        10 => T::String,
        11 => T::Binary(b.u32()),
        12 => T::Varbinary(b.u32()),
        13 => T::Bytes,
        14 => T::Date,
        15 => T::Time(b.u8() % 12),
        16 => T::Timestamp(b.u8() % 12),
        17 => T::TimestampLtz(b.u8() % 12),
        18 => T::Array(element(b, nested)),
        19 => {
            let key = element(b, nested).element;
            T::Map(MapType { key, value: element(b, nested) })
        }
        _ => {
            let fields = b.vec(3, |b| Field {
                name: b.text(4),
                data_type: logical_type(b, nested, depth + 1),
                nullable: b.u8().is_multiple_of(2),
            });
            nested.push(NestedType::RowFields(fields));
            // Sometimes a dangling reference.
            T::Row(if b.u8() == 255 { b.u32() } else { nested.len() as u32 - 1 })
        }
    }
}

fn column(b: &mut Bytes<'_>, rows: usize) -> Column {
    let rows = if b.u8() < 230 { rows } else { b.len(64) };
    let validity = (b.u8().is_multiple_of(3)).then(|| b.vec(16, Bytes::u8));
    let var = |b: &mut Bytes<'_>| {
        let data = b.vec(64, Bytes::u8);
        VarData { offsets: b.offsets(rows, data.len()), data }
    };
    let data = match b.u8() % 12 {
        0 => ColumnData::Boolean((0..rows.div_ceil(8)).map(|_| b.u8()).collect()),
        1 => ColumnData::Int8((0..rows).map(|_| b.u8() as i8).collect()),
        2 => ColumnData::Int16((0..rows).map(|_| i16::from(b.u8())).collect()),
        3 => ColumnData::Int32((0..rows).map(|_| b.u32() as i32).collect()),
        4 => ColumnData::Int64((0..rows).map(|_| i64::from(b.u32())).collect()),
        5 => ColumnData::Float32((0..rows).map(|_| f32::from_bits(b.u32())).collect()),
        6 => ColumnData::Float64((0..rows).map(|_| f64::from(b.u32())).collect()),
        7 => ColumnData::Decimal128((0..rows * 2).map(|_| u64::from(b.u32())).collect()),
        8 => ColumnData::Utf8(var(b)),
        9 => ColumnData::Binary(var(b)),
        10 => {
            let child = u32::from(b.u8() % 4);
            ColumnData::List(ListData { offsets: b.offsets(rows, 16), child })
        }
        _ => ColumnData::Struct(b.vec(3, |b| u32::from(b.u8() % 4))),
    };
    Column { validity, data }
}

/// A schema and a batch with any shape, from `data`.
pub fn arbitrary_batch(data: &[u8]) -> (Schema, Batch) {
    let mut b = Bytes(data);
    let mut nested = Vec::new();
    let fields = b.vec(4, |b| Field {
        name: format!("c{}", b.u8()),
        data_type: logical_type(b, &mut nested, 0),
        nullable: b.u8().is_multiple_of(2),
    });
    let rows = b.len(32);
    let columns = (0..fields.len() + usize::from(b.u8() == 255)).map(|_| column(&mut b, rows)).collect();
    let children = b.vec(4, |b| column(b, 16));
    let row_kinds = if b.u8().is_multiple_of(2) { Vec::new() } else { (0..rows).map(|_| b.u8() % 5).collect() };
    let row_count = if b.u8() < 240 { rows as u32 } else { b.u32() };
    (Schema { fields, nested, primary_key: Vec::new() }, Batch { row_count, row_kinds, columns, children })
}

/// Validates an arbitrary batch as if a guest returned it.
pub fn batch(data: &[u8]) {
    let (schema, batch) = arbitrary_batch(data);
    let _ = weir::batch::to_arrow("fuzz", &schema, batch);
}

/// Validates arbitrary options against an arbitrary spec.
pub fn options(data: &[u8]) {
    const TYPES: [OptionType; 9] = [
        OptionType::String,
        OptionType::Int,
        OptionType::Long,
        OptionType::Double,
        OptionType::Boolean,
        OptionType::Duration,
        OptionType::MemorySize,
        OptionType::Enum,
        OptionType::Char,
    ];
    let mut b = Bytes(data);
    let spec = Spec {
        identifier: "fuzz".into(),
        description: String::new(),
        version: String::new(),
        options: b.vec(6, |b| OptionSpec {
            key: if b.u8().is_multiple_of(4) { format!("fields.#.{}", b.text(3)) } else { b.text(6) },
            option_type: TYPES[usize::from(b.u8()) % TYPES.len()],
            default_value: (b.u8().is_multiple_of(2)).then(|| b.text(8)),
            required: b.u8().is_multiple_of(3),
            secret: b.u8().is_multiple_of(5),
            description: String::new(),
            allowed_values: b.vec(3, |b| b.text(4)),
        }),
        changelog_mode: Vec::new(),
        source_abilities: Vec::new(),
        sink_abilities: Vec::new(),
        needs_format: false,
        capabilities: Vec::new(),
    };
    let given = b.vec(6, |b| (b.text(8), b.text(12)));
    let prefix = (b.u8().is_multiple_of(2)).then_some("fmt");
    let _ = options::validate(Target { table: "T", role: "connector", prefix }, &spec, &given);
}

/// The URL-prefix check of `http` grants ([`weir::policy::may_request`]):
/// the bytes are a granted prefix and a request URL, split at the first
/// newline. Whatever the check admits must stay under the prefix on a
/// server that decodes percent-escapes repeatedly, takes `\` for `/`,
/// strips `;` parameters and resolves dot segments — the readings the
/// probe used to climb out of a grant. Panics if it does not.
pub fn url_prefix(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (prefix, path) = text.split_once('\n').unwrap_or(("/api/", &text));
    let prefix = format!("http://h{}", if prefix.starts_with('/') { prefix.to_owned() } else { format!("/{prefix}") });
    let url = format!("http://h{}", if path.starts_with('/') { path.to_owned() } else { format!("/{path}") });
    let _ = weir::policy::canonical_path(path);
    if !weir::policy::may_request(std::slice::from_ref(&prefix), &url) {
        return;
    }
    let (Some(granted), Some(served)) =
        (server_view(&prefix["http://h".len()..]), server_view(&url["http://h".len()..]))
    else {
        return;
    };
    let under = served
        .strip_prefix(granted.as_str())
        .is_some_and(|rest| granted.ends_with('/') || rest.is_empty() || rest.starts_with('/'));
    assert!(under, "{url} was admitted under {prefix} but a server reads it as {served}");
}

/// A lenient server's reading of a request path (query cut off).
fn server_view(path: &str) -> Option<String> {
    let mut path = path.split(['?', '#']).next().unwrap_or_default().to_owned();
    // Decoding again as long as anything changes (a lenient server).
    for _ in 0..8 {
        let decoded = percent_encoding::percent_decode_str(&path).decode_utf8_lossy().into_owned();
        if decoded == path {
            break;
        }
        path = decoded;
    }
    let path = path.replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').collect();
    let last = parts.len().saturating_sub(1);
    for (i, segment) in parts.iter().enumerate() {
        let segment = segment.split(';').next().unwrap_or_default();
        match segment {
            "." => {
                if i == last {
                    segments.push("");
                }
            }
            ".." => {
                if segments.len() > 1 {
                    segments.pop();
                }
                if i == last {
                    segments.push("");
                }
            }
            s => segments.push(s),
        }
    }
    Some(segments.join("/"))
}

/// The CDC decoders (debezium-json, canal-json, maxwell-json, ogg-json),
/// natively: the first byte picks the format and its switches, the rest is
/// frames split at newlines. No input may panic; rows a decoder accepted
/// must encode again without panicking either.
pub fn cdc(data: &[u8]) {
    use weir_sdk::Format;
    let Some((&pick, rest)) = data.split_first() else { return };
    let flag = |bit: u8| (pick >> bit & 1 == 1).to_string();
    let options: weir_sdk::Options = vec![
        ("schema-include".to_owned(), flag(2)),
        ("ignore-parse-errors".to_owned(), flag(3)),
        ("timestamp-format.standard".to_owned(), if pick >> 4 & 1 == 1 { "ISO-8601" } else { "SQL" }.to_owned()),
        ("map-null-key.mode".to_owned(), "LITERAL".to_owned()),
        ("map-null-key.literal".to_owned(), "null".to_owned()),
        ("encode.decimal-as-plain-number".to_owned(), flag(5)),
        ("database.include".to_owned(), "inv.*".to_owned()),
    ];
    let schema = cdc_schema();
    let mut offsets = vec![0i32];
    let mut bytes = Vec::new();
    for frame in rest.split(|&b| b == b'\n') {
        bytes.extend_from_slice(frame);
        offsets.push(i32::try_from(bytes.len()).unwrap_or(i32::MAX));
    }
    let frames = weir_sdk::VarData { offsets, data: bytes };
    fn run<F: Format>(options: &weir_sdk::Options, schema: &weir_sdk::Schema, frames: &weir_sdk::VarData) {
        let known: weir_sdk::Options =
            options.iter().filter(|(k, _)| F::spec().options.iter().any(|o| o.key == *k)).cloned().collect();
        let Ok(mut format) = F::open(&known, schema) else { return };
        if let Ok(batch) = format.decode(frames) {
            let _ = format.encode(&batch);
        }
    }
    match pick & 3 {
        0 => run::<weir_format_debezium_json::DebeziumJson>(&options, &schema, &frames),
        1 => run::<weir_format_canal_json::CanalJson>(&options, &schema, &frames),
        2 => run::<weir_format_maxwell_json::MaxwellJson>(&options, &schema, &frames),
        _ => run::<weir_format_ogg_json::OggJson>(&options, &schema, &frames),
    }
}

/// Flink's products table, and a nested column for the nested paths.
fn cdc_schema() -> weir_sdk::Schema {
    use weir_sdk::{ElementRef, Field, LogicalType as T, NestedType};
    let field = |name: &str, data_type, nullable| Field { name: name.to_owned(), data_type, nullable };
    weir_sdk::Schema {
        fields: vec![
            field("id", T::Int, false),
            field("name", T::String, true),
            field("description", T::String, true),
            field("weight", T::Float, true),
            field("tags", T::Array(ElementRef { element: 0, nullable: true }), true),
        ],
        nested: vec![NestedType::Type(T::String)],
        primary_key: vec!["id".to_owned()],
    }
}
