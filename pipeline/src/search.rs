//! Vector search (Flink's `LATERAL TABLE(VECTOR_SEARCH(…))`): each source
//! row's query vector goes to the vector table's component, which answers
//! its top-k rows, best first, with a score; the output row is the source
//! row, the found row and the score. A row whose search finds nothing
//! yields no output (as the table function yields no rows).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch};
use arrow_schema::DataType;
use weir::batch::ChangelogBatch;
use weir::error::{Error, Result};
use weir::handles::VectorIndex;
use weir::policy::Grants;

use super::columns::{joined, nullable, with_computed};
use super::model;
use super::resolve::Resolved;

/// A vector search operator: the vector table's component.
pub(super) struct Search {
    table: Arc<Resolved>,
    search: model::VectorSearch,
    index: VectorIndex,
    /// The vector table's schema as Arrow, nullable (the found rows).
    schema: Arc<arrow_schema::Schema>,
}

impl Search {
    pub(super) async fn open(table: Arc<Resolved>, search: &model::VectorSearch, operator: &Grants) -> Result<Search> {
        let t = &table.table;
        let fail = |m: String| Error::Host(anyhow::anyhow!("table '{}': {m}", t.name));
        let stored = t.stored_columns();
        let column = stored.iter().position(|&c| c == search.column).ok_or_else(|| {
            fail(format!("the searched column '{}' is computed", t.schema.fields[search.column].name))
        })?;
        let grants = table.grants(operator)?;
        let index = VectorIndex::open(&table.connector, &table.options, &t.stored_schema(), column, &grants).await?;
        let schema = Arc::new(nullable(&t.schema.to_arrow().map_err(fail)?));
        Ok(Search { table, search: search.clone(), index, schema })
    }

    /// The vector table.
    pub(super) fn table_name(&self) -> &str {
        &self.table.table.name
    }

    /// `rows` (every source column) with each row's top-k: the source
    /// columns, the vector table's, `score`.
    pub(super) async fn join(&mut self, rows: ChangelogBatch) -> Result<ChangelogBatch> {
        let name = self.table.table.name.clone();
        let fail = |m: String| Error::Host(anyhow::anyhow!("vector search in '{name}': {m}"));
        let queries = rows.rows.column(self.search.query).clone();
        let query_name = rows.rows.schema().field(self.search.query).name().clone();
        let list =
            queries.as_list_opt::<i32>().ok_or_else(|| fail(format!("column '{query_name}' is not an array")))?;
        let mut source_rows: Vec<u32> = Vec::new();
        let mut found: Vec<RecordBatch> = Vec::new();
        let mut scores: Vec<f64> = Vec::new();
        for r in 0..rows.rows.num_rows() {
            if list.is_null(r) {
                return Err(Error::Config(format!(
                    "table '{name}': VECTOR_SEARCH got a NULL query vector (column '{query_name}', row {} of a batch); \
                     filter them out with WHERE {query_name} IS NOT NULL",
                    r + 1
                )));
            }
            let values = list.value(r);
            let query: Vec<f32> = match values.data_type() {
                DataType::Float32 => {
                    values.as_primitive::<Float32Type>().iter().map(|v| v.unwrap_or(f32::NAN)).collect()
                }
                DataType::Float64 => {
                    values.as_primitive::<Float64Type>().iter().map(|v| v.map_or(f32::NAN, |v| v as f32)).collect()
                }
                other => return Err(fail(format!("column '{query_name}' holds {other}, not FLOAT or DOUBLE"))),
            };
            if query.iter().any(|v| v.is_nan()) {
                return Err(Error::Config(format!(
                    "table '{name}': VECTOR_SEARCH got a query vector with a NULL element (column '{query_name}')"
                )));
            }
            let answer = self.index.search(&query, self.search.top_k).await?;
            let answer_rows = with_computed(&self.table.table, answer.rows)?.rows;
            let n = answer_rows.num_rows();
            source_rows.extend(std::iter::repeat_n(r as u32, n));
            scores.extend(answer.scores.iter().map(|&s| f64::from(s)));
            found.push(
                RecordBatch::try_new(self.schema.clone(), answer_rows.columns().to_vec())
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        let found = arrow_select::concat::concat_batches(&self.schema, &found).map_err(|e| fail(e.to_string()))?;
        let mut extra: Vec<(arrow_schema::FieldRef, ArrayRef)> =
            self.schema.fields().iter().cloned().zip(found.columns().iter().cloned()).collect();
        extra.push((
            Arc::new(arrow_schema::Field::new("score", DataType::Float64, false)),
            Arc::new(Float64Array::from(scores)),
        ));
        joined(&rows, source_rows, extra)
    }
}
