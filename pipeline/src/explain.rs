//! `EXPLAIN`: what each table resolves to, what it may touch and which
//! push-downs its source accepted.

use std::sync::Arc;

use super::model::{self, Statement};
use super::output::Output;
use super::resolve::{resolve, tables_of};
use super::scan::Scan;
use weir::Runtime;
use weir::catalog::Role;
use weir::error::{Error, Result};
use weir::policy::Grants;

pub(super) async fn explain(
    runtime: &Runtime,
    job: &model::Job,
    statement: &Statement,
    operator: &Grants,
    out: &mut dyn Output,
) -> Result<()> {
    let io = Error::output;
    for (name, role) in tables_of(statement) {
        let table = job.table(name).expect("resolved");
        let r = resolve(runtime, table, role)?;
        let role_name = if role == Role::Source { "source" } else { "sink" };
        writeln!(out, "{role_name} {}: connector '{}'", table.name, r.connector.spec.identifier).map_err(io)?;
        if let Some((format, _)) = &r.format {
            writeln!(out, "  format: {}", format.spec.identifier).map_err(io)?;
        }
        let kinds: Vec<&str> = r.changelog().into_iter().map(weir::spec::RowKind::short).collect();
        let verb = if role == Role::Source { "produces" } else { "accepts" };
        writeln!(out, "  changelog: {verb} {}", kinds.join(", ")).map_err(io)?;
        let capabilities: Vec<String> = r.needs.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "  capabilities: {}",
            if capabilities.is_empty() { "none".into() } else { capabilities.join(", ") }
        )
        .map_err(io)?;
        if role == Role::Source {
            let query = match statement {
                Statement::Insert { query, .. } | Statement::Select(query) => query,
                Statement::Explain(_) => continue,
            };
            let scan = Scan::open(Arc::new(r), query.clone(), operator, None, None).await?;
            let a = &scan.plan.accepted;
            let yes = |b: bool| if b { "accepted" } else { "applied by Weir" };
            writeln!(
                out,
                "  splits: {} ({})",
                scan.plan.splits.len(),
                if scan.plan.bounded { "bounded" } else { "unbounded" }
            )
            .map_err(io)?;
            writeln!(out, "  projection push-down: {}", yes(a.projection)).map_err(io)?;
            writeln!(out, "  filter push-down: {} of {} filters accepted", a.filters.len(), query.filters.len())
                .map_err(io)?;
            writeln!(out, "  limit push-down: {}", if query.limit.is_none() { "no limit" } else { yes(a.limit) })
                .map_err(io)?;
            // The runner does not prune partitions yet, so it asks for none.
            writeln!(out, "  partition push-down: not requested").map_err(io)?;
        }
    }
    Ok(())
}
