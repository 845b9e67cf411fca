//! Resolving a table against the catalog: its connector and format,
//! validated options (Flink semantics), declared needs and the grants the
//! operator gives them. Nothing starts here.

use super::columns::physical_columns;
pub use super::keys::KeyFormat;
use super::model::{self, Statement};
use weir::Runtime;
use weir::catalog::{Entry, Role};
use weir::error::{Error, Result};
use weir::model::Schema;
use weir::options::{self, Target};
use weir::policy::{self, Grants, Need};
use weir::spec::{CapabilityKind, RowKind};

/// A table resolved against the catalog for one role.
pub struct Resolved {
    /// The table.
    pub table: model::Table,
    /// Source or sink.
    pub role: Role,
    /// The connector component.
    pub connector: Entry,
    /// Connector options after validation (defaults filled in).
    pub options: Vec<(String, String)>,
    /// The format component and its options (without prefix), when the
    /// connector exchanges raw records: the value format (`format`, or
    /// `value.format` with options prefixed `value.<format>.`).
    pub format: Option<(Entry, Vec<(String, String)>)>,
    /// The prefix of the format's options as the user writes them (`csv`,
    /// `value.csv`).
    pub format_prefix: String,
    /// The key format of keyed connectors (Kafka's `key.format`).
    pub key: Option<KeyFormat>,
    /// What the connector declares it needs, filled in from the options.
    pub needs: Vec<Need>,
    /// What the format declares it needs, filled in from its options.
    pub format_needs: Vec<Need>,
}

impl Resolved {
    /// `sink.parallelism`: how many writer instances share the rows.
    pub fn sink_parallelism(&self) -> usize {
        self.table.option("sink.parallelism").and_then(|v| v.trim().parse().ok()).unwrap_or(1).clamp(1, 64)
    }

    /// What identifies this table in a checkpoint: its name, columns and
    /// options — secret values (options the spec marks secret) left out.
    pub(super) fn identity(&self) -> String {
        let mut formats: Vec<(String, &weir::spec::Spec)> =
            self.format.iter().map(|(f, _)| (format!("{}.", self.format_prefix), &f.spec)).collect();
        formats.extend(self.key.iter().map(|k| (format!("{}.", k.prefix), &k.entry.spec)));
        let secret = |key: &str| {
            self.connector.spec.option(key).is_some_and(|o| o.secret)
                || formats.iter().any(|(prefix, spec)| {
                    key.strip_prefix(prefix.as_str()).and_then(|k| spec.option(k)).is_some_and(|o| o.secret)
                })
        };
        let mut options: Vec<(&str, &str)> = self
            .table
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), if secret(k) { "<secret>" } else { v.as_str() }))
            .collect();
        options.sort();
        format!("{}|{:?}|{:?}|{:?}", self.table.name, self.table.schema, self.table.partition_keys, options)
    }

    /// `scan.parallelism`: how many reader instances share the splits.
    pub fn scan_parallelism(&self) -> usize {
        self.table.option("scan.parallelism").and_then(|v| v.trim().parse().ok()).unwrap_or(1).clamp(1, 64)
    }

    /// The connector instance's grants: what the connector needs, if
    /// `operator` granted all of it (and all the format needs); otherwise an
    /// error naming the table, the component and the flag for each missing
    /// grant.
    pub fn grants(&self, operator: &Grants) -> Result<Grants> {
        self.format_grants(operator)?;
        self.authorize("connector", &self.connector.spec.identifier, &self.needs, operator)
    }

    /// The format instance's grants (nothing for most formats).
    pub fn format_grants(&self, operator: &Grants) -> Result<Grants> {
        match &self.format {
            Some((entry, _)) => self.authorize("format", &entry.spec.identifier, &self.format_needs, operator),
            None => Ok(Grants::none()),
        }
    }

    /// Runs the components' own checks of their options (the factory's
    /// `validate`, in instances granted nothing) — what a run does first
    /// when it opens them, so that `weir check` accepting a table means a
    /// run will not refuse its configuration.
    pub async fn validate(&self) -> Result<()> {
        let table = &self.table;
        let name = &table.name;
        weir::handles::validate(&self.connector, &self.options, &table.stored_schema())
            .await
            .map_err(|e| e.in_table(name).at(table.at.line, table.at.column))?;
        if let Some((entry, options)) = &self.format {
            weir::handles::validate(entry, options, &self.value_schema())
                .await
                .map_err(|e| self.format_error(e).at(table.at.line, table.at.column))?;
        }
        if let Some(key) = &self.key {
            weir::handles::validate(&key.entry, &key.options, &key.schema)
                .await
                .map_err(|e| key.error(e).in_table(name).at(table.at.line, table.at.column))?;
        }
        Ok(())
    }

    /// The columns the value format decodes and encodes: the table's
    /// physical columns (no partition or metadata columns), without the
    /// key's with `'value.fields-include' = 'EXCEPT_KEY'`.
    pub fn value_columns(&self) -> Vec<usize> {
        let physical = physical_columns(&self.table);
        match &self.key {
            Some(key) if key.except_key => physical.into_iter().filter(|i| !key.fields.contains(i)).collect(),
            _ => physical,
        }
    }

    /// The value format's schema.
    pub fn value_schema(&self) -> Schema {
        let mut schema = self.table.schema.project(&self.value_columns());
        schema.primary_key.clear();
        schema
    }

    /// A format's error in the table's terms: its option keys with the
    /// format's prefix, as the user writes them (`'csv.field-delimiter'`).
    pub(super) fn format_error(&self, e: Error) -> Error {
        match &self.format {
            Some(_) => e.with_option_prefix(&self.format_prefix),
            None => e,
        }
        .in_table(&self.table.name)
    }

    /// The row kinds the table carries, Flink's changelog mode: for a
    /// source what it produces, for a sink what it accepts. A connector of
    /// raw records defers to its format; a spec that declares none is
    /// insert-only.
    pub fn changelog(&self) -> Vec<RowKind> {
        // An upsert connector (upsert-kafka) decides itself: writing, it
        // takes every kind by key; reading, it makes deletes of tombstones.
        // An upsert sink applies every kind by its PRIMARY KEY (without
        // one it appends: inserts only).
        if self.connector.spec.sink_abilities.contains(&"upsert") {
            return match self.role {
                Role::Sink if self.table.schema.primary_key.is_empty() => vec![RowKind::Insert],
                Role::Sink => vec![RowKind::Insert, RowKind::UpdateBefore, RowKind::UpdateAfter, RowKind::Delete],
                _ if self.connector.spec.changelog_mode.is_empty() => vec![RowKind::Insert],
                _ => self.connector.spec.changelog_mode.clone(),
            };
        }
        let spec = match &self.format {
            Some((format, _)) => &format.spec,
            None => &self.connector.spec,
        };
        if spec.changelog_mode.is_empty() { vec![RowKind::Insert] } else { spec.changelog_mode.clone() }
    }

    /// `connector 'filesystem' with format 'csv'`: who decides the changelog.
    fn changelog_owner(&self) -> String {
        if self.connector.spec.sink_abilities.contains(&"upsert") {
            return format!("upsert connector '{}'", self.connector.spec.identifier);
        }
        match &self.format {
            Some((format, _)) => {
                format!("connector '{}' with format '{}'", self.connector.spec.identifier, format.spec.identifier)
            }
            None => format!("connector '{}'", self.connector.spec.identifier),
        }
    }

    pub(super) fn authorize(&self, role: &str, identifier: &str, needs: &[Need], operator: &Grants) -> Result<Grants> {
        policy::authorize(needs, operator).map_err(|missing| Error::Denied {
            table: self.table.name.clone(),
            role: role.to_owned(),
            component: identifier.to_owned(),
            missing: missing.iter().map(|n| (n.to_string(), n.flag())).collect(),
        })
    }
}

/// Resolves `table` for `role`: finds the connector, validates its options
/// (Flink semantics: unknown keys rejected with the valid ones, defaults
/// filled in), resolves and validates the format.
/// Errors say where the table is written (`Error::At`).
pub fn resolve(runtime: &Runtime, table: &model::Table, role: Role) -> Result<Resolved> {
    resolve_table(runtime, table, role).map_err(|e| e.at(table.at.line, table.at.column))
}

fn resolve_table(runtime: &Runtime, table: &model::Table, role: Role) -> Result<Resolved> {
    let mut given = table.options.clone();
    let identifier = table.option("connector").ok_or_else(|| {
        Error::Config(format!("table '{}' has no 'connector' option; add 'connector' = '…' to its WITH", table.name))
    })?;
    let connector = runtime.catalog().find(identifier, role)?;
    if let (Role::Sink, Some(c)) = (role, table.computed.first()) {
        return Err(Error::Config(format!(
            "table '{}' is written by INSERT but has the computed column '{}'; computed columns (PROCTIME()) belong \
             to source tables: remove it from this table",
            table.name, table.schema.fields[c.column].name
        )));
    }
    // A sink writes the METADATA columns that are not VIRTUAL (Flink).
    let written_metadata = table.metadata.iter().find(|m| role == Role::Source || !m.is_virtual);
    if let Some(m) = written_metadata {
        let column = &table.schema.fields[m.column].name;
        let able = match role {
            Role::Sink => connector.spec.sink_abilities.contains(&"writing-metadata"),
            _ => connector.spec.source_abilities.contains(&"reading-metadata"),
        };
        let why = if role == Role::Sink {
            "the connector does not declare the writing-metadata ability (make it VIRTUAL to read it only)"
        } else {
            "the connector does not declare the reading-metadata ability"
        };
        if !able || !connector.spec.needs_format {
            return Err(Error::Config(format!(
                "table '{}': column '{column}' is METADATA FROM '{}' but {why}; remove the column",
                table.name, m.key
            )));
        }
    }
    // The value format: `format`, or `value.format` (options `value.<f>.…`).
    let (format_key, format_prefix) = match (table.option("format"), table.option("value.format")) {
        (Some(_), Some(_)) => {
            return Err(Error::Config(format!(
                "table '{}': set 'format' or 'value.format', not both (they are the same option)",
                table.name
            )));
        }
        (None, Some(name)) => ("value.format", format!("value.{name}")),
        (Some(name), None) => ("format", name.to_owned()),
        (None, None) => ("format", String::new()),
    };
    let format = match table.option(format_key) {
        Some(name) if connector.spec.needs_format => {
            let entry = runtime
                .catalog()
                .find(name, Role::Format)
                .map_err(|e| Error::Config(format!("table '{}': '{format_key}' = '{name}': {e}", table.name)))?;
            let format_options = options::take_prefixed(&mut given, &format_prefix);
            let target = Target { table: &table.name, role: "format", prefix: Some(&format_prefix) };
            Some((entry.clone(), options::validate(target, &entry.spec, &format_options)?))
        }
        _ => None,
    };
    let key = match table.option("key.format") {
        Some(name) if connector.spec.needs_format => {
            Some(KeyFormat::resolve(runtime, table, &connector.spec, name, &mut given)?)
        }
        _ => None,
    };
    if connector.spec.needs_format && format.is_none() {
        return Err(Error::Config(format!(
            "table '{}': connector '{identifier}' reads and writes raw records and needs a 'format' option (e.g. 'format' = 'csv')",
            table.name
        )));
    }
    // `connector` (and `format`, resolved above) choose components; they
    // are not options of the connector itself.
    // A connector that declares `value.format` / `key.format` (Kafka) sees
    // them as well.
    given.retain(|(k, _)| {
        let chooses = (k == format_key && format.is_some()) || (k == "key.format" && key.is_some());
        k != "connector" && !(chooses && connector.spec.option(k).is_none())
    });
    // `scan.parallelism` / `sink.parallelism` are the runner's (Flink's
    // framework options); a connector that declares one sees it too.
    for key in ["scan.parallelism", "sink.parallelism"] {
        if let Some((_, v)) = table.options.iter().find(|(k, _)| k == key) {
            if !v.trim().parse::<u32>().is_ok_and(|n| (1..=64).contains(&n)) {
                return Err(Error::Config(format!("table '{}': '{key}' = '{v}': expected 1 to 64", table.name)));
            }
            if connector.spec.option(key).is_none() {
                given.retain(|(k, _)| k != key);
            }
        }
    }
    // A format option written without the format's prefix reaches the
    // connector, which does not know it: say where it belongs.
    if let Some((entry, _)) = &format {
        let format_name = &entry.spec.identifier;
        let format_prefix = &format_prefix;
        if let Some((key, _)) =
            given.iter().find(|(k, _)| connector.spec.option(k).is_none() && entry.spec.option(k).is_some())
        {
            return Err(Error::Config(format!(
                "table '{}': option '{key}' is an option of format '{format_name}', not of connector '{identifier}'; \
                 format options take the format's prefix: '{format_prefix}.{key}'",
                table.name
            )));
        }
    }
    let target = Target { table: &table.name, role: "connector", prefix: None };
    let mut options = options::validate(target, &connector.spec, &given)?;
    let base = std::env::current_dir().unwrap_or_default();
    absolute_paths(&connector.spec, &mut options, &base);
    let mut format = format;
    let mut format_needs = match &mut format {
        Some((entry, options)) => {
            absolute_paths(&entry.spec, options, &base);
            policy::needs(&entry.spec.capabilities, options, &base)
        }
        None => Vec::new(),
    };
    if let Some(key) = &key {
        format_needs.extend(policy::needs(&key.entry.spec.capabilities, &key.options, &base));
    }
    // A component that is both source and sink declares both sides' needs;
    // a table used as a source gets no write access and a sink no read.
    let needs = policy::needs(&connector.spec.capabilities, &options, &base)
        .into_iter()
        .filter(|n| {
            connector.kind != weir::spec::Kind::Connector
                || !matches!((role, n.kind), (Role::Source, CapabilityKind::Write) | (Role::Sink, CapabilityKind::Read))
        })
        .collect();
    Ok(Resolved {
        table: table.clone(),
        role,
        connector: connector.clone(),
        options,
        format,
        format_prefix,
        key,
        needs,
        format_needs,
    })
}

/// Paths a component reads or writes are made absolute (the guest sees
/// granted directories at their absolute host paths).
pub(super) fn absolute_paths(spec: &weir::spec::Spec, options: &mut [(String, String)], base: &std::path::Path) {
    for capability in &spec.capabilities {
        if matches!(capability.kind, CapabilityKind::Read | CapabilityKind::Write)
            && let Some(key) = capability.target.strip_prefix('{').and_then(|t| t.strip_suffix('}'))
            && let Some((_, value)) = options.iter_mut().find(|(k, _)| k == key)
        {
            *value = policy::absolute(base, value).display().to_string();
        }
    }
}

/// Refuses an `INSERT` whose sink cannot take every row kind its source
/// produces (updates into an insert-only csv file would be written as if
/// they were inserts): Flink's planner check, before anything starts.
pub fn check_changelog(source: &Resolved, sink: &Resolved) -> Result<()> {
    let accepted = sink.changelog();
    let refused: Vec<&str> =
        source.changelog().into_iter().filter(|k| !accepted.contains(k)).map(RowKind::short).collect();
    if refused.is_empty() {
        return Ok(());
    }
    let kinds = |ks: &[RowKind]| ks.iter().map(|k| k.short()).collect::<Vec<_>>().join(", ");
    Err(Error::Config(format!(
        "table '{}' ({}) accepts only {} rows, but table '{}' ({}) produces {} rows as well; write into a sink \
         that takes changes (the 'print' or 'blackhole' connector, or a format such as 'debezium-json' or \
         'changelog-csv')",
        sink.table.name,
        sink.changelog_owner(),
        kinds(&accepted),
        source.table.name,
        source.changelog_owner(),
        refused.join(", ")
    ))
    .at(sink.table.at.line, sink.table.at.column))
}

/// Every table a statement touches, with the role it plays: the source,
/// a lookup join's dimension table (a source too), the sink.
pub fn tables_of(statement: &Statement) -> Vec<(&str, Role)> {
    fn read(query: &model::Query) -> Vec<(&str, Role)> {
        let mut tables = vec![(query.source.as_str(), Role::Source)];
        tables.extend(query.lookup.iter().map(|l| (l.table.as_str(), Role::Source)));
        tables.extend(query.search.iter().map(|s| (s.table.as_str(), Role::Source)));
        tables
    }
    match statement {
        Statement::Insert { sink, query } => {
            let mut tables = read(query);
            tables.push((sink.as_str(), Role::Sink));
            tables
        }
        Statement::Select(query) => read(query),
        Statement::Explain(inner) => tables_of(inner),
    }
}

/// What table `name` is to `statement`, for messages: `source`, `lookup`
/// (a lookup join's dimension table), `vector table` or `sink`.
pub fn table_role(statement: &Statement, name: &str, role: Role) -> &'static str {
    let query = match statement {
        Statement::Insert { query, .. } | Statement::Select(query) => query,
        Statement::Explain(inner) => return table_role(inner, name, role),
    };
    match role {
        Role::Source if query.lookup.as_ref().is_some_and(|l| l.table.eq_ignore_ascii_case(name)) => "lookup",
        Role::Source if query.search.as_ref().is_some_and(|s| s.table.eq_ignore_ascii_case(name)) => "vector table",
        Role::Source => "source",
        _ => "sink",
    }
}

/// The planner's checks of a statement over its resolved tables (`table`
/// finds one by name and role), before anything starts — the same for
/// `weir check` and a run: an `INSERT`'s sink takes every row kind its
/// source produces; a lookup join's dimension table can be looked up.
pub fn check_statement<'a>(statement: &Statement, table: impl Fn(&str, Role) -> Option<&'a Resolved>) -> Result<()> {
    let query = match statement {
        Statement::Insert { sink, query } => {
            if let (Some(source), Some(sink)) = (table(&query.source, Role::Source), table(sink, Role::Sink)) {
                check_changelog(source, sink)?;
            }
            query
        }
        Statement::Select(query) => query,
        Statement::Explain(inner) => return check_statement(inner, table),
    };
    if let Some(search) = &query.search
        && let Some(t) = table(&search.table, Role::Source)
        && !t.connector.spec.source_abilities.contains(&"vector-search")
    {
        return Err(Error::Config(format!(
            "table '{}' (connector '{}') is searched by VECTOR_SEARCH, but the connector does not declare the \
             vector-search ability; search a table whose connector answers top-k queries (such as 'jdbc' on \
             PostgreSQL with pgvector)",
            t.table.name, t.connector.spec.identifier
        ))
        .at(search.at.line, search.at.column));
    }
    if let Some(join) = &query.lookup
        && let Some(dim) = table(&join.table, Role::Source)
        && !dim.connector.spec.source_abilities.contains(&"lookup")
    {
        return Err(Error::Config(format!(
            "table '{}' (connector '{}') is lookup-joined, but the connector does not declare the lookup ability; \
             join a table whose connector answers lookups by key (such as 'jdbc')",
            dim.table.name, dim.connector.spec.identifier
        ))
        .at(join.at.line, join.at.column));
    }
    Ok(())
}
