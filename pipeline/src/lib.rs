//! The job lifetime: a parsed [`Job`] resolved against the catalog
//! ([`resolve`]: connectors, formats, options, capabilities — nothing
//! started), then run statement by statement ([`run`]).
//!
//! A scan plans its splits and reads them in turn (a few open at once) in
//! one instance of the source component; raw records go through the
//! table's decoder; the host applies the filters, projection and limit the
//! source did not accept; rows go to the sink's writer (or, for a bare
//! `SELECT`, to the terminal). An `INSERT` runs `scan.parallelism` reading
//! tasks (each its own source and decoder instances) and `sink.parallelism`
//! writing tasks (each its own encoder and sink instances) around a
//! coordinator, joined by bounded channels, with aligned checkpoint
//! barriers (see [`weir::checkpoint`]).
//!
//! One module per operator: `resolve` (tables against the catalog),
//! `config` (`SET`), `run` (statements, restarts), `explain`,
//! `insert` (readers, writer, barriers, commit), `scan` (splits),
//! `filter` (host-side WHERE), `lookup` (lookup joins and their cache),
//! `search` (VECTOR_SEARCH), `keys` (key and value formats), `sink`
//! (writer tasks), `columns` (partition values, computed columns, casts,
//! joined rows), [`progress`]; [`TableSource`] and
//! [`TableSink`] are those operators as handles for embedders (the
//! component-level handles they are built from are `weir::handles`).

mod columns;
mod config;
mod explain;
mod filter;
mod insert;
mod keys;
mod lookup;
pub mod model;
mod output;
pub mod progress;
mod resolve;
mod run;
mod scan;
mod search;
mod sink;
mod table;
mod worker;

pub use config::{Restart, RunConfig};
pub use filter::check_filter;
pub use lookup::LookupStats;
pub use model::{
    CompareOp, Computed, ComputedColumn, Filter, Job, Literal, LookupJoin, MetadataColumn, Position, Query, Statement,
    Table, VectorSearch,
};
pub use output::Output;
pub use progress::{ProgressEvent, ProgressSink};
pub use resolve::{Resolved, check_changelog, check_statement, resolve, table_role, tables_of};
pub use run::run;
pub use table::{ScanStep, TableCommitter, TableSink, TableSource};
