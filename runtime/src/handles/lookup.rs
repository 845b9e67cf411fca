//! Lookup and vector-search handles: a source answering keys (Flink's
//! `LookupTableSource`, lookup joins) or top-k nearest vectors (Flink's
//! `VECTOR_SEARCH`). Results are lifted within the call's result budget and
//! checked like every batch from a guest.

use wasmtime::component::ResourceAny;

use super::{expect_tags, open_instance};
use crate::batch::{self, ChangelogBatch};
use crate::bindings::v0_1_0::weir::connector::types as wit;
use crate::catalog::Entry;
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::model::{DataType, Schema};
use crate::policy::Grants;

/// Rows found by a lookup, each tagged with the key row it answers.
#[derive(Debug, Clone)]
pub struct LookupRows {
    /// The rows (every column of the table).
    pub rows: ChangelogBatch,
    /// For each row, the index of its key row in the lookup's input.
    pub matches: Vec<u32>,
}

/// An open lookup table (one instance of a source component with the
/// `lookup` ability).
pub struct LookupTable {
    instance: Instance,
    table: ResourceAny,
    schema: wit::Schema,
    keys: Schema,
}

impl LookupTable {
    /// Opens the lookup table `entry` with already validated `options`,
    /// answering lookups on the columns `key_columns` of `schema`.
    pub async fn open(
        entry: &Entry,
        options: &[(String, String)],
        schema: &Schema,
        key_columns: &[usize],
        grants: &Grants,
    ) -> Result<LookupTable> {
        if key_columns.is_empty() || key_columns.iter().any(|&k| k >= schema.fields.len()) {
            return Err(Error::Config(format!(
                "component '{}': lookup keys {key_columns:?} are not columns of a {}-column table",
                entry.spec.identifier,
                schema.fields.len()
            )));
        }
        let keys = schema.project(key_columns);
        let (mut instance, wit_schema) = open_instance(entry, options, schema, grants).await?;
        let key_columns: Vec<u32> = key_columns.iter().map(|&k| k as u32).collect();
        let table = instance.open_lookup(&options.to_vec(), &wit_schema, &key_columns).await?;
        Ok(LookupTable { instance, table, schema: wit_schema, keys })
    }

    /// The schema key rows must have (the key columns, in order).
    pub fn key_schema(&self) -> &Schema {
        &self.keys
    }

    /// The rows matching each of `keys` (columns: the key columns).
    pub async fn lookup(&mut self, keys: &ChangelogBatch) -> Result<LookupRows> {
        let input = batch::from_arrow(keys)
            .map_err(|message| Error::InvalidBatch { component: "(host)".to_owned(), message })?;
        let found = self.instance.lookup(self.table, &input).await?;
        let name = self.instance.name().to_owned();
        let rows = batch::to_arrow(&name, &self.schema, found.rows)?;
        expect_tags(&name, &rows, found.matches.len(), "match tags")?;
        let n = keys.rows.num_rows() as u32;
        if let Some(bad) = found.matches.iter().find(|&&m| m >= n) {
            return Err(Error::InvalidBatch {
                component: name,
                message: format!("a row answers key {bad}, but the lookup had {n} keys"),
            });
        }
        Ok(LookupRows { rows, matches: found.matches })
    }

    /// The instance (metrics, denials, poisoned state).
    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}

/// Rows found by a vector search, best first.
#[derive(Debug, Clone)]
pub struct SearchRows {
    /// The rows (every column of the table).
    pub rows: ChangelogBatch,
    /// The similarity score of each row.
    pub scores: Vec<f32>,
}

/// An open vector index (one instance of a source component with the
/// `vector-search` ability).
pub struct VectorIndex {
    instance: Instance,
    index: ResourceAny,
    schema: wit::Schema,
}

impl VectorIndex {
    /// Opens the index of `entry` with already validated `options` on the
    /// column `vector_column` of `schema` (an `ARRAY<FLOAT>`).
    pub async fn open(
        entry: &Entry,
        options: &[(String, String)],
        schema: &Schema,
        vector_column: usize,
        grants: &Grants,
    ) -> Result<VectorIndex> {
        let column = schema.fields.get(vector_column);
        if !column
            .is_some_and(|f| matches!(&f.data_type, DataType::Array { element, .. } if **element == DataType::Float))
        {
            return Err(Error::Config(format!(
                "component '{}': the vector column must be an ARRAY<FLOAT> column of the table; column {vector_column} is {}",
                entry.spec.identifier,
                column.map_or("missing".to_owned(), |f| format!("'{}' {}", f.name, f.data_type)),
            )));
        }
        let (mut instance, wit_schema) = open_instance(entry, options, schema, grants).await?;
        let index = instance.open_vector_index(&options.to_vec(), &wit_schema, vector_column as u32).await?;
        Ok(VectorIndex { instance, index, schema: wit_schema })
    }

    /// The `top_k` rows nearest to `query`, best first.
    pub async fn search(&mut self, query: &[f32], top_k: u32) -> Result<SearchRows> {
        let found = self.instance.search(self.index, query, top_k).await?;
        let name = self.instance.name().to_owned();
        let rows = batch::to_arrow(&name, &self.schema, found.rows)?;
        expect_tags(&name, &rows, found.scores.len(), "scores")?;
        if rows.rows.num_rows() > top_k as usize {
            return Err(Error::InvalidBatch {
                component: name,
                message: format!("{} rows for a top-{top_k} search", rows.rows.num_rows()),
            });
        }
        Ok(SearchRows { rows, scores: found.scores })
    }

    /// The instance (metrics, denials, poisoned state).
    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}
