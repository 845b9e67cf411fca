//! What differs between PostgreSQL and MySQL/MariaDB: the connection
//! ([`Connection`], over `pg` or `my`) and the SQL ([`Dialect`]: quoting,
//! literals, upserts, the key table of a lookup, two-phase commit, the
//! catalog query and type mapping of the open-time column check).

use weir_sdk::{LogicalType, Result};

use crate::{my, pg};

pub use crate::pg::{ServerError, TextRow};

/// The database a `url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `jdbc:postgresql://…`
    Postgres,
    /// `jdbc:mysql://…`, `jdbc:mariadb://…`
    MySql,
}

/// A connection to either database.
pub enum Connection {
    Pg(pg::Connection),
    My(my::Connection),
}

impl Connection {
    /// Connects and logs in.
    pub fn open(dialect: Dialect, address: &str, database: &str, user: &str, password: Option<&str>) -> Result<Self> {
        Ok(match dialect {
            Dialect::Postgres => Connection::Pg(pg::Connection::open(address, database, user, password)?),
            Dialect::MySql => Connection::My(my::Connection::open(address, database, user, password)?),
        })
    }

    /// Runs `sql` to the end, each result row to `row`; `Err(Ok(_))` when
    /// the server refused a statement.
    pub fn query(
        &mut self,
        sql: &str,
        row: impl FnMut(TextRow) -> Result<()>,
    ) -> Result<std::result::Result<(), ServerError>> {
        match self {
            Connection::Pg(c) => c.query(sql, row),
            Connection::My(c) => c.query(sql, row),
        }
    }
}

/// A TCP connection to `address` for `database` (its name, for messages):
/// read timeout a minute, no Nagle delay; a refusal says what to check.
pub fn connect_tcp(address: &str, database: &str) -> Result<std::net::TcpStream> {
    let stream = std::net::TcpStream::connect(address).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            "; the operator has not granted it (--allow-net host:port)"
        } else {
            "; is the server running?"
        };
        weir_sdk::Error::connection(format!("cannot connect to {database} at {address}: {e}{hint}"))
    })?;
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(60)));
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

impl Dialect {
    /// The database's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL",
        }
    }

    /// A quoted identifier.
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// A string literal (MySQL reads backslashes as escapes by default).
    pub fn string(self, text: &str) -> String {
        match self {
            Dialect::Postgres => format!("'{}'", text.replace('\'', "''")),
            Dialect::MySql => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        }
    }

    /// A binary literal.
    pub fn bytes(self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self {
            Dialect::Postgres => format!("'\\x{hex}'::bytea"),
            Dialect::MySql => format!("X'{hex}'"),
        }
    }

    /// The cast a lookup key's literal needs where PostgreSQL would take a
    /// quoted literal in a VALUES list as text.
    pub fn key_cast(self, ty: &LogicalType) -> &'static str {
        match (self, ty) {
            (Dialect::Postgres, LogicalType::Date) => "::date",
            (Dialect::Postgres, LogicalType::Time(_)) => "::time",
            (Dialect::Postgres, LogicalType::Timestamp(_)) => "::timestamp",
            (Dialect::Postgres, LogicalType::TimestampLtz(_)) => "::timestamptz",
            (Dialect::Postgres, LogicalType::Decimal(_)) => "::numeric",
            _ => "",
        }
    }

    /// A derived table `k(weir_key, k0, …)` of `rows` (each its position and
    /// its key values as literals).
    pub fn key_table(self, rows: &[(usize, Vec<String>)], names: &[String]) -> String {
        match self {
            Dialect::Postgres => {
                let values: Vec<String> =
                    rows.iter().map(|(i, values)| format!("({i}, {})", values.join(", "))).collect();
                format!("(VALUES {}) AS k(weir_key, {})", values.join(", "), names.join(", "))
            }
            // MariaDB's VALUES takes no column names: a UNION of SELECTs.
            Dialect::MySql => {
                let mut selects = Vec::with_capacity(rows.len());
                for (n, (i, values)) in rows.iter().enumerate() {
                    if n == 0 {
                        let named: Vec<String> =
                            values.iter().zip(names).map(|(v, name)| format!("{v} AS {name}")).collect();
                        selects.push(format!("SELECT {i} AS weir_key, {}", named.join(", ")));
                    } else {
                        selects.push(format!("SELECT {i}, {}", values.join(", ")));
                    }
                }
                format!("({}) AS k", selects.join(" UNION ALL "))
            }
        }
    }

    /// What an INSERT into a table keyed by `key` (positions in `columns`)
    /// ends in to update the row that has the key; empty without a key.
    pub fn upsert(self, columns: &[String], key: &[usize]) -> String {
        if key.is_empty() {
            return String::new();
        }
        let others: Vec<&str> = (0..columns.len()).filter(|c| !key.contains(c)).map(|c| columns[c].as_str()).collect();
        match self {
            Dialect::Postgres => {
                let keys: Vec<&str> = key.iter().map(|&c| columns[c].as_str()).collect();
                if others.is_empty() {
                    format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", "))
                } else {
                    let set: Vec<String> = others.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect();
                    format!(" ON CONFLICT ({}) DO UPDATE SET {}", keys.join(", "), set.join(", "))
                }
            }
            Dialect::MySql => {
                let set: Vec<String> = if others.is_empty() {
                    vec![format!("{0} = {0}", columns[key[0]])]
                } else {
                    others.iter().map(|c| format!("{c} = VALUES({c})")).collect()
                };
                format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "))
            }
        }
    }

    /// A query listing the table's columns as (name, type) rows.
    pub fn columns_query(self, table: &str) -> String {
        match self {
            Dialect::Postgres => format!(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = {}::regclass \
                 AND a.attnum > 0 AND NOT a.attisdropped",
                self.string(table)
            ),
            Dialect::MySql => {
                let (schema, name) = match table.split_once('.') {
                    Some((schema, name)) => (self.string(schema), name),
                    None => ("DATABASE()".to_owned(), table),
                };
                format!(
                    "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {schema} \
                     AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
                    self.string(name.trim_matches('`'))
                )
            }
        }
    }

    /// The progress table of exactly-once sinks.
    pub fn progress_table(self, table: &str) -> String {
        let (prefix, at) = match self {
            Dialect::Postgres => ("TEXT", "TIMESTAMPTZ NOT NULL DEFAULT now()"),
            Dialect::MySql => ("VARCHAR(190)", "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"),
        };
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (prefix {prefix} NOT NULL, subtask INT NOT NULL, checkpoint BIGINT \
             NOT NULL, committed_at {at}, PRIMARY KEY (prefix, subtask, checkpoint))"
        )
    }

    /// Opens the transaction named `gid` (MySQL's XA names it at the
    /// start, PostgreSQL at PREPARE).
    pub fn begin(self, gid: &str) -> String {
        match self {
            Dialect::Postgres => "BEGIN".to_owned(),
            Dialect::MySql => format!("XA START {}", self.string(gid)),
        }
    }

    /// Prepares the open transaction `gid` for commit.
    pub fn prepare(self, gid: &str) -> String {
        match self {
            Dialect::Postgres => format!("PREPARE TRANSACTION {}", self.string(gid)),
            Dialect::MySql => format!("XA END {0}; XA PREPARE {0}", self.string(gid)),
        }
    }

    /// Commits (`commit`) or rolls back the prepared transaction `gid`.
    pub fn finish(self, commit: bool, gid: &str) -> String {
        let verb = if commit { "COMMIT" } else { "ROLLBACK" };
        match self {
            Dialect::Postgres => format!("{verb} PREPARED {}", self.string(gid)),
            Dialect::MySql => format!("XA {verb} {}", self.string(gid)),
        }
    }

    /// Rolls back whatever the connection has open.
    pub fn rollback(self, gid: Option<&str>) -> String {
        match (self, gid) {
            (Dialect::MySql, Some(gid)) => format!("XA END {0}; XA ROLLBACK {0}", self.string(gid)),
            _ => "ROLLBACK".to_owned(),
        }
    }

    /// A query of the prepared transactions; the name is the last column.
    pub fn prepared(self) -> &'static str {
        match self {
            Dialect::Postgres => "SELECT gid FROM pg_prepared_xacts",
            Dialect::MySql => "XA RECOVER",
        }
    }

    /// Whether a server error says the prepared transaction does not exist.
    pub fn unknown_transaction(self, e: &ServerError) -> bool {
        match self {
            Dialect::Postgres => e.code == "42704",
            Dialect::MySql => e.code == "XAE04",
        }
    }

    /// Whether a server error says two-phase commit is disabled.
    pub fn two_phase_disabled(self, e: &ServerError) -> bool {
        self == Dialect::Postgres && e.code == "55000"
    }

    /// Whether a server error says the table does not exist.
    pub fn no_table(self, e: &ServerError) -> bool {
        matches!(e.code.as_str(), "42P01" | "42S02")
    }

    /// Whether a server error says a column does not exist.
    pub fn no_column(self, e: &ServerError) -> bool {
        matches!(e.code.as_str(), "42703" | "42S22")
    }
}
