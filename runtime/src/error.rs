//! The runtime's error type. Every variant names the component (or file)
//! involved and, where there is one, what to do about it.

use std::fmt;

use crate::bindings::v0_1_0::weir::connector::types as wit;
use crate::options::OptionsError;

/// An expected failure reported by a component through the contract's typed
/// `error` variant.
#[derive(Debug, Clone, PartialEq)]
pub enum GuestError {
    /// Bad options or schema.
    Config {
        /// The option to fix, if one is to blame.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The external system could not be reached.
    Connection(String),
    /// A malformed record.
    Data {
        /// Position of the record in the call's input.
        position: u64,
        /// Excerpt of the input.
        excerpt: String,
        /// What is wrong.
        message: String,
    },
    /// Not implemented by the component.
    Unsupported(String),
    /// Temporary; retry may succeed.
    Transient(String),
}

/// Longest text kept of a component's error message (and of a data error's
/// excerpt); the rest is dropped with a note saying how much.
pub const MAX_GUEST_MESSAGE_BYTES: usize = 4096;

/// A component's message as the host keeps it: at most
/// [`MAX_GUEST_MESSAGE_BYTES`], control characters escaped (it ends up on
/// terminals and in logs).
fn guest_text(text: String) -> String {
    let text = crate::terminal::bounded(text, MAX_GUEST_MESSAGE_BYTES);
    crate::terminal::escape(&text).into_owned()
}

impl From<wit::Error> for GuestError {
    fn from(e: wit::Error) -> Self {
        match e {
            wit::Error::Config(c) => GuestError::Config { key: c.key.map(guest_text), message: guest_text(c.message) },
            wit::Error::Connection(m) => GuestError::Connection(guest_text(m)),
            // The excerpt is printed with `{:?}`, which escapes it.
            wit::Error::Data(d) => GuestError::Data {
                position: d.position,
                excerpt: crate::terminal::bounded(d.excerpt, MAX_GUEST_MESSAGE_BYTES),
                message: guest_text(d.message),
            },
            wit::Error::Unsupported(m) => GuestError::Unsupported(guest_text(m)),
            wit::Error::Transient(m) => GuestError::Transient(guest_text(m)),
        }
    }
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestError::Config { key: Some(k), message } => write!(f, "configuration error in option '{k}': {message}"),
            GuestError::Config { key: None, message } => write!(f, "configuration error: {message}"),
            GuestError::Connection(m) => write!(f, "connection error: {m}"),
            GuestError::Data { position, excerpt, message } => {
                write!(f, "data error at record {position}: {message}")?;
                if !excerpt.is_empty() {
                    write!(f, " (input: {excerpt:?})")?;
                }
                Ok(())
            }
            GuestError::Unsupported(m) => write!(f, "unsupported: {m}"),
            GuestError::Transient(m) => write!(f, "transient error: {m}"),
        }
    }
}

/// Why an instance stopped: a trap or a limit. The instance is discarded.
#[derive(Debug, Clone, PartialEq)]
pub enum TrapReason {
    /// The guest panicked or reached `unreachable` (the usual Rust panic).
    Panic,
    /// The guest tried to grow its memory past the limit.
    MemoryLimit {
        /// The limit in bytes.
        limit: usize,
    },
    /// The guest ran longer than its CPU budget for one call.
    CpuLimit {
        /// The budget.
        budget: std::time::Duration,
    },
    /// One call took longer than the wall-clock limit (e.g. blocked in I/O).
    WallClockLimit {
        /// The limit.
        limit: std::time::Duration,
    },
    /// The guest used up its fuel for one call.
    FuelLimit {
        /// Fuel per call.
        fuel: u64,
    },
    /// The guest opened more handles (files, sockets, streams) than allowed.
    HandleLimit {
        /// The limit.
        limit: usize,
    },
    /// One call returned more data than the cap on results.
    ResultLimit {
        /// The cap in bytes.
        limit: usize,
    },
    /// The guest overflowed its stack (usually unbounded recursion).
    StackOverflow,
    /// The guest called `exit` (a component must return errors instead).
    Exit(i32),
    /// Any other trap (out-of-bounds access…), as wasmtime
    /// describes it.
    Other(String),
}

impl TrapReason {
    /// Whether a resource limit (not a bug in the component) ended the call.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            TrapReason::MemoryLimit { .. }
                | TrapReason::CpuLimit { .. }
                | TrapReason::WallClockLimit { .. }
                | TrapReason::FuelLimit { .. }
                | TrapReason::HandleLimit { .. }
                | TrapReason::ResultLimit { .. }
                | TrapReason::StackOverflow
        )
    }
}

impl fmt::Display for TrapReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapReason::Panic => f.write_str("the component panicked"),
            TrapReason::MemoryLimit { limit } => write!(f, "memory limit {} MiB exceeded", limit / (1024 * 1024)),
            TrapReason::CpuLimit { budget } => write!(f, "CPU time limit of {budget:?} per call exceeded"),
            TrapReason::WallClockLimit { limit } => write!(f, "a call took longer than the {limit:?} wall-clock limit"),
            TrapReason::FuelLimit { fuel } => write!(f, "fuel limit of {fuel} per call exhausted"),
            TrapReason::HandleLimit { limit } => {
                write!(f, "open-handle limit of {limit} exceeded (files, sockets and streams held at once)")
            }
            TrapReason::ResultLimit { limit } => {
                write!(f, "result size limit of {} MiB per call exceeded", limit / (1024 * 1024))
            }
            TrapReason::StackOverflow => f.write_str("stack overflow (unbounded recursion?)"),
            TrapReason::Exit(code) => write!(f, "the component called exit({code}); it should return an error instead"),
            TrapReason::Other(m) => f.write_str(m),
        }
    }
}

/// Errors of the Weir runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A component file could not be read, compiled or typed.
    #[error("failed to load component {origin}: {message}")]
    Load {
        /// Path or built-in name.
        origin: String,
        /// What went wrong, and what to do.
        message: String,
    },

    /// No component with that identifier (and kind) in the catalog.
    #[error("no {kind} named '{identifier}' in the catalog{suggestion}; available: {available}")]
    NotFound {
        /// `connector` or `format`.
        kind: &'static str,
        /// The identifier asked for.
        identifier: String,
        /// ", did you mean '…'?" or empty.
        suggestion: String,
        /// Identifiers that exist, comma separated.
        available: String,
    },

    /// Two components claim the same identifier and kind.
    #[error(
        "component {origin} declares identifier '{identifier}', already provided by {existing}; rename one of them or remove it from the plugin directory"
    )]
    Duplicate {
        /// The identifier.
        identifier: String,
        /// The component seen first.
        existing: String,
        /// The component seen second.
        origin: String,
    },

    /// Options failed validation (boxed: it carries the list of valid keys).
    #[error(transparent)]
    Options(Box<OptionsError>),

    /// The component returned a typed error.
    #[error("component '{component}': {error}")]
    Guest {
        /// Component identifier.
        component: String,
        /// Its error.
        error: GuestError,
    },

    /// The component trapped or hit a limit; its instance is gone.
    #[error("component '{component}' was stopped: {reason}{}", stderr_tail(.stderr))]
    Trap {
        /// Component identifier.
        component: String,
        /// Why.
        reason: TrapReason,
        /// The last lines the component wrote to stderr (panic message).
        stderr: String,
    },

    /// The host could not give an instance what it was granted (a granted
    /// path leads out of its grant, does not exist, or reaches Weir's own
    /// files). Nothing of the component ran.
    #[error("cannot give component '{component}' what it was granted: {message}")]
    Grant {
        /// Component identifier.
        component: String,
        /// What is wrong, and what to do.
        message: String,
    },

    /// A component returned a malformed batch (host-side validation).
    #[error("component '{component}' returned an invalid batch: {message}")]
    InvalidBatch {
        /// Component identifier.
        component: String,
        /// What is wrong.
        message: String,
    },

    /// An error about a statement or table of a job file, with where it
    /// is written (the CLI prefixes the file name: `job.sql:3:1: …`).
    #[error("line {line}, column {column}: {error}")]
    At {
        /// 1-based line of the statement.
        line: u64,
        /// 1-based column.
        column: u64,
        /// The error.
        error: Box<Error>,
    },

    /// A malformed record, placed in its split: the split's id (a file's
    /// path for files) and the record's 1-based number in it (a line's
    /// number for line-per-record files read whole from the start).
    #[error(
        "component '{component}' could not read record {record} of split '{split}'{}: {message}{}",
        if *.resumed { " (counted from where the split resumed after a checkpoint)" } else { "" },
        if .excerpt.is_empty() { String::new() } else { format!(" (input: {:?})", .excerpt) }
    )]
    Record {
        /// The component that refused the record (a format, or the source).
        component: String,
        /// The split's id.
        split: String,
        /// 1-based number of the record in the split.
        record: u64,
        /// The split was resumed from a checkpoint: numbers count from there.
        resumed: bool,
        /// What is wrong.
        message: String,
        /// Excerpt of the input.
        excerpt: String,
    },

    /// A component's error while serving a table of a job.
    #[error("table '{table}': {error}")]
    InTable {
        /// The table.
        table: String,
        /// The component's error.
        error: Box<Error>,
    },

    /// The job was asked to stop (Ctrl-C) and took a last checkpoint.
    #[error("stopped after checkpoint {checkpoint}; {resume}")]
    Stopped {
        /// The last checkpoint taken.
        checkpoint: u64,
        /// How to resume.
        resume: String,
    },

    /// The job's output was closed by its reader (`weir run q.sql | head`):
    /// nobody reads further rows, so the job ends here, without an error
    /// to report.
    #[error("the output was closed by its reader")]
    OutputClosed,

    /// A table's component needs capabilities the operator did not grant;
    /// nothing started.
    #[error(
        "table '{table}': {role} '{component}' needs {} that the operator did not grant: {}",
        if missing.len() == 1 { "a capability" } else { "capabilities" },
        missing.iter().map(|(need, flag)| format!("{need} (grant with {flag})")).collect::<Vec<_>>().join("; ")
    )]
    Denied {
        /// The table.
        table: String,
        /// `connector` or `format`.
        role: String,
        /// The component's identifier.
        component: String,
        /// Each missing capability and the flag that grants it.
        missing: Vec<(String, String)>,
    },

    /// A mistake in a table's definition or a job's settings (not an option
    /// of a component, see [`Error::Options`]); nothing started.
    #[error("{0}")]
    Config(String),

    /// A statement's checkpoint cannot be used: it belongs to another
    /// statement, or the statement already ran to the end.
    #[error("{0}")]
    Checkpoint(String),

    /// A host-side failure (I/O, the engine) with context.
    #[error(transparent)]
    Host(#[from] anyhow::Error),
}

impl Error {
    /// Names `table` in a component's error (guest errors, traps and
    /// limits, invalid batches); other errors already say where they are.
    pub fn in_table(self, table: &str) -> Error {
        match self {
            Error::Guest { .. }
            | Error::Trap { .. }
            | Error::InvalidBatch { .. }
            | Error::Grant { .. }
            | Error::Record { .. } => Error::InTable { table: table.to_owned(), error: Box::new(self) },
            other => other,
        }
    }
}

impl Error {
    /// Says where in the job file the error's statement is (nothing when
    /// the place is unknown, line 0, or already said).
    pub fn at(self, line: u64, column: u64) -> Error {
        match self {
            Error::At { .. } => self,
            e if line == 0 => e,
            e => Error::At { line, column, error: Box::new(e) },
        }
    }

    /// A format's error with its option keys as users write them, under
    /// the format's prefix (`csv.field-delimiter`).
    pub fn with_option_prefix(self, prefix: &str) -> Error {
        match self {
            Error::Guest { component, error: GuestError::Config { key: Some(key), message } }
                if !key.starts_with(&format!("{prefix}.")) =>
            {
                let key = Some(format!("{prefix}.{key}"));
                Error::Guest { component, error: GuestError::Config { key, message } }
            }
            e => e,
        }
    }

    /// The error without its place in the job file.
    pub fn without_place(&self) -> &Error {
        match self {
            Error::At { error, .. } => error,
            e => e,
        }
    }
}

impl Error {
    /// The error for a failed write to the job's output: a closed pipe is
    /// [`Error::OutputClosed`], anything else a host error.
    pub fn output(e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::BrokenPipe { Error::OutputClosed } else { Error::Host(e.into()) }
    }
}

impl From<OptionsError> for Error {
    fn from(e: OptionsError) -> Self {
        Error::Options(Box::new(e))
    }
}

fn stderr_tail(stderr: &str) -> String {
    let s = stderr.trim();
    // The component's own words (file names in a panic are its source
    // files, not Weir's), marked as such.
    if s.is_empty() { String::new() } else { format!("; the component wrote to stderr: [{s}]") }
}

/// Result alias of the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;
