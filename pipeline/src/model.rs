//! The job model: what a job file says, as the pipeline runs it — tables
//! with schemas and options, `SET` settings, and the statements (`INSERT`,
//! `SELECT`, `EXPLAIN`) with their queries. The SQL front end (the
//! `weir-sql` crate) builds it from Flink SQL; an embedder can build it in
//! code.

pub use weir::model::{CompareOp, Filter, Literal, Schema};

/// A place in the job file (1-based; 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Line.
    pub line: u64,
    /// Column.
    pub column: u64,
}

/// A `CREATE TABLE`.
#[derive(Debug, Clone)]
pub struct Table {
    /// The table's name.
    pub name: String,
    /// Physical and metadata columns in declaration order.
    pub schema: Schema,
    /// Columns read from (or written to) connector metadata.
    pub metadata: Vec<MetadataColumn>,
    /// `PARTITIONED BY (…)`: schema indices of the partition columns.
    pub partition_keys: Vec<usize>,
    /// Computed columns (`proc_time AS PROCTIME()`): filled in by the
    /// runner, never seen by the connector.
    pub computed: Vec<ComputedColumn>,
    /// The `WITH (…)` options in order.
    pub options: Vec<(String, String)>,
    /// Where the statement starts.
    pub at: Position,
}

impl Table {
    /// The value of option `key`.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Index of column `name` (case-insensitive, as Flink resolves).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.schema.fields.iter().position(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Whether column `i` is computed by the runner.
    pub fn is_computed(&self, i: usize) -> bool {
        self.computed.iter().any(|c| c.column == i)
    }

    /// The columns the connector sees: all but the computed ones.
    pub fn stored_columns(&self) -> Vec<usize> {
        (0..self.schema.fields.len()).filter(|&i| !self.is_computed(i)).collect()
    }

    /// The schema the connector sees (no computed columns).
    pub fn stored_schema(&self) -> Schema {
        if self.computed.is_empty() {
            return self.schema.clone();
        }
        self.schema.project(&self.stored_columns())
    }
}

/// `name AS expression`: a column the runner computes.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedColumn {
    /// Index in the table's schema.
    pub column: usize,
    /// What it computes.
    pub expression: Computed,
}

/// The expressions a computed column may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// `PROCTIME()`: the time the row is processed, TIMESTAMP_LTZ(3) (Flink's
    /// processing-time attribute, used by lookup joins).
    ProcTime,
}

/// `col TYPE METADATA [FROM 'key'] [VIRTUAL]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataColumn {
    /// Index in the table's schema.
    pub column: usize,
    /// The metadata key (the column name when `FROM` is absent).
    pub key: String,
    /// Read-only (`VIRTUAL`): not written by sinks.
    pub is_virtual: bool,
}

/// `SELECT cols FROM source [[LEFT] JOIN dim FOR SYSTEM_TIME AS OF …] [WHERE …] [LIMIT n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The source table.
    pub source: String,
    /// Selected columns, as indices into the source's schema followed
    /// (with a lookup join) by the dimension table's: column `i` of the
    /// dimension table is `source columns + i`.
    pub columns: Vec<usize>,
    /// A lookup join of each source row with a dimension table.
    pub lookup: Option<LookupJoin>,
    /// `LATERAL TABLE(VECTOR_SEARCH(…))`: each source row with the top-k
    /// rows of a vector table; its columns come after the source's,
    /// followed by `score`.
    pub search: Option<VectorSearch>,
    /// Conjunction of filters.
    pub filters: Vec<Filter>,
    /// Row limit.
    pub limit: Option<u64>,
    /// Where the query starts.
    pub at: Position,
}

/// `[LEFT] JOIN dim FOR SYSTEM_TIME AS OF s.proc_time [AS d] ON s.a = d.b
/// [AND …]`: Flink's lookup join. Each source row is enriched with the
/// dimension table's rows whose key columns equal its values, looked up
/// when the row is processed (a batch of keys per round trip).
#[derive(Debug, Clone, PartialEq)]
pub struct LookupJoin {
    /// The dimension table (a source with the lookup ability).
    pub table: String,
    /// `LEFT JOIN`: a source row without a match is kept, the dimension
    /// columns null. An inner join drops it.
    pub left: bool,
    /// The equalities of `ON`: (source column, dimension column).
    pub keys: Vec<(usize, usize)>,
    /// `WHERE` conditions on the dimension table's columns (indices into
    /// its schema), applied to the joined rows.
    pub filters: Vec<Filter>,
    /// Where the join is written.
    pub at: Position,
}

/// `FROM input, LATERAL TABLE(VECTOR_SEARCH(TABLE docs, DESCRIPTOR(v),
/// input.q, k [, MAP[…]]))`: Flink's vector search (the planner's argument
/// order; named arguments too).
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSearch {
    /// The vector table (a source with the vector-search ability).
    pub table: String,
    /// The searched column of the vector table (ARRAY<FLOAT>).
    pub column: usize,
    /// The source column holding each row's query vector (ARRAY<FLOAT> or
    /// ARRAY<DOUBLE>).
    pub query: usize,
    /// Rows per query, at least 1.
    pub top_k: u32,
    /// Flink's runtime config (`async`, `max-concurrent-operations`,
    /// `output-mode`, `timeout`), validated.
    pub config: Vec<(String, String)>,
    /// Where the call is written.
    pub at: Position,
}

/// A statement to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `INSERT INTO sink SELECT …`.
    Insert {
        /// The sink table.
        sink: String,
        /// What to write.
        query: Query,
    },
    /// A bare `SELECT`: rows to the terminal.
    Select(Query),
    /// `EXPLAIN` of an insert or select.
    Explain(Box<Statement>),
}

/// A parsed job file.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// `SET 'key' = 'value'` in order.
    pub settings: Vec<(String, String)>,
    /// Tables by declaration order.
    pub tables: Vec<Table>,
    /// Statements to run, in order.
    pub statements: Vec<Statement>,
}

impl Job {
    /// The table called `name` (case-insensitive).
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The last value set for `key`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}
