//! Running a job: every table's grants checked first, then statement by
//! statement with Flink's restart strategy; bare `SELECT`s print their rows.

use std::sync::Arc;

use super::config::RunConfig;
use super::explain::explain;
use super::insert::insert;
use super::model::{self, Statement};
use super::output::Output;
use super::resolve::{Resolved, check_statement, resolve, tables_of};
use super::scan::{Scan, Step};
use weir::Runtime;
use weir::catalog::Role;
use weir::checkpoint;
use weir::error::{Error, Result};
use weir::policy::Grants;

/// Whether a restart may help: a component failed at run time (not a
/// mistake in the job, a missing grant or a stop).
pub(super) fn retryable(e: &Error) -> bool {
    match e {
        Error::InTable { error, .. } => retryable(error),
        Error::Trap { .. } | Error::InvalidBatch { .. } => true,
        Error::Guest { error, .. } => {
            matches!(error, weir::GuestError::Connection(_) | weir::GuestError::Transient(_))
        }
        _ => false,
    }
}

/// Runs every statement of `job` with what the `operator` granted,
/// writing rows of bare `SELECT`s and `EXPLAIN` output to `out`. Every
/// table's needs are checked before anything starts.
pub async fn run(
    runtime: &Runtime,
    job: &model::Job,
    operator: &Grants,
    config: &RunConfig,
    out: &mut dyn Output,
) -> Result<()> {
    for statement in &job.statements {
        let mut resolved = Vec::new();
        for (name, role) in tables_of(statement) {
            let table = job.table(name).expect("the SQL front end resolved every table");
            let r = resolve(runtime, table, role)?;
            r.grants(operator)?;
            resolved.push(r);
        }
        check_statement(statement, |name, role| {
            resolved.iter().find(|r| r.role == role && r.table.name.eq_ignore_ascii_case(name))
        })?;
    }
    for (i, statement) in job.statements.iter().enumerate() {
        let store =
            config.checkpoint_dir.as_ref().map(|d| checkpoint::Store::new(d.join(format!("statement-{}", i + 1))));
        let mut attempt = 0;
        loop {
            match run_statement(runtime, job, statement, operator, config, store.clone(), out).await {
                Ok(()) => break,
                Err(e) if retryable(&e) && config.restart.is_some_and(|r| attempt < r.attempts) => {
                    attempt += 1;
                    let restart = config.restart.expect("checked");
                    tracing::warn!(
                        "statement {} failed ({e}); restarting from its last checkpoint in {:?} (attempt {attempt} of {})",
                        i + 1,
                        restart.delay,
                        restart.attempts
                    );
                    tokio::time::sleep(restart.delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

pub(super) async fn run_statement(
    runtime: &Runtime,
    job: &model::Job,
    statement: &Statement,
    operator: &Grants,
    config: &RunConfig,
    store: Option<checkpoint::Store>,
    out: &mut dyn Output,
) -> Result<()> {
    let table = |name: &str| job.table(name).expect("the SQL front end resolved every table");
    match statement {
        Statement::Explain(inner) => explain(runtime, job, inner, operator, out).await,
        Statement::Select(query) => {
            let source = Arc::new(resolve(runtime, table(&query.source), Role::Source)?);
            let dim = lookup_table(runtime, job, query)?;
            let table_name = source.table.name.clone();
            let mut scan = Scan::open(source, query.clone(), operator, None, None, dim.as_ref())
                .await
                .map_err(|e| e.in_table(&table_name))?;
            loop {
                match scan.next().await.map_err(|e| e.in_table(&table_name))? {
                    Step::Rows(rows) => {
                        // Streamed in bounded chunks, flushed: rows of an
                        // unbounded scan show as they come, also in a pipe.
                        out.rows(&rows).map_err(Error::output)?;
                    }
                    Step::Idle => {}
                    Step::End => return Ok(()),
                }
                if config.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
                    return Ok(());
                }
            }
        }
        Statement::Insert { sink, query } => {
            let source = Arc::new(resolve(runtime, table(&query.source), Role::Source)?);
            let dim = lookup_table(runtime, job, query)?;
            let sink = Arc::new(resolve(runtime, table(sink), Role::Sink)?);
            insert(source, dim, sink, query, operator, config, store).await
        }
    }
}

/// A query's lookup-joined dimension table or vector-searched table,
/// resolved.
pub(super) fn lookup_table(runtime: &Runtime, job: &model::Job, query: &model::Query) -> Result<Option<Arc<Resolved>>> {
    let name = query.lookup.as_ref().map(|j| &j.table).or(query.search.as_ref().map(|s| &s.table));
    name.map(|name| {
        let table = job.table(name).expect("the SQL front end resolved every table");
        resolve(runtime, table, Role::Source).map(Arc::new)
    })
    .transpose()
}
