//! Test guest: an in-memory table of `rows` rows (`id BIGINT, name STRING,
//! embedding ARRAY<FLOAT>`; row `i` is `(i, 'item-i', [i, 1.0])`) that
//! answers lookups by `id` and top-k searches by Euclidean distance on
//! `embedding`. `misbehave` makes the answers wrong in one way each, for the
//! host's checks: `bad-match` tags a row with a key that was not asked,
//! `extra-rows` returns more rows than `top-k`, `missing-tags` returns
//! fewer tags or scores than rows.

use weir_sdk::{
    Accepted, BatchBuilder, BatchReader, ComponentSpec, Connector, Error, LookupResult, LookupTable, OptionSpec,
    Options, OptionsExt, ReadResult, Result, RowKind, ScanPlan, ScanRequest, Schema, SearchResult, Source,
    SourceAbilities, Split, ValueRef, VectorIndex, export_source,
};

struct Table;

impl Connector for Table {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("lookup-source", "Test guest: lookups by id and vector search over an in-memory table")
            .source_abilities(SourceAbilities::LOOKUP | SourceAbilities::VECTOR_SEARCH)
            .payload(weir_sdk::Payload::Rows)
            .option(OptionSpec::long("rows", "Rows in the table").default_value("100"))
            .option(
                OptionSpec::one_of("misbehave", &["none", "bad-match", "extra-rows", "missing-tags"], "Break answers")
                    .default_value("none"),
            )
    }
}

/// The table's contents and how to answer.
struct Rows {
    count: i64,
    misbehave: String,
    schema: Schema,
}

impl Rows {
    fn open(options: &Options, schema: &Schema) -> Result<Rows> {
        if schema.fields.len() != 3 {
            return Err(Error::config(None, "expected (id BIGINT, name STRING, embedding ARRAY<FLOAT>)"));
        }
        let count = options.long("rows")?;
        Ok(Rows { count, misbehave: options.string("misbehave")?.to_owned(), schema: schema.clone() })
    }

    /// Appends row `i` to `out`.
    fn push(&self, out: &mut BatchBuilder, i: i64) -> Result<()> {
        out.column(0).push_i64(i)?;
        out.column(1).push_str(&format!("item-{i}"))?;
        let embedding = out.column(2);
        let elements = embedding.array_elements()?;
        elements.push_f32(i as f32)?;
        elements.push_f32(1.0)?;
        embedding.end_array()?;
        out.end_row(RowKind::Insert)
    }
}

impl LookupTable for Rows {
    fn lookup(&mut self, keys: &weir_sdk::Batch) -> Result<LookupResult> {
        let keys = BatchReader::new(keys);
        let mut out = BatchBuilder::new(&self.schema);
        let mut matches = Vec::new();
        for k in 0..keys.rows() {
            if let ValueRef::I64(id) = keys.value(0, k)?
                && (0..self.count).contains(&id)
            {
                self.push(&mut out, id)?;
                matches.push(k as u32);
            }
        }
        match self.misbehave.as_str() {
            "bad-match" => matches.iter_mut().for_each(|m| *m += keys.rows() as u32),
            "missing-tags" => {
                matches.pop();
            }
            _ => {}
        }
        Ok(LookupResult { rows: out.finish()?, matches })
    }
}

impl VectorIndex for Rows {
    fn search(&mut self, query: &[f32], top_k: u32) -> Result<SearchResult> {
        let [x, y] = query else {
            return Err(Error::data(0, &[], "the query vector must have 2 dimensions"));
        };
        let distance = |i: i64| ((i as f32 - x).powi(2) + (1.0 - y).powi(2)).sqrt();
        let mut ids: Vec<i64> = (0..self.count).collect();
        ids.sort_by(|a, b| distance(*a).total_cmp(&distance(*b)));
        let keep = if self.misbehave == "extra-rows" { top_k as usize + 1 } else { top_k as usize };
        ids.truncate(keep);
        let mut out = BatchBuilder::new(&self.schema);
        let mut scores = Vec::new();
        for &i in &ids {
            self.push(&mut out, i)?;
            scores.push(1.0 / (1.0 + distance(i)));
        }
        if self.misbehave == "missing-tags" {
            scores.pop();
        }
        Ok(SearchResult { rows: out.finish()?, scores })
    }
}

impl Source for Table {
    fn plan(_options: &Options, _schema: &Schema, _request: &ScanRequest) -> Result<ScanPlan> {
        let accepted = Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false };
        Ok(ScanPlan { splits: Vec::new(), bounded: true, accepted })
    }

    fn open(
        _options: &Options,
        _schema: &Schema,
        _request: &ScanRequest,
        _split: &Split,
        _state: Option<&[u8]>,
    ) -> Result<Self> {
        Ok(Table)
    }

    fn next(&mut self, _max_records: u32) -> Result<ReadResult> {
        Ok(ReadResult::EndOfSplit)
    }

    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn open_lookup(options: &Options, schema: &Schema, key_columns: &[u32]) -> Result<Box<dyn LookupTable>> {
        if key_columns != [0] {
            return Err(Error::unsupported("lookups are by id (column 0) only"));
        }
        Ok(Box::new(Rows::open(options, schema)?))
    }

    fn open_vector_index(options: &Options, schema: &Schema, column: u32) -> Result<Box<dyn VectorIndex>> {
        if column != 2 {
            return Err(Error::unsupported("the vector column is 'embedding' (column 2)"));
        }
        Ok(Box::new(Rows::open(options, schema)?))
    }
}

export_source!(Table);
