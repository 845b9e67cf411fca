//! A Chroma collection as a sandboxed component: Chroma's REST API (v2)
//! spoken here over `wasi:http` ([`http`]); the host has no Chroma client
//! and sends only requests under the operator's `--allow-http` prefix.
//!
//! A table maps to a collection ([`Layout`]): its one-column PRIMARY KEY is
//! the record's id, an ARRAY<FLOAT> (or ARRAY<DOUBLE>) column its
//! embedding, `document-column` (optional) its document, every other column
//! a metadata key of the same name.
//!
//! - **Scan**: the collection page by page (`/get`, `scan.fetch-size`
//!   records each); the checkpoint is the number of records handed out.
//! - **Vector search** ([`Search`]): `/query` with `n_results` = top-k.
//!   Scores as the jdbc connector gives them: l2 → the Euclidean distance
//!   (Chroma answers its square), cosine → the cosine similarity,
//!   inner-product → the inner product.
//! - **Sink** ([`Writer`]): an upsert sink. The buffer keeps the last
//!   change per id; a flush sends one `/upsert` and one `/delete`. Replaying
//!   changes after a restore writes the same records again, so the
//!   collection ends as if each change was applied once. The sink creates
//!   the collection (with `vector-search.metric`'s space) if it is missing.

mod http;

use std::time::{Duration, Instant};

use http::Endpoint;
use serde_json::{Map, Value};
use weir_sdk::text::{TextStyle, push_text, write_text};
use weir_sdk::{
    Accepted, BatchBuilder, BatchReader, CapabilityKind, ColumnBuilder, ComponentSpec, Connector, Error, LogicalType,
    NestedType, OptionSpec, OptionType, Options, OptionsExt, Payload, ReadResult, Result, RowKind, ScanPlan,
    ScanRequest, Schema, Sink, SinkInput, Source, Split, ValueRef, WriterContext,
};

impl Connector for Reader {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("chroma", "A Chroma collection over its REST API: scan, vector search and an upsert sink")
            .payload(Payload::Rows)
            .option(OptionSpec::string("url", "The Chroma server, such as http://127.0.0.1:8000").required())
            .option(OptionSpec::string("collection", "The collection's name").required())
            .option(OptionSpec::string("tenant", "Chroma's tenant").default_value("default_tenant"))
            .option(OptionSpec::string("database", "Chroma's database").default_value("default_database"))
            .option(OptionSpec::string(
                "embedding-column",
                "The ARRAY<FLOAT> or ARRAY<DOUBLE> column holding the embedding (default: the table's only such column)",
            ))
            .option(OptionSpec::string(
                "document-column",
                "A string column stored as the record's document (default: none; every column but the key and the \
                 embedding is metadata)",
            ))
            .option(OptionSpec::one_of(
                "vector-search.metric",
                &["l2", "cosine", "inner-product"],
                "The collection's distance: a missing collection is created with it; an existing one must use it \
                 (default: whatever the collection uses, l2 for a new one)",
            ))
            .option(
                OptionSpec::new("request-timeout", OptionType::Duration, "How long one request may take")
                    .default_value("30 s"),
            )
            .option(OptionSpec::int("scan.fetch-size", "Records per request of a scan").default_value("1000"))
            .option(
                OptionSpec::int("sink.buffer-flush.max-rows", "Changes buffered before a flush (0: only at checkpoints)")
                    .default_value("500"),
            )
            .option(
                OptionSpec::new(
                    "sink.buffer-flush.interval",
                    OptionType::Duration,
                    "Flush when this long has passed since the last flush, checked as rows arrive (0: only by size \
                     and at checkpoints)",
                )
                .default_value("1 s"),
            )
            .option(
                OptionSpec::int("sink.max-retries", "Retries of a flush whose request got no answer").default_value("3"),
            )
            .option(OptionSpec::int("sink.parallelism", "Writers in parallel"))
            .source_abilities(weir_sdk::SourceAbilities::VECTOR_SEARCH)
            .sink_abilities(weir_sdk::SinkAbilities::UPSERT)
            .capability(CapabilityKind::Http, "{url}")
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Settings::parse(options, schema).map(|_| ())
    }
}

/// The options, parsed.
struct Settings {
    endpoint: Endpoint,
    collection: String,
    /// `/api/v2/tenants/{tenant}/databases/{database}/collections`.
    collections: String,
    layout: Layout,
    metric: Option<Metric>,
    fetch_size: u32,
}

impl Settings {
    fn parse(options: &Options, schema: &Schema) -> Result<Settings> {
        let timeout = options.duration("request-timeout")?;
        if timeout.is_zero() {
            return Err(Error::config(Some("request-timeout"), "must be longer than 0"));
        }
        let endpoint = Endpoint::parse(options.string("url")?, timeout).map_err(|m| Error::config(Some("url"), m))?;
        let collection = options.string("collection")?.trim().to_owned();
        let valid = (3..=512).contains(&collection.len())
            && collection.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && collection.starts_with(|c: char| c.is_ascii_alphanumeric())
            && collection.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(Error::config(
                Some("collection"),
                format!(
                    "'{collection}' is not a Chroma collection name: 3 to 512 of a-z A-Z 0-9 . _ -, starting and \
                     ending with a letter or digit"
                ),
            ));
        }
        let mut path = String::from("/api/v2");
        for key in ["tenant", "database"] {
            let value = options.string(key)?.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                return Err(Error::config(Some(key), format!("'{value}' is not a Chroma {key} name")));
            }
            path.push_str(&format!("/{key}s/{value}"));
        }
        let metric = match options.get("vector-search.metric").map(|m| m.trim().to_ascii_lowercase()).as_deref() {
            None => None,
            Some(m) => Some(Metric::from_option(m)?),
        };
        let fetch_size = options.long("scan.fetch-size")?;
        if !(1..=100_000).contains(&fetch_size) {
            return Err(Error::config(Some("scan.fetch-size"), "must be between 1 and 100000"));
        }
        Ok(Settings {
            endpoint,
            collection,
            collections: format!("{path}/collections"),
            layout: Layout::of(options, schema)?,
            metric,
            fetch_size: fetch_size as u32,
        })
    }

    /// The collection, created with the metric's space if `create` and it
    /// is missing.
    fn open_collection(&self, create: bool) -> Result<Collection> {
        let name = &self.collection;
        let found = self.endpoint.call("GET", &format!("{}/{name}", self.collections), None)?;
        let answer = match found {
            Ok(answer) => answer,
            Err(refused) if refused.status == 404 && create => {
                let space = self.metric.unwrap_or(Metric::L2).space();
                let body = serde_json::json!({
                    "name": name,
                    "get_or_create": true,
                    "configuration": {"hnsw": {"space": space}},
                });
                self.endpoint
                    .call("POST", &self.collections, Some(body.to_string().as_bytes()))?
                    .map_err(|r| self.refused("creating the collection", r))?
            }
            Err(refused) if refused.status == 404 => {
                return Err(Error::config(
                    Some("collection"),
                    format!(
                        "{} has no collection '{name}' in {}; create it, or write to it first (the chroma sink \
                         creates it)",
                        self.endpoint.url,
                        self.collections.trim_end_matches("/collections")
                    ),
                ));
            }
            Err(refused) => return Err(self.refused("reading the collection", refused)),
        };
        let id = answer
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::connection(format!("{} described collection '{name}' without an id", self.endpoint.url))
            })?
            .to_owned();
        let space = answer
            .pointer("/configuration_json/hnsw/space")
            .or_else(|| answer.pointer("/metadata/hnsw:space"))
            .and_then(Value::as_str)
            .unwrap_or("l2");
        let space = Metric::from_space(space).ok_or_else(|| {
            Error::config(
                None,
                format!("collection '{name}' uses the distance '{space}', which this connector does not know"),
            )
        })?;
        if let Some(wanted) = self.metric
            && wanted != space
        {
            return Err(Error::config(
                Some("vector-search.metric"),
                format!(
                    "is {} but collection '{name}' was created with {}; use that metric (or drop the option)",
                    wanted.option(),
                    space.option()
                ),
            ));
        }
        let dimension = answer.get("dimension").and_then(Value::as_u64).map(|d| d as usize);
        Ok(Collection { path: format!("{}/{id}", self.collections), metric: space, dimension })
    }

    /// A non-2xx answer in the table's terms, with Chroma's own message.
    fn refused(&self, doing: &str, refused: http::Refused) -> Error {
        let message = serde_json::from_str::<Value>(&refused.body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| refused.body.chars().take(300).collect());
        let text = format!(
            "{} refused {doing} (collection '{}'): HTTP {}: {message}",
            self.endpoint.url, self.collection, refused.status
        );
        if refused.status >= 500 || refused.status == 429 { Error::transient(text) } else { Error::unsupported(text) }
    }

    /// `POST collection/suffix` with `body`; the answer, or an error.
    fn post(&self, collection: &Collection, suffix: &str, doing: &str, body: &Value) -> Result<Value> {
        let body = body.to_string();
        self.endpoint
            .call("POST", &format!("{}/{suffix}", collection.path), Some(body.as_bytes()))?
            .map_err(|r| self.refused(doing, r))
    }
}

/// One collection as the server described it.
struct Collection {
    /// `/api/v2/…/collections/{id}`.
    path: String,
    metric: Metric,
    /// Set once the collection holds a vector.
    dimension: Option<usize>,
}

/// Chroma's distances (`hnsw.space`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Metric {
    L2,
    Cosine,
    InnerProduct,
}

impl Metric {
    fn from_option(option: &str) -> Result<Metric> {
        match option {
            "l2" => Ok(Metric::L2),
            "cosine" => Ok(Metric::Cosine),
            "inner-product" => Ok(Metric::InnerProduct),
            other => Err(Error::config(
                Some("vector-search.metric"),
                format!("'{other}' is not a metric; use l2, cosine or inner-product"),
            )),
        }
    }

    fn from_space(space: &str) -> Option<Metric> {
        match space {
            "l2" => Some(Metric::L2),
            "cosine" => Some(Metric::Cosine),
            "ip" => Some(Metric::InnerProduct),
            _ => None,
        }
    }

    fn space(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "ip",
        }
    }

    fn option(self) -> &'static str {
        match self {
            Metric::InnerProduct => "inner-product",
            other => other.space(),
        }
    }

    /// The score of Chroma's distance: l2 is the squared distance, cosine
    /// 1 − similarity, ip 1 − inner product.
    fn score(self, distance: f64) -> f64 {
        match self {
            Metric::L2 => distance.max(0.0).sqrt(),
            Metric::Cosine | Metric::InnerProduct => 1.0 - distance,
        }
    }
}

/// Which column is what in a Chroma record.
#[derive(Clone)]
struct Layout {
    id: usize,
    embedding: usize,
    /// The embedding's element type is DOUBLE (else FLOAT).
    doubles: bool,
    document: Option<usize>,
    /// Every other column, a metadata key each.
    metadata: Vec<usize>,
}

impl Layout {
    fn of(options: &Options, schema: &Schema) -> Result<Layout> {
        let column = |name: &str, option: &str| {
            schema
                .fields
                .iter()
                .position(|f| f.name == name)
                .ok_or_else(|| Error::config(Some(option), format!("the table has no column '{name}'")))
        };
        let id = match schema.primary_key.as_slice() {
            [key] => column(key, "PRIMARY KEY")?,
            _ => {
                return Err(Error::config(
                    None,
                    "declare a PRIMARY KEY of one column (PRIMARY KEY (id) NOT ENFORCED): its value is the Chroma \
                     record's id",
                ));
            }
        };
        let vector_element = |i: usize| match &schema.fields[i].data_type {
            LogicalType::Array(e) => match schema.nested.get(e.element as usize) {
                Some(NestedType::Type(LogicalType::Float)) => Some(false),
                Some(NestedType::Type(LogicalType::Double)) => Some(true),
                _ => None,
            },
            _ => None,
        };
        let embedding = match options.get("embedding-column").map(str::trim) {
            Some(name) => {
                let i = column(name, "embedding-column")?;
                if vector_element(i).is_none() {
                    return Err(Error::config(
                        Some("embedding-column"),
                        format!("column '{name}' is not ARRAY<FLOAT> or ARRAY<DOUBLE>"),
                    ));
                }
                i
            }
            None => {
                let vectors: Vec<usize> = (0..schema.fields.len()).filter(|&i| vector_element(i).is_some()).collect();
                match vectors.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(Error::config(
                            None,
                            "the table has no ARRAY<FLOAT> or ARRAY<DOUBLE> column to hold the records' embeddings",
                        ));
                    }
                    _ => {
                        return Err(Error::config(
                            Some("embedding-column"),
                            "the table has several vector columns; name the embedding's",
                        ));
                    }
                }
            }
        };
        let document = match options.get("document-column").map(str::trim) {
            Some(name) => {
                let i = column(name, "document-column")?;
                if !matches!(
                    schema.fields[i].data_type,
                    LogicalType::String | LogicalType::Varchar(_) | LogicalType::Char(_)
                ) {
                    return Err(Error::config(Some("document-column"), format!("column '{name}' is not a string")));
                }
                Some(i)
            }
            None => None,
        };
        if id == embedding || Some(id) == document || Some(embedding) == document {
            return Err(Error::config(None, "the key, the embedding and the document must be three different columns"));
        }
        let metadata: Vec<usize> =
            (0..schema.fields.len()).filter(|&i| i != id && i != embedding && Some(i) != document).collect();
        for &i in metadata.iter().chain([&id]) {
            if matches!(schema.fields[i].data_type, LogicalType::Array(_) | LogicalType::Map(_) | LogicalType::Row(_)) {
                return Err(Error::config(
                    None,
                    format!(
                        "column '{}' is nested; Chroma's ids and metadata values are strings, numbers and booleans",
                        schema.fields[i].name
                    ),
                ));
            }
        }
        Ok(Layout { id, embedding, doubles: vector_element(embedding) == Some(true), document, metadata })
    }

    /// Appends one Chroma record (values from a `/get` or `/query` answer)
    /// as a row; `index` numbers it for error messages.
    fn push(&self, batch: &mut BatchBuilder, schema: &Schema, index: u64, record: Record<'_>) -> Result<()> {
        let style = TextStyle::default();
        let bad = |name: &str, m: String| Error::data(index, record.id.as_bytes(), format!("column '{name}': {m}"));
        for (i, field) in schema.fields.iter().enumerate() {
            let column = batch.column(i);
            if i == self.id {
                push_text(column, &field.data_type, record.id, &style).map_err(|m| bad(&field.name, m))?;
            } else if i == self.embedding {
                push_vector(column, record.embedding, self.doubles).map_err(|m| bad(&field.name, m))?;
            } else if Some(i) == self.document {
                match record.document {
                    Some(Value::String(s)) => column.push_str(s)?,
                    _ => column.push_null()?,
                }
            } else {
                match record.metadata.and_then(|m| m.get(&field.name)) {
                    None | Some(Value::Null) => column.push_null().map_err(|e| e.message()),
                    Some(Value::String(s)) => push_text(column, &field.data_type, s, &style),
                    Some(Value::Bool(b)) => {
                        push_text(column, &field.data_type, if *b { "true" } else { "false" }, &style)
                    }
                    Some(Value::Number(n)) => push_text(column, &field.data_type, &n.to_string(), &style),
                    Some(other) => Err(format!("Chroma holds {other}, which is not a scalar")),
                }
                .map_err(|m| bad(&field.name, m))?;
            }
        }
        batch.end_row(RowKind::Insert)
    }

    /// The Chroma id of row `r` (its key as text).
    fn id(&self, schema: &Schema, reader: &BatchReader<'_>, r: usize) -> Result<String> {
        let field = &schema.fields[self.id];
        let mut id = String::new();
        match reader.value(self.id, r)? {
            ValueRef::Null => {
                return Err(Error::data(
                    r as u64,
                    b"",
                    format!("column '{}': the key is NULL; every Chroma record needs an id", field.name),
                ));
            }
            v => write_text(&mut id, &field.data_type, v, &TextStyle::default())
                .map_err(|m| Error::data(r as u64, b"", format!("column '{}': {m}", field.name)))?,
        }
        Ok(id)
    }

    /// Row `r` as what an upsert sends besides the id.
    fn upsert(&self, schema: &Schema, reader: &BatchReader<'_>, r: usize) -> Result<Upsert> {
        let style = TextStyle::default();
        let field = |i: usize| &schema.fields[i];
        let bad = |i: usize, m: String| Error::data(r as u64, b"", format!("column '{}': {m}", field(i).name));
        let vectors = reader.column(self.embedding)?;
        if vectors.is_null(r) {
            return Err(bad(self.embedding, "the embedding is NULL; Chroma stores a vector per record".into()));
        }
        let elements = vectors.elements()?;
        let mut embedding = Vec::new();
        for k in vectors.range(r)? {
            let v = match elements.value(k)? {
                ValueRef::F32(v) => f64::from(v),
                ValueRef::F64(v) => v,
                ValueRef::Null => return Err(bad(self.embedding, format!("element {} is NULL", embedding.len() + 1))),
                other => return Err(bad(self.embedding, format!("element {other:?} is not a number"))),
            };
            let number = serde_json::Number::from_f64(v).ok_or_else(|| {
                bad(self.embedding, format!("element {} is {v}, not a finite number", embedding.len() + 1))
            })?;
            embedding.push(Value::Number(number));
        }
        let document = match self.document.map(|d| reader.value(d, r)).transpose()? {
            Some(ValueRef::Str(s)) => Value::String(s.to_owned()),
            _ => Value::Null,
        };
        let mut metadata = Map::new();
        for &i in &self.metadata {
            let value = match (&field(i).data_type, reader.value(i, r)?) {
                (_, ValueRef::Null) => continue,
                (_, ValueRef::Bool(b)) => Value::Bool(b),
                (LogicalType::Tinyint, ValueRef::I8(v)) => v.into(),
                (LogicalType::Smallint, ValueRef::I16(v)) => v.into(),
                (LogicalType::Int, ValueRef::I32(v)) => v.into(),
                (LogicalType::Bigint, ValueRef::I64(v)) => v.into(),
                (LogicalType::Float, ValueRef::F32(v)) => float(f64::from(v)).map_err(|m| bad(i, m))?,
                (LogicalType::Double, ValueRef::F64(v)) => float(v).map_err(|m| bad(i, m))?,
                // DECIMAL, dates, times, timestamps, bytes: their text form.
                (ty, v) => {
                    let mut text = String::new();
                    write_text(&mut text, ty, v, &style).map_err(|m| bad(i, m))?;
                    Value::String(text)
                }
            };
            metadata.insert(field(i).name.clone(), value);
        }
        let metadata = if metadata.is_empty() { Value::Null } else { Value::Object(metadata) };
        Ok(Upsert { embedding: Value::Array(embedding), document, metadata })
    }
}

/// What an upsert sends for one record besides its id.
struct Upsert {
    embedding: Value,
    document: Value,
    metadata: Value,
}

/// A finite float as JSON (Chroma's JSON has no NaN or infinity).
fn float(v: f64) -> std::result::Result<Value, String> {
    serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| format!("{v} is not a finite number"))
}

/// A JSON array of numbers as an ARRAY<FLOAT> / ARRAY<DOUBLE> value.
fn push_vector(column: &mut ColumnBuilder, vector: Option<&Value>, doubles: bool) -> std::result::Result<(), String> {
    let Some(Value::Array(values)) = vector else {
        return column.push_null().map_err(|e| e.message());
    };
    let elements = column.array_elements().map_err(|e| e.message())?;
    for v in values {
        let v = v.as_f64().ok_or_else(|| format!("Chroma holds {v} in an embedding"))?;
        if doubles { elements.push_f64(v) } else { elements.push_f32(v as f32) }.map_err(|e| e.message())?;
    }
    column.end_array().map_err(|e| e.message())
}

/// One record of an answer.
struct Record<'a> {
    id: &'a str,
    embedding: Option<&'a Value>,
    document: Option<&'a Value>,
    metadata: Option<&'a Map<String, Value>>,
}

/// The records of a `/get` answer (or one query's lists of a `/query`
/// answer): parallel arrays `ids`, `embeddings`, `documents`, `metadatas`.
fn records<'a>(
    ids: &'a Value,
    embeddings: Option<&'a Value>,
    documents: Option<&'a Value>,
    metadatas: Option<&'a Value>,
) -> Result<Vec<Record<'a>>> {
    let malformed = || Error::connection("Chroma answered with records in an unexpected shape");
    let ids = ids.as_array().ok_or_else(malformed)?;
    let nth = |list: Option<&'a Value>, i: usize| list.and_then(Value::as_array).and_then(|l| l.get(i));
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            Ok(Record {
                id: id.as_str().ok_or_else(malformed)?,
                embedding: nth(embeddings, i),
                document: nth(documents, i),
                metadata: nth(metadatas, i).and_then(Value::as_object),
            })
        })
        .collect()
}

/// Reads the collection, `scan.fetch-size` records per request.
struct Reader {
    settings: Settings,
    schema: Schema,
    collection: Option<Collection>,
    emitted: u64,
    done: bool,
}

impl Source for Reader {
    fn plan(options: &Options, schema: &Schema, _request: &ScanRequest) -> Result<ScanPlan> {
        let settings = Settings::parse(options, schema)?;
        Ok(ScanPlan {
            splits: vec![Split { id: settings.collection, payload: Vec::new() }],
            bounded: true,
            accepted: Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false },
        })
    }

    fn open(
        options: &Options,
        schema: &Schema,
        _request: &ScanRequest,
        _split: &Split,
        state: Option<&[u8]>,
    ) -> Result<Self> {
        let settings = Settings::parse(options, schema)?;
        let emitted = match state {
            Some(s) => u64::from_le_bytes(s.try_into().map_err(|_| Error::unsupported("not a chroma reader's state"))?),
            None => 0,
        };
        Ok(Reader { settings, schema: schema.clone(), collection: None, emitted, done: false })
    }

    fn next(&mut self, max_records: u32) -> Result<ReadResult> {
        if self.done {
            return Ok(ReadResult::EndOfSplit);
        }
        if self.collection.is_none() {
            self.collection = Some(self.settings.open_collection(false)?);
        }
        let collection = self.collection.as_ref().expect("opened above");
        let limit = self.settings.fetch_size.min(max_records.max(1));
        let body = serde_json::json!({
            "limit": limit,
            "offset": self.emitted,
            "include": ["embeddings", "documents", "metadatas"],
        });
        let answer = self.settings.post(collection, "get", "a scan", &body)?;
        let found =
            records(&answer["ids"], answer.get("embeddings"), answer.get("documents"), answer.get("metadatas"))?;
        let mut batch = BatchBuilder::with_capacity(&self.schema, found.len());
        for (i, record) in found.into_iter().enumerate() {
            self.settings.layout.push(&mut batch, &self.schema, self.emitted + i as u64, record)?;
        }
        let rows = batch.rows() as u64;
        self.emitted += rows;
        if rows < u64::from(limit) {
            self.done = true;
        }
        if rows == 0 {
            return Ok(ReadResult::EndOfSplit);
        }
        Ok(ReadResult::Rows(batch.finish()?))
    }

    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(self.emitted.to_le_bytes().to_vec())
    }

    fn open_vector_index(options: &Options, schema: &Schema, column: u32) -> Result<Box<dyn weir_sdk::VectorIndex>> {
        let settings = Settings::parse(options, schema)?;
        if column as usize != settings.layout.embedding {
            let name = schema.fields.get(column as usize).map_or("?", |f| f.name.as_str());
            return Err(Error::config(
                Some("embedding-column"),
                format!(
                    "VECTOR_SEARCH names column '{name}' but the collection's embeddings are column '{}'",
                    schema.fields[settings.layout.embedding].name
                ),
            ));
        }
        let collection = settings.open_collection(false)?;
        Ok(Box::new(Search { settings, schema: schema.clone(), collection }))
    }
}

/// Answers top-k queries with `/query`.
struct Search {
    settings: Settings,
    schema: Schema,
    collection: Collection,
}

impl weir_sdk::VectorIndex for Search {
    fn search(&mut self, query: &[f32], top_k: u32) -> Result<weir_sdk::SearchResult> {
        if top_k == 0 {
            return Err(Error::unsupported("a vector search needs top-k of at least 1"));
        }
        let name = &self.settings.collection;
        if self.collection.dimension.is_none() {
            // Empty when opened: it may hold vectors by now.
            self.collection = self.settings.open_collection(false)?;
        }
        let Some(dimension) = self.collection.dimension else {
            return Ok(weir_sdk::SearchResult { rows: BatchBuilder::new(&self.schema).finish()?, scores: Vec::new() });
        };
        if dimension != query.len() {
            return Err(Error::data(
                0,
                b"",
                format!(
                    "the query vector has {} dimensions but collection '{name}' holds vectors of {dimension}",
                    query.len()
                ),
            ));
        }
        let mut vector = Vec::with_capacity(query.len());
        for &v in query {
            vector.push(float(f64::from(v)).map_err(|m| Error::data(0, b"", format!("the query vector holds {m}")))?);
        }
        let body = serde_json::json!({
            "query_embeddings": [vector],
            "n_results": top_k,
            "include": ["embeddings", "documents", "metadatas", "distances"],
        });
        let answer = self.settings.post(&self.collection, "query", "a vector search", &body)?;
        let first = |key: &str| answer.get(key).and_then(Value::as_array).and_then(|l| l.first());
        let Some(ids) = first("ids") else {
            return Err(Error::connection("Chroma answered a query without ids"));
        };
        let found = records(ids, first("embeddings"), first("documents"), first("metadatas"))?;
        let distances = first("distances").and_then(Value::as_array);
        let mut batch = BatchBuilder::with_capacity(&self.schema, found.len());
        let mut scores = Vec::with_capacity(found.len());
        for (i, record) in found.into_iter().enumerate() {
            let distance = distances
                .and_then(|d| d.get(i))
                .and_then(Value::as_f64)
                .ok_or_else(|| Error::connection("Chroma answered a query without distances"))?;
            scores.push(self.collection.metric.score(distance) as f32);
            self.settings.layout.push(&mut batch, &self.schema, i as u64, record)?;
        }
        Ok(weir_sdk::SearchResult { rows: batch.finish()?, scores })
    }
}

/// An upsert writer: the last change per id, sent at a flush.
struct Writer {
    settings: Settings,
    schema: Schema,
    collection: Collection,
    /// Changes by id in arrival order of their first change; `None` deletes.
    pending: Vec<(String, Option<Upsert>)>,
    /// Index of each id in `pending`.
    positions: std::collections::HashMap<String, usize>,
    max_rows: usize,
    interval: Option<Duration>,
    last_flush: Instant,
    max_retries: u32,
}

impl Writer {
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            self.last_flush = Instant::now();
            return Ok(());
        }
        // The buffer moves into the requests (a failed flush fails the
        // writer, which is restored from the last checkpoint).
        self.positions.clear();
        let (mut ids, mut embeddings, mut documents, mut metadatas, mut deleted) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (id, change) in std::mem::take(&mut self.pending) {
            match change {
                Some(upsert) => {
                    ids.push(Value::String(id));
                    embeddings.push(upsert.embedding);
                    documents.push(upsert.document);
                    metadatas.push(upsert.metadata);
                }
                None => deleted.push(Value::String(id)),
            }
        }
        let mut requests = Vec::new();
        if !ids.is_empty() {
            let mut body = serde_json::json!({"ids": ids, "embeddings": embeddings, "metadatas": metadatas});
            if self.settings.layout.document.is_some() {
                body["documents"] = Value::Array(documents);
            }
            requests.push(("upsert", "an upsert", body));
        }
        if !deleted.is_empty() {
            requests.push(("delete", "a delete", serde_json::json!({ "ids": deleted })));
        }
        for (suffix, doing, body) in &requests {
            let mut attempt = 0;
            loop {
                match self.settings.post(&self.collection, suffix, doing, body) {
                    Ok(_) => break,
                    Err(e @ (Error::Connection(_) | Error::Transient(_))) if attempt < self.max_retries => {
                        attempt += 1;
                        weir_sdk::log::warn(&format!(
                            "retrying {doing} ({attempt} of sink.max-retries): {}",
                            e.message()
                        ));
                        std::thread::sleep(Duration::from_secs(u64::from(attempt)));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.last_flush = Instant::now();
        Ok(())
    }
}

impl Sink for Writer {
    fn open(options: &Options, schema: &Schema, _context: &WriterContext) -> Result<Self> {
        let settings = Settings::parse(options, schema)?;
        let collection = settings.open_collection(true)?;
        Ok(Writer {
            max_rows: options.long("sink.buffer-flush.max-rows")?.max(0) as usize,
            interval: Some(options.duration("sink.buffer-flush.interval")?).filter(|d| !d.is_zero()),
            max_retries: options.long("sink.max-retries")?.clamp(0, 100) as u32,
            settings,
            schema: schema.clone(),
            collection,
            pending: Vec::new(),
            positions: std::collections::HashMap::new(),
            last_flush: Instant::now(),
        })
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        let SinkInput::Rows(batch) = input else {
            return Err(Error::unsupported("the chroma sink takes rows"));
        };
        let reader = BatchReader::new(&batch);
        for r in 0..reader.rows() {
            let kind = reader.row_kind(r);
            if kind == RowKind::UpdateBefore {
                continue;
            }
            // A delete needs only the key (an upsert stream's tombstone
            // carries nothing else).
            let layout = &self.settings.layout;
            let id = layout.id(&self.schema, &reader, r)?;
            let change = match kind {
                RowKind::Delete => None,
                _ => Some(layout.upsert(&self.schema, &reader, r)?),
            };
            match self.positions.get(&id) {
                Some(&at) => self.pending[at].1 = change,
                None => {
                    self.positions.insert(id.clone(), self.pending.len());
                    self.pending.push((id, change));
                }
            }
            if self.max_rows > 0 && self.pending.len() >= self.max_rows {
                self.flush()?;
            }
        }
        if self.interval.is_some_and(|i| self.last_flush.elapsed() >= i) {
            self.flush()?;
        }
        Ok(())
    }

    fn prepare_commit(&mut self, _checkpoint_id: u64) -> Result<Vec<weir_sdk::Committable>> {
        self.flush()?;
        Ok(Vec::new())
    }

    fn commit(_options: &Options, _committables: Vec<weir_sdk::Committable>) -> Result<()> {
        Ok(())
    }
}

weir_sdk::export_connector!(Reader, Reader, Writer);
