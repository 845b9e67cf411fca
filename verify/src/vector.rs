//! The vector-search checks, for sources that declare the `vector-search`
//! ability and a schema with an ARRAY<FLOAT> column: answers within top-k
//! with one score per row, a query of the wrong dimension refused with an
//! error (not a trap, not rows; an empty index that declares no dimension
//! may answer any dimension with no rows), top-k 0 refused or answered empty, a
//! top-k far beyond the table answered within the call's limits.

use weir::bindings::v0_1_0::exports::weir::connector::source::SearchResult;
use weir::error::Error;
use weir::model::DataType;
use weir::types::{Options, Schema};

use crate::{Fault, Suite};

const CHECKS: [&str; 3] = ["vector.top-k", "vector.dimension", "vector.top-k-bounds"];

impl Suite<'_> {
    pub(crate) async fn vector_checks(&mut self, options: Result<Options, String>) {
        if !self.spec().source_abilities.contains(&"vector-search") {
            for name in CHECKS {
                self.report.not_applicable(name, "the component does not declare the vector-search ability");
            }
            return;
        }
        let options = match options {
            Ok(options) => options,
            Err(why) => {
                for name in CHECKS {
                    self.report.skip(name, why.clone());
                }
                return;
            }
        };
        let column = self.config.schema.as_ref().and_then(|s| {
            s.fields
                .iter()
                .position(|f| matches!(&f.data_type, DataType::Array { element, .. } if **element == DataType::Float))
        });
        let Some(column) = column else {
            for name in CHECKS {
                self.report.skip(name, "give a schema with an ARRAY<FLOAT> column (--schema) to check vector search");
            }
            return;
        };
        let schema = self.schema_for_connector();
        // The column's dimension is the component's business: try a few
        // until one is answered.
        let mut answered: Option<(usize, usize)> = None;
        let mut refused = Vec::new();
        for dims in [1usize, 2, 3, 4, 8, 16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536] {
            match self.search(&options, &schema, column, &vec![0.5f32; dims], 5).await {
                Ok(Ok(found)) => {
                    let rows = found.rows.row_count as usize;
                    if rows > 5 || found.scores.len() != rows {
                        self.report.fail(
                            "vector.top-k",
                            format!("a top-5 search answered {rows} rows and {} scores", found.scores.len()),
                        );
                        return;
                    }
                    answered = Some((dims, rows));
                    break;
                }
                Err(f) if f.limit || f.ungranted => {
                    for name in CHECKS {
                        self.report.fail(name, f.message.clone());
                    }
                    return;
                }
                Ok(Err(refusal)) => refused.push((dims, refusal)),
                Err(f) => refused.push((dims, f.message)),
            }
        }
        let Some((dims, rows)) = answered else {
            let why = refused.last().map_or(String::new(), |(_, m)| m.clone());
            for name in CHECKS {
                self.report.skip(name, format!("no query dimension up to 1536 was answered: {why}"));
            }
            return;
        };
        self.report
            .pass("vector.top-k", format!("a top-5 search of dimension {dims} answered {rows} rows, one score each"));
        if rows > 0 {
            self.vector_dimension = Some(dims);
        }
        // Another dimension: an error, never rows and never a trap.
        let other = if dims == 1 { 2 } else { dims - 1 };
        match self.search(&options, &schema, column, &vec![0.5f32; other], 5).await {
            Ok(Err(refusal)) => {
                self.report.pass("vector.dimension", format!("a query of dimension {other} was refused: {refusal}"))
            }
            Err(f) => self.report.fail("vector.dimension", format!("a query of dimension {other}: {}", f.message)),
            // An empty index may declare no dimension (a Chroma collection
            // gets one with its first vector): nothing to mismatch.
            Ok(Ok(found)) if rows == 0 && found.scores.is_empty() => self.report.pass(
                "vector.dimension",
                format!(
                    "the index is empty and declares no dimension: queries of dimension {dims} and {other} both \
                     answered no rows"
                ),
            ),
            Ok(Ok(_)) => self.report.fail(
                "vector.dimension",
                format!("a query of dimension {other} was answered, though dimension {dims} was too"),
            ),
        }
        // Top-k 0 and a top-k far beyond the table.
        let query = vec![0.5f32; dims];
        let zero = self.search(&options, &schema, column, &query, 0).await;
        let large = self.search(&options, &schema, column, &query, 1_000_000).await;
        match (zero, large) {
            (Ok(Ok(found)), _) if !found.scores.is_empty() => {
                self.report.fail("vector.top-k-bounds", format!("top-k 0 answered {} rows", found.scores.len()));
            }
            (Err(f), _) => self.report.fail("vector.top-k-bounds", format!("top-k 0: {}", f.message)),
            (_, Ok(Err(message)) | Err(Fault { message, .. })) => {
                self.report.fail("vector.top-k-bounds", format!("top-k 1,000,000: {message}"))
            }
            (_, Ok(Ok(found))) => self.report.pass(
                "vector.top-k-bounds",
                format!("top-k 0 refused or empty; top-k 1,000,000 answered {} rows", found.scores.len()),
            ),
        }
    }

    /// A top-`k` search for `query` on `column`, in a fresh instance: what
    /// it found, or `Err` with the error the component refused it with; a
    /// trap (a limit among them), an access not granted or an index that
    /// does not open is the fault.
    async fn search(
        &mut self,
        options: &Options,
        schema: &Schema,
        column: usize,
        query: &[f32],
        k: u32,
    ) -> Result<Result<SearchResult, String>, Fault> {
        self.in_fresh(options, async |i| {
            let index = i.open_vector_index(options, schema, column as u32).await?;
            match i.search(index, query, k).await {
                Ok(found) => Ok(Ok(found)),
                Err(e @ Error::Trap { .. }) => Err(e),
                Err(refusal) => Ok(Err(refusal.to_string())),
            }
        })
        .await
    }
}
