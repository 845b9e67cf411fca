//! `EXPLAIN`: what each table resolves to, what it may touch and which
//! push-downs its source accepted.

use std::sync::Arc;

use super::model::{self, Statement};
use super::output::Output;
use super::resolve::{resolve, table_role, tables_of};
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
    let query = match statement {
        Statement::Insert { query, .. } | Statement::Select(query) => Some(query),
        Statement::Explain(_) => None,
    };
    let join = query.and_then(|q| q.lookup.as_ref());
    for (i, (name, role)) in tables_of(statement).into_iter().enumerate() {
        let table = job.table(name).expect("resolved");
        let r = resolve(runtime, table, role)?;
        let is_dim = i > 0 && role == Role::Source;
        let role_name = table_role(statement, name, role);
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
        if let (true, Some(join), Some(query)) = (is_dim, join, query) {
            let source = job.table(&query.source).expect("resolved");
            let keys: Vec<String> = join
                .keys
                .iter()
                .map(|&(s, d)| {
                    format!(
                        "{}.{} = {}.{}",
                        source.name, source.schema.fields[s].name, table.name, table.schema.fields[d].name
                    )
                })
                .collect();
            let kind = if join.left { "LEFT" } else { "INNER" };
            writeln!(out, "  lookup join: {kind} ON {} (keys looked up once per source batch)", keys.join(" AND "))
                .map_err(io)?;
            let cache = match table.option("lookup.cache") {
                Some(mode) if mode.eq_ignore_ascii_case("PARTIAL") => format!(
                    "PARTIAL in the host (max-rows {}, expire-after-write {}, expire-after-access {})",
                    table.option("lookup.partial-cache.max-rows").unwrap_or("?"),
                    table.option("lookup.partial-cache.expire-after-write").unwrap_or("never"),
                    table.option("lookup.partial-cache.expire-after-access").unwrap_or("never"),
                ),
                _ => "NONE (every key asked of the component)".to_owned(),
            };
            writeln!(out, "  lookup cache: {cache}").map_err(io)?;
            continue;
        }
        if let (true, Some(search), Some(query)) = (is_dim, query.and_then(|q| q.search.as_ref()), query) {
            let source = job.table(&query.source).expect("resolved");
            let metric = r
                .options
                .iter()
                .find(|(k, _)| k == "vector-search.metric")
                .map_or("the connector's default", |(_, v)| v.as_str());
            writeln!(
                out,
                "  vector search: top {} of column '{}' nearest to {}.{} (metric {metric}), one call per source row",
                search.top_k,
                table.schema.fields[search.column].name,
                source.name,
                source.schema.fields[search.query].name
            )
            .map_err(io)?;
            continue;
        }
        if role == Role::Source {
            let Some(query) = query else { continue };
            // The scan alone (the join is explained with its table).
            let scan_query = model::Query { lookup: None, search: None, ..query.clone() };
            let scan = Scan::open(Arc::new(r), scan_query, operator, None, None, None).await?;
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
