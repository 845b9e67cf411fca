//! The job lifetime: a parsed [`sql::Job`] resolved against the catalog
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
//! barriers (see [`crate::checkpoint`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, ArrayRef, BooleanArray, Scalar};
use arrow_schema::{DataType, TimeUnit};
use wasmtime::component::ResourceAny;

use crate::batch::{self, ChangelogBatch};
use crate::bindings::v0_1_0::exports::weir::connector::{sink as wsink, source as wsource};
use crate::catalog::{Entry, Role};
use crate::checkpoint;
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::options::{self, Target};
use crate::policy::{self, Grants, Need};
use crate::spec::CapabilityKind;
use crate::sql::{self, CompareOp, Literal, Statement};
use crate::types::{RawRecords, VarData};
use crate::{Runtime, display};

/// Rows asked of a reader per call.
const READ_BATCH: u32 = 4096;

/// A table resolved against the catalog for one role.
pub struct Resolved {
    /// The table.
    pub table: sql::Table,
    /// Source or sink.
    pub role: Role,
    /// The connector component.
    pub connector: Entry,
    /// Connector options after validation (defaults filled in).
    pub options: Vec<(String, String)>,
    /// The format component and its options (without prefix), when the
    /// connector exchanges raw records.
    pub format: Option<(Entry, Vec<(String, String)>)>,
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
    fn identity(&self) -> String {
        let format = self.format.as_ref().map(|(f, _)| (format!("{}.", f.spec.identifier), &f.spec));
        let secret = |key: &str| {
            self.connector.spec.option(key).is_some_and(|o| o.secret)
                || format.as_ref().is_some_and(|(prefix, spec)| {
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

    fn authorize(&self, role: &str, identifier: &str, needs: &[Need], operator: &Grants) -> Result<Grants> {
        policy::authorize(needs, operator).map_err(|missing| {
            let list: Vec<String> = missing.iter().map(|n| format!("{n} (grant with {})", n.flag())).collect();
            Error::Host(anyhow::anyhow!(
                "table '{}': {role} '{identifier}' needs {} that the operator did not grant: {}",
                self.table.name,
                if missing.len() == 1 { "a capability" } else { "capabilities" },
                list.join("; ")
            ))
        })
    }
}

/// Resolves `table` for `role`: finds the connector, validates its options
/// (Flink semantics: unknown keys rejected with the valid ones, defaults
/// filled in), resolves and validates the format.
pub fn resolve(runtime: &Runtime, table: &sql::Table, role: Role) -> Result<Resolved> {
    let mut given = table.options.clone();
    let identifier = table.option("connector").ok_or_else(|| {
        Error::Host(anyhow::anyhow!(
            "table '{}' has no 'connector' option; add 'connector' = '…' to its WITH",
            table.name
        ))
    })?;
    let connector = runtime.catalog().find(identifier, role)?;
    if let Some(m) = table.metadata.first() {
        let column = &table.schema.fields[m.column].name;
        let able = role == Role::Source && connector.spec.source_abilities.contains(&"reading-metadata");
        let why = if role == Role::Sink {
            "writing metadata is not supported yet"
        } else {
            "the connector does not declare the reading-metadata ability"
        };
        if !able || !connector.spec.needs_format {
            return Err(Error::Host(anyhow::anyhow!(
                "table '{}': column '{column}' is METADATA FROM '{}' but {why}; remove the column",
                table.name,
                m.key
            )));
        }
    }
    let format = match table.option("format") {
        Some(name) if connector.spec.needs_format => {
            let entry = runtime.catalog().find(name, Role::Format)?;
            let format_options = options::take_prefixed(&mut given, name);
            let target = Target { table: &table.name, role: "format", prefix: Some(name) };
            Some((entry.clone(), options::validate(target, &entry.spec, &format_options)?))
        }
        _ => None,
    };
    if connector.spec.needs_format && format.is_none() {
        return Err(Error::Host(anyhow::anyhow!(
            "table '{}': connector '{identifier}' reads and writes raw records and needs a 'format' option (e.g. 'format' = 'csv')",
            table.name
        )));
    }
    // `connector` (and `format`, resolved above) choose components; they
    // are not options of the connector itself.
    given.retain(|(k, _)| k != "connector" && !(k == "format" && format.is_some()));
    // `scan.parallelism` / `sink.parallelism` are the runner's (Flink's
    // framework options); a connector that declares one sees it too.
    for key in ["scan.parallelism", "sink.parallelism"] {
        if let Some((_, v)) = table.options.iter().find(|(k, _)| k == key) {
            if !v.trim().parse::<u32>().is_ok_and(|n| (1..=64).contains(&n)) {
                return Err(Error::Host(anyhow::anyhow!("table '{}': '{key}' = '{v}': expected 1 to 64", table.name)));
            }
            if connector.spec.option(key).is_none() {
                given.retain(|(k, _)| k != key);
            }
        }
    }
    let target = Target { table: &table.name, role: "connector", prefix: None };
    let mut options = options::validate(target, &connector.spec, &given)?;
    let base = std::env::current_dir().unwrap_or_default();
    absolute_paths(&connector.spec, &mut options, &base);
    let mut format = format;
    let format_needs = match &mut format {
        Some((entry, options)) => {
            absolute_paths(&entry.spec, options, &base);
            policy::needs(&entry.spec.capabilities, options, &base)
        }
        None => Vec::new(),
    };
    // A component that is both source and sink declares both sides' needs;
    // a table used as a source gets no write access and a sink no read.
    let needs = policy::needs(&connector.spec.capabilities, &options, &base)
        .into_iter()
        .filter(|n| {
            connector.kind != crate::spec::Kind::Connector
                || !matches!((role, n.kind), (Role::Source, CapabilityKind::Write) | (Role::Sink, CapabilityKind::Read))
        })
        .collect();
    Ok(Resolved { table: table.clone(), role, connector: connector.clone(), options, format, needs, format_needs })
}

/// Paths a component reads or writes are made absolute (the guest sees
/// granted directories at their absolute host paths).
fn absolute_paths(spec: &crate::spec::Spec, options: &mut [(String, String)], base: &std::path::Path) {
    for capability in &spec.capabilities {
        if matches!(capability.kind, CapabilityKind::Read | CapabilityKind::Write)
            && let Some(key) = capability.target.strip_prefix('{').and_then(|t| t.strip_suffix('}'))
            && let Some((_, value)) = options.iter_mut().find(|(k, _)| k == key)
        {
            *value = policy::absolute(base, value).display().to_string();
        }
    }
}

/// Every table a statement touches, with the role it plays.
pub fn tables_of(statement: &Statement) -> Vec<(&str, Role)> {
    match statement {
        Statement::Insert { sink, query } => vec![(query.source.as_str(), Role::Source), (sink.as_str(), Role::Sink)],
        Statement::Select(query) => vec![(query.source.as_str(), Role::Source)],
        Statement::Explain(inner) => tables_of(inner),
    }
}

/// How a job runs: where checkpoints go and how often they are taken
/// (Flink's `execution.checkpointing.dir` / `.interval`).
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Checkpoint directory; `None` keeps no checkpoints (a restart starts
    /// over).
    pub checkpoint_dir: Option<std::path::PathBuf>,
    /// Time between checkpoints; `None`: only the final one.
    pub checkpoint_interval: Option<Duration>,
    /// Show a live progress line on standard error (a terminal).
    pub progress: bool,
    /// Set (by Ctrl-C) to stop: an `INSERT` takes a last checkpoint and
    /// returns [`Stopped`](crate::Error) so that the next run resumes.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Flink's `restart-strategy`: after a component fails (a trap, a limit,
    /// a connection error), run the `INSERT` again from its last checkpoint
    /// up to `attempts` times, `delay` apart. `None`: fail at once.
    pub restart: Option<Restart>,
}

/// `restart-strategy = fixed-delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    /// `restart-strategy.fixed-delay.attempts`.
    pub attempts: u32,
    /// `restart-strategy.fixed-delay.delay`.
    pub delay: Duration,
}

impl RunConfig {
    /// The job's `SET` settings over `defaults` (the CLI derives the default
    /// directory from the job file).
    pub fn from_settings(job: &sql::Job, defaults: RunConfig) -> Result<RunConfig> {
        let mut config = defaults;
        if let Some(dir) = job.setting("execution.checkpointing.dir") {
            config.checkpoint_dir = Some(dir.trim_start_matches("file://").into());
        }
        if let Some(interval) = job.setting("execution.checkpointing.interval") {
            let d = options::parse_duration(interval).ok_or_else(|| {
                Error::Host(anyhow::anyhow!(
                    "SET 'execution.checkpointing.interval' = '{interval}': expected a duration such as '10 s'"
                ))
            })?;
            config.checkpoint_interval = (!d.is_zero()).then_some(d);
        }
        let bad = |key: &str, value: &str, expected: &str| {
            Error::Host(anyhow::anyhow!("SET '{key}' = '{value}': expected {expected}"))
        };
        let strategy = job.setting("restart-strategy.type").or_else(|| job.setting("restart-strategy"));
        match strategy.map(str::to_ascii_lowercase).as_deref() {
            None => {}
            Some("none" | "disable" | "off") => config.restart = None,
            Some("fixed-delay" | "fixeddelay") => {
                let attempts = match job.setting("restart-strategy.fixed-delay.attempts") {
                    Some(v) => {
                        v.trim().parse().map_err(|_| bad("restart-strategy.fixed-delay.attempts", v, "a number"))?
                    }
                    None => 1,
                };
                let delay = match job.setting("restart-strategy.fixed-delay.delay") {
                    Some(v) => options::parse_duration(v)
                        .ok_or_else(|| bad("restart-strategy.fixed-delay.delay", v, "a duration such as '1 s'"))?,
                    None => Duration::from_secs(1),
                };
                config.restart = Some(Restart { attempts, delay });
            }
            Some(other) => return Err(bad("restart-strategy", other, "'none' or 'fixed-delay'")),
        }
        Ok(config)
    }
}

/// Whether a restart may help: a component failed at run time (not a
/// mistake in the job, a missing grant or a stop).
fn retryable(e: &Error) -> bool {
    match e {
        Error::InTable { error, .. } => retryable(error),
        Error::Trap { .. } | Error::InvalidBatch { .. } => true,
        Error::Guest { error, .. } => {
            matches!(error, crate::GuestError::Connection(_) | crate::GuestError::Transient(_))
        }
        _ => false,
    }
}

/// Runs every statement of `job` with what the `operator` granted,
/// writing rows of bare `SELECT`s and `EXPLAIN` output to `out`. Every
/// table's needs are checked before anything starts.
pub async fn run(
    runtime: &Runtime,
    job: &sql::Job,
    operator: &Grants,
    config: &RunConfig,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    for statement in &job.statements {
        for (name, role) in tables_of(statement) {
            let table = job.table(name).expect("the SQL front end resolved every table");
            resolve(runtime, table, role)?.grants(operator)?;
        }
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

async fn run_statement(
    runtime: &Runtime,
    job: &sql::Job,
    statement: &Statement,
    operator: &Grants,
    config: &RunConfig,
    store: Option<checkpoint::Store>,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let table = |name: &str| job.table(name).expect("the SQL front end resolved every table");
    match statement {
        Statement::Explain(inner) => explain(runtime, job, inner, operator, out).await,
        Statement::Select(query) => {
            let source = Arc::new(resolve(runtime, table(&query.source), Role::Source)?);
            let table_name = source.table.name.clone();
            let mut scan =
                Scan::open(source, query.clone(), operator, None, None).await.map_err(|e| e.in_table(&table_name))?;
            loop {
                match scan.next().await.map_err(|e| e.in_table(&table_name))? {
                    Step::Rows(rows) => {
                        // Streamed in bounded chunks, flushed: rows of an
                        // unbounded scan show as they come, also in a pipe.
                        display::print_rows(&rows, out).map_err(|e| Error::Host(e.into()))?;
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
            let sink = Arc::new(resolve(runtime, table(sink), Role::Sink)?);
            insert(source, sink, query, operator, config, store).await
        }
    }
}

async fn explain(
    runtime: &Runtime,
    job: &sql::Job,
    statement: &Statement,
    operator: &Grants,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let io = |e: std::io::Error| Error::Host(e.into());
    for (name, role) in tables_of(statement) {
        let table = job.table(name).expect("resolved");
        let r = resolve(runtime, table, role)?;
        let role_name = if role == Role::Source { "source" } else { "sink" };
        writeln!(out, "{role_name} {}: connector '{}'", table.name, r.connector.spec.identifier).map_err(io)?;
        if let Some((format, _)) = &r.format {
            writeln!(out, "  format: {}", format.spec.identifier).map_err(io)?;
        }
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

/// What the reading task hands the writing side, in order.
enum Msg {
    /// Rows, and the raw bytes read for them.
    Rows(ChangelogBatch, u64),
    /// Checkpoint barrier: every row before it is in the channel; the
    /// split states are those right after those rows.
    Barrier(u64, BTreeMap<String, checkpoint::SplitState>),
    /// The scan ended; final split states.
    End(BTreeMap<String, checkpoint::SplitState>),
    /// The scan failed.
    Failed(Error),
}

/// Batches in flight between the reading and the writing side: enough to
/// keep both busy, few enough to bound memory (backpressure).
const IN_FLIGHT: usize = 4;

/// `INSERT INTO sink SELECT … FROM source`: the source and its decoder run
/// on their own task, the encoder and sink on this one, joined by a bounded
/// channel. Checkpoints are barriers (as in Flink): the writer asks, the
/// reader puts its split states into the stream after the rows they cover,
/// and the writer — having written exactly those rows — prepares the sink's
/// commit, saves the checkpoint atomically and commits. A restart restores
/// the last completed checkpoint.
async fn insert(
    source: Arc<Resolved>,
    sink: Arc<Resolved>,
    query: &sql::Query,
    operator: &Grants,
    config: &RunConfig,
    store: Option<checkpoint::Store>,
) -> Result<()> {
    // The statement's identity: a checkpoint of any other statement (another
    // job in the same directory, or this one edited) is never restored.
    let identity = checkpoint::fingerprint(&[
        &source.identity(),
        &sink.identity(),
        &format!("{:?}|{:?}|{:?}", query.columns, query.filters, query.limit),
    ]);
    let store = store.map(|s| s.for_job(identity.clone()));
    let restored = match &store {
        Some(store) => store.load().map_err(Error::Host)?,
        None => None,
    };
    let dir = || store.as_ref().map_or_else(String::new, |s| s.dir().display().to_string());
    if let Some(c) = &restored {
        if !c.job.is_empty() && c.job != identity {
            return Err(Error::Checkpoint(format!(
                "INSERT INTO {}: the checkpoint in {} belongs to another statement (a different job using the same \
                 checkpoint directory, or this job after an edit); run with --fresh to discard it and start from the \
                 beginning, or give this job its own directory with SET 'execution.checkpointing.dir' = '…'",
                sink.table.name,
                dir()
            )));
        }
        // Like a job resubmitted to Flink without a savepoint this would
        // start over, sending the sink every row again: never silently.
        if c.finished {
            return Err(Error::Checkpoint(format!(
                "INSERT INTO {} already ran to the end ({} rows committed; checkpoint {} in {}); run with --fresh to \
                 run it again from the start (the sink then receives every row again)",
                sink.table.name,
                c.rows,
                c.id,
                dir()
            )));
        }
    }
    // Commit again what the last checkpoint staged — a crash may have come
    // between writing the checkpoint and committing (commits are
    // idempotent) — before a writer opens and discards uncommitted data.
    let recommit = match &restored {
        Some(c) => c
            .committables
            .iter()
            .map(|h| {
                checkpoint::unhex(h)
                    .ok_or_else(|| Error::Host(anyhow::anyhow!("a committable in checkpoint {} is damaged", c.id)))
            })
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    let mut writer = Writers::open(sink.clone(), operator, restored.as_ref().map_or(0, |c| c.id), &recommit)
        .await
        .map_err(|e| e.in_table(&sink.table.name))?;
    // `scan.parallelism` readers, each its own source and decoder instance,
    // each reading every n-th split of one plan (one reader with a LIMIT,
    // which spans all splits).
    let first = Scan::open(source.clone(), query.clone(), operator, restored.as_ref(), None)
        .await
        .map_err(|e| e.in_table(&source.table.name))?;
    let readers = if query.limit.is_some() { 1 } else { source.scan_parallelism().min(first.plan.splits.len().max(1)) };
    let plan = first.plan.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel(IN_FLIGHT * readers);
    let (done, _) = tokio::sync::watch::channel(0u64);
    let mut asks = Vec::new();
    let mut tasks = Vec::new();
    let mut scans = vec![first];
    for part in 1..readers {
        let scan = Scan::open(source.clone(), query.clone(), operator, restored.as_ref(), Some(plan.clone()))
            .await
            .map_err(|e| e.in_table(&source.table.name))?;
        scans.push(scan);
        let _ = part;
    }
    for (part, mut scan) in scans.into_iter().enumerate() {
        scan.keep_part(part, readers);
        let (ask, asked) = tokio::sync::mpsc::unbounded_channel();
        asks.push(ask);
        tasks.push(tokio::spawn(read_into(scan, tx.clone(), asked, done.subscribe())));
    }
    drop(tx);
    let result =
        write_from(&mut rx, &mut writer, &asks, &done, source.table.name.clone(), &sink, config, store, restored).await;
    // Reading failures arrive named already; the rest is the sink's.
    let result = result.map_err(|e| e.in_table(&sink.table.name));
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    result?;
    writer.close().await.map_err(|e| e.in_table(&sink.table.name))
}

/// A reading task: rows into `tx`, a barrier whenever one is asked for —
/// after which it waits until the checkpoint is complete, so that no row
/// it reads later can slip in front of another reader's barrier (aligned
/// checkpoints).
async fn read_into(
    mut scan: Scan,
    tx: tokio::sync::mpsc::Sender<Msg>,
    mut asked: tokio::sync::mpsc::UnboundedReceiver<u64>,
    mut done: tokio::sync::watch::Receiver<u64>,
) {
    loop {
        while let Ok(id) = asked.try_recv() {
            let msg = match scan.checkpoint().await {
                Ok(splits) => Msg::Barrier(id, splits),
                Err(e) => Msg::Failed(e),
            };
            if tx.send(msg).await.is_err() || done.wait_for(|&completed| completed >= id).await.is_err() {
                return;
            }
        }
        let table = scan.source.table.name.clone();
        let msg = match scan.next().await.map_err(|e| e.in_table(&table)) {
            Ok(Step::Rows(rows)) => Msg::Rows(rows, scan.take_bytes()),
            Ok(Step::Idle) => continue,
            Ok(Step::End) => match scan.checkpoint().await {
                Ok(splits) => Msg::End(splits),
                Err(e) => Msg::Failed(e),
            },
            Err(e) => Msg::Failed(e),
        };
        let last = !matches!(msg, Msg::Rows(..));
        if tx.send(msg).await.is_err() || last {
            return;
        }
    }
}

/// The writing side: rows to the sink; a checkpoint once every reader
/// still running has delivered its barrier (readers that ended contribute
/// their final states).
#[allow(clippy::too_many_arguments)]
async fn write_from(
    rx: &mut tokio::sync::mpsc::Receiver<Msg>,
    writer: &mut Writers,
    asks: &[tokio::sync::mpsc::UnboundedSender<u64>],
    done: &tokio::sync::watch::Sender<u64>,
    source_name: String,
    sink: &Resolved,
    config: &RunConfig,
    store: Option<checkpoint::Store>,
    restored: Option<checkpoint::Checkpoint>,
) -> Result<()> {
    let mut next_id = restored.as_ref().map_or(1, |c| c.id + 1);
    let mut rows_written = restored.as_ref().map_or(0, |c| c.rows);
    let mut last = Instant::now();
    // The checkpoint being collected: its id, barriers so far, their states.
    let mut pending: Option<(u64, usize, BTreeMap<String, checkpoint::SplitState>)> = None;
    let mut ended: BTreeMap<String, checkpoint::SplitState> = BTreeMap::new();
    let mut live = asks.len();
    let mut stop_at: Option<u64> = None;
    let mut progress = Progress::new(&format!("{source_name} → {}", sink.table.name), config.progress);
    loop {
        // Wake up now and then even when no rows come (a quiet stream), so
        // checkpoints and a stop still happen.
        let msg = tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => Some(msg),
                None => {
                    return Err(Error::Host(anyhow::anyhow!("the reading tasks of '{source_name}' ended unexpectedly")));
                }
            },
            () = tokio::time::sleep(Duration::from_millis(100)) => None,
        };
        let stopping = config.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
        let due = config.checkpoint_interval.is_some_and(|i| last.elapsed() >= i);
        if pending.is_none() && (due || (stopping && stop_at.is_none())) {
            if stopping {
                stop_at = Some(next_id);
            }
            for ask in asks {
                let _ = ask.send(next_id);
            }
            pending = Some((next_id, 0, BTreeMap::new()));
            next_id += 1;
        }
        let Some(msg) = msg else { continue };
        match msg {
            Msg::Rows(rows, bytes) => {
                rows_written += rows.rows.num_rows() as u64;
                progress.add(rows.rows.num_rows() as u64, bytes);
                writer.write(rows).await?;
            }
            Msg::Barrier(id, splits) => {
                if let Some((_, barriers, states)) = pending.as_mut().filter(|(p, ..)| *p == id) {
                    *barriers += 1;
                    states.extend(splits);
                }
            }
            Msg::End(splits) => {
                ended.extend(splits);
                live -= 1;
                if live == 0 {
                    take_checkpoint(writer, store.as_ref(), next_id, ended, rows_written, true).await?;
                    progress.finish();
                    return Ok(());
                }
            }
            Msg::Failed(e) => return Err(e),
        }
        // Complete the pending checkpoint once every live reader answered.
        if let Some((id, barriers, _)) = &pending
            && *barriers >= live
        {
            let id = *id;
            let (_, _, mut states) = pending.take().expect("checked above");
            states.extend(ended.clone());
            take_checkpoint(writer, store.as_ref(), id, states, rows_written, false).await?;
            done.send_replace(id);
            last = Instant::now();
            if stop_at == Some(id) {
                progress.finish();
                return Err(Error::Stopped {
                    checkpoint: id,
                    resume: store.map_or_else(
                        || "no checkpoint directory: the next run starts over".to_owned(),
                        |s| format!("run the job again to resume from {}", s.dir().display()),
                    ),
                });
            }
        }
    }
}

/// Prepares the sink's commit, saves the checkpoint atomically, commits.
async fn take_checkpoint(
    writer: &mut Writers,
    store: Option<&checkpoint::Store>,
    id: u64,
    splits: BTreeMap<String, checkpoint::SplitState>,
    rows: u64,
    finished: bool,
) -> Result<()> {
    let committables = writer.prepare(id).await?;
    if let Some(store) = store {
        let c = checkpoint::Checkpoint {
            job: store.job().to_owned(),
            id,
            splits,
            committables: committables.iter().map(|c| checkpoint::hex(c)).collect(),
            rows,
            finished,
        };
        store.save(&c).map_err(Error::Host)?;
    }
    writer.commit(&committables).await?;
    tracing::debug!("checkpoint {id} complete ({rows} rows)");
    Ok(())
}

/// Split readers open at once in a scan: enough to interleave streams,
/// few enough that a scan of thousands of files stays within the source
/// instance's memory and handle limits.
const OPEN_READERS: usize = 4;

/// What one [`Scan::next`] call gave.
enum Step {
    /// Rows of the query.
    Rows(ChangelogBatch),
    /// Nothing for a moment (unbounded sources): a chance to checkpoint or stop.
    Idle,
    /// Every split is done (or the limit reached).
    End,
}

/// Where one split of a scan stands.
enum Slot {
    /// Not opened yet; resumes from this state when there is one.
    Pending(Option<Vec<u8>>),
    /// Being read.
    Open(ResourceAny),
    /// Read to the end.
    Done,
    /// Read by another reader of the same scan.
    Elsewhere,
}

/// A running scan of one source table for one query.
struct Scan {
    /// The table's columns without its partition columns.
    decode_schema: crate::types::Schema,
    source: Arc<Resolved>,
    query: sql::Query,
    request: wsource::ScanRequest,
    instance: Instance,
    decoder: Option<(Instance, ResourceAny)>,
    plan: wsource::ScanPlan,
    /// One slot per split of the plan.
    slots: Vec<Slot>,
    turn: usize,
    remaining: Option<u64>,
    /// Raw bytes read since [`Scan::take_bytes`] was last called.
    bytes: u64,
}

impl Scan {
    async fn open(
        source: Arc<Resolved>,
        query: sql::Query,
        operator: &Grants,
        restore: Option<&checkpoint::Checkpoint>,
        plan: Option<wsource::ScanPlan>,
    ) -> Result<Scan> {
        let table = &source.table;
        let request = wsource::ScanRequest {
            projection: None,
            // Offered to the source; it says which it applies (the rest the
            // runner applies to the rows).
            filters: query.filters.iter().map(predicate).collect(),
            limit: query.limit,
            partitions: None,
            metadata_keys: table.metadata.iter().map(|m| m.key.clone()).collect(),
        };
        let grants = source.grants(operator)?;
        let mut instance = source.connector.loaded.instantiate(&source.connector.spec.identifier, &grants).await?;
        instance.validate(&source.options, &table.schema).await?;
        let plan = match plan {
            Some(plan) => plan,
            None => instance.plan(&source.options, &table.schema, &request).await?,
        };
        let mut slots = Vec::with_capacity(plan.splits.len());
        for split in &plan.splits {
            slots.push(match restore.and_then(|c| c.splits.get(&split.id)) {
                Some(checkpoint::SplitState::Finished) => Slot::Done,
                Some(checkpoint::SplitState::Reading(h)) => {
                    Slot::Pending(Some(checkpoint::unhex(h).ok_or_else(|| {
                        Error::Host(anyhow::anyhow!("the checkpoint state of split '{}' is damaged", split.id))
                    })?))
                }
                None => Slot::Pending(None),
            });
        }
        // The format decodes the columns in the records; partition columns
        // come from the path (the connector's per-record metadata).
        let decode_schema = without_partitions(table);
        let decoder = match &source.format {
            Some((entry, options)) => {
                let grants = source.format_grants(operator)?;
                let mut d = entry.loaded.instantiate(&entry.spec.identifier, &grants).await?;
                d.validate(options, &decode_schema).await?;
                let handle = d.open_decoder(options, &decode_schema).await?;
                Some((d, handle))
            }
            None => None,
        };
        let remaining = query.limit;
        Ok(Scan { decode_schema, source, query, request, instance, decoder, plan, slots, turn: 0, remaining, bytes: 0 })
    }

    /// Keeps every `parts`-th split starting at `part`; the others are read
    /// by the other readers of the scan.
    fn keep_part(&mut self, part: usize, parts: usize) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if i % parts != part {
                *slot = Slot::Elsewhere;
            }
        }
    }

    /// Raw bytes read since the last call.
    fn take_bytes(&mut self) -> u64 {
        std::mem::take(&mut self.bytes)
    }

    /// Opens pending splits (resumed ones first) up to [`OPEN_READERS`].
    async fn open_readers(&mut self) -> Result<()> {
        let table = &self.source.table;
        loop {
            if self.slots.iter().filter(|s| matches!(s, Slot::Open(_))).count() >= OPEN_READERS {
                return Ok(());
            }
            let next = self
                .slots
                .iter()
                .position(|s| matches!(s, Slot::Pending(Some(_))))
                .or_else(|| self.slots.iter().position(|s| matches!(s, Slot::Pending(None))));
            let Some(i) = next else { return Ok(()) };
            let Slot::Pending(state) = std::mem::replace(&mut self.slots[i], Slot::Done) else { unreachable!() };
            let split = &self.plan.splits[i];
            let reader = self
                .instance
                .open_reader(&self.source.options, &table.schema, &self.request, split, state.as_deref())
                .await?;
            self.slots[i] = Slot::Open(reader);
        }
    }

    /// Every split's state after the rows returned so far (splits not
    /// started yet are left out: they start from the beginning).
    async fn checkpoint(&mut self) -> Result<BTreeMap<String, checkpoint::SplitState>> {
        let mut states = BTreeMap::new();
        for (split, slot) in self.plan.splits.iter().zip(&self.slots) {
            let state = match slot {
                Slot::Open(reader) => {
                    checkpoint::SplitState::Reading(checkpoint::hex(&self.instance.checkpoint_reader(*reader).await?))
                }
                Slot::Pending(Some(state)) => checkpoint::SplitState::Reading(checkpoint::hex(state)),
                Slot::Pending(None) | Slot::Elsewhere => continue,
                Slot::Done => checkpoint::SplitState::Finished,
            };
            states.insert(split.id.clone(), state);
        }
        Ok(states)
    }

    /// The next non-empty batch of query rows, [`Step::Idle`] when every
    /// open split had nothing, or [`Step::End`].
    async fn next(&mut self) -> Result<Step> {
        let source = self.source.clone();
        let schema = &source.table.schema;
        let mut idle_turns = 0;
        loop {
            self.open_readers().await?;
            let open: Vec<usize> =
                self.slots.iter().enumerate().filter(|(_, s)| matches!(s, Slot::Open(_))).map(|(i, _)| i).collect();
            if self.remaining == Some(0) || open.is_empty() {
                return Ok(Step::End);
            }
            self.turn = (self.turn + 1) % open.len();
            let i = open[self.turn];
            let Slot::Open(reader) = self.slots[i] else { unreachable!() };
            let batch = match self.instance.next(reader, READ_BATCH).await? {
                wsource::ReadResult::Rows(rows) => rows,
                wsource::ReadResult::Records(RawRecords { values, metadata, .. }) => {
                    self.bytes += values.data.len() as u64;
                    let decoded = self.decode(&values).await?;
                    let rows = with_partitions(&source.table, decoded, &metadata)?;
                    let rows = self.apply(rows)?;
                    if rows.rows.num_rows() > 0 {
                        return Ok(Step::Rows(rows));
                    }
                    continue;
                }
                wsource::ReadResult::WouldBlock => {
                    // Nothing ready: pause once every open split had its turn.
                    idle_turns += 1;
                    if idle_turns >= open.len() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        return Ok(Step::Idle);
                    }
                    continue;
                }
                wsource::ReadResult::EndOfSplit => {
                    self.slots[i] = Slot::Done;
                    self.instance.drop_resource(reader).await?;
                    continue;
                }
            };
            idle_turns = 0;
            let rows = batch::to_arrow(self.instance.name(), schema, batch)?;
            let rows = self.apply(rows)?;
            if rows.rows.num_rows() > 0 {
                return Ok(Step::Rows(rows));
            }
        }
    }

    /// Decodes records with the format; the batch is checked as the
    /// format's (an invalid one names the format, not the connector).
    async fn decode(&mut self, values: &VarData) -> Result<ChangelogBatch> {
        let (decoder, handle) = self.decoder.as_mut().expect("raw records only come from connectors with a format");
        let decoded = decoder.decode(*handle, values).await?;
        batch::to_arrow(decoder.name(), &self.decode_schema, decoded)
    }

    /// Filters, projection and limit the source did not take.
    fn apply(&mut self, rows: ChangelogBatch) -> Result<ChangelogBatch> {
        let ChangelogBatch { rows, row_kinds } = rows;
        let accepted = &self.plan.accepted;
        let mut keep: Option<Vec<bool>> = None;
        for (i, filter) in self.query.filters.iter().enumerate() {
            if accepted.filters.contains(&(i as u32)) {
                continue;
            }
            let mask = evaluate(rows.column(filter.column), filter).map_err(|m| {
                Error::Host(anyhow::anyhow!(
                    "table '{}': WHERE on column {}: {m}",
                    self.source.table.name,
                    filter.column
                ))
            })?;
            let keep = keep.get_or_insert_with(|| vec![true; rows.num_rows()]);
            for (k, m) in keep.iter_mut().zip(mask.iter()) {
                *k &= m == Some(true);
            }
        }
        let (mut rows, mut row_kinds) = match keep {
            Some(keep) => {
                let mask = BooleanArray::from(keep.clone());
                let filtered = arrow_select::filter::filter_record_batch(&rows, &mask)
                    .map_err(|e| Error::Host(anyhow::anyhow!("filter: {e}")))?;
                let kinds = if row_kinds.is_empty() {
                    row_kinds
                } else {
                    row_kinds.iter().zip(&keep).filter(|(_, k)| **k).map(|(b, _)| *b).collect()
                };
                (filtered, kinds)
            }
            None => (rows, row_kinds),
        };
        if !accepted.projection {
            rows = rows.project(&self.query.columns).map_err(|e| Error::Host(anyhow::anyhow!("projection: {e}")))?;
        }
        if let Some(remaining) = self.remaining.as_mut() {
            let n = (*remaining).min(rows.num_rows() as u64) as usize;
            rows = rows.slice(0, n);
            row_kinds.truncate(n);
            *remaining -= n as u64;
        }
        Ok(ChangelogBatch { rows, row_kinds })
    }
}

/// `column op literal` over an Arrow column; null where SQL gives unknown.
fn evaluate(column: &ArrayRef, filter: &sql::Filter) -> std::result::Result<BooleanArray, String> {
    use arrow_ord::cmp;
    match filter.op {
        CompareOp::IsNull => return Ok((0..column.len()).map(|i| Some(column.is_null(i))).collect()),
        CompareOp::IsNotNull => return Ok((0..column.len()).map(|i| Some(column.is_valid(i))).collect()),
        _ => {}
    }
    if filter.value == Literal::Null {
        return Ok(BooleanArray::new_null(column.len()));
    }
    let scalar = scalar(column.data_type(), &filter.value)?;
    let result = match filter.op {
        CompareOp::Eq => cmp::eq(column, &scalar),
        CompareOp::NotEq => cmp::neq(column, &scalar),
        CompareOp::Lt => cmp::lt(column, &scalar),
        CompareOp::LtEq => cmp::lt_eq(column, &scalar),
        CompareOp::Gt => cmp::gt(column, &scalar),
        CompareOp::GtEq => cmp::gt_eq(column, &scalar),
        CompareOp::IsNull | CompareOp::IsNotNull => unreachable!("handled above"),
    };
    result.map_err(|e| e.to_string())
}

/// The literal as a one-value array of the column's type.
fn scalar(ty: &DataType, value: &Literal) -> std::result::Result<Scalar<ArrayRef>, String> {
    use arrow_array::*;
    let bad = || format!("cannot compare a {ty} column with {value:?}");
    let int = || match value {
        Literal::Integer(i) => Ok(*i),
        _ => Err(bad()),
    };
    let float = || match value {
        Literal::Integer(i) => Ok(*i as f64),
        Literal::Double(d) => Ok(*d),
        _ => Err(bad()),
    };
    let text = || match value {
        Literal::Text(t) => Ok(t.as_str()),
        _ => Err(bad()),
    };
    let array: ArrayRef = match ty {
        DataType::Boolean => match value {
            Literal::Boolean(b) => Arc::new(BooleanArray::from(vec![*b])),
            _ => return Err(bad()),
        },
        DataType::Int8 => Arc::new(Int8Array::from(vec![i8::try_from(int()?).map_err(|_| bad())?])),
        DataType::Int16 => Arc::new(Int16Array::from(vec![i16::try_from(int()?).map_err(|_| bad())?])),
        DataType::Int32 => Arc::new(Int32Array::from(vec![i32::try_from(int()?).map_err(|_| bad())?])),
        DataType::Int64 => Arc::new(Int64Array::from(vec![int()?])),
        DataType::Float32 => Arc::new(Float32Array::from(vec![float()? as f32])),
        DataType::Float64 => Arc::new(Float64Array::from(vec![float()?])),
        DataType::Utf8 => Arc::new(StringArray::from(vec![text()?])),
        DataType::Date32 => Arc::new(Date32Array::from(vec![weir_text::parse_date(text()?)?])),
        DataType::Decimal128(p, s) => {
            let literal = match value {
                Literal::Integer(i) => i.to_string(),
                Literal::Double(d) => d.to_string(),
                Literal::Text(t) => t.clone(),
                _ => return Err(bad()),
            };
            let v = weir_text::parse_decimal(&literal, *p, *s as u8)?;
            Arc::new(Decimal128Array::from(vec![v]).with_precision_and_scale(*p, *s).map_err(|e| e.to_string())?)
        }
        DataType::Timestamp(unit, zone) => {
            let p = match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond => 6,
                TimeUnit::Nanosecond => 9,
            };
            let v = weir_text::parse_timestamp(text()?, p, weir_text::TimestampStyle::Sql, zone.is_some())?;
            let a: ArrayRef = match unit {
                TimeUnit::Second => Arc::new(TimestampSecondArray::from(vec![v]).with_timezone_opt(zone.clone())),
                TimeUnit::Millisecond => {
                    Arc::new(TimestampMillisecondArray::from(vec![v]).with_timezone_opt(zone.clone()))
                }
                TimeUnit::Microsecond => {
                    Arc::new(TimestampMicrosecondArray::from(vec![v]).with_timezone_opt(zone.clone()))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(TimestampNanosecondArray::from(vec![v]).with_timezone_opt(zone.clone()))
                }
            };
            a
        }
        _ => return Err(bad()),
    };
    Ok(Scalar::new(array))
}

/// A sink writer on one instance, staging rows until `finish`.
struct Writer {
    sink: Arc<Resolved>,
    instance: Instance,
    writer: ResourceAny,
    encoder: Option<(Instance, ResourceAny)>,
}

impl Writer {
    /// Opens writer `subtask` of `parallelism` after committing `recommit`
    /// (a restored checkpoint's committables).
    async fn open(
        sink: Arc<Resolved>,
        operator: &Grants,
        restored_checkpoint: u64,
        recommit: &[Vec<u8>],
        (subtask, parallelism): (u32, u32),
    ) -> Result<Writer> {
        let table = &sink.table;
        let grants = sink.grants(operator)?;
        let mut instance = sink.connector.loaded.instantiate(&sink.connector.spec.identifier, &grants).await?;
        instance.validate(&sink.options, &table.schema).await?;
        if !recommit.is_empty() {
            instance.commit(&sink.options, recommit).await?;
        }
        let context = wsink::WriterContext {
            subtask,
            parallelism,
            overwrite: false,
            static_partition: Vec::new(),
            restored_checkpoint,
        };
        let writer = instance.open_writer(&sink.options, &table.schema, &context).await?;
        // The format encodes the columns without the partition columns,
        // whose values travel as metadata.
        let encode_schema = without_partitions(table);
        let encoder = match &sink.format {
            Some((entry, options)) => {
                let grants = sink.format_grants(operator)?;
                let mut e = entry.loaded.instantiate(&entry.spec.identifier, &grants).await?;
                e.validate(options, &encode_schema).await?;
                let handle = e.open_encoder(options, &encode_schema).await?;
                Some((e, handle))
            }
            None => None,
        };
        Ok(Writer { sink: sink.clone(), instance, writer, encoder })
    }

    async fn write(&mut self, rows: &ChangelogBatch) -> Result<()> {
        let keys = self.sink.table.partition_keys.clone();
        if keys.is_empty() {
            return self.write_part(rows, Vec::new()).await;
        }
        // One call per partition, its values as metadata columns.
        let sink = self.sink.clone();
        let fail = |m: String| Error::Host(anyhow::anyhow!("table '{}': {m}", sink.table.name));
        let mut groups: BTreeMap<Vec<Option<String>>, Vec<u32>> = BTreeMap::new();
        for r in 0..rows.rows.num_rows() {
            let values = keys
                .iter()
                .map(|&k| partition_text(rows.rows.column(k), r))
                .collect::<std::result::Result<Vec<_>, _>>();
            groups.entry(values.map_err(fail)?).or_default().push(r as u32);
        }
        let kept: Vec<usize> = (0..rows.rows.num_columns()).filter(|c| !keys.contains(c)).collect();
        for (values, indices) in groups {
            let indices = arrow_array::UInt32Array::from(indices);
            let part = arrow_select::take::take_record_batch(&rows.rows, &indices).map_err(|e| fail(e.to_string()))?;
            let part = part.project(&kept).map_err(|e| fail(e.to_string()))?;
            let row_kinds = if rows.row_kinds.is_empty() {
                Vec::new()
            } else {
                indices.values().iter().map(|&i| rows.row_kinds[i as usize]).collect()
            };
            let n = part.num_rows();
            let metadata = keys
                .iter()
                .zip(values)
                .map(|(&k, v)| (sink.table.schema.fields[k].name.clone(), constant_text(v.as_deref(), n)))
                .collect();
            self.write_part(&ChangelogBatch { rows: part, row_kinds }, metadata).await?;
        }
        Ok(())
    }

    async fn write_part(&mut self, rows: &ChangelogBatch, metadata: Vec<(String, crate::types::Column)>) -> Result<()> {
        let widened = widen(rows, &without_partitions(&self.sink.table))?;
        let batch = batch::from_arrow(widened.as_ref().unwrap_or(rows))
            .map_err(|message| Error::InvalidBatch { component: "(host)".to_owned(), message })?;
        let input = match &mut self.encoder {
            Some((encoder, handle)) => {
                let values = encoder.encode(*handle, &batch).await?;
                wsink::SinkInput::Records(RawRecords { values, keys: None, timestamps: None, metadata })
            }
            None => wsink::SinkInput::Rows(batch),
        };
        self.instance.write(self.writer, &input).await
    }

    /// Stages what was written since the last checkpoint; returns the
    /// committables that make it visible.
    async fn prepare(&mut self, id: u64) -> Result<Vec<Vec<u8>>> {
        self.instance.prepare_commit(self.writer, id).await
    }

    /// Makes staged data visible (idempotent).
    async fn commit(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        self.instance.commit(&self.sink.options, committables).await
    }

    async fn close(mut self) -> Result<()> {
        self.instance.drop_resource(self.writer).await
    }
}

/// What the coordinator asks of a writer task.
enum Cmd {
    Rows(ChangelogBatch),
    Prepare(u64, tokio::sync::oneshot::Sender<Result<Vec<Vec<u8>>>>),
    Commit(Vec<Vec<u8>>, tokio::sync::oneshot::Sender<Result<()>>),
    Close(tokio::sync::oneshot::Sender<Result<()>>),
}

/// A writer on its own task; it stops at its first error, which its
/// handle returns.
async fn run_writer(mut writer: Writer, mut commands: tokio::sync::mpsc::Receiver<Cmd>) -> Result<()> {
    while let Some(cmd) = commands.recv().await {
        match cmd {
            Cmd::Rows(rows) => writer.write(&rows).await?,
            Cmd::Prepare(id, reply) => {
                let _ = reply.send(writer.prepare(id).await);
            }
            Cmd::Commit(committables, reply) => {
                let _ = reply.send(writer.commit(&committables).await);
            }
            Cmd::Close(reply) => {
                let _ = reply.send(writer.close().await);
                return Ok(());
            }
        }
    }
    Ok(())
}

/// `sink.parallelism` writers, each its own sink and encoder instances on
/// its own task; batches go round-robin. A checkpoint prepares every
/// writer (each has written all it was sent before) and commits their
/// committables together.
struct Writers {
    tasks: Vec<(tokio::sync::mpsc::Sender<Cmd>, Option<WriterTask>)>,
    turn: usize,
}

/// A writer task's handle; it returns the writer's first error.
type WriterTask = tokio::task::JoinHandle<Result<()>>;

impl Writers {
    async fn open(sink: Arc<Resolved>, operator: &Grants, restored: u64, recommit: &[Vec<u8>]) -> Result<Writers> {
        let parallelism = sink.sink_parallelism() as u32;
        let mut tasks = Vec::new();
        for subtask in 0..parallelism {
            // The first writer commits the restored committables again
            // before any writer opens (and discards its uncommitted files).
            let recommit = if subtask == 0 { recommit } else { &[] };
            let writer = Writer::open(sink.clone(), operator, restored, recommit, (subtask, parallelism)).await?;
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            tasks.push((tx, Some(tokio::spawn(run_writer(writer, rx)))));
        }
        Ok(Writers { tasks, turn: 0 })
    }

    /// The error of writer `i`, which has stopped.
    async fn failure(&mut self, i: usize) -> Error {
        match self.tasks[i].1.take() {
            Some(handle) => match handle.await {
                Ok(Err(e)) => e,
                Ok(Ok(())) => Error::Host(anyhow::anyhow!("sink writer {i} stopped")),
                Err(e) => Error::Host(anyhow::anyhow!("sink writer {i} failed: {e}")),
            },
            None => Error::Host(anyhow::anyhow!("sink writer {i} stopped")),
        }
    }

    async fn send(&mut self, i: usize, cmd: Cmd) -> Result<()> {
        if self.tasks[i].0.send(cmd).await.is_err() {
            return Err(self.failure(i).await);
        }
        Ok(())
    }

    async fn write(&mut self, rows: ChangelogBatch) -> Result<()> {
        self.turn = (self.turn + 1) % self.tasks.len();
        self.send(self.turn, Cmd::Rows(rows)).await
    }

    async fn prepare(&mut self, id: u64) -> Result<Vec<Vec<u8>>> {
        let mut replies = Vec::new();
        for i in 0..self.tasks.len() {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.send(i, Cmd::Prepare(id, reply)).await?;
            replies.push((i, answer));
        }
        let mut committables = Vec::new();
        for (i, answer) in replies {
            match answer.await {
                Ok(result) => committables.extend(result?),
                Err(_) => return Err(self.failure(i).await),
            }
        }
        Ok(committables)
    }

    async fn commit(&mut self, committables: &[Vec<u8>]) -> Result<()> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(0, Cmd::Commit(committables.to_vec(), reply)).await?;
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(self.failure(0).await),
        }
    }

    async fn close(mut self) -> Result<()> {
        for i in 0..self.tasks.len() {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.send(i, Cmd::Close(reply)).await?;
            match answer.await {
                Ok(result) => result?,
                Err(_) => return Err(self.failure(i).await),
            }
        }
        Ok(())
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        for (_, handle) in &self.tasks {
            if let Some(handle) = handle {
                handle.abort();
            }
        }
    }
}

/// A live progress line on standard error: rows, rows/s and MB/s of raw
/// input, redrawn at most four times a second; silent when disabled (not a
/// terminal).
struct Progress {
    label: String,
    enabled: bool,
    started: Instant,
    drawn: Instant,
    rows: u64,
    bytes: u64,
}

impl Progress {
    fn new(label: &str, enabled: bool) -> Progress {
        let now = Instant::now();
        Progress { label: label.to_owned(), enabled, started: now, drawn: now, rows: 0, bytes: 0 }
    }

    fn add(&mut self, rows: u64, bytes: u64) {
        self.rows += rows;
        self.bytes += bytes;
        if self.enabled && self.drawn.elapsed() >= Duration::from_millis(250) {
            self.drawn = Instant::now();
            self.draw("");
        }
    }

    fn draw(&self, end: &str) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let mb = if self.bytes > 0 { format!(", {:.1} MB/s", self.bytes as f64 / 1e6 / secs) } else { String::new() };
        eprint!(
            "\r{}: {} rows, {:.0} rows/s{mb} ({:.1} s){end}\x1b[K",
            self.label,
            self.rows,
            self.rows as f64 / secs,
            secs
        );
    }

    fn finish(&self) {
        if self.enabled {
            self.draw("\n");
        }
    }
}

/// Adds the table's partition columns, parsed from the connector's
/// per-record metadata under each partition key, to the decoded columns.
fn with_partitions(
    table: &sql::Table,
    decoded: ChangelogBatch,
    metadata: &[(String, crate::types::Column)],
) -> Result<ChangelogBatch> {
    if table.partition_keys.is_empty() && table.metadata.is_empty() {
        return Ok(decoded);
    }
    let fail = |m: String| Error::Host(anyhow::anyhow!("table '{}': {m}", table.name));
    let n = decoded.rows.num_rows();
    let mut physical = decoded.rows.columns().iter();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(table.schema.fields.len());
    let schema = Arc::new(batch::arrow_schema(&table.schema).map_err(fail)?);
    for (i, field) in table.schema.fields.iter().enumerate() {
        // A partition column comes from the metadata under its name, a
        // METADATA column from the metadata under its key.
        let key = match table.metadata.iter().find(|m| m.column == i) {
            Some(m) => m.key.as_str(),
            None if table.partition_keys.contains(&i) => field.name.as_str(),
            None => {
                columns
                    .push(physical.next().cloned().ok_or_else(|| fail("the decoder returned too few columns".into()))?);
                continue;
            }
        };
        let (_, column) = metadata.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).ok_or_else(|| {
            if table.partition_keys.contains(&i) {
                fail(format!("partition column '{}' has no '{}=…' directory above this file", field.name, field.name))
            } else {
                fail(format!("the connector gave no metadata '{key}' for column '{}'", field.name))
            }
        })?;
        let crate::types::ColumnData::Utf8(values) = &column.data else {
            return Err(fail(format!("partition metadata '{}' is not text", field.name)));
        };
        let text = |r: usize| -> Option<&str> {
            let valid = column.validity.as_ref().is_none_or(|v| v.get(r / 8).is_some_and(|b| b >> (r % 8) & 1 == 1));
            let (start, end) = (*values.offsets.get(r)? as usize, *values.offsets.get(r + 1)? as usize);
            valid.then(|| std::str::from_utf8(values.data.get(start..end)?).ok()).flatten()
        };
        let texts: Vec<Option<&str>> = (0..n).map(text).collect();
        columns.push(
            text_array(schema.field(i).data_type(), &texts)
                .map_err(|m| fail(format!("partition '{}': {m}", field.name)))?,
        );
    }
    let rows = arrow_array::RecordBatch::try_new(schema, columns).map_err(|e| fail(e.to_string()))?;
    Ok(ChangelogBatch { rows, row_kinds: decoded.row_kinds })
}

/// Text values (partition directory names) as an Arrow array of `ty`.
fn text_array(ty: &DataType, texts: &[Option<&str>]) -> std::result::Result<ArrayRef, String> {
    use arrow_array::*;
    use weir_text as t;
    let each = |f: &dyn Fn(&str) -> std::result::Result<(), String>| texts.iter().flatten().try_for_each(|v| f(v));
    Ok(match ty {
        DataType::Utf8 => Arc::new(StringArray::from(texts.to_vec())),
        DataType::Boolean => {
            each(&|v| t::parse_bool(v).map(|_| ()))?;
            Arc::new(texts.iter().map(|v| v.and_then(|v| t::parse_bool(v).ok())).collect::<BooleanArray>())
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            each(&|v| t::parse_int::<i64>(v, "BIGINT").map(|_| ()))?;
            let values: Int64Array =
                texts.iter().map(|v| v.and_then(|v| t::parse_int::<i64>(v, "BIGINT").ok())).collect();
            arrow_cast_int(ty, values)?
        }
        DataType::Float64 => Arc::new(
            texts.iter().map(|v| v.and_then(|v| t::parse_float::<f64>(v, "DOUBLE").ok())).collect::<Float64Array>(),
        ),
        DataType::Date32 => {
            each(&|v| t::parse_date(v).map(|_| ()))?;
            Arc::new(texts.iter().map(|v| v.and_then(|v| t::parse_date(v).ok())).collect::<Date32Array>())
        }
        other => {
            return Err(format!("partition columns of type {other} are not supported yet; use STRING, INT or DATE"));
        }
    })
}

fn arrow_cast_int(ty: &DataType, values: arrow_array::Int64Array) -> std::result::Result<ArrayRef, String> {
    use arrow_array::*;
    let narrow = |name: &str| format!("a partition value does not fit {name}");
    Ok(match ty {
        DataType::Int8 => Arc::new(
            values
                .iter()
                .map(|v| v.map(i8::try_from).transpose())
                .collect::<std::result::Result<Int8Array, _>>()
                .map_err(|_| narrow("TINYINT"))?,
        ),
        DataType::Int16 => Arc::new(
            values
                .iter()
                .map(|v| v.map(i16::try_from).transpose())
                .collect::<std::result::Result<Int16Array, _>>()
                .map_err(|_| narrow("SMALLINT"))?,
        ),
        DataType::Int32 => Arc::new(
            values
                .iter()
                .map(|v| v.map(i32::try_from).transpose())
                .collect::<std::result::Result<Int32Array, _>>()
                .map_err(|_| narrow("INT"))?,
        ),
        _ => Arc::new(values),
    })
}

/// The table's schema without its partition and metadata columns: what
/// the format decodes or encodes.
fn without_partitions(table: &sql::Table) -> crate::types::Schema {
    crate::types::Schema {
        fields: table
            .schema
            .fields
            .iter()
            .enumerate()
            .filter(|(i, _)| !table.partition_keys.contains(i) && !table.metadata.iter().any(|m| m.column == *i))
            .map(|(_, f)| f.clone())
            .collect(),
        nested: table.schema.nested.clone(),
        primary_key: Vec::new(),
    }
}

/// A partition column's value in row `r` as directory text (`None`: null).
fn partition_text(column: &ArrayRef, r: usize) -> std::result::Result<Option<String>, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Int8Type, Int16Type, Int32Type, Int64Type};
    if column.is_null(r) {
        return Ok(None);
    }
    let mut text = String::new();
    match column.data_type() {
        DataType::Utf8 => text.push_str(column.as_string::<i32>().value(r)),
        DataType::Int8 => weir_text::write_int(&mut text, column.as_primitive::<Int8Type>().value(r)),
        DataType::Int16 => weir_text::write_int(&mut text, column.as_primitive::<Int16Type>().value(r)),
        DataType::Int32 => weir_text::write_int(&mut text, column.as_primitive::<Int32Type>().value(r)),
        DataType::Int64 => weir_text::write_int(&mut text, column.as_primitive::<Int64Type>().value(r)),
        DataType::Date32 => weir_text::write_date(&mut text, column.as_primitive::<Date32Type>().value(r)),
        DataType::Boolean => text.push_str(if column.as_boolean().value(r) { "true" } else { "false" }),
        other => {
            return Err(format!("partition columns of type {other} are not supported yet; use STRING, INT or DATE"));
        }
    }
    Ok(Some(text))
}

/// `n` copies of `value` (or nulls) as a text column.
fn constant_text(value: Option<&str>, n: usize) -> crate::types::Column {
    let weir_framing::VarData { offsets, data } =
        weir_framing::VarData::repeated(value.unwrap_or_default().as_bytes(), n);
    crate::types::Column {
        validity: value.is_none().then(|| vec![0u8; n.div_ceil(8)]),
        data: crate::types::ColumnData::Utf8(crate::types::VarData { offsets, data }),
    }
}

/// A query filter in the contract's terms.
fn predicate(f: &sql::Filter) -> wsource::Predicate {
    use wsource::{CompareOp as W, Scalar};
    let op = match f.op {
        CompareOp::Eq => W::Eq,
        CompareOp::NotEq => W::NotEq,
        CompareOp::Lt => W::Lt,
        CompareOp::LtEq => W::LtEq,
        CompareOp::Gt => W::Gt,
        CompareOp::GtEq => W::GtEq,
        CompareOp::IsNull => W::IsNull,
        CompareOp::IsNotNull => W::IsNotNull,
    };
    let value = match &f.value {
        Literal::Null => Scalar::Null,
        Literal::Boolean(b) => Scalar::Boolean(*b),
        Literal::Integer(i) => Scalar::Integer(*i),
        Literal::Double(d) => Scalar::Double(*d),
        Literal::Text(t) => Scalar::Text(t.clone()),
    };
    wsource::Predicate { column: f.column as u32, op, value }
}

/// `rows` with columns widened to `schema`'s types where the `INSERT`
/// allows an implicit cast (see `sql::types::widens`); `None` if nothing
/// needs casting.
fn widen(rows: &ChangelogBatch, schema: &crate::types::Schema) -> Result<Option<ChangelogBatch>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Int8Type, Int16Type, Int32Type, Int64Type};
    use arrow_array::{Float64Array, Int16Array, Int32Array, Int64Array};
    let target = Arc::new(batch::arrow_schema(schema).map_err(|m| Error::Host(anyhow::anyhow!(m)))?);
    if rows.rows.num_columns() != target.fields().len()
        || rows.rows.columns().iter().zip(target.fields()).all(|(c, f)| c.data_type() == f.data_type())
    {
        return Ok(None);
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for (column, field) in rows.rows.columns().iter().zip(target.fields()) {
        macro_rules! to {
            ($out:ty, $in:ty, $conv:expr) => {{
                let a: $out = column.as_primitive::<$in>().iter().map(|v| v.map($conv)).collect();
                Arc::new(a) as ArrayRef
            }};
        }
        let widened = match (column.data_type(), field.data_type()) {
            (a, b) if a == b => column.clone(),
            (DataType::Int8, DataType::Int16) => to!(Int16Array, Int8Type, i16::from),
            (DataType::Int8, DataType::Int32) => to!(Int32Array, Int8Type, i32::from),
            (DataType::Int8, DataType::Int64) => to!(Int64Array, Int8Type, i64::from),
            (DataType::Int16, DataType::Int32) => to!(Int32Array, Int16Type, i32::from),
            (DataType::Int16, DataType::Int64) => to!(Int64Array, Int16Type, i64::from),
            (DataType::Int32, DataType::Int64) => to!(Int64Array, Int32Type, i64::from),
            (DataType::Int8, DataType::Float64) => to!(Float64Array, Int8Type, f64::from),
            (DataType::Int16, DataType::Float64) => to!(Float64Array, Int16Type, f64::from),
            (DataType::Int32, DataType::Float64) => to!(Float64Array, Int32Type, f64::from),
            (DataType::Int64, DataType::Float64) => to!(Float64Array, Int64Type, |v: i64| v as f64),
            (DataType::Float32, DataType::Float64) => to!(Float64Array, Float32Type, f64::from),
            (a, b) => return Err(Error::Host(anyhow::anyhow!("cannot write a {a} column into a {b} column"))),
        };
        columns.push(widened);
    }
    let batch = arrow_array::RecordBatch::try_new(target, columns).map_err(|e| Error::Host(e.into()))?;
    Ok(Some(ChangelogBatch { rows: batch, row_kinds: rows.row_kinds.clone() }))
}
