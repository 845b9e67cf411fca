//! The SQL front end: a job file of Flink SQL statements, parsed with the
//! `sqlparser` crate (see [`dialect`]) into a [`Job`] — tables with schemas
//! and options, `SET` settings, and the statements to run. Nothing is
//! started here; errors point at the file, line and column and name the
//! table and column.
//!
//! Supported: `CREATE TABLE name (col TYPE [NOT NULL] [METADATA [FROM 'key']
//! [VIRTUAL]], …, [PRIMARY KEY (…) NOT ENFORCED]) WITH ('k' = 'v', …)`,
//! `SET 'key' = 'value'`, `INSERT INTO sink SELECT cols FROM source [WHERE
//! col op literal AND …] [LIMIT n]`, a bare `SELECT` (rows to the terminal)
//! and `EXPLAIN` of either.

pub mod dialect;
pub mod types;

use sqlparser::ast::{
    BinaryOperator, ColumnOption, CreateTable, Expr, LimitClause, ObjectName, SelectItem, SetExpr, Spanned,
    Statement as Ast, TableConstraint, TableFactor, Value,
};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Span, Token};

use weir::model::{Field, Schema};
use weir_pipeline::{
    CompareOp, Computed, ComputedColumn, Filter, Job, Literal, LookupJoin, MetadataColumn, Position, Query, Statement,
    Table, VectorSearch,
};

/// Where a statement starts.
fn position(span: Span) -> Position {
    Position { line: span.start.line, column: span.start.column }
}

/// A mistake in the job file, with where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", location(.file, .at))]
pub struct SqlError {
    /// The job file, for the message.
    pub file: String,
    /// Where.
    pub at: Position,
    /// What is wrong and what to do.
    pub message: String,
}

fn location(file: &str, at: &Position) -> String {
    match (file.is_empty(), at.line) {
        (true, 0) => String::new(),
        (false, 0) => format!("{file}: "),
        (_, line) => {
            format!("{}{line}:{}: ", if file.is_empty() { String::new() } else { format!("{file}:") }, at.column)
        }
    }
}

/// Stack for parsing. sqlparser recurses once per nesting level (up to its
/// recursion limit of 50), and in a debug build one level can take tens of
/// KiB: more than a tokio worker's 2 MiB, found by the `sql` fuzz target
/// (`+ + + … 1`). Parsing runs on a thread of its own with this much.
const PARSE_STACK: usize = 64 << 20;

/// Parses a job file; `file` names it in errors.
pub fn parse(file: &str, sql: &str) -> Result<Job, SqlError> {
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("weir-sql".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_here(file, sql))
        {
            Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: parse here and hope the input is shallow.
            Err(_) => parse_here(file, sql),
        }
    })
}

fn parse_here(file: &str, sql: &str) -> Result<Job, SqlError> {
    let err = |at: Position, message: String| SqlError { file: file.to_owned(), at, message };
    let tokens = dialect::flink_tokens(sql)
        .map_err(|e| err(Position { line: e.location.line, column: e.location.column }, e.message.clone()))?;
    let statements = Parser::new(&dialect::FlinkDialect)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|e| err(Position::default(), e.to_string().replace("sql parser error: ", "")))?;
    let mut job = Job::default();
    for statement in statements {
        let at = position(statement.span());
        match statement {
            Ast::CreateTable(create) => {
                let table = create_table(&create, at).map_err(|(at, m)| err(at, m))?;
                if job.table(&table.name).is_some() {
                    return Err(err(at, format!("table '{}' is created twice", table.name)));
                }
                job.tables.push(table);
            }
            Ast::Set(_) => {
                let (key, value) = set(&statement).ok_or_else(|| {
                    err(at, "SET takes a quoted key and value: SET 'execution.checkpointing.interval' = '10s';".into())
                })?;
                job.settings.push((key, value));
            }
            other => {
                let run = statement_to_run(&job, &other, at).map_err(|(at, m)| err(at, m))?;
                job.statements.push(run);
            }
        }
    }
    Ok(job)
}

type Located<T> = Result<T, (Position, String)>;

fn name_of(name: &ObjectName) -> String {
    name.0.iter().filter_map(|p| p.as_ident()).map(|i| i.value.clone()).collect::<Vec<_>>().join(".")
}

fn create_table(create: &CreateTable, at: Position) -> Located<Table> {
    let name = name_of(&create.name);
    let mut fields = Vec::new();
    let mut metadata = Vec::new();
    let mut computed = Vec::new();
    for column in &create.columns {
        let col_at = position(column.name.span);
        if let sqlparser::ast::DataType::Custom(type_name, _) = &column.data_type
            && type_name.to_string() == dialect::COMPUTED
        {
            let expression = column.options.iter().find_map(|o| match &o.option {
                ColumnOption::Generated { generation_expr: Some(e), .. } => Some(e),
                _ => None,
            });
            let Some(expression) = expression else {
                return Err((
                    col_at,
                    format!("table '{name}', column '{}': AS needs an expression", column.name.value),
                ));
            };
            let is_proctime = matches!(expression, Expr::Function(f)
                if name_of(&f.name).eq_ignore_ascii_case("PROCTIME")
                    && matches!(&f.args, sqlparser::ast::FunctionArguments::List(l) if l.args.is_empty()));
            if !is_proctime {
                return Err((
                    col_at,
                    format!(
                        "table '{name}', column '{}' AS {expression}: the only computed column supported yet is \
                         PROCTIME() (for lookup joins)",
                        column.name.value
                    ),
                ));
            }
            computed.push(ComputedColumn { column: fields.len(), expression: Computed::ProcTime });
            // Flink: PROCTIME() is TIMESTAMP_LTZ(3) NOT NULL.
            fields.push(Field {
                name: column.name.value.clone(),
                data_type: weir::model::DataType::TimestampLtz(3),
                nullable: false,
            });
            continue;
        }
        let data_type = types::logical_type(&column.data_type)
            .map_err(|m| (col_at, format!("table '{name}', column '{}': {m}", column.name.value)))?;
        let mut nullable = true;
        for option in &column.options {
            match &option.option {
                ColumnOption::NotNull => nullable = false,
                ColumnOption::Null => nullable = true,
                ColumnOption::DialectSpecific(tokens) => {
                    let key = tokens.iter().find_map(|t| match t {
                        Token::SingleQuotedString(s) => Some(s.clone()),
                        _ => None,
                    });
                    let is_virtual = tokens.iter().any(|t| matches!(t, Token::Word(w) if w.value == "VIRTUAL"));
                    metadata.push(MetadataColumn {
                        column: fields.len(),
                        key: key.unwrap_or_else(|| column.name.value.clone()),
                        is_virtual,
                    });
                }
                ColumnOption::Unique { is_primary: true, .. } => {}
                other => {
                    return Err((
                        col_at,
                        format!("table '{name}', column '{}': '{other}' is not supported", column.name.value),
                    ));
                }
            }
        }
        fields.push(Field { name: column.name.value.clone(), data_type, nullable });
    }
    let mut primary_key = Vec::new();
    for constraint in &create.constraints {
        match constraint {
            TableConstraint::PrimaryKey { columns, characteristics, .. } => {
                if characteristics.and_then(|c| c.enforced) != Some(false) {
                    return Err((at, format!("table '{name}': write PRIMARY KEY (…) NOT ENFORCED, as Flink requires")));
                }
                for c in columns {
                    // A quoted name (`id`) is the name without its quotes.
                    let col = match &c.column.expr {
                        sqlparser::ast::Expr::Identifier(ident) => ident.value.clone(),
                        other => other.to_string(),
                    };
                    let index = fields
                        .iter()
                        .position(|f| f.name.eq_ignore_ascii_case(&col))
                        .ok_or_else(|| (at, format!("table '{name}': primary key column '{col}' does not exist")))?;
                    // Flink: primary key columns are NOT NULL.
                    fields[index].nullable = false;
                    primary_key.push(fields[index].name.clone());
                }
            }
            other => return Err((at, format!("table '{name}': constraint '{other}' is not supported"))),
        }
    }
    let mut options = Vec::new();
    if let sqlparser::ast::CreateTableOptions::With(with) = &create.table_options {
        for option in with {
            let sqlparser::ast::SqlOption::KeyValue { key, value } = option else {
                return Err((at, format!("table '{name}': WITH takes 'key' = 'value' pairs")));
            };
            let value = match value {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
                    Value::Number(n, _) => n.clone(),
                    Value::Boolean(b) => b.to_string(),
                    other => other.to_string(),
                },
                other => other.to_string(),
            };
            if options.iter().any(|(k, _): &(String, String)| *k == key.value) {
                return Err((at, format!("table '{name}': option '{}' is given twice", key.value)));
            }
            options.push((key.value.clone(), value));
        }
    }
    if options.is_empty() {
        return Err((at, format!("table '{name}' needs WITH ('connector' = '…', …)")));
    }
    let mut partition_keys = Vec::new();
    if let sqlparser::ast::HiveDistributionStyle::PARTITIONED { columns } = &create.hive_distribution {
        for c in columns {
            let index = fields.iter().position(|f| f.name.eq_ignore_ascii_case(&c.name.value)).ok_or_else(|| {
                (position(c.name.span), format!("table '{name}': partition column '{}' is not a column", c.name.value))
            })?;
            partition_keys.push(index);
        }
    }
    Ok(Table { name, schema: Schema { fields, primary_key }, metadata, partition_keys, computed, options, at })
}

fn set(statement: &Ast) -> Option<(String, String)> {
    // `SET 'key' = 'value'`: the key arrives as a quoted identifier.
    let text = statement.to_string();
    let rest = text.strip_prefix("SET ")?;
    let (key, value) = rest.split_once(" = ")?;
    let unquote = |s: &str| s.trim().trim_matches('\'').trim_matches('"').trim_matches('`').to_owned();
    Some((unquote(key), unquote(value)))
}

fn statement_to_run(job: &Job, statement: &Ast, at: Position) -> Located<Statement> {
    match statement {
        Ast::Insert(insert) => {
            let sink_name = insert.table.to_string();
            let sink = job
                .table(&sink_name)
                .ok_or_else(|| (at, format!("INSERT INTO '{sink_name}': no such table; create it first")))?;
            let source = insert.source.as_ref().ok_or_else(|| (at, "INSERT needs a SELECT".to_owned()))?;
            let query = query(job, source, at)?;
            let written: Vec<&Field> = sink
                .schema
                .fields
                .iter()
                .enumerate()
                .filter(|(i, _)| !sink.metadata.iter().any(|m| m.column == *i && m.is_virtual) && !sink.is_computed(*i))
                .map(|(_, f)| f)
                .collect();
            if written.len() != query.columns.len() {
                return Err((
                    query.at,
                    format!(
                        "INSERT INTO '{}' writes {} columns but the SELECT gives {}",
                        sink.name,
                        written.len(),
                        query.columns.len()
                    ),
                ));
            }
            for (target, &from) in written.iter().zip(&query.columns) {
                let (source_table, from) = selected(job, &query, from);
                let (have, want) = (from.data_type.to_string(), target.data_type.to_string());
                if have != want && !types::widens(&from.data_type, &target.data_type) {
                    return Err((
                        query.at,
                        format!(
                            "column '{}' of '{}' is {have} but column '{}' of '{}' is {want}; Weir casts implicitly only \
                             where no value changes (TINYINT → SMALLINT → INT → BIGINT, FLOAT → DOUBLE, integers → DOUBLE)",
                            from.name, source_table.name, target.name, sink.name
                        ),
                    ));
                }
            }
            Ok(Statement::Insert { sink: sink.name.clone(), query })
        }
        Ast::Query(q) => Ok(Statement::Select(query(job, q, at)?)),
        Ast::Explain { statement, .. } => Ok(Statement::Explain(Box::new(statement_to_run(job, statement, at)?))),
        other => {
            let word = other.to_string().split_whitespace().next().unwrap_or_default().to_owned();
            Err((
                at,
                format!(
                    "{word} statements are not supported; a job has CREATE TABLE, SET, INSERT INTO, SELECT and EXPLAIN"
                ),
            ))
        }
    }
}

/// VECTOR_SEARCH's `score` column.
static SCORE: std::sync::LazyLock<Field> = std::sync::LazyLock::new(|| Field {
    name: "score".to_owned(),
    data_type: weir::model::DataType::Double,
    nullable: false,
});

/// The table and field behind selected column `index` of `query`.
fn selected<'a>(job: &'a Job, query: &Query, index: usize) -> (&'a Table, &'a Field) {
    let source = job.table(&query.source).expect("query() resolved the source");
    let n = source.schema.fields.len();
    let other = query.lookup.as_ref().map(|l| &l.table).or(query.search.as_ref().map(|s| &s.table));
    match other {
        Some(name) if index >= n => {
            let dim = job.table(name).expect("query() resolved the joined table");
            match dim.schema.fields.get(index - n) {
                Some(field) => (dim, field),
                None => (dim, &SCORE),
            }
        }
        _ => (source, &source.schema.fields[index]),
    }
}

/// The tables a query's column names resolve in: the source and, with a
/// lookup join, the dimension table, whose columns come after the
/// source's.
struct Scope<'a> {
    source: &'a Table,
    source_alias: Option<String>,
    dim: Option<(&'a Table, Option<String>)>,
    /// A vector search: its output has the vector table's columns and then
    /// `score`.
    scored: bool,
}

impl Scope<'_> {
    /// Whether `qualifier` names `table` (by alias if it has one).
    fn names(table: &Table, alias: &Option<String>, qualifier: &str) -> bool {
        match alias {
            Some(a) => a.eq_ignore_ascii_case(qualifier),
            None => table.name.eq_ignore_ascii_case(qualifier),
        }
    }

    /// The column `e` refers to, as an index into the source's columns
    /// followed by the dimension table's; `None` if `e` is not a column name.
    fn column(&self, e: &Expr) -> Option<Located<usize>> {
        let at = position(e.span());
        let offset = self.source.schema.fields.len();
        let (qualifier, ident) = match e {
            Expr::Identifier(i) => (None, i),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => (Some(&parts[0].value), &parts[1]),
            _ => return None,
        };
        let missing = |t: &Table| (at, format!("table '{}' has no column '{}'", t.name, ident.value));
        // VECTOR_SEARCH's `score`, after the vector table's columns.
        if self.scored && ident.value.eq_ignore_ascii_case("score") {
            let dim_named = |q: &str| self.dim.as_ref().is_some_and(|(d, alias)| Self::names(d, alias, q));
            let own_score = |t: &Table| t.column("score").is_some();
            let unqualified_free = !own_score(self.source) && self.dim.as_ref().is_none_or(|(d, _)| !own_score(d));
            if qualifier.is_some_and(|q| dim_named(q)) || (qualifier.is_none() && unqualified_free) {
                let dim_width = self.dim.as_ref().map_or(0, |(d, _)| d.schema.fields.len());
                return Some(Ok(offset + dim_width));
            }
        }
        Some(match qualifier {
            Some(q) if Self::names(self.source, &self.source_alias, q) => {
                self.source.column(&ident.value).ok_or_else(|| missing(self.source))
            }
            Some(q) => match &self.dim {
                Some((dim, alias)) if Self::names(dim, alias, q) => {
                    dim.column(&ident.value).map(|c| offset + c).ok_or_else(|| missing(dim))
                }
                _ => Err((at, format!("'{e}': no table or alias '{q}' in this query"))),
            },
            None => {
                let in_dim = self.dim.as_ref().and_then(|(dim, _)| dim.column(&ident.value));
                match (self.source.column(&ident.value), in_dim) {
                    (Some(_), Some(_)) => Err((
                        at,
                        format!("column '{}' is in both joined tables; qualify it (o.{0} or c.{0})", ident.value),
                    )),
                    (Some(c), None) => Ok(c),
                    (None, Some(c)) => Ok(offset + c),
                    (None, None) => Err(missing(self.source)),
                }
            }
        })
    }

    /// The table and column behind a combined index.
    fn field(&self, index: usize) -> (&Table, usize) {
        let offset = self.source.schema.fields.len();
        match &self.dim {
            Some((dim, _)) if index >= offset => (dim, index - offset),
            _ => (self.source, index),
        }
    }
}

fn alias_of(alias: &Option<sqlparser::ast::TableAlias>) -> Option<String> {
    alias.as_ref().map(|a| a.name.value.clone())
}

fn query(job: &Job, q: &sqlparser::ast::Query, at: Position) -> Located<Query> {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return Err((at, "only SELECT … FROM one table is supported".to_owned()));
    };
    let Some((from, rest)) = select.from.split_first() else {
        return Err((
            at,
            "SELECT reads from one table, optionally lookup-joined with one more (JOIN … FOR SYSTEM_TIME AS OF …)"
                .to_owned(),
        ));
    };
    let rest = rest.to_vec();
    let TableFactor::Table { name, alias, version: None, .. } = &from.relation else {
        return Err((
            at,
            "SELECT … FROM takes a table name (FOR SYSTEM_TIME AS OF belongs to the joined table)".to_owned(),
        ));
    };
    let source_name = name_of(name);
    let source = job
        .table(&source_name)
        .ok_or_else(|| (position(name.span()), format!("no table '{source_name}'; create it first")))?;
    let mut scope = Scope { source, source_alias: alias_of(alias), dim: None, scored: false };
    let lookup = match from.joins.as_slice() {
        [] => None,
        [join] => Some(lookup_join(job, &mut scope, join)?),
        [_, second, ..] => {
            return Err((position(second.relation.span()), "one lookup join per query is supported yet".to_owned()));
        }
    };
    let search = match rest.as_slice() {
        [] => None,
        [lateral] if lookup.is_none() && lateral.joins.is_empty() => {
            Some(vector_search(job, &mut scope, &lateral.relation)?)
        }
        [other, ..] => {
            return Err((
                position(other.relation.span()),
                "a second FROM item is supported only as LATERAL TABLE(VECTOR_SEARCH(…)), without a lookup join"
                    .to_owned(),
            ));
        }
    };
    let offset = source.schema.fields.len();
    let mut columns = Vec::new();
    let all_of = |t: &Table, base: usize| -> Vec<usize> {
        (0..t.schema.fields.len()).filter(|i| !t.metadata.iter().any(|m| m.column == *i)).map(|i| base + i).collect()
    };
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(_) => {
                columns.extend(all_of(source, 0));
                if let Some((dim, _)) = &scope.dim {
                    columns.extend(all_of(dim, offset));
                    if scope.scored {
                        columns.push(offset + dim.schema.fields.len());
                    }
                }
            }
            SelectItem::QualifiedWildcard(sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(q), _) => {
                let q = name_of(q);
                match &scope.dim {
                    _ if Scope::names(source, &scope.source_alias, &q) => columns.extend(all_of(source, 0)),
                    Some((dim, alias)) if Scope::names(dim, alias, &q) => {
                        columns.extend(all_of(dim, offset));
                        if scope.scored {
                            columns.push(offset + dim.schema.fields.len());
                        }
                    }
                    _ => {
                        return Err((position(item.span()), format!("'{q}.*': no table or alias '{q}' in this query")));
                    }
                }
            }
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } if scope.column(e).is_some() => {
                columns.push(scope.column(e).expect("checked")?);
            }
            other => {
                return Err((
                    position(other.span()),
                    format!("'{other}': only column names (or *) can be selected yet"),
                ));
            }
        }
    }
    let mut filters = Vec::new();
    if let Some(selection) = &select.selection {
        conjunction(&scope, selection, &mut filters)?;
    }
    // Conditions on the dimension table's columns apply to the joined rows.
    let (filters, after): (Vec<Filter>, Vec<Filter>) = filters.into_iter().partition(|f| f.column < offset);
    let lookup = lookup.map(|mut l| {
        l.filters = after.iter().cloned().map(|f| Filter { column: f.column - offset, ..f }).collect();
        l
    });
    let limit = match &q.limit_clause {
        None => None,
        Some(LimitClause::LimitOffset { limit: Some(Expr::Value(v)), offset: None, .. }) => match &v.value {
            Value::Number(n, _) => Some(n.parse::<u64>().map_err(|_| (at, format!("LIMIT {n}: not a row count")))?),
            other => return Err((at, format!("LIMIT {other}: not a row count"))),
        },
        Some(other) => return Err((at, format!("'{other}': only LIMIT n is supported"))),
    };
    if search.is_some() && !after.is_empty() {
        return Err((
            at,
            "WHERE on VECTOR_SEARCH's columns is not supported yet; filter the source's columns".to_owned(),
        ));
    }
    Ok(Query { source: source.name.clone(), columns, lookup, search, filters, limit, at: position(q.span()) })
}

/// `[LEFT] JOIN dim FOR SYSTEM_TIME AS OF s.proc [AS d] ON s.a = d.b [AND …]`.
fn lookup_join<'a>(job: &'a Job, scope: &mut Scope<'a>, join: &sqlparser::ast::Join) -> Located<LookupJoin> {
    use sqlparser::ast::{JoinConstraint, JoinOperator, TableVersion};
    let at = position(join.relation.span());
    let (left, constraint) = match &join.join_operator {
        JoinOperator::Join(c) | JoinOperator::Inner(c) => (false, c),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (true, c),
        other => {
            let word = format!("{other:?}");
            let word = word.split('(').next().unwrap_or_default().to_uppercase();
            return Err((
                at,
                format!("{word} joins are not supported; a lookup join is [LEFT] JOIN … FOR SYSTEM_TIME AS OF …"),
            ));
        }
    };
    let TableFactor::Table { name, alias, version, .. } = &join.relation else {
        return Err((at, "JOIN takes a table name".to_owned()));
    };
    let dim_name = name_of(name);
    let dim = job.table(&dim_name).ok_or_else(|| (at, format!("no table '{dim_name}'; create it first")))?;
    let Some(TableVersion::ForSystemTimeAsOf(time)) = version else {
        return Err((
            at,
            format!(
                "JOIN {dim_name}: only lookup joins are supported: JOIN {dim_name} FOR SYSTEM_TIME AS OF \
                 <source>.<proc_time column> AS … ON …, with proc_time AS PROCTIME() declared in the source table"
            ),
        ));
    };
    // The time must be the source's processing-time attribute.
    let time_column = scope.column(time).transpose()?;
    match time_column {
        Some(c) if c < scope.source.schema.fields.len() && scope.source.computed.iter().any(|p| p.column == c) => {}
        _ => {
            return Err((
                position(time.span()),
                format!(
                    "FOR SYSTEM_TIME AS OF {time}: a lookup join is as of the source's processing time; declare \
                     `proc_time AS PROCTIME()` in table '{}' and write FOR SYSTEM_TIME AS OF {}.proc_time",
                    scope.source.name,
                    scope.source_alias.as_deref().unwrap_or(&scope.source.name)
                ),
            ));
        }
    }
    scope.dim = Some((dim, alias_of(alias)));
    let JoinConstraint::On(on) = constraint else {
        return Err((at, format!("JOIN {dim_name}: write the join condition with ON s.key = d.key")));
    };
    let mut keys = Vec::new();
    equalities(scope, on, &mut keys)?;
    Ok(LookupJoin { table: dim.name.clone(), left, keys, filters: Vec::new(), at })
}

/// Flink's runtime config keys of VECTOR_SEARCH.
const SEARCH_CONFIG: [&str; 4] = ["async", "max-concurrent-operations", "output-mode", "timeout"];

/// `LATERAL TABLE(VECTOR_SEARCH(TABLE t, DESCRIPTOR(col), s.query, k [, MAP[…]]))`
/// (the planner's order: table, column to search, column to query, top-k,
/// config), or with named arguments `SEARCH_TABLE =>`, `COLUMN_TO_SEARCH =>`,
/// `COLUMN_TO_QUERY =>`, `TOP_K =>`, `CONFIG =>`.
fn vector_search<'a>(job: &'a Job, scope: &mut Scope<'a>, relation: &TableFactor) -> Located<VectorSearch> {
    use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    const NAMES: [&str; 5] = ["SEARCH_TABLE", "COLUMN_TO_SEARCH", "COLUMN_TO_QUERY", "TOP_K", "CONFIG"];
    let at = position(relation.span());
    let usage = "write LATERAL TABLE(VECTOR_SEARCH(TABLE <vector table>, DESCRIPTOR(<vector column>), \
                 <source>.<query column>, <top-k>[, MAP['key', 'value', …]]))";
    let TableFactor::Function { lateral: true, name, args, alias } = relation else {
        return Err((at, format!("a second FROM item must be a vector search: {usage}")));
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Function(call)))] = args.as_slice() else {
        return Err((at, format!("LATERAL {name}(…): {usage}")));
    };
    if !name_of(name).eq_ignore_ascii_case("TABLE") || !name_of(&call.name).eq_ignore_ascii_case("VECTOR_SEARCH") {
        return Err((at, format!("LATERAL {name}(…): only VECTOR_SEARCH is supported; {usage}")));
    }
    let FunctionArguments::List(list) = &call.args else { return Err((at, usage.to_owned())) };
    // The arguments by name, positional ones in the planner's order.
    let mut given: [Option<&Expr>; 5] = [None; 5];
    for (i, arg) in list.args.iter().enumerate() {
        let (slot, expr) = match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) if i < NAMES.len() => (i, e),
            FunctionArg::Named { name, arg: FunctionArgExpr::Expr(e), .. } => {
                let slot = NAMES.iter().position(|n| n.eq_ignore_ascii_case(&name.value)).ok_or_else(|| {
                    (
                        position(name.span),
                        format!("VECTOR_SEARCH has no argument '{}'; it takes {}", name.value, NAMES.join(", ")),
                    )
                })?;
                (slot, e)
            }
            other => {
                return Err((position(other.span()), format!("VECTOR_SEARCH: '{other}' is not an argument; {usage}")));
            }
        };
        if given[slot].replace(expr).is_some() {
            return Err((at, format!("VECTOR_SEARCH: {} is given twice", NAMES[slot])));
        }
    }
    let need = |slot: usize| given[slot].ok_or_else(|| (at, format!("VECTOR_SEARCH needs {}; {usage}", NAMES[slot])));
    // The vector table.
    let table_name = match need(0)? {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => parts.iter().map(|p| p.value.clone()).collect::<Vec<_>>().join("."),
        other => {
            return Err((
                position(other.span()),
                format!("VECTOR_SEARCH: SEARCH_TABLE is TABLE <name>, not '{other}'"),
            ));
        }
    };
    let table = job.table(&table_name).ok_or_else(|| (at, format!("no table '{table_name}'; create it first")))?;
    // The searched column.
    let descriptor = |f: &sqlparser::ast::Function| match &f.args {
        FunctionArguments::List(l) => match l.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(c)))] => Some(c.value.clone()),
            _ => None,
        },
        _ => None,
    };
    let column = match need(1)? {
        Expr::Function(f) if name_of(&f.name).eq_ignore_ascii_case("DESCRIPTOR") => descriptor(f)
            .ok_or_else(|| (at, "VECTOR_SEARCH: DESCRIPTOR names one column of the vector table".to_owned()))?,
        other => {
            return Err((
                position(other.span()),
                format!("VECTOR_SEARCH: COLUMN_TO_SEARCH is DESCRIPTOR(<column>), not '{other}'"),
            ));
        }
    };
    let column_index = table
        .column(&column)
        .ok_or_else(|| (at, format!("VECTOR_SEARCH: table '{}' has no column '{column}'", table.name)))?;
    let float_array = |t: &weir::model::DataType, doubles: bool| {
        matches!(t, weir::model::DataType::Array { element, .. }
            if **element == weir::model::DataType::Float || (doubles && **element == weir::model::DataType::Double))
    };
    let searched = &table.schema.fields[column_index];
    if !float_array(&searched.data_type, false) {
        return Err((
            at,
            format!(
                "VECTOR_SEARCH: column '{}' of '{}' is {}; the searched column must be ARRAY<FLOAT>",
                searched.name, table.name, searched.data_type
            ),
        ));
    }
    // The query column: the source's.
    let query_expr = need(2)?;
    let query =
        scope.column(query_expr).transpose()?.filter(|&c| c < scope.source.schema.fields.len()).ok_or_else(|| {
            (
                position(query_expr.span()),
                format!(
                    "VECTOR_SEARCH: COLUMN_TO_QUERY must be a column of '{}', not '{query_expr}'",
                    scope.source.name
                ),
            )
        })?;
    let query_field = &scope.source.schema.fields[query];
    if !float_array(&query_field.data_type, true) {
        return Err((
            position(query_expr.span()),
            format!(
                "VECTOR_SEARCH: column '{}' of '{}' is {}; a query vector is ARRAY<FLOAT> or ARRAY<DOUBLE>",
                query_field.name, scope.source.name, query_field.data_type
            ),
        ));
    }
    // Top-k: a positive whole number.
    let top_k = match need(3)? {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse::<i64>().ok(),
            _ => None,
        },
        Expr::UnaryOp { op: sqlparser::ast::UnaryOperator::Minus, .. } => Some(-1),
        _ => None,
    };
    let top_k = match top_k {
        Some(k) if (1..=i64::from(u32::MAX)).contains(&k) => k as u32,
        _ => return Err((at, format!("VECTOR_SEARCH: TOP_K is a whole number of at least 1, not '{}'", need(3)?))),
    };
    // The config: MAP['key', 'value', …] (read as an ARRAY of strings).
    let mut config = Vec::new();
    if let Some(e) = given[4] {
        let Expr::Array(array) = e else {
            return Err((position(e.span()), format!("VECTOR_SEARCH: CONFIG is MAP['key', 'value', …], not '{e}'")));
        };
        let texts: Vec<String> = array
            .elem
            .iter()
            .map(|v| match v {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) => Some(s.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                (position(e.span()), "VECTOR_SEARCH: CONFIG's keys and values are quoted strings".to_owned())
            })?;
        if !texts.len().is_multiple_of(2) {
            return Err((position(e.span()), "VECTOR_SEARCH: CONFIG is MAP['key', 'value', …] (pairs)".to_owned()));
        }
        for pair in texts.chunks(2) {
            let (key, value) = (pair[0].clone(), pair[1].clone());
            if !SEARCH_CONFIG.contains(&key.as_str()) {
                return Err((
                    position(e.span()),
                    format!("VECTOR_SEARCH: unknown config key '{key}'; Flink's keys are {}", SEARCH_CONFIG.join(", ")),
                ));
            }
            let ok = match key.as_str() {
                "async" => matches!(value.as_str(), "true" | "false"),
                "max-concurrent-operations" => value.parse::<u32>().is_ok_and(|n| n > 0),
                "output-mode" => matches!(value.to_ascii_uppercase().as_str(), "ORDERED" | "ALLOW_UNORDERED"),
                _ => weir::options::parse_duration(&value).is_some(),
            };
            if !ok {
                return Err((position(e.span()), format!("VECTOR_SEARCH: config '{key}' = '{value}' is not valid")));
            }
            config.push((key, value));
        }
    }
    scope.dim = Some((table, alias_of(alias)));
    scope.scored = true;
    Ok(VectorSearch { table: table.name.clone(), column: column_index, query, top_k, config, at })
}

/// The `ON` condition: equalities of a source column and a dimension
/// column, joined by AND.
fn equalities(scope: &Scope<'_>, e: &Expr, out: &mut Vec<(usize, usize)>) -> Located<()> {
    let offset = scope.source.schema.fields.len();
    let unsupported = || {
        (
            position(e.span()),
            format!(
                "ON {e}: a lookup join's condition equates a column of the source with one of the dimension table \
                 (s.k = d.k), joined by AND; filter other columns in WHERE"
            ),
        )
    };
    match e {
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            equalities(scope, left, out)?;
            equalities(scope, right, out)
        }
        Expr::Nested(inner) => equalities(scope, inner, out),
        Expr::BinaryOp { left, op: BinaryOperator::Eq, right } => {
            let (Some(a), Some(b)) = (scope.column(left), scope.column(right)) else { return Err(unsupported()) };
            let (a, b) = (a?, b?);
            let (s, d) = match (a < offset, b < offset) {
                (true, false) => (a, b - offset),
                (false, true) => (b, a - offset),
                _ => return Err(unsupported()),
            };
            let (source, dim) = (scope.source, scope.field(offset + d).0);
            let (sf, df) = (&source.schema.fields[s], &dim.schema.fields[d]);
            if sf.data_type.to_string() != df.data_type.to_string() && !types::widens(&sf.data_type, &df.data_type) {
                return Err((
                    position(e.span()),
                    format!(
                        "ON {e}: column '{}' of '{}' is {} but column '{}' of '{}' is {}; join keys need the same type",
                        sf.name, source.name, sf.data_type, df.name, dim.name, df.data_type
                    ),
                ));
            }
            if dim.is_computed(d) {
                return Err((
                    position(e.span()),
                    format!("ON {e}: '{}' is computed, not a column to look up", df.name),
                ));
            }
            out.push((s, d));
            Ok(())
        }
        _ => Err(unsupported()),
    }
}

fn conjunction(scope: &Scope<'_>, e: &Expr, out: &mut Vec<Filter>) -> Located<()> {
    let unsupported = |e: &Expr| {
        (
            position(e.span()),
            format!("WHERE '{e}': only comparisons of a column with a literal, joined by AND, are supported"),
        )
    };
    let column = |e: &Expr| scope.column(e);
    match e {
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            conjunction(scope, left, out)?;
            conjunction(scope, right, out)
        }
        Expr::Nested(inner) => conjunction(scope, inner, out),
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
            let Some(index) = column(inner) else { return Err(unsupported(e)) };
            let op = if matches!(e, Expr::IsNull(_)) { CompareOp::IsNull } else { CompareOp::IsNotNull };
            out.push(Filter { column: index?, op, value: Literal::Null });
            Ok(())
        }
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Eq => CompareOp::Eq,
                BinaryOperator::NotEq => CompareOp::NotEq,
                BinaryOperator::Lt => CompareOp::Lt,
                BinaryOperator::LtEq => CompareOp::LtEq,
                BinaryOperator::Gt => CompareOp::Gt,
                BinaryOperator::GtEq => CompareOp::GtEq,
                _ => return Err(unsupported(e)),
            };
            let flip = |op| match op {
                CompareOp::Lt => CompareOp::Gt,
                CompareOp::LtEq => CompareOp::GtEq,
                CompareOp::Gt => CompareOp::Lt,
                CompareOp::GtEq => CompareOp::LtEq,
                other => other,
            };
            let (index, value, op) = match (column(left), column(right)) {
                (Some(i), None) => (i?, literal(right).ok_or_else(|| unsupported(e))?, op),
                (None, Some(i)) => (i?, literal(left).ok_or_else(|| unsupported(e))?, flip(op)),
                _ => return Err(unsupported(e)),
            };
            let (table, c) = scope.field(index);
            // VECTOR_SEARCH's score comes after the vector table's columns.
            let Some(field) = table.schema.fields.get(c) else {
                return Err((
                    position(e.span()),
                    format!(
                        "WHERE {e}: WHERE on VECTOR_SEARCH's columns is not supported yet; filter the source's columns"
                    ),
                ));
            };
            // The literal must fit the column, as the run will require.
            weir_pipeline::check_filter(field, &value)
                .map_err(|why| (position(e.span()), format!("WHERE {e}: {why}")))?;
            out.push(Filter { column: index, op, value });
            Ok(())
        }
        _ => Err(unsupported(e)),
    }
}

fn literal(e: &Expr) -> Option<Literal> {
    match e {
        Expr::Value(v) => Some(match &v.value {
            Value::Null => Literal::Null,
            Value::Boolean(b) => Literal::Boolean(*b),
            Value::Number(n, _) => match n.parse::<i64>() {
                Ok(i) => Literal::Integer(i),
                Err(_) => Literal::Double(n.parse().ok()?),
            },
            Value::SingleQuotedString(s) => Literal::Text(s.clone()),
            _ => return None,
        }),
        Expr::UnaryOp { op: sqlparser::ast::UnaryOperator::Minus, expr } => match literal(expr)? {
            Literal::Integer(i) => Some(Literal::Integer(-i)),
            Literal::Double(d) => Some(Literal::Double(-d)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir::model::DataType as LogicalType;

    const SEED: &str = "CREATE TABLE UserScores (name STRING, score INT) WITH (
  'connector' = 'socket', 'hostname' = 'localhost', 'port' = '9999',
  'byte-delimiter' = '10', 'format' = 'changelog-csv',
  'changelog-csv.column-delimiter' = '|');";

    fn job(sql: &str) -> Job {
        parse("job.sql", sql).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(sql: &str) -> String {
        parse("job.sql", sql).expect_err("must fail").to_string()
    }

    #[test]
    fn the_seed_ddl() {
        let job = job(&format!("{SEED}\nSELECT * FROM UserScores;"));
        let t = job.table("userscores").expect("case-insensitive lookup");
        assert_eq!(t.schema.fields.len(), 2);
        assert!(matches!(t.schema.fields[1].data_type, LogicalType::Int));
        assert_eq!(t.option("changelog-csv.column-delimiter"), Some("|"));
        assert_eq!(t.options.len(), 6);
        assert!(matches!(&job.statements[0], Statement::Select(q) if q.columns == [0, 1] && q.source == "UserScores"));
    }

    #[test]
    fn flink_types_metadata_and_keys() {
        let job = job("CREATE TABLE t (
            id BIGINT, tags ARRAY<STRING>, m MAP<STRING, ARRAY<INT>>, r ROW<x INT, y MAP<STRING, INT>>,
            l TIMESTAMP_LTZ(3), l2 TIMESTAMP(6) WITH LOCAL TIME ZONE, ts TIMESTAMP(3), d DECIMAL(10, 2),
            b BYTES, v VARCHAR(20) NOT NULL, topic STRING METADATA FROM 'topic' VIRTUAL, `offset` BIGINT METADATA,
            PRIMARY KEY (id) NOT ENFORCED
        ) WITH ('connector' = 'datagen');");
        let t = &job.tables[0];
        let text: Vec<String> = t.schema.fields.iter().map(|f| f.data_type.to_string()).collect();
        assert_eq!(
            text,
            [
                "BIGINT",
                "ARRAY<STRING>",
                "MAP<STRING, ARRAY<INT>>",
                "ROW<x INT, y MAP<STRING, INT>>",
                "TIMESTAMP_LTZ(3)",
                "TIMESTAMP_LTZ(6)",
                "TIMESTAMP(3)",
                "DECIMAL(10, 2)",
                "BYTES",
                "VARCHAR(20)",
                "STRING",
                "BIGINT"
            ]
        );
        assert!(!t.schema.fields[0].nullable, "primary key columns are NOT NULL");
        assert!(!t.schema.fields[9].nullable);
        assert_eq!(t.schema.primary_key, ["id"]);
        let partitioned = super::parse(
            "p.sql",
            "CREATE TABLE p (a INT, dt STRING, hr INT) PARTITIONED BY (dt, hr) WITH ('connector' = 'x');",
        )
        .expect("parses");
        assert_eq!(partitioned.tables[0].partition_keys, [1, 2]);
        let e = error("CREATE TABLE p (a INT) PARTITIONED BY (nope) WITH ('connector' = 'x');");
        assert!(e.contains("partition column 'nope' is not a column"), "{e}");
        assert_eq!(
            t.metadata,
            [
                MetadataColumn { column: 10, key: "topic".into(), is_virtual: true },
                MetadataColumn { column: 11, key: "offset".into(), is_virtual: false }
            ]
        );
    }

    #[test]
    fn insert_with_filters_limit_set_and_explain() {
        let job = job("SET 'execution.checkpointing.interval' = '10s';
            CREATE TABLE src (a INT, b STRING, c DOUBLE) WITH ('connector' = 'datagen');
            CREATE TABLE dst (x INT, y STRING) WITH ('connector' = 'print');
            INSERT INTO dst SELECT a, b FROM src WHERE a > 5 AND 10 >= a AND b IS NOT NULL AND c <> -1.5 LIMIT 7;
            EXPLAIN INSERT INTO dst SELECT a, b FROM src;");
        assert_eq!(job.setting("execution.checkpointing.interval"), Some("10s"));
        let Statement::Insert { sink, query } = &job.statements[0] else { panic!("insert") };
        assert_eq!(sink, "dst");
        assert_eq!(query.columns, [0, 1]);
        assert_eq!(query.limit, Some(7));
        assert_eq!(
            query.filters,
            [
                Filter { column: 0, op: CompareOp::Gt, value: Literal::Integer(5) },
                Filter { column: 0, op: CompareOp::LtEq, value: Literal::Integer(10) },
                Filter { column: 1, op: CompareOp::IsNotNull, value: Literal::Null },
                Filter { column: 2, op: CompareOp::NotEq, value: Literal::Double(-1.5) },
            ]
        );
        assert!(matches!(&job.statements[1], Statement::Explain(inner) if matches!(**inner, Statement::Insert { .. })));
    }

    #[test]
    fn errors_point_at_the_place_and_name_the_table() {
        let src = "CREATE TABLE src (a INT, b STRING) WITH ('connector' = 'datagen');\n";
        let dst = "CREATE TABLE dst (x INT) WITH ('connector' = 'print');\n";
        let e = error(&format!("{src}SELECT nope FROM src;"));
        assert_eq!(e, "job.sql:2:8: table 'src' has no column 'nope'");
        let e = error(&format!("{src}SELECT a FROM missing;"));
        assert_eq!(e, "job.sql:2:15: no table 'missing'; create it first");
        let e = error(&format!("{src}{dst}INSERT INTO dst SELECT b FROM src;"));
        assert!(e.contains("column 'b' of 'src' is STRING but column 'x' of 'dst' is INT"), "{e}");
        let widened = format!(
            "{src}CREATE TABLE big (x BIGINT) WITH ('connector' = 'print');\nINSERT INTO big SELECT a FROM src;"
        );
        assert!(parse("job.sql", &widened).is_ok(), "INT widens to BIGINT");
        let e = error(&format!("{src}{dst}INSERT INTO dst SELECT a, b FROM src;"));
        assert!(e.contains("writes 1 columns but the SELECT gives 2"), "{e}");
        let e = error(&format!("{src}SELECT a FROM src WHERE a + 1 > 2;"));
        assert!(e.starts_with("job.sql:2:") && e.contains("only comparisons of a column with a literal"), "{e}");
        let e =
            error("CREATE TABLE t (a INT) WITH ('connector' = 'x');\nCREATE TABLE t (b INT) WITH ('connector' = 'y');");
        assert!(e.contains("job.sql:2:14: table 't' is created twice"), "{e}");
        let e = error("CREATE TABLE t (a INT, PRIMARY KEY (a)) WITH ('connector' = 'x');");
        assert!(e.contains("NOT ENFORCED"), "{e}");
        let e = error("CREATE TABLE t (a INT WITH ('connector' = 'x');");
        assert!(e.starts_with("job.sql: ") && e.contains("Line: 1"), "{e}");
        let e = error("CREATE TABLE t (a GEOMETRY) WITH ('connector' = 'x');");
        assert!(e.contains("table 't', column 'a'") && e.contains("not supported"), "{e}");
        let e = error("DROP TABLE t;");
        assert!(e.contains("DROP statements are not supported"), "{e}");
    }

    #[test]
    fn a_quoted_primary_key_column_is_found_by_its_name() {
        let job = parse("job.sql", "CREATE TABLE t (`id` INT, `my col` STRING, PRIMARY KEY (`my col`, `id`) NOT ENFORCED) WITH ('connector' = 'x');")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(job.tables[0].schema.primary_key, ["my col", "id"]);
    }

    /// Flink's lookup join example (docs: "Lookup Join"), as written there.
    const LOOKUP: &str = "CREATE TEMPORARY TABLE Customers (
  id INT, name STRING, country STRING, zip STRING
) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://127.0.0.1:5432/customerdb', 'table-name' = 'customers');
CREATE TABLE Orders (order_id INT, total INT, customer_id INT, proc_time AS PROCTIME())
  WITH ('connector' = 'datagen');
CREATE TABLE Out (order_id INT, total INT, country STRING, zip STRING) WITH ('connector' = 'blackhole');
";

    #[test]
    fn flinks_lookup_join_reads_as_written() {
        let inserted = job(&format!(
            "{LOOKUP}INSERT INTO Out SELECT o.order_id, o.total, c.country, c.zip FROM Orders AS o
  JOIN Customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer_id = c.id;"
        ));
        let orders = inserted.table("orders").expect("table");
        assert_eq!(orders.computed, [ComputedColumn { column: 3, expression: Computed::ProcTime }]);
        assert_eq!(orders.schema.fields[3].data_type.to_string(), "TIMESTAMP_LTZ(3)");
        assert_eq!(orders.stored_schema().fields.len(), 3, "the connector never sees proc_time");
        let Statement::Insert { query, .. } = &inserted.statements[0] else { panic!("an insert") };
        let join = query.lookup.as_ref().expect("a lookup join");
        assert_eq!((join.table.as_str(), join.left, join.keys.as_slice()), ("Customers", false, &[(2, 0)][..]));
        // Dimension columns come after the source's four.
        assert_eq!(query.columns, [0, 1, 6, 7]);
        let left = job(&format!(
            "{LOOKUP}SELECT * FROM Orders o LEFT JOIN Customers FOR SYSTEM_TIME AS OF o.proc_time c
  ON o.customer_id = c.id WHERE c.country = 'NL' AND total > 10;"
        ));
        let Statement::Select(query) = &left.statements[0] else { panic!("a select") };
        let join = query.lookup.as_ref().expect("a lookup join");
        assert!(join.left);
        assert_eq!(query.columns, (0..8).collect::<Vec<_>>());
        assert_eq!(query.filters.len(), 1, "total > 10 is the source's");
        assert_eq!(join.filters.len(), 1, "c.country = 'NL' applies to joined rows");
        assert_eq!(join.filters[0].column, 2);
    }

    #[test]
    fn vector_search_reads_as_the_planner_does_and_mistakes_are_named() {
        let tables = "CREATE TABLE Q (id INT, v ARRAY<FLOAT>) WITH ('connector' = 'datagen');
CREATE TABLE D (id INT, e ARRAY<FLOAT>) WITH ('connector' = 'jdbc');\n";
        let select = |rest: &str| {
            format!("{tables}SELECT Q.id, d.id, d.score FROM Q, LATERAL TABLE(VECTOR_SEARCH({rest})) AS d;")
        };
        let parsed = job(&select("TABLE D, DESCRIPTOR(e), Q.v, 5"));
        let Statement::Select(query) = &parsed.statements[0] else { panic!("a select") };
        let search = query.search.as_ref().expect("a vector search");
        assert_eq!((search.table.as_str(), search.column, search.query, search.top_k), ("D", 1, 1, 5));
        // Source columns, then the vector table's, then score.
        assert_eq!(query.columns, [0, 2, 4]);
        let named = job(&select(
            "SEARCH_TABLE => TABLE D, COLUMN_TO_QUERY => Q.v, COLUMN_TO_SEARCH => DESCRIPTOR(e), TOP_K => 5",
        ));
        let Statement::Select(named) = &named.statements[0] else { panic!("a select") };
        assert_eq!(named.search, query.search);
        let e = error(&select("TABLE D, DESCRIPTOR(e), Q.v, 0"));
        assert!(e.contains("TOP_K is a whole number of at least 1"), "{e}");
        let e = error(&select("TABLE D, DESCRIPTOR(e), Q.v, 5, MAP['colour', 'red']"));
        assert!(e.contains("unknown config key 'colour'"), "{e}");
        let e = error(&format!(
            "{tables}SELECT Q.id FROM Q, LATERAL TABLE(VECTOR_SEARCH(TABLE D, DESCRIPTOR(e), Q.v, 5)) AS d WHERE d.score > 0.5;"
        ));
        assert!(e.contains("WHERE on VECTOR_SEARCH's columns is not supported yet"), "{e}");
    }

    #[test]
    fn lookup_join_mistakes_are_named() {
        let select = |rest: &str| error(&format!("{LOOKUP}SELECT o.order_id FROM Orders o {rest};"));
        let e = select("JOIN Customers c ON o.customer_id = c.id");
        assert!(e.contains("only lookup joins are supported") && e.contains("FOR SYSTEM_TIME AS OF"), "{e}");
        let e = select("JOIN Customers FOR SYSTEM_TIME AS OF o.total c ON o.customer_id = c.id");
        assert!(e.contains("declare `proc_time AS PROCTIME()`"), "{e}");
        let e = select("JOIN Customers FOR SYSTEM_TIME AS OF o.proc_time c ON o.customer_id > c.id");
        assert!(e.contains("equates a column of the source with one of the dimension table"), "{e}");
        let e = select("JOIN Customers FOR SYSTEM_TIME AS OF o.proc_time c ON o.customer_id = c.name");
        assert!(
            e.contains("column 'customer_id' of 'Orders' is INT but column 'name' of 'Customers' is STRING"),
            "{e}"
        );
        let e = select("RIGHT JOIN Customers FOR SYSTEM_TIME AS OF o.proc_time c ON o.customer_id = c.id");
        assert!(e.contains("RIGHT joins are not supported"), "{e}");
        let e = select("JOIN Customers FOR SYSTEM_TIME AS OF o.proc_time c ON o.customer_id = x.id");
        assert!(e.contains("no table or alias 'x'"), "{e}");
        let e = error("CREATE TABLE t (a INT, b AS a + 1) WITH ('connector' = 'datagen');");
        assert!(e.contains("the only computed column supported yet is PROCTIME()"), "{e}");
    }
}
