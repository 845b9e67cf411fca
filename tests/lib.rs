//! Shared helpers of Weir's integration tests: paths of the test guests and
//! a runtime whose compile cache lives in the target directory.

use std::path::PathBuf;
use std::sync::Arc;

use weir::catalog::{Entry, Origin};
use weir::engine::{Engine, EngineConfig};
use weir::{Runtime, RuntimeConfig};

/// Paths of the test guest components (built by `build.rs`).
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A compile cache shared by all tests, inside the target directory.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("OUT_DIR")).join("component-cache")
}

/// Engine settings for tests: the shared cache, default limits.
pub fn engine_config() -> EngineConfig {
    EngineConfig { cache_dir: Some(cache_dir()), ..EngineConfig::default() }
}

/// A runtime with the built-in components.
pub async fn runtime() -> Runtime {
    let config = RuntimeConfig { engine: engine_config(), plugin_dir: None };
    let (runtime, problems) = Runtime::new(config).await.expect("runtime starts");
    assert!(problems.is_empty(), "{problems:?}");
    runtime
}

/// A runtime with the built-ins plus the given test guests in its catalog.
pub async fn runtime_with(guests: &[&str]) -> Runtime {
    let mut runtime = runtime().await;
    for path in guests {
        let entry = load(runtime.engine().clone(), path).await;
        runtime.catalog_mut().add(entry).expect("no duplicate identifiers");
    }
    runtime
}

/// Loads one component file as a catalog entry.
pub async fn load(engine: Arc<Engine>, path: &str) -> Entry {
    let wasm = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    Entry::load(engine, Origin::File(path.into()), &wasm).await.unwrap_or_else(|e| panic!("load {path}: {e}"))
}

/// Path of a Python or JavaScript component built by
/// `scripts/build-polyglot` (which `scripts/test` runs first), e.g.
/// `polyglot("python-changelog-csv")`.
pub fn polyglot(name: &str) -> String {
    let dir = std::env::var("WEIR_POLYGLOT_DIR").unwrap_or_else(|_| {
        panic!("WEIR_POLYGLOT_DIR is not set: run the tests with `bash scripts/test`, which builds the Python and JavaScript components first")
    });
    let path = PathBuf::from(dir).join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} is missing: run `bash scripts/build-polyglot`", path.display());
    path.display().to_string()
}

/// Deterministic pseudo-random numbers, shared by the generated-data tests
/// and the benchmarks.
pub use weir::generate::Rng;

/// A changelog-csv (`KIND,id,owner,amount` lines) of `steps` changes over
/// 200 keys — inserts, update pairs and deletes — and the state it leaves:
/// id → (owner, amount). `owner` names step n's owner (quotes and
/// backslashes test a sink's literals).
pub fn changelog(
    steps: u64,
    owner: impl Fn(u64) -> String,
) -> (String, std::collections::BTreeMap<u64, (String, u64)>) {
    let mut lines = String::new();
    let mut state = std::collections::BTreeMap::new();
    for step in 0..steps {
        let key = (step * 13) % 200;
        let (owner, amount) = (owner(step), step * 5);
        match (state.get(&key).cloned(), step % 6) {
            (None, _) => {
                lines.push_str(&format!("INSERT,{key},{owner},{amount}\n"));
                state.insert(key, (owner, amount));
            }
            (Some((o, a)), 5) => {
                lines.push_str(&format!("DELETE,{key},{o},{a}\n"));
                state.remove(&key);
            }
            (Some((o, a)), _) => {
                lines.push_str(&format!("UPDATE_BEFORE,{key},{o},{a}\nUPDATE_AFTER,{key},{owner},{amount}\n"));
                state.insert(key, (owner, amount));
            }
        }
    }
    (lines, state)
}

/// Owned option pairs from string slices.
pub fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

pub use weir::model::{DataType as LogicalType, Field, Schema};

/// A nullable column.
pub fn col(name: &str, data_type: LogicalType) -> Field {
    Field::new(name, data_type)
}

/// A `NOT NULL` column.
pub fn not_null(name: &str, data_type: LogicalType) -> Field {
    Field::new(name, data_type).not_null()
}

/// A schema.
pub fn schema(fields: Vec<Field>) -> Schema {
    Schema::new(fields)
}

/// One decoder and one encoder of a format, with helpers that speak in
/// lines of text and rows as Flink prints them.
pub struct FormatUnderTest {
    /// The decoder.
    pub decoder: weir::Decoder,
    /// The encoder.
    pub encoder: weir::Encoder,
}

impl FormatUnderTest {
    /// Opens `format` with `options` (without the format prefix).
    pub async fn open(
        runtime: &Runtime,
        format: &str,
        options: &[(&str, &str)],
        schema: &Schema,
    ) -> weir::Result<Self> {
        let options = opts(options);
        let decoder = runtime.decoder("t", format, &options, schema).await?;
        let encoder = runtime.encoder("t", format, &options, schema).await?;
        Ok(FormatUnderTest { decoder, encoder })
    }

    /// Decodes frames into rows printed as Flink prints them.
    pub async fn rows(&mut self, frames: &[&[u8]]) -> weir::Result<Vec<String>> {
        let batch = self.decoder.decode(&weir::Frames::new(frames)).await?;
        Ok(weir::display::format_rows(&batch))
    }

    /// Decodes the lines of `text` (one frame each).
    pub async fn rows_of(&mut self, text: &str) -> weir::Result<Vec<String>> {
        let lines: Vec<&[u8]> = text.lines().map(str::as_bytes).collect();
        self.rows(&lines).await
    }

    /// Decodes the lines of `text`, encodes the rows again and returns the
    /// rows and the encoded lines.
    pub async fn round_trip(&mut self, text: &str) -> weir::Result<(Vec<String>, Vec<String>)> {
        let lines: Vec<&[u8]> = text.lines().map(str::as_bytes).collect();
        let batch = self.decoder.decode(&weir::Frames::new(lines)).await?;
        let rows = weir::display::format_rows(&batch);
        let encoded = self.encoder.encode(&batch).await?;
        let lines = encoded.iter().map(|line| String::from_utf8(line.to_vec()).expect("UTF-8 output")).collect();
        Ok((rows, lines))
    }

    /// The decoder's counter `name` (e.g. `records-skipped`).
    pub fn counter(&self, name: &str) -> u64 {
        self.decoder.instance().metrics().counters.get(name).copied().unwrap_or(0)
    }
}

/// Asserts that decoding `lines` fails at record `position` with a message
/// containing `message` and an excerpt of the bad record.
pub async fn assert_data_error(f: &mut FormatUnderTest, lines: &str, position: u64, message: &str) {
    let err = f.rows_of(lines).await.expect_err("malformed input must fail");
    let text = err.to_string();
    match &err {
        weir::Error::Guest { error: weir::GuestError::Data { position: p, excerpt, message: m }, .. } => {
            assert_eq!(*p, position, "{text}");
            assert!(m.contains(message), "expected {message:?} in: {text}");
            let bad = lines.lines().nth(position as usize).expect("the bad line exists");
            let shown = excerpt.trim_end_matches('…');
            assert!(!shown.is_empty() && bad.starts_with(shown), "excerpt {excerpt:?} of {bad:?}");
        }
        other => panic!("expected a data error, got: {other}"),
    }
    assert!(text.contains(&format!("data error at record {position}")) && text.contains("(input: "), "{text}");
    assert!(!f.decoder.instance().is_poisoned(), "a data error is not a trap");
}

/// Lines of a golden file under `tests/golden/`.
pub fn golden(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

/// Parses a column list in Flink SQL type syntax — `name STRING, score INT
/// NOT NULL, tags ARRAY<STRING>, m MAP<STRING, INT>, r ROW<a INT, b
/// TIMESTAMP(3)>` — into a schema, so golden files can state their schema.
pub fn parse_schema(text: &str) -> Schema {
    let mut parser = TypeParser { tokens: tokenize(text), at: 0 };
    let fields = parser.columns(None);
    assert!(parser.at == parser.tokens.len(), "trailing input in schema {text:?}");
    Schema::new(fields)
}

fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '_') {
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        } else {
            tokens.push(c.to_string());
            chars.next();
        }
    }
    tokens
}

struct TypeParser {
    tokens: Vec<String>,
    at: usize,
}

impl TypeParser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> String {
        let token = self.tokens.get(self.at).cloned().unwrap_or_else(|| panic!("schema ends too early"));
        self.at += 1;
        token
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.peek().is_some_and(|t| t.eq_ignore_ascii_case(token));
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, token: &str) {
        let got = self.next();
        assert!(got.eq_ignore_ascii_case(token), "schema: expected {token:?}, found {got:?}");
    }

    fn number(&mut self) -> u32 {
        let token = self.next();
        token.parse().unwrap_or_else(|_| panic!("schema: expected a number, found {token:?}"))
    }

    /// `(n)` if present.
    fn length(&mut self) -> Option<u32> {
        if !self.eat("(") {
            return None;
        }
        let n = self.number();
        self.expect(")");
        Some(n)
    }

    fn not_null(&mut self) -> bool {
        if self.eat("NOT") {
            self.expect("NULL");
            true
        } else {
            false
        }
    }

    /// Columns up to `end` (or the end of input).
    fn columns(&mut self, end: Option<&str>) -> Vec<Field> {
        let mut fields = Vec::new();
        loop {
            let name = self.next();
            let data_type = self.data_type();
            fields.push(Field { name, data_type, nullable: !self.not_null() });
            if !self.eat(",") {
                break;
            }
        }
        if let Some(end) = end {
            self.expect(end);
        }
        fields
    }

    fn data_type(&mut self) -> LogicalType {
        let word = self.next().to_ascii_uppercase();
        match word.as_str() {
            "BOOLEAN" => LogicalType::Boolean,
            "TINYINT" => LogicalType::TinyInt,
            "SMALLINT" => LogicalType::SmallInt,
            "INT" | "INTEGER" => LogicalType::Int,
            "BIGINT" => LogicalType::BigInt,
            "FLOAT" => LogicalType::Float,
            "DOUBLE" => LogicalType::Double,
            "DECIMAL" => {
                let (mut precision, mut scale) = (10, 0);
                if self.eat("(") {
                    precision = self.number() as u8;
                    if self.eat(",") {
                        scale = self.number() as u8;
                    }
                    self.expect(")");
                }
                LogicalType::Decimal { precision, scale }
            }
            "CHAR" => LogicalType::Char(self.length().unwrap_or(1)),
            "VARCHAR" => LogicalType::Varchar(self.length().unwrap_or(1)),
            "STRING" => LogicalType::String,
            "BINARY" => LogicalType::Binary(self.length().unwrap_or(1)),
            "VARBINARY" => LogicalType::Varbinary(self.length().unwrap_or(1)),
            "BYTES" => LogicalType::Bytes,
            "DATE" => LogicalType::Date,
            "TIME" => LogicalType::Time(self.length().unwrap_or(0) as u8),
            "TIMESTAMP" => LogicalType::Timestamp(self.length().unwrap_or(6) as u8),
            "TIMESTAMP_LTZ" => LogicalType::TimestampLtz(self.length().unwrap_or(6) as u8),
            "ARRAY" => {
                self.expect("<");
                let element = self.data_type();
                let nullable = !self.not_null();
                self.expect(">");
                LogicalType::Array { element: Box::new(element), nullable }
            }
            "MAP" => {
                self.expect("<");
                let key = self.data_type();
                self.expect(",");
                let value = self.data_type();
                let nullable = !self.not_null();
                self.expect(">");
                LogicalType::Map { key: Box::new(key), value: Box::new(value), value_nullable: nullable }
            }
            "ROW" => {
                self.expect("<");
                let fields = self.columns(Some(">"));
                LogicalType::Row(fields)
            }
            other => panic!("schema: unknown type {other}"),
        }
    }
}

/// One golden case: a schema, format options, input frames, the rows Flink
/// produces from them and the bytes the encoder writes back.
///
/// The file is line based: `schema: …` and `option: key = value` lines,
/// then sections `--- input`, `--- rows` and optionally `--- output` (when
/// absent, the encoder must give back the input exactly). Each line of
/// `input` and `output` is one frame. Lines starting with `#` are comments.
#[derive(Debug, Default)]
pub struct Golden {
    /// The file, for messages.
    pub path: String,
    /// The table schema.
    pub schema: String,
    /// Format options without prefix.
    pub options: Vec<(String, String)>,
    /// Input frames.
    pub input: Vec<String>,
    /// Rows as Flink prints them.
    pub rows: Vec<String>,
    /// Encoded frames (the input when the file has no output section).
    pub output: Vec<String>,
}

impl Golden {
    /// Reads `tests/golden/<path>`.
    pub fn read(path: &str) -> Golden {
        let text = golden(path);
        let mut case = Golden { path: path.to_owned(), ..Golden::default() };
        let mut section = None;
        let mut has_output = false;
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("--- ") {
                has_output |= name == "output";
                section = Some(name.to_owned());
                continue;
            }
            match section.as_deref() {
                None if line.starts_with('#') || line.trim().is_empty() => {}
                None => {
                    let (key, value) = line.split_once(": ").unwrap_or_else(|| panic!("{path}: bad header {line:?}"));
                    match key {
                        "schema" => case.schema = value.to_owned(),
                        "option" => {
                            let (k, v) =
                                value.split_once(" = ").unwrap_or_else(|| panic!("{path}: bad option {line:?}"));
                            case.options.push((k.to_owned(), v.to_owned()));
                        }
                        _ => panic!("{path}: unknown header {key:?}"),
                    }
                }
                Some("input") => case.input.push(line.to_owned()),
                Some("rows") => case.rows.push(line.to_owned()),
                Some("output") => case.output.push(line.to_owned()),
                Some(other) => panic!("{path}: unknown section {other:?}"),
            }
        }
        if !has_output {
            case.output = case.input.clone();
        }
        case
    }

    /// Decodes the input, compares the rows, encodes them and compares the
    /// output; then decodes the output again and expects the same rows.
    pub async fn check(&self, runtime: &Runtime, format: &str) {
        let path = &self.path;
        let schema = parse_schema(&self.schema);
        let options: Vec<(&str, &str)> = self.options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut f = FormatUnderTest::open(runtime, format, &options, &schema)
            .await
            .unwrap_or_else(|e| panic!("{path}: open: {e}"));
        let (rows, output) =
            f.round_trip(&self.input.join("\n")).await.unwrap_or_else(|e| panic!("{path}: round trip: {e}"));
        assert_eq!(rows, self.rows, "{path}: decoded rows");
        assert_eq!(output, self.output, "{path}: encoded frames");
        let again = f.rows_of(&output.join("\n")).await.unwrap_or_else(|e| panic!("{path}: decode output: {e}"));
        assert_eq!(again, self.rows, "{path}: rows decoded from the encoder's output");
    }
}

/// Random rows of every scalar type (the generator `weir verify` uses too).
pub use weir::generate;

/// External servers (Kafka via Tansu) the tests start themselves.
#[path = "peers.rs"]
pub mod peers;
