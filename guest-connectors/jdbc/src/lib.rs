//! Flink's `jdbc` connector as a sandboxed component, for PostgreSQL:
//! its wire protocol is spoken here, inside the component (`pg`, on
//! `postgres-protocol` over wasi:sockets); the host has no database client.
//!
//! - **Scan**: the table (or `scan.partition.*` ranges of it, one split
//!   each, as Flink cuts them) read through a cursor, `scan.fetch-size`
//!   rows per round trip. A split's checkpoint is the number of rows it
//!   handed out; the query orders its rows (by the PRIMARY KEY, else by
//!   every column — identical rows are interchangeable), so a restore
//!   skips exactly those.
//! - **Lookup** ([`Lookup`]): a batch of keys per query; the cache is the
//!   runner's.
//! - **Sink** ([`Writer`]): append or upsert, at-least-once or exactly-once
//!   (a prepared transaction per checkpoint with a progress row).
//!
//! Every open compares the DDL's columns with PostgreSQL's
//! ([`check_columns`]). MySQL/MariaDB are not built yet (issue 17); their
//! URLs are refused by name.

mod db;
mod my;
mod pg;

use db::Dialect;

use weir_sdk::text::push_text;
use weir_sdk::{
    Accepted, BatchBuilder, CapabilityKind, ComponentSpec, Connector, Error, LogicalType, OptionSpec, OptionType,
    Options, OptionsExt, Payload, ReadResult, Result, RowKind, ScanPlan, ScanRequest, Schema, Sink, SinkInput, Source,
    Split, WriterContext,
};

impl Connector for Reader {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("jdbc", "A PostgreSQL table (Flink's JDBC connector; the protocol inside the component)")
            .payload(Payload::Rows)
            .option(OptionSpec::string("url", "jdbc:postgresql://host:port/database").required())
            .option(OptionSpec::string("table-name", "The table to read").required())
            .option(OptionSpec::string("username", "The user to log in as"))
            .option(OptionSpec::string("password", "The user's password").secret())
            .option(OptionSpec::string(
                "driver",
                "Accepted for Flink compatibility and ignored: no JVM driver exists here, the dialect comes from 'url'",
            ))
            .option(
                OptionSpec::new(
                    "connection.max-retry-timeout",
                    OptionType::Duration,
                    "How long a scan keeps reconnecting after its connection failed (it then resumes where it was)",
                )
                .default_value("60 s"),
            )
            .option(OptionSpec::string("scan.partition.column", "Numeric column the scan is split on"))
            .option(OptionSpec::int("scan.partition.num", "Number of splits"))
            .option(OptionSpec::long("scan.partition.lower-bound", "Smallest value of the first split"))
            .option(OptionSpec::long("scan.partition.upper-bound", "Largest value of the last split"))
            .option(OptionSpec::int("scan.fetch-size", "Rows per round trip (0: 10000)").default_value("0"))
            .option(OptionSpec::boolean("scan.auto-commit", "Accepted; reads run in one read-only transaction"))
            .option(OptionSpec::int("scan.parallelism", "Readers in parallel"))
            .option(
                OptionSpec::one_of(
                    "lookup.cache",
                    &["NONE", "PARTIAL"],
                    "Cache of lookup answers (kept by the Weir runner, the same for every connector)",
                )
                .default_value("NONE"),
            )
            .option(OptionSpec::long("lookup.partial-cache.max-rows", "Keys the PARTIAL cache holds at most"))
            .option(OptionSpec::new(
                "lookup.partial-cache.expire-after-write",
                OptionType::Duration,
                "A cached answer expires this long after it was written",
            ))
            .option(OptionSpec::new(
                "lookup.partial-cache.expire-after-access",
                OptionType::Duration,
                "A cached answer expires this long after it was last used",
            ))
            .option(
                OptionSpec::boolean("lookup.partial-cache.cache-missing-key", "Cache keys that matched no row")
                    .default_value("true"),
            )
            .option(
                OptionSpec::int("lookup.max-retries", "Retries of a lookup whose connection failed").default_value("3"),
            )
            .option(
                OptionSpec::one_of(
                    "vector-search.metric",
                    &["l2", "cosine", "inner-product"],
                    "VECTOR_SEARCH on a pgvector column: l2 (score: distance, smaller is nearer), cosine (score: \
                     cosine similarity) or inner-product (score: inner product)",
                )
                .default_value("l2"),
            )
            .option(
                OptionSpec::int("sink.buffer-flush.max-rows", "Rows buffered before a flush (0: only at checkpoints)")
                    .default_value("100"),
            )
            .option(
                OptionSpec::new(
                    "sink.buffer-flush.interval",
                    OptionType::Duration,
                    "Flush when this long has passed since the last flush, checked as rows arrive (0: only by \
                     size and at checkpoints)",
                )
                .default_value("1 s"),
            )
            .option(
                OptionSpec::int("sink.max-retries", "Retries of a failed flush on a new connection (at-least-once)")
                    .default_value("3"),
            )
            .option(
                OptionSpec::one_of(
                    "sink.delivery-guarantee",
                    &["none", "at-least-once", "exactly-once"],
                    "at-least-once (Flink's JDBC sink; 'none' is the same here) or exactly-once: a PostgreSQL \
                     prepared transaction per checkpoint with a progress row (needs max_prepared_transactions > 0)",
                )
                .default_value("at-least-once"),
            )
            .option(OptionSpec::string(
                "sink.transactional-id-prefix",
                "Exactly-once: prefix of the prepared transactions' names and progress rows (default weir-<table-name>); \
                 give each job writing the same table its own",
            ))
            .option(OptionSpec::int("sink.parallelism", "Writers in parallel"))
            .source_abilities(weir_sdk::SourceAbilities::LOOKUP | weir_sdk::SourceAbilities::VECTOR_SEARCH)
            .sink_abilities(weir_sdk::SinkAbilities::UPSERT)
            .capability(CapabilityKind::TcpConnect, "{url}")
    }

    fn validate(options: &Options, schema: &Schema) -> Result<()> {
        Settings::parse(options, schema).map(|_| ())
    }
}

/// The options, parsed.
struct Settings {
    address: String,
    dialect: Dialect,
    database: String,
    table: String,
    user: String,
    password: Option<String>,
    /// `(column, lower, upper, splits)`.
    partition: Option<(String, i64, i64, i64)>,
    fetch_size: u32,
    /// `connection.max-retry-timeout`.
    retry_timeout: std::time::Duration,
}

impl Settings {
    fn parse(options: &Options, schema: &Schema) -> Result<Settings> {
        let url = options.string("url")?;
        let (dialect, scheme, rest) = match url.split_once("://") {
            Some(("jdbc:postgresql", rest)) => (Dialect::Postgres, "postgresql", rest),
            Some((scheme @ ("jdbc:mysql" | "jdbc:mariadb"), rest)) => (Dialect::MySql, &scheme[5..], rest),
            _ => {
                return Err(Error::config(
                    Some("url"),
                    format!(
                        "'{url}' is not a supported JDBC URL; write jdbc:postgresql://host:port/database, \
                         jdbc:mysql://host:port/database or jdbc:mariadb://host:port/database"
                    ),
                ));
            }
        };
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let database = database.split('?').next().unwrap_or_default();
        let address = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            authority.to_owned()
        } else {
            let port = if dialect == Dialect::Postgres { 5432 } else { 3306 };
            return Err(Error::config(Some("url"), format!("name the port: jdbc:{scheme}://host:{port}/database")));
        };
        if dialect == Dialect::MySql && database.is_empty() {
            return Err(Error::config(Some("url"), format!("name the database: jdbc:{scheme}://{address}/database")));
        }
        let get = |k: &str| options.get(k).map(str::trim).filter(|v| !v.is_empty());
        let partition = match get("scan.partition.column") {
            Some(column) => {
                if !schema.fields.iter().any(|f| f.name == column) {
                    return Err(Error::config(
                        Some("scan.partition.column"),
                        format!("'{column}' is not a column of the table"),
                    ));
                }
                let need = |k: &str| -> Result<i64> {
                    get(k)
                        .ok_or_else(|| Error::config(Some(k), "is required with 'scan.partition.column'"))?
                        .parse()
                        .map_err(|_| Error::config(Some(k), "must be a whole number"))
                };
                let (lower, upper, num) = (
                    need("scan.partition.lower-bound")?,
                    need("scan.partition.upper-bound")?,
                    need("scan.partition.num")?,
                );
                if lower > upper || num < 1 {
                    return Err(Error::config(
                        Some("scan.partition.num"),
                        "needs lower-bound <= upper-bound and at least one partition",
                    ));
                }
                Some((column.to_owned(), lower, upper, num))
            }
            None => None,
        };
        Ok(Settings {
            address,
            dialect,
            database: if database.is_empty() { "postgres".to_owned() } else { database.to_owned() },
            table: options.string("table-name")?.to_owned(),
            user: get("username").unwrap_or(if dialect == Dialect::Postgres { "postgres" } else { "root" }).to_owned(),
            password: get("password").map(str::to_owned),
            partition,
            fetch_size: match options.long("scan.fetch-size")? {
                n if n > 0 => n.min(1_000_000) as u32,
                _ => 10_000,
            },
            retry_timeout: options
                .get("connection.max-retry-timeout")
                .map_or(Ok(std::time::Duration::from_secs(60)), |_| options.duration("connection.max-retry-timeout"))?,
        })
    }

    fn connect(&self) -> Result<db::Connection> {
        db::Connection::open(self.dialect, &self.address, &self.database, &self.user, self.password.as_deref())
    }
}

/// Flink's numeric split of `[lower, upper]` into `num` ranges
/// (`JdbcNumericBetweenParametersProvider`).
fn ranges(lower: i64, upper: i64, num: i64) -> Vec<(i64, i64)> {
    let count = upper - lower + 1;
    let batches = num.min(count);
    let size = (count + batches - 1) / batches;
    let big = count - (size - 1) * batches;
    let mut start = lower;
    (0..batches)
        .map(|i| {
            let end = start + size - 1 - i64::from(i >= big);
            let range = (start, end);
            start = end + 1;
            range
        })
        .collect()
}

/// The table's columns as quoted SQL names.
fn quoted_columns(dialect: Dialect, schema: &Schema) -> Vec<String> {
    schema.fields.iter().map(|f| dialect.quote(&f.name)).collect()
}

/// The columns to SELECT, qualified by `table` if given: MySQL's binary
/// columns as hex (its text protocol sends them raw, not as text).
fn select_list(dialect: Dialect, schema: &Schema, table: &str) -> String {
    let columns: Vec<String> = schema
        .fields
        .iter()
        .map(|f| {
            let name = format!("{table}{}", dialect.quote(&f.name));
            let binary = matches!(f.data_type, LogicalType::Binary(_) | LogicalType::Varbinary(_) | LogicalType::Bytes);
            if dialect == Dialect::MySql && binary { format!("HEX({name})") } else { name }
        })
        .collect();
    columns.join(", ")
}

/// A split's query: its columns, its range, a deterministic order.
fn split_query(settings: &Settings, schema: &Schema, range: Option<(i64, i64)>) -> String {
    let dialect = settings.dialect;
    let mut sql = format!("SELECT {} FROM {}", select_list(dialect, schema, ""), settings.table);
    if let (Some((column, ..)), Some((lo, hi))) = (&settings.partition, range) {
        sql.push_str(&format!(" WHERE {} BETWEEN {lo} AND {hi}", dialect.quote(column)));
    }
    let order: Vec<String> = if schema.primary_key.is_empty() {
        (1..=schema.fields.len()).map(|i| i.to_string()).collect()
    } else {
        schema.primary_key.iter().map(|k| dialect.quote(k)).collect()
    };
    sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    sql
}

/// A SQL error in the table's terms.
fn statement_error(settings: &Settings, e: db::ServerError) -> Error {
    let (dialect, db) = (settings.dialect, settings.dialect.name());
    if dialect.no_table(&e) {
        Error::config(Some("table-name"), format!("{db} has no table '{}': {} ({})", settings.table, e.message, e.code))
    } else if dialect.no_column(&e) {
        Error::config(
            None,
            format!("a column of the table is not in {db}'s '{}': {} ({})", settings.table, e.message, e.code),
        )
    } else {
        Error::connection(format!("{db}, table '{}': {} ({})", settings.table, e.message, e.code))
    }
}

/// Compares the DDL's columns with the table's in the database (Flink's
/// JDBC type mappings) and names both types on a mismatch — at open, not
/// at the first row that fails to convert.
/// Returns each DDL column's type in the database.
fn check_columns(connection: &mut db::Connection, settings: &Settings, schema: &Schema) -> Result<Vec<String>> {
    let (dialect, db) = (settings.dialect, settings.dialect.name());
    let sql = dialect.columns_query(&settings.table);
    let mut columns: Vec<(String, String)> = Vec::new();
    connection
        .query(&sql, |row| {
            let mut values = row.into_iter();
            if let (Some(Some(name)), Some(Some(ty))) = (values.next(), values.next()) {
                columns.push((name, ty));
            }
            Ok(())
        })?
        .map_err(|e| statement_error(settings, e))?;
    if columns.is_empty() {
        return Err(Error::config(Some("table-name"), format!("{db} has no table '{}'", settings.table)));
    }
    let mut types = Vec::with_capacity(schema.fields.len());
    for field in &schema.fields {
        let Some((_, db_type)) = columns.iter().find(|(name, _)| name.eq_ignore_ascii_case(&field.name)) else {
            let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::config(
                None,
                format!(
                    "column '{}' is not a column of {db}'s '{}' (its columns: {})",
                    field.name,
                    settings.table,
                    names.join(", ")
                ),
            ));
        };
        let checked = match dialect {
            Dialect::Postgres => compatible(&field.data_type, db_type, &schema.nested),
            Dialect::MySql => compatible_mysql(&field.data_type, db_type),
        };
        if let Err(want) = checked {
            return Err(Error::config(
                None,
                format!(
                    "column '{}' is {} in the table's DDL but {db_type} in {db}'s '{}'; declare it {want}",
                    field.name,
                    weir_sdk::text::type_name(&field.data_type),
                    settings.table
                ),
            ));
        }
        types.push(db_type.clone());
    }
    Ok(types)
}

/// Whether a DDL type reads and writes a PostgreSQL column type (Flink's
/// JDBC mapping, plus lossless widenings such as BIGINT for `integer`);
/// otherwise the Flink type to declare.
fn compatible(ty: &LogicalType, pg_type: &str, nested: &[weir_sdk::NestedType]) -> std::result::Result<(), String> {
    use LogicalType as T;
    // pgvector's `vector(n)`: ARRAY<FLOAT> (or DOUBLE) of n values.
    if pg_type == "vector" || pg_type.starts_with("vector(") {
        let float_array = matches!(ty, T::Array(e) if matches!(
            nested.get(e.element as usize),
            Some(weir_sdk::NestedType::Type(T::Float | T::Double))
        ));
        return if float_array { Ok(()) } else { Err("ARRAY<FLOAT>".to_owned()) };
    }
    // `integer[]`: an ARRAY of the element's type (one dimension).
    if let Some(element) = pg_type.strip_suffix("[]") {
        return match ty {
            T::Array(e) => match nested.get(e.element as usize) {
                Some(weir_sdk::NestedType::Type(t)) => {
                    compatible(t, element, nested).map_err(|want| format!("ARRAY<{want}>"))
                }
                _ => Err("ARRAY<…>".to_owned()),
            },
            _ => compatible(&T::String, element, nested)
                .map_or_else(|_| Err("ARRAY<…>".to_owned()), |()| Err("ARRAY<STRING>".to_owned())),
        };
    }
    // `timestamp(3) with time zone` → `timestamp with time zone`.
    let base = match (pg_type.find('('), pg_type.find(')')) {
        (Some(open), Some(close)) if open < close => format!("{}{}", &pg_type[..open], &pg_type[close + 1..]),
        _ => pg_type.to_owned(),
    };
    let base = base.trim();
    let want = match base {
        "smallint" => "SMALLINT",
        "integer" => "INT",
        "bigint" => "BIGINT",
        "real" => "FLOAT",
        "double precision" => "DOUBLE",
        "numeric" => "DECIMAL(p, s)",
        "boolean" => "BOOLEAN",
        "date" => "DATE",
        "bytea" => "BYTES",
        "text" | "character varying" | "character" | "uuid" | "json" | "jsonb" | "name" => "STRING",
        "timestamp with time zone" => "TIMESTAMP_LTZ(p)",
        b if b.starts_with("timestamp") => "TIMESTAMP(p)",
        b if b.starts_with("time") => "TIME(p)",
        _ => return Err(format!("a supported type (PostgreSQL's {pg_type} has no Flink mapping in Weir yet)")),
    };
    let ok = match (want, ty) {
        ("SMALLINT", T::Smallint | T::Int | T::Bigint) => true,
        ("INT", T::Int | T::Bigint) => true,
        ("BIGINT", T::Bigint) => true,
        ("FLOAT", T::Float | T::Double) => true,
        ("DOUBLE", T::Double) => true,
        ("DECIMAL(p, s)", T::Decimal(d)) => {
            // numeric(p,s) must match; an unconstrained numeric takes any.
            let declared = pg_type.strip_prefix("numeric(").and_then(|r| r.strip_suffix(')')).and_then(|r| {
                let (p, s) = r.split_once(',')?;
                Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<u8>().ok()?))
            });
            declared.is_none_or(|(p, s)| p == d.precision && s == d.scale)
        }
        ("BOOLEAN", T::Boolean) | ("DATE", T::Date) => true,
        ("BYTES", T::Binary(_) | T::Varbinary(_) | T::Bytes) => true,
        ("STRING", T::Char(_) | T::Varchar(_) | T::String) => true,
        ("TIMESTAMP_LTZ(p)", T::TimestampLtz(_)) | ("TIMESTAMP(p)", T::Timestamp(_)) | ("TIME(p)", T::Time(_)) => true,
        _ => false,
    };
    if ok { Ok(()) } else { Err(want.replace("DECIMAL(p, s)", &pg_type.replace("numeric", "DECIMAL"))) }
}

/// Whether a DDL type reads and writes a MySQL/MariaDB column type
/// (Flink's JDBC mapping for MySQL, plus lossless widenings); otherwise the
/// Flink type to declare.
fn compatible_mysql(ty: &LogicalType, column_type: &str) -> std::result::Result<(), String> {
    use LogicalType as T;
    let lower = column_type.to_ascii_lowercase();
    let unsigned = lower.contains("unsigned");
    let base = lower.split(['(', ' ']).next().unwrap_or_default();
    let args = lower.split_once('(').and_then(|(_, r)| r.split_once(')')).map(|(a, _)| a.to_owned());
    let (want, ok) = match (base, unsigned) {
        ("tinyint", false) if args.as_deref() == Some("1") => ("BOOLEAN", matches!(ty, T::Boolean | T::Tinyint)),
        ("tinyint", false) => ("TINYINT", matches!(ty, T::Tinyint | T::Smallint | T::Int | T::Bigint)),
        ("tinyint", true) | ("smallint", false) => ("SMALLINT", matches!(ty, T::Smallint | T::Int | T::Bigint)),
        ("smallint", true) | ("mediumint", _) | ("int" | "integer", false) => ("INT", matches!(ty, T::Int | T::Bigint)),
        ("int" | "integer", true) | ("bigint", false) => ("BIGINT", matches!(ty, T::Bigint)),
        ("bigint", true) => ("DECIMAL(20, 0)", matches!(ty, T::Decimal(d) if d.precision >= 20 && d.scale == 0)),
        ("float", _) => ("FLOAT", matches!(ty, T::Float | T::Double)),
        ("double" | "real", _) => ("DOUBLE", matches!(ty, T::Double)),
        ("decimal" | "numeric", _) => {
            let declared = args.as_deref().and_then(|a| {
                let (p, s) = a.split_once(',').unwrap_or((a, "0"));
                Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<u8>().ok()?))
            });
            match declared {
                Some((p, s)) => {
                    return if matches!(ty, T::Decimal(d) if d.precision == p && d.scale == s) {
                        Ok(())
                    } else {
                        Err(format!("DECIMAL({p}, {s})"))
                    };
                }
                None => ("DECIMAL(p, s)", matches!(ty, T::Decimal(_))),
            }
        }
        ("bit", _) if args.as_deref() == Some("1") => ("BOOLEAN", matches!(ty, T::Boolean)),
        ("date", _) => ("DATE", matches!(ty, T::Date)),
        ("time", _) => ("TIME(p)", matches!(ty, T::Time(_))),
        ("datetime" | "timestamp", _) => ("TIMESTAMP(p)", matches!(ty, T::Timestamp(_))),
        ("char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" | "json", _) => {
            ("STRING", matches!(ty, T::Char(_) | T::Varchar(_) | T::String))
        }
        ("binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob", _) => {
            ("BYTES", matches!(ty, T::Binary(_) | T::Varbinary(_) | T::Bytes))
        }
        _ => return Err(format!("a supported type (MySQL's {column_type} has no Flink mapping in Weir yet)")),
    };
    if ok { Ok(()) } else { Err(want.to_owned()) }
}

/// Reads one split through a cursor.
pub struct Reader {
    settings: Settings,
    schema: Schema,
    connection: Option<db::Connection>,
    query: String,
    /// Rows handed out (the checkpoint state).
    emitted: u64,
    done: bool,
}

impl Reader {
    /// The next rows: PostgreSQL's through a cursor (one round trip per
    /// call), MySQL's from one streamed result (read as asked for). A new
    /// connection starts after the rows already handed out.
    fn fetch(&mut self, max_records: u32) -> Result<ReadResult> {
        let dialect = self.settings.dialect;
        if self.connection.is_none() {
            let mut c = self.settings.connect()?;
            match &mut c {
                db::Connection::Pg(pg) => {
                    let offset = if self.emitted > 0 { format!(" OFFSET {}", self.emitted) } else { String::new() };
                    let begin =
                        format!("BEGIN READ ONLY; DECLARE weir_scan NO SCROLL CURSOR FOR {}{offset}", self.query);
                    pg.query(&begin, |_| Ok(()))?.map_err(|e| statement_error(&self.settings, e))?;
                }
                db::Connection::My(my) => {
                    let offset = if self.emitted > 0 {
                        format!(" LIMIT 18446744073709551615 OFFSET {}", self.emitted)
                    } else {
                        String::new()
                    };
                    my.start(&format!("{}{offset}", self.query))?.map_err(|e| statement_error(&self.settings, e))?;
                }
            }
            self.connection = Some(c);
        }
        let max = self.settings.fetch_size.min(max_records.max(1) * 4);
        let mut batch = BatchBuilder::new(&self.schema);
        let (schema, style) = (&self.schema, weir_sdk::text::TextStyle::default());
        let mut rows = 0u64;
        let mut push = |row: db::TextRow| -> Result<()> {
            push_row(&mut batch, dialect, schema, &style, rows, row)?;
            rows += 1;
            Ok(())
        };
        let ended = match self.connection.as_mut().expect("connected above") {
            db::Connection::Pg(pg) => {
                pg.query(&format!("FETCH {max} FROM weir_scan"), &mut push)?
                    .map_err(|e| statement_error(&self.settings, e))?;
                if rows == 0 {
                    let _ = pg.query("COMMIT", |_| Ok(()))?;
                }
                rows == 0
            }
            db::Connection::My(my) => {
                let fetched = my.fetch(max as usize, &mut push)?.map_err(|e| statement_error(&self.settings, e))?;
                matches!(fetched, my::Fetched::Done)
            }
        };
        self.emitted += rows;
        if ended {
            self.connection = None;
            self.done = true;
            if rows == 0 {
                return Ok(ReadResult::EndOfSplit);
            }
        }
        Ok(ReadResult::Rows(batch.finish()?))
    }
}

impl Source for Reader {
    fn plan(options: &Options, schema: &Schema, _request: &ScanRequest) -> Result<ScanPlan> {
        let settings = Settings::parse(options, schema)?;
        // Log in once at planning: a wrong password or a missing table is
        // reported before any split starts.
        let mut connection = settings.connect()?;
        check_columns(&mut connection, &settings, schema)?;
        let splits = match &settings.partition {
            Some((_, lower, upper, num)) => ranges(*lower, *upper, *num)
                .into_iter()
                .map(|(lo, hi)| Split {
                    id: format!("{}[{lo}..{hi}]", settings.table),
                    payload: format!("{lo} {hi}").into_bytes(),
                })
                .collect(),
            None => vec![Split { id: settings.table.clone(), payload: Vec::new() }],
        };
        Ok(ScanPlan {
            splits,
            bounded: true,
            accepted: Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false },
        })
    }

    fn open(
        options: &Options,
        schema: &Schema,
        _request: &ScanRequest,
        split: &Split,
        state: Option<&[u8]>,
    ) -> Result<Self> {
        let settings = Settings::parse(options, schema)?;
        let range = std::str::from_utf8(&split.payload)
            .ok()
            .and_then(|t| t.split_once(' '))
            .and_then(|(lo, hi)| Some((lo.parse().ok()?, hi.parse().ok()?)));
        let emitted = match state {
            Some(s) => u64::from_le_bytes(s.try_into().map_err(|_| Error::unsupported("not a jdbc reader's state"))?),
            None => 0,
        };
        let query = split_query(&settings, schema, range);
        Ok(Reader { settings, schema: schema.clone(), connection: None, query, emitted, done: false })
    }

    fn next(&mut self, max_records: u32) -> Result<ReadResult> {
        if self.done {
            return Ok(ReadResult::EndOfSplit);
        }
        // A failed connection (the server restarted, the network dropped)
        // is opened again for up to `connection.max-retry-timeout`, and the
        // cursor declared again after the rows handed out so far.
        let mut retrying_since: Option<std::time::Instant> = None;
        loop {
            match self.fetch(max_records) {
                Err(e @ Error::Connection(_)) => {
                    self.connection = None;
                    let since = *retrying_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= self.settings.retry_timeout {
                        return Err(Error::connection(format!(
                            "{} (gave up reconnecting after connection.max-retry-timeout = {:?})",
                            e.message(),
                            self.settings.retry_timeout
                        )));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(self.emitted.to_le_bytes().to_vec())
    }

    fn open_lookup(options: &Options, schema: &Schema, key_columns: &[u32]) -> Result<Box<dyn weir_sdk::LookupTable>> {
        Ok(Box::new(Lookup::open(options, schema, key_columns)?))
    }

    fn open_vector_index(options: &Options, schema: &Schema, column: u32) -> Result<Box<dyn weir_sdk::VectorIndex>> {
        Ok(Box::new(VectorSearch::open(options, schema, column as usize)?))
    }
}

/// Answers lookups: one query per batch of keys, the keys as a VALUES
/// list joined to the table, each tagged with its position so that every
/// answered row names the key it answers.
struct Lookup {
    settings: Settings,
    schema: Schema,
    key_columns: Vec<usize>,
    connection: Option<db::Connection>,
    /// `SELECT k.weir_key, t.… FROM table AS t JOIN `.
    head: String,
    /// The key table's column names, `k0, …`.
    names: Vec<String>,
    /// ` ON t.c = k.k0 AND …`.
    tail: String,
    max_retries: u32,
}

impl Lookup {
    fn open(options: &Options, schema: &Schema, key_columns: &[u32]) -> Result<Lookup> {
        let settings = Settings::parse(options, schema)?;
        let key_columns: Vec<usize> = key_columns.iter().map(|&k| k as usize).collect();
        if key_columns.is_empty() || key_columns.iter().any(|&k| k >= schema.fields.len()) {
            return Err(Error::unsupported("lookup keys must be columns of the table"));
        }
        let mut connection = settings.connect()?;
        check_columns(&mut connection, &settings, schema)?;
        let dialect = settings.dialect;
        let head =
            format!("SELECT k.weir_key, {} FROM {} AS t JOIN ", select_list(dialect, schema, "t."), settings.table);
        let names: Vec<String> = (0..key_columns.len()).map(|i| format!("k{i}")).collect();
        let on: Vec<String> = key_columns
            .iter()
            .zip(&names)
            .map(|(&c, k)| format!("t.{} = k.{k}", dialect.quote(&schema.fields[c].name)))
            .collect();
        let tail = format!(" ON {}", on.join(" AND "));
        let max_retries = options.long("lookup.max-retries")?.clamp(0, 100) as u32;
        Ok(Lookup {
            settings,
            schema: schema.clone(),
            key_columns,
            connection: Some(connection),
            head,
            names,
            tail,
            max_retries,
        })
    }

    /// The statement for `keys`; `None` when every key has a null (which
    /// equals nothing).
    fn statement(&self, keys: &weir_sdk::BatchReader<'_>) -> Result<Option<String>> {
        let dialect = self.settings.dialect;
        let mut rows = Vec::with_capacity(keys.rows());
        'rows: for r in 0..keys.rows() {
            let mut values = Vec::with_capacity(self.key_columns.len());
            for (i, &c) in self.key_columns.iter().enumerate() {
                let value = keys.value(i, r)?;
                if matches!(value, weir_sdk::ValueRef::Null) {
                    continue 'rows;
                }
                let field = &self.schema.fields[c];
                let mut text = String::new();
                literal(&mut text, dialect, &field.data_type, value)
                    .map_err(|m| Error::data(r as u64, b"", format!("lookup key '{}': {m}", field.name)))?;
                text.push_str(dialect.key_cast(&field.data_type));
                values.push(text);
            }
            rows.push((r, values));
        }
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(format!("{}{}{}", self.head, dialect.key_table(&rows, &self.names), self.tail)))
    }
}

impl weir_sdk::LookupTable for Lookup {
    fn lookup(&mut self, keys: &weir_sdk::Batch) -> Result<weir_sdk::LookupResult> {
        let reader = weir_sdk::BatchReader::new(keys);
        let mut batch = BatchBuilder::new(&self.schema);
        let mut matches = Vec::new();
        let Some(sql) = self.statement(&reader)? else {
            return Ok(weir_sdk::LookupResult { rows: batch.finish()?, matches });
        };
        let (schema, style) = (&self.schema, weir_sdk::text::TextStyle::default());
        let dialect = self.settings.dialect;
        // Flink's JDBC lookup: a failed connection is opened again and the
        // lookup retried, `lookup.max-retries` times, waiting a second more
        // each time.
        let mut attempt = 0;
        loop {
            reconnect(&self.settings, &mut self.connection, &mut attempt, self.max_retries)?;
            let connection = self.connection.as_mut().expect("connected above");
            batch = BatchBuilder::new(schema);
            matches.clear();
            let mut rows = 0u64;
            let result = connection.query(&sql, |row| {
                let mut values = row.into_iter();
                let key = values.next().flatten().and_then(|k| k.parse::<u32>().ok());
                let key = key
                    .ok_or_else(|| Error::connection(format!("{} answered a lookup without its key", dialect.name())));
                matches.push(key?);
                push_row(&mut batch, dialect, schema, &style, rows, values)?;
                rows += 1;
                Ok(())
            });
            match result {
                Ok(Ok(())) => return Ok(weir_sdk::LookupResult { rows: batch.finish()?, matches }),
                Ok(Err(e)) => return Err(statement_error(&self.settings, e)),
                Err(e) if attempt < self.max_retries && matches!(e, Error::Connection(_)) => {
                    self.connection = None;
                    back_off(&mut attempt);
                }
                Err(e) => {
                    self.connection = None;
                    return Err(e);
                }
            }
        }
    }
}

/// The nearest rows by a pgvector column: `ORDER BY column <op> query
/// LIMIT k`, the operator chosen by `vector-search.metric` (PostgreSQL uses
/// an index on the column with that operator class if there is one).
/// Scores, best first: l2 → the Euclidean distance (smaller is nearer),
/// cosine → the cosine similarity (1 − pgvector's cosine distance),
/// inner-product → the inner product.
struct VectorSearch {
    settings: Settings,
    schema: Schema,
    connection: Option<db::Connection>,
    /// `SELECT t.…, (t.v <op> `.
    head: String,
    metric: Metric,
    /// The searched column, qualified and quoted.
    column: String,
    /// `vector(n)`'s n, when the column declares it.
    dimensions: Option<usize>,
}

/// pgvector's distance operators.
#[derive(Clone, Copy)]
enum Metric {
    L2,
    Cosine,
    InnerProduct,
}

impl Metric {
    fn operator(self) -> &'static str {
        match self {
            Metric::L2 => "<->",
            Metric::Cosine => "<=>",
            Metric::InnerProduct => "<#>",
        }
    }

    /// The score of pgvector's distance for this metric.
    fn score(self, distance: f64) -> f64 {
        match self {
            Metric::L2 => distance,
            Metric::Cosine => 1.0 - distance,
            Metric::InnerProduct => -distance,
        }
    }
}

impl VectorSearch {
    fn open(options: &Options, schema: &Schema, column: usize) -> Result<VectorSearch> {
        let settings = Settings::parse(options, schema)?;
        if settings.dialect != Dialect::Postgres {
            return Err(Error::config(Some("url"), "vector search needs PostgreSQL with pgvector"));
        }
        let field =
            schema.fields.get(column).ok_or_else(|| Error::unsupported("the vector column is not in the table"))?;
        let mut connection = settings.connect()?;
        let types = check_columns(&mut connection, &settings, schema)?;
        let db_type = &types[column];
        let dimensions = match db_type.strip_prefix("vector") {
            Some(rest) => rest.trim_start_matches('(').trim_end_matches(')').parse::<usize>().ok(),
            None => {
                return Err(Error::config(
                    None,
                    format!(
                        "column '{}' is {db_type} in PostgreSQL's '{}'; vector search needs a pgvector vector(n) column",
                        field.name, settings.table
                    ),
                ));
            }
        };
        let metric = match options.get("vector-search.metric").map(|m| m.trim().to_ascii_lowercase()).as_deref() {
            None | Some("l2") => Metric::L2,
            Some("cosine") => Metric::Cosine,
            Some("inner-product") => Metric::InnerProduct,
            Some(other) => {
                return Err(Error::config(
                    Some("vector-search.metric"),
                    format!("'{other}' is not a metric; use l2, cosine or inner-product"),
                ));
            }
        };
        let column = format!("t.{}", Dialect::Postgres.quote(&field.name));
        let head = format!("SELECT {}, ({column} {} ", select_list(Dialect::Postgres, schema, "t."), metric.operator());
        Ok(VectorSearch {
            settings,
            schema: schema.clone(),
            connection: Some(connection),
            head,
            metric,
            column,
            dimensions,
        })
    }
}

impl weir_sdk::VectorIndex for VectorSearch {
    fn search(&mut self, query: &[f32], top_k: u32) -> Result<weir_sdk::SearchResult> {
        if top_k == 0 {
            return Err(Error::unsupported("a vector search needs top-k of at least 1"));
        }
        if let Some(n) = self.dimensions
            && n != query.len()
        {
            return Err(Error::data(
                0,
                b"",
                format!(
                    "the query vector has {} dimensions but column {} of '{}' has {n}",
                    query.len(),
                    self.column,
                    self.settings.table
                ),
            ));
        }
        if let Some(bad) = query.iter().find(|v| !v.is_finite()) {
            return Err(Error::data(0, b"", format!("the query vector holds {bad}, not a finite number")));
        }
        let vector: Vec<String> = query.iter().map(|v| v.to_string()).collect();
        let vector = format!("'[{}]'::vector", vector.join(","));
        // Ordered by the distance's alias: the vector is sent and parsed
        // once, and PostgreSQL still uses an index on the column.
        let sql = format!(
            "{}{vector}) AS weir_distance FROM {} AS t WHERE {} IS NOT NULL ORDER BY weir_distance LIMIT {top_k}",
            self.head, self.settings.table, self.column
        );
        if self.connection.is_none() {
            self.connection = Some(self.settings.connect()?);
        }
        let mut batch = BatchBuilder::new(&self.schema);
        let mut scores = Vec::new();
        let (schema, style) = (&self.schema, weir_sdk::text::TextStyle::default());
        let metric = self.metric;
        let mut rows = 0u64;
        let connection = self.connection.as_mut().expect("connected above");
        let result = connection.query(&sql, |mut row| {
            // The distance is the last value, after the table's columns.
            let distance = row.pop().flatten().and_then(|d| d.parse::<f64>().ok());
            let distance = distance.ok_or_else(|| Error::connection("PostgreSQL answered without the distance"))?;
            scores.push(metric.score(distance) as f32);
            push_row(&mut batch, Dialect::Postgres, schema, &style, rows, row)?;
            rows += 1;
            Ok(())
        });
        match result {
            Ok(Ok(())) => Ok(weir_sdk::SearchResult { rows: batch.finish()?, scores }),
            Ok(Err(e)) => Err(statement_error(&self.settings, e)),
            Err(e) => {
                self.connection = None;
                Err(e)
            }
        }
    }
}

/// Appends one row of the database's text values (one per column of
/// `schema`) to `batch`; a value that does not read as its column's type
/// is a data error at row `index` of the answer.
fn push_row(
    batch: &mut BatchBuilder,
    dialect: Dialect,
    schema: &Schema,
    style: &weir_sdk::text::TextStyle,
    index: u64,
    values: impl IntoIterator<Item = Option<String>>,
) -> Result<()> {
    for (i, (value, field)) in values.into_iter().zip(&schema.fields).enumerate() {
        let column = batch.column(i);
        match value {
            None => column.push_null()?,
            Some(text) => push_db_text(dialect, column, &field.data_type, &text, style, &schema.nested)
                .map_err(|m| Error::data(index, text.as_bytes(), format!("column '{}': {m}", field.name)))?,
        }
    }
    batch.end_row(RowKind::Insert)
}

/// A value in the database's text output as the column's type.
/// PostgreSQL: booleans are `t`/`f`, bytea `\x` + hex, TIMESTAMPTZ ends in
/// the session's zone (UTC, `+00`). MySQL: booleans are `0`/`1`, binary
/// columns come as hex (selected with HEX()). The rest is as Flink's text
/// formats read it.
fn push_db_text(
    dialect: Dialect,
    column: &mut weir_sdk::ColumnBuilder,
    ty: &LogicalType,
    text: &str,
    style: &weir_sdk::text::TextStyle,
    nested: &[weir_sdk::NestedType],
) -> std::result::Result<(), String> {
    use LogicalType as T;
    let pushed = match ty {
        T::Array(e) => {
            let Some(weir_sdk::NestedType::Type(element_type)) = nested.get(e.element as usize) else {
                return Err("the array's element type is not in the schema".into());
            };
            // pgvector's `[1,2.5,3]`, or an array's `{…}`.
            let elements = match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                Some("") => Vec::new(),
                Some(values) => values.split(',').map(|v| Some(v.trim().to_owned())).collect(),
                None => pg_array_elements(text)?,
            };
            let builder = column.array_elements().map_err(|e| e.message())?;
            for element in elements {
                match element {
                    None => builder.push_null().map_err(|e| e.message())?,
                    Some(value) => push_db_text(dialect, builder, element_type, &value, style, nested)?,
                }
            }
            column.end_array()
        }
        T::Boolean => column.push_bool(match text {
            "t" | "1" => true,
            "f" | "0" => false,
            other => return Err(format!("'{other}' is not a {} boolean", dialect.name())),
        }),
        T::Binary(_) | T::Varbinary(_) | T::Bytes => {
            let hex = match dialect {
                Dialect::Postgres => text.strip_prefix("\\x").ok_or("bytea is not in hex output")?,
                Dialect::MySql => text,
            };
            let bytes: std::result::Result<Vec<u8>, _> =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("x"), 16)).collect();
            column.push_bytes(&bytes.map_err(|_| "bytea is not hex")?)
        }
        T::TimestampLtz(_) => {
            // The session's zone is UTC: `…+00` is Flink's `…Z`.
            let utc = text.strip_suffix("+00:00").or_else(|| text.strip_suffix("+00")).ok_or("not in UTC")?;
            return push_text(column, ty, &format!("{utc}Z"), style);
        }
        _ => return push_text(column, ty, text, style),
    };
    pushed.map_err(|e| e.message())
}

/// The elements of a one-dimensional array in PostgreSQL's text output
/// (`{1,NULL,"a b","x\\"y"}`): `None` for NULL.
fn pg_array_elements(text: &str) -> std::result::Result<Vec<Option<String>>, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("'{text}' is not a PostgreSQL array"))?;
    let mut elements = Vec::new();
    if inner.is_empty() {
        return Ok(elements);
    }
    let mut chars = inner.chars().peekable();
    loop {
        let mut value = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or("an array ends inside an escape")?),
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err("an array ends inside a quoted element".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '{' {
                    return Err("multi-dimensional arrays are not supported".into());
                }
                value.push(c);
                chars.next();
            }
        }
        elements.push(if !quoted && value == "NULL" { None } else { Some(value) });
        match chars.next() {
            Some(',') => {}
            None => return Ok(elements),
            Some(c) => return Err(format!("unexpected '{c}' in an array")),
        }
    }
}

/// An ARRAY value as a PostgreSQL literal: `ARRAY[…]`, or `'{}'` when empty
/// (PostgreSQL gives it the column's type).
fn array_literal(
    out: &mut String,
    dialect: Dialect,
    column: weir_sdk::ColumnRef<'_>,
    row: usize,
    element_type: &LogicalType,
    vector: bool,
) -> std::result::Result<(), String> {
    if column.is_null(row) {
        out.push_str("NULL");
        return Ok(());
    }
    if dialect != Dialect::Postgres {
        return Err("arrays are PostgreSQL's; MySQL has no array columns".into());
    }
    let range = column.range(row).map_err(|e| e.message())?;
    // A pgvector column: the text `'[1,2,3]'`.
    if vector {
        let elements = column.elements().map_err(|e| e.message())?;
        out.push_str("'[");
        for (n, i) in range.enumerate() {
            if n > 0 {
                out.push(',');
            }
            match elements.value(i).map_err(|e| e.message())? {
                weir_sdk::ValueRef::F32(v) if v.is_finite() => out.push_str(&v.to_string()),
                weir_sdk::ValueRef::F64(v) if v.is_finite() => out.push_str(&v.to_string()),
                other => return Err(format!("a vector holds finite numbers, not {other:?}")),
            }
        }
        out.push_str("]'");
        return Ok(());
    }
    if range.is_empty() {
        out.push_str("'{}'");
        return Ok(());
    }
    let elements = column.elements().map_err(|e| e.message())?;
    out.push_str("ARRAY[");
    for (n, i) in range.enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        literal(out, dialect, element_type, elements.value(i).map_err(|e| e.message())?)?;
    }
    out.push(']');
    Ok(())
}

/// Writes rows: appended without a PRIMARY KEY; with one, upserted
/// (`INSERT … ON CONFLICT (key) DO UPDATE`), -D deleted by key, -U
/// dropped (its +U follows). Statements are buffered and run at
/// `sink.buffer-flush.max-rows`, after `sink.buffer-flush.interval` (checked
/// as rows arrive) and at every checkpoint.
///
/// `sink.delivery-guarantee`:
/// - `at-least-once` (Flink's JDBC sink, the default): each flush is a
///   transaction of its own, retried `sink.max-retries` times on a new
///   connection. A restart replays rows since the last checkpoint:
///   harmless for upserts, duplicates for appends.
/// - `exactly-once`: one transaction per checkpoint, PostgreSQL's two-phase
///   commit: flushes run inside it, the checkpoint's `prepare-commit` adds
///   a progress row (prefix, subtask, checkpoint) and `PREPARE TRANSACTION`s
///   it, and `commit` runs `COMMIT PREPARED` once the checkpoint is saved.
///   A replayed commit finds the progress row and does nothing; a
///   transaction prepared for a checkpoint that was never saved is rolled
///   back when the writer opens again. Needs `max_prepared_transactions`
///   above 0 on the server.
pub struct Writer {
    settings: Settings,
    schema: Schema,
    connection: Option<db::Connection>,
    /// The columns, quoted; the PRIMARY KEY's positions among them.
    columns: Vec<String>,
    key: Vec<usize>,
    /// What an INSERT ends in: the upsert (`ON CONFLICT (key) DO …`) with a
    /// key, nothing without.
    on_conflict: String,
    /// Changes not sent yet.
    pending: Pending,
    max_rows: usize,
    interval: Option<std::time::Duration>,
    last_flush: std::time::Instant,
    max_retries: u32,
    /// Exactly-once: this writer's transaction names, and whether its
    /// checkpoint's transaction is open.
    exactly_once: Option<Transactions>,
    in_transaction: bool,
    /// The checkpoint the open (or next) transaction belongs to: MySQL's XA
    /// names a transaction when it starts.
    next_checkpoint: u64,
    /// Which columns are pgvector `vector`s (written as `'[…]'`).
    vector_columns: Vec<bool>,
}

/// The names of one writer's prepared transactions,
/// `<prefix>-<subtask>-<checkpoint>`.
struct Transactions {
    prefix: String,
    subtask: u32,
}

/// Rows in one INSERT or DELETE statement at most.
const ROWS_PER_STATEMENT: usize = 1000;

/// A writer's buffered changes.
#[derive(Default)]
struct Pending {
    /// Rows appended to a table without a key, as `(v, …)` tuples.
    appends: Vec<String>,
    /// With a key: the last change per key tuple (`None`: delete).
    by_key: std::collections::HashMap<String, Option<String>>,
}

impl Pending {
    fn len(&self) -> usize {
        self.appends.len() + self.by_key.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn clear(&mut self) {
        self.appends.clear();
        self.by_key.clear();
    }
}

/// The table recording which checkpoints' transactions committed.
const PROGRESS: &str = "weir_sink_progress";

/// MySQL's prepared XA transactions and the sessions that prepared them:
/// a session holding a prepared transaction can neither start another nor
/// let a second session commit it, so the writer hands it here at
/// `prepare-commit` and `commit` (called on the same instance) finishes it
/// there. After a crash the sessions are gone and any session may.
static PREPARED_SESSIONS: std::sync::Mutex<Vec<(String, db::Connection)>> = std::sync::Mutex::new(Vec::new());

impl Transactions {
    fn gid(&self, checkpoint: u64) -> String {
        format!("{}-{}-{checkpoint}", self.prefix, self.subtask)
    }

    /// `(prefix, subtask, checkpoint)` of a transaction name.
    fn parse(gid: &str) -> Option<(&str, u32, u64)> {
        let (rest, checkpoint) = gid.rsplit_once('-')?;
        let (prefix, subtask) = rest.rsplit_once('-')?;
        Some((prefix, subtask.parse().ok()?, checkpoint.parse().ok()?))
    }
}

/// Opens `connection` if it is closed: a connection that fails is tried
/// again up to `max_retries` times in all (counted in `attempt`), waiting
/// a second longer each time — Flink's JDBC retries.
fn reconnect(
    settings: &Settings,
    connection: &mut Option<db::Connection>,
    attempt: &mut u32,
    max_retries: u32,
) -> Result<()> {
    while connection.is_none() {
        match settings.connect() {
            Ok(c) => *connection = Some(c),
            Err(e) if *attempt < max_retries && matches!(e, Error::Connection(_)) => back_off(attempt),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Counts a retry and waits as many seconds as retries so far.
fn back_off(attempt: &mut u32) {
    *attempt += 1;
    std::thread::sleep(std::time::Duration::from_secs(u64::from(*attempt)));
}

/// Runs `sql` on `connection`; a refused statement in the table's terms.
fn execute(connection: &mut db::Connection, settings: &Settings, sql: &str) -> Result<()> {
    connection.query(sql, |_| Ok(()))?.map_err(|e| statement_error(settings, e))
}

impl Writer {
    /// Buffers row `r`: appended as is without a key; with one, it
    /// replaces what the buffer holds for its key (Flink's reduced buffer:
    /// the last change per key is the one that counts), a -U dropped.
    fn buffer(&mut self, reader: &weir_sdk::BatchReader<'_>, r: usize) -> Result<()> {
        let tuple = |columns: &mut dyn Iterator<Item = usize>| -> Result<String> {
            let mut out = String::from("(");
            for (i, c) in columns.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let field = &self.schema.fields[c];
                let written = match &field.data_type {
                    LogicalType::Array(e) => match self.schema.nested.get(e.element as usize) {
                        Some(weir_sdk::NestedType::Type(t)) => array_literal(
                            &mut out,
                            self.settings.dialect,
                            reader.column(c)?,
                            r,
                            t,
                            self.vector_columns[c],
                        ),
                        _ => Err("the array's element type is not in the schema".into()),
                    },
                    ty => literal(&mut out, self.settings.dialect, ty, reader.value(c, r)?),
                };
                written.map_err(|m| Error::data(r as u64, b"", format!("column '{}': {m}", field.name)))?;
            }
            out.push(')');
            Ok(out)
        };
        let kind = reader.row_kind(r);
        if self.key.is_empty() {
            if !matches!(kind, RowKind::Insert | RowKind::UpdateAfter) {
                return Err(Error::data(
                    r as u64,
                    b"",
                    "a table without a PRIMARY KEY takes inserts only; declare the key to apply updates and deletes",
                ));
            }
            let row = tuple(&mut (0..self.columns.len()))?;
            self.pending.appends.push(row);
            return Ok(());
        }
        let change = match kind {
            RowKind::UpdateBefore => return Ok(()),
            RowKind::Delete => None,
            RowKind::Insert | RowKind::UpdateAfter => Some(tuple(&mut (0..self.columns.len()))?),
        };
        let key = tuple(&mut self.key.iter().copied())?;
        self.pending.by_key.insert(key, change);
        Ok(())
    }

    /// The pending changes as SQL statements: multi-row INSERTs (upserts
    /// with a key) and DELETEs by key, at most [`ROWS_PER_STATEMENT`] rows
    /// each.
    fn statements(&self) -> Vec<String> {
        let insert = format!("INSERT INTO {} ({}) VALUES ", self.settings.table, self.columns.join(", "));
        let mut sql = Vec::new();
        let upserts: Vec<&String> = self.pending.by_key.values().flatten().collect();
        let rows: Vec<&String> = self.pending.appends.iter().chain(upserts).collect();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
            sql.push(format!("{insert}{}{}", values.join(", "), self.on_conflict));
        }
        let deletes: Vec<&str> =
            self.pending.by_key.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k.as_str()).collect();
        let key: Vec<&str> = self.key.iter().map(|&c| self.columns[c].as_str()).collect();
        for chunk in deletes.chunks(ROWS_PER_STATEMENT) {
            sql.push(format!(
                "DELETE FROM {} WHERE ({}) IN ({})",
                self.settings.table,
                key.join(", "),
                chunk.join(", ")
            ));
        }
        sql
    }

    /// Runs the pending statements: at-least-once in a transaction of
    /// their own (retried on a new connection), exactly-once inside the
    /// checkpoint's transaction.
    fn flush(&mut self) -> Result<()> {
        self.last_flush = std::time::Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Some(t) = &self.exactly_once {
            let statements = self.statements().join("; ");
            let begin = if self.in_transaction {
                String::new()
            } else {
                format!("{}; ", self.settings.dialect.begin(&t.gid(self.next_checkpoint)))
            };
            if self.connection.is_none() && !self.in_transaction {
                self.connection = Some(self.settings.connect()?);
            }
            let connection = self.connection.as_mut().ok_or_else(|| {
                Error::connection(format!(
                    "{}, table '{}': the connection of the checkpoint's transaction is gone",
                    self.settings.dialect.name(),
                    self.settings.table
                ))
            })?;
            let sql = format!("{begin}{statements}");
            if let Err(e) = execute(connection, &self.settings, &sql) {
                // The transaction is lost with the connection or aborted by
                // the error: the job restarts from its last checkpoint.
                self.connection = None;
                self.in_transaction = false;
                return Err(e);
            }
            self.in_transaction = true;
            self.pending.clear();
            return Ok(());
        }
        let sql = format!("BEGIN; {}; COMMIT", self.statements().join("; "));
        let mut attempt = 0;
        loop {
            reconnect(&self.settings, &mut self.connection, &mut attempt, self.max_retries)?;
            let connection = self.connection.as_mut().expect("connected above");
            match connection.query(&sql, |_| Ok(())) {
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    let _ = connection.query("ROLLBACK", |_| Ok(()));
                    return Err(statement_error(&self.settings, e));
                }
                Err(e) => {
                    self.connection = None;
                    if attempt >= self.max_retries {
                        return Err(e);
                    }
                    back_off(&mut attempt);
                }
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Exactly-once, at open: the progress table exists; transactions this
    /// writer prepared for checkpoints after `restored` (never saved) are
    /// rolled back, earlier ones committed; a fresh start forgets the
    /// progress of an earlier run.
    fn recover(&mut self, restored: u64) -> Result<()> {
        let (Some(t), Some(connection)) = (&self.exactly_once, self.connection.as_mut()) else { return Ok(()) };
        let dialect = self.settings.dialect;
        let create = dialect.progress_table(PROGRESS);
        if execute(connection, &self.settings, &create).is_err() {
            // Writers opening together race to create it; the loser's
            // second try finds it.
            execute(connection, &self.settings, &create)?;
        }
        let mut prepared = Vec::new();
        connection
            .query(dialect.prepared(), |row| {
                if let Some(Some(gid)) = row.into_iter().next_back() {
                    prepared.push(gid);
                }
                Ok(())
            })?
            .map_err(|e| statement_error(&self.settings, e))?;
        for gid in prepared {
            let Some((prefix, subtask, checkpoint)) = Transactions::parse(&gid) else { continue };
            if prefix != t.prefix || subtask != t.subtask {
                continue;
            }
            let commit = checkpoint <= restored && restored > 0;
            execute(connection, &self.settings, &dialect.finish(commit, &gid))?;
        }
        let forget = if restored == 0 { String::new() } else { format!(" AND checkpoint > {restored}") };
        execute(
            connection,
            &self.settings,
            &format!(
                "DELETE FROM {PROGRESS} WHERE prefix = {} AND subtask = {}{forget}",
                dialect.string(&t.prefix),
                t.subtask
            ),
        )
    }
}

/// A value as a SQL literal of the dialect.
fn literal(
    out: &mut String,
    dialect: Dialect,
    ty: &LogicalType,
    value: weir_sdk::ValueRef<'_>,
) -> std::result::Result<(), String> {
    use LogicalType as T;
    use weir_sdk::ValueRef as V;
    let style = weir_sdk::text::TextStyle::default();
    match (ty, value) {
        (_, V::Null) => out.push_str("NULL"),
        (_, V::Bool(b)) => out.push_str(if b { "TRUE" } else { "FALSE" }),
        (_, V::Bytes(b)) => out.push_str(&dialect.bytes(b)),
        (T::Char(_) | T::Varchar(_) | T::String, V::Str(text)) => {
            if dialect == Dialect::Postgres && text.contains('\0') {
                return Err("PostgreSQL text cannot hold a NUL character".into());
            }
            out.push_str(&dialect.string(text));
        }
        (T::Date | T::Time(_) | T::Timestamp(_) | T::TimestampLtz(_), value) => {
            out.push('\'');
            weir_sdk::text::write_text(out, ty, value, &style)?;
            out.push('\'');
        }
        (_, value) => weir_sdk::text::write_text(out, ty, value, &style)?,
    }
    Ok(())
}

impl Sink for Writer {
    fn open(options: &Options, schema: &Schema, context: &WriterContext) -> Result<Self> {
        let settings = Settings::parse(options, schema)?;
        let max_rows = options.long("sink.buffer-flush.max-rows")?.max(0) as usize;
        let interval = Some(options.duration("sink.buffer-flush.interval")?).filter(|d| !d.is_zero());
        let max_retries = options.long("sink.max-retries")?.clamp(0, 100) as u32;
        let exactly_once = match options.get("sink.delivery-guarantee").map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "exactly-once" => Some(Transactions {
                prefix: options
                    .get("sink.transactional-id-prefix")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map_or_else(|| format!("weir-{}", settings.table), str::to_owned),
                subtask: context.subtask,
            }),
            _ => None,
        };
        let mut connection = settings.connect()?;
        let db_types = check_columns(&mut connection, &settings, schema)?;
        let vector_columns = db_types.iter().map(|t| t == "vector" || t.starts_with("vector(")).collect();
        let key: Vec<usize> =
            schema.primary_key.iter().filter_map(|k| schema.fields.iter().position(|f| &f.name == k)).collect();
        let columns = quoted_columns(settings.dialect, schema);
        let on_conflict = settings.dialect.upsert(&columns, &key);
        let mut writer = Writer {
            settings,
            schema: schema.clone(),
            connection: Some(connection),
            columns,
            key,
            on_conflict,
            pending: Pending::default(),
            max_rows,
            interval,
            last_flush: std::time::Instant::now(),
            max_retries,
            exactly_once,
            in_transaction: false,
            next_checkpoint: context.restored_checkpoint + 1,
            vector_columns,
        };
        writer.recover(context.restored_checkpoint)?;
        Ok(writer)
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        let SinkInput::Rows(batch) = input else {
            return Err(Error::unsupported("the jdbc sink takes rows"));
        };
        let reader = weir_sdk::BatchReader::new(&batch);
        for r in 0..reader.rows() {
            self.buffer(&reader, r)?;
            if self.max_rows > 0 && self.pending.len() >= self.max_rows {
                self.flush()?;
            }
        }
        if self.interval.is_some_and(|i| self.last_flush.elapsed() >= i) {
            self.flush()?;
        }
        Ok(())
    }

    fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<weir_sdk::Committable>> {
        self.flush()?;
        let dialect = self.settings.dialect;
        let expected = std::mem::replace(&mut self.next_checkpoint, checkpoint_id + 1);
        let Some(t) = &self.exactly_once else { return Ok(Vec::new()) };
        if !self.in_transaction {
            return Ok(Vec::new());
        }
        // The transaction's number: PostgreSQL names it now, by this
        // checkpoint; MySQL named it at XA START, by the checkpoint after
        // the last prepared one (checkpoint ids may skip one, never a saved
        // one, so at open "number after the restored checkpoint" still
        // means "not saved"). The progress row records the same number.
        let number = if dialect == Dialect::MySql { expected } else { checkpoint_id };
        let gid = t.gid(number);
        self.in_transaction = false;
        let connection = self.connection.as_mut().expect("a transaction is open on it");
        let sql = format!(
            "INSERT INTO {PROGRESS} (prefix, subtask, checkpoint) VALUES ({}, {}, {number}); {}",
            dialect.string(&t.prefix),
            t.subtask,
            dialect.prepare(&gid)
        );
        match connection.query(&sql, |_| Ok(())) {
            Ok(Ok(())) => {
                if dialect == Dialect::MySql
                    && let Some(session) = self.connection.take()
                {
                    PREPARED_SESSIONS.lock().map_err(|_| Error::unsupported("poisoned"))?.push((gid.clone(), session));
                }
                Ok(vec![gid.into_bytes()])
            }
            Ok(Err(e)) if dialect.two_phase_disabled(&e) => {
                let _ = connection.query("ROLLBACK", |_| Ok(()));
                Err(Error::config(
                    Some("sink.delivery-guarantee"),
                    format!(
                        "exactly-once needs PostgreSQL's prepared transactions, which this server disables ({}); set \
                         max_prepared_transactions above 0 in postgresql.conf, or use 'at-least-once'",
                        e.message
                    ),
                ))
            }
            Ok(Err(e)) => {
                let _ = connection.query(&dialect.rollback(Some(&gid)), |_| Ok(()));
                Err(statement_error(&self.settings, e))
            }
            Err(e) => {
                self.connection = None;
                Err(e)
            }
        }
    }

    fn commit(options: &Options, committables: Vec<weir_sdk::Committable>) -> Result<()> {
        finish_prepared(options, committables, true)
    }

    fn abort(options: &Options, committables: Vec<weir_sdk::Committable>) -> Result<()> {
        finish_prepared(options, committables, false)
    }
}

/// `COMMIT PREPARED` (or `ROLLBACK PREPARED`) each named transaction. One
/// that is gone already is fine if its progress row says it committed (a
/// replayed commit); otherwise its writes are lost, which is said loudly.
fn finish_prepared(options: &Options, committables: Vec<weir_sdk::Committable>, commit: bool) -> Result<()> {
    if committables.is_empty() {
        return Ok(());
    }
    let settings =
        Settings::parse(options, &Schema { fields: Vec::new(), primary_key: Vec::new(), nested: Vec::new() })?;
    let mut fresh: Option<db::Connection> = None;
    let dialect = settings.dialect;
    for committable in committables {
        let gid = String::from_utf8(committable).map_err(|_| Error::unsupported("not a jdbc sink's committable"))?;
        let (prefix, subtask, checkpoint) =
            Transactions::parse(&gid).ok_or_else(|| Error::unsupported("not a jdbc sink's committable"))?;
        // The session that prepared it, if this instance still holds it.
        let held = {
            let mut sessions = PREPARED_SESSIONS.lock().map_err(|_| Error::unsupported("poisoned"))?;
            sessions.iter().position(|(g, _)| *g == gid).map(|i| sessions.remove(i).1)
        };
        let mut held = held;
        let connection = match held.as_mut() {
            Some(session) => session,
            None => {
                if fresh.is_none() {
                    fresh = Some(settings.connect()?);
                }
                fresh.as_mut().expect("connected above")
            }
        };
        match connection.query(&dialect.finish(commit, &gid), |_| Ok(()))? {
            Ok(()) => {}
            Err(e) if dialect.unknown_transaction(&e) => {
                let mut committed = false;
                connection
                    .query(
                        &format!(
                            "SELECT 1 FROM {PROGRESS} WHERE prefix = {} AND subtask = {subtask} AND checkpoint = {checkpoint}",
                            dialect.string(prefix)
                        ),
                        |_| {
                            committed = true;
                            Ok(())
                        },
                    )?
                    .map_err(|e| statement_error(&settings, e))?;
                if commit && !committed {
                    return Err(Error::connection(format!(
                        "{}, table '{}': the transaction of checkpoint {checkpoint} ('{gid}') is neither \
                         prepared nor committed; its rows were lost (rolled back by hand, or the server's data was \
                         restored)",
                        dialect.name(),
                        settings.table
                    )));
                }
            }
            Err(e) => return Err(statement_error(&settings, e)),
        }
    }
    Ok(())
}

weir_sdk::export_connector!(Reader, Reader, Writer);

#[cfg(test)]
mod tests {
    use super::{LogicalType as T, compatible, pg_array_elements, ranges};

    fn compatible_t(ty: &T, pg: &str) -> Result<(), String> {
        compatible(ty, pg, &[])
    }

    #[test]
    fn postgresql_arrays_are_read_element_by_element() {
        assert_eq!(
            pg_array_elements(r#"{1,NULL,"a b","x\"y",""}"#),
            Ok(vec![Some("1".into()), None, Some("a b".into()), Some("x\"y".into()), Some(String::new())])
        );
        assert_eq!(pg_array_elements("{}"), Ok(vec![]));
        assert!(pg_array_elements("{{1,2},{3,4}}").is_err());
    }

    #[test]
    fn ddl_types_are_checked_against_postgresql_types() {
        assert!(compatible_t(&T::Int, "integer").is_ok());
        assert!(compatible_t(&T::Bigint, "integer").is_ok(), "a wider DDL type reads losslessly");
        assert_eq!(compatible_t(&T::Int, "bigint"), Err("BIGINT".to_owned()));
        assert!(compatible_t(&T::String, "character varying(20)").is_ok());
        assert!(compatible_t(&T::TimestampLtz(3), "timestamp(3) with time zone").is_ok());
        assert_eq!(compatible_t(&T::Timestamp(3), "timestamp(3) with time zone"), Err("TIMESTAMP_LTZ(p)".to_owned()));
        assert!(compatible_t(&T::Timestamp(6), "timestamp without time zone").is_ok());
        let decimal = |precision, scale| T::Decimal(weir_sdk::DecimalType { precision, scale });
        assert!(compatible_t(&decimal(10, 2), "numeric(10,2)").is_ok());
        assert!(compatible_t(&decimal(10, 2), "numeric").is_ok());
        assert_eq!(compatible_t(&decimal(10, 3), "numeric(10,2)"), Err("DECIMAL(10,2)".to_owned()));
        assert_eq!(compatible_t(&T::Int, "integer[]"), Err("ARRAY<…>".to_owned()));
    }

    #[test]
    fn partitions_are_cut_as_flink_cuts_them() {
        assert_eq!(ranges(1, 10, 3), [(1, 4), (5, 7), (8, 10)]);
        assert_eq!(ranges(0, 1, 5), [(0, 0), (1, 1)]);
        assert_eq!(ranges(-5, 5, 1), [(-5, 5)]);
    }
}
