//! Command-line verbs. Each prints for people by default and JSON with
//! `--json`; failures are reported with their context and exit code 1.

mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use weir::catalog::{Entry, Origin};
use weir::engine::{Engine, EngineConfig};
use weir::spec::{Kind, Spec};
use weir::{Runtime, RuntimeConfig};

use table::Table;

/// Writes a line to stdout. A closed pipe (`weir describe csv | head`) ends
/// the command quietly (see `main`) instead of panicking as `println!` does.
/// Prints a line to stdout. Lines often carry text a component chose (spec
/// descriptions, option texts), so control characters are escaped.
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock())?
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        writeln!(std::io::stdout().lock(), "{}", weir::terminal::escape_lines(&line))?
    }};
}

/// What the operator grants the job's components. A component gets a
/// capability only if it declares it and it is granted here.
#[derive(clap::Args, Debug, Default)]
struct GrantArgs {
    /// Let components read files under PATH (repeatable).
    #[arg(long = "allow-read", value_name = "PATH")]
    read: Vec<PathBuf>,
    /// Let components create and write files under PATH (repeatable).
    #[arg(long = "allow-write", value_name = "PATH")]
    write: Vec<PathBuf>,
    /// Let components open TCP connections to HOST:PORT (repeatable).
    #[arg(long = "allow-net", value_name = "HOST:PORT")]
    net: Vec<String>,
    /// Let components (the print sink) write to standard output.
    #[arg(long = "allow-stdout")]
    stdout: bool,
    /// Let components write to standard error.
    #[arg(long = "allow-stderr")]
    stderr: bool,
    /// Let components read environment variable NAME (repeatable).
    #[arg(long = "allow-env", value_name = "NAME")]
    env: Vec<String>,
    /// Let components make HTTP requests to URLs under URL-PREFIX, e.g.
    /// `https://api.example.com/v1/` (repeatable).
    #[arg(long = "allow-http", value_name = "URL-PREFIX")]
    http: Vec<String>,
    /// Grants from a policy file (TOML: read, write, net, http, env, stdout,
    /// stderr), added to the flags.
    #[arg(long = "policy", value_name = "FILE")]
    policy: Option<PathBuf>,
}

impl GrantArgs {
    fn grants(&self) -> anyhow::Result<weir::policy::Grants> {
        let base = std::env::current_dir().unwrap_or_default();
        let path = |p: &PathBuf| weir::policy::absolute(&base, &p.display().to_string());
        let connect = self
            .net
            .iter()
            .map(|e| {
                weir::policy::Endpoint::parse(e)
                    .with_context(|| format!("--allow-net {e}: write HOST:PORT, e.g. localhost:9999"))
            })
            .collect::<anyhow::Result<_>>()?;
        for prefix in &self.http {
            weir::policy::UrlPrefix::parse(prefix).map_err(|e| anyhow::anyhow!("--allow-http {prefix}: {e}"))?;
        }
        let flags = weir::policy::Grants {
            read: self.read.iter().map(path).collect(),
            write: self.write.iter().map(path).collect(),
            connect,
            stdout: self.stdout,
            stderr: self.stderr,
            env: self.env.clone(),
            http: self.http.clone(),
            roots: Default::default(),
        };
        let Some(file) = &self.policy else { return Ok(flags) };
        let text =
            std::fs::read_to_string(file).with_context(|| format!("--policy: cannot read {}", file.display()))?;
        let dir =
            weir::policy::absolute(&base, &file.parent().unwrap_or(std::path::Path::new(".")).display().to_string());
        let policy = weir::policy::Grants::from_policy(&text, &dir)
            .with_context(|| format!("policy file {} is not valid", file.display()))?;
        Ok(flags.union(policy))
    }
}

/// Weir: run Flink-style connectors and formats as sandboxed WebAssembly
/// components.
#[derive(Parser)]
#[command(name = "weir", version, about, long_about = None)]
struct Cli {
    /// Directory of third-party components (*.wasm) to add to the catalog.
    #[arg(long, global = true, env = "WEIR_PLUGIN_DIR", value_name = "DIR")]
    plugins: Option<PathBuf>,
    /// Where precompiled components are cached [default: ~/.cache/weir/components].
    #[arg(long, global = true, env = "WEIR_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile components on every start instead of caching them.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what a component file is: kind, identifier, contract version,
    /// options and declared capabilities.
    Inspect {
        /// The component (.wasm).
        file: PathBuf,
    },
    /// List the catalog: every connector and format with its origin.
    Connectors,
    /// Run a job file of Flink SQL statements (CREATE TABLE, SET, INSERT
    /// INTO … SELECT, SELECT, EXPLAIN).
    Run {
        /// The job file (.sql).
        file: PathBuf,
        /// A job setting, as `SET 'key' = 'value'` in the file (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Delete the job's checkpoints first: run from the start even if an
        /// earlier run finished or stopped half-way.
        #[arg(long)]
        fresh: bool,
        #[command(flatten)]
        grants: GrantArgs,
    },
    /// Check a job file without running it: parse it, validate every
    /// table's options, resolve formats, list the capabilities each
    /// component needs.
    Check {
        /// The job file (.sql).
        file: PathBuf,
        #[command(flatten)]
        grants: GrantArgs,
    },
    /// Check components against the contract: spec, options, format round
    /// trips and malformed input, source checkpoint/restore, sink commit
    /// idempotency and abort, capabilities used, limits. Exits non-zero if
    /// any check fails.
    Verify {
        /// Component files (.wasm).
        files: Vec<PathBuf>,
        /// Verify every built-in component too.
        #[arg(long)]
        builtins: bool,
        /// An option for the component under test (repeatable), e.g.
        /// `--option path=data/in` for a connector's required options.
        #[arg(long = "option", value_name = "KEY=VALUE")]
        options: Vec<String>,
        /// The table schema connectors are tested with, in Flink SQL
        /// (default `id BIGINT, name STRING`).
        #[arg(long, value_name = "COLUMNS")]
        schema: Option<String>,
        #[command(flatten)]
        grants: GrantArgs,
    },
    /// Describe every option of a connector or format.
    Describe {
        /// Identifier, as in 'connector' = '…' or 'format' = '…'.
        identifier: String,
    },
}

/// Runs the CLI and maps errors to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG").unwrap_or_else(|_| {
            // wasmtime-wasi-http warns of every refused connection; the
            // component's own error says it, with the table's name.
            "warn,wasmtime_wasi_http=error".into()
        }))
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not for a log file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Stopped by a signal: 128 + its number, as a shell reports it.
    let signal = SIGNAL.load(std::sync::atomic::Ordering::Relaxed);
    let stopped = ExitCode::from(128 + signal as u8);
    match result {
        Ok(()) if signal != 0 => stopped,
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if signal != 0 && matches!(e.downcast_ref::<weir::Error>(), Some(weir::Error::Stopped { .. })) => {
            eprintln!("{}", weir::terminal::escape_lines(&format!("{e:#}")));
            stopped
        }
        // The reader of our output went away (`| head`): nothing to report.
        Err(e) if output_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors quote components (messages, stderr): no control characters.
            eprintln!("error: {}", weir::terminal::escape_lines(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Says on stderr that a component is being compiled (seconds for a Python
/// or JavaScript one, once: the cache keeps it), with a spinner on a
/// terminal, and how long it took.
fn compile_notice() -> weir::engine::CompileNotice {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let live = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Compilations under way, so one spinner line serves them all.
    let running = Arc::new(AtomicUsize::new(0));
    weir::engine::CompileNotice(Arc::new(move |origin: &str, done: Option<std::time::Duration>| {
        let origin = weir::terminal::escape_lines(origin).into_owned();
        match done {
            None => {
                eprintln!("compiling {origin} (first use, cached afterwards)…");
                if live && running.fetch_add(1, Ordering::SeqCst) == 0 {
                    let running = running.clone();
                    std::thread::spawn(move || {
                        for frame in ['|', '/', '-', '\\'].iter().cycle() {
                            if running.load(Ordering::SeqCst) == 0 {
                                eprint!("\r\x1b[K");
                                break;
                            }
                            eprint!("\r{frame} compiling\x1b[K");
                            std::thread::sleep(std::time::Duration::from_millis(120));
                        }
                    });
                }
            }
            Some(took) => {
                if live {
                    running.fetch_sub(1, Ordering::SeqCst);
                    eprint!("\r\x1b[K");
                }
                eprintln!("compiled {origin} in {:.1} s", took.as_secs_f64());
            }
        }
    }))
}

/// The signal that asked the job to stop (0: none).
static SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// Whether the error is only that our output's reader went away.
fn output_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || matches!(c.downcast_ref::<weir::Error>(), Some(weir::Error::OutputClosed))
    })
}

/// A job's error, prefixed `file:line:column:` when it says where in the
/// job file its statement or table is.
fn in_job(file: &std::path::Path, e: weir::Error) -> anyhow::Error {
    match e {
        weir::Error::At { line, column, error } => anyhow::anyhow!("{}:{line}:{column}: {error}", file.display()),
        e => e.into(),
    }
}

/// Per-instance limits (every component instance gets them).
#[derive(clap::Args)]
struct LimitArgs {
    /// Memory per instance, e.g. '128mb' [default: 64mb].
    #[arg(long, global = true, value_name = "SIZE", value_parser = memory_size)]
    memory: Option<usize>,
    /// CPU time one call may use, e.g. '10 s' [default: 5 s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration)]
    cpu_per_call: Option<std::time::Duration>,
    /// Wall-clock time one call may take, waiting included [default: 60 s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration)]
    wall_clock_per_call: Option<std::time::Duration>,
    /// Fuel per call (~ instructions), for budgets independent of machine speed [default: off].
    #[arg(long, global = true, value_name = "N")]
    fuel: Option<u64>,
    /// Handles (files, sockets, streams) one instance may hold [default: 1024].
    #[arg(long, global = true, value_name = "N")]
    max_handles: Option<usize>,
    /// Most data one call may return, e.g. '256mb' [default: 64mb].
    #[arg(long, global = true, value_name = "SIZE", value_parser = memory_size)]
    max_result: Option<usize>,
}

fn memory_size(v: &str) -> Result<usize, String> {
    weir::options::parse_memory_size(v)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("'{v}' is not a memory size; write e.g. '128mb' or '1 gb'"))
}

fn duration(v: &str) -> Result<std::time::Duration, String> {
    weir::options::parse_duration(v).ok_or_else(|| format!("'{v}' is not a duration; write e.g. '10 s' or '500 ms'"))
}

fn engine_config(cli: &Cli) -> EngineConfig {
    let mut config = EngineConfig::default();
    let (l, limits) = (&cli.limits, &mut config.limits);
    limits.memory_bytes = l.memory.unwrap_or(limits.memory_bytes);
    limits.cpu_per_call = l.cpu_per_call.unwrap_or(limits.cpu_per_call);
    limits.wall_clock_per_call = l.wall_clock_per_call.unwrap_or(limits.wall_clock_per_call);
    limits.fuel_per_call = l.fuel.or(limits.fuel_per_call);
    limits.handles = l.max_handles.unwrap_or(limits.handles);
    limits.result_bytes = l.max_result.unwrap_or(limits.result_bytes);
    config.on_compile = Some(compile_notice());
    if cli.no_cache {
        config.cache_dir = None;
    } else if let Some(dir) = &cli.cache_dir {
        config.cache_dir = Some(dir.clone());
    }
    config
}

async fn runtime(cli: &Cli) -> anyhow::Result<Runtime> {
    let config = RuntimeConfig { engine: engine_config(cli), plugin_dir: cli.plugins.clone() };
    let (runtime, problems) = Runtime::new(config).await.context("failed to load the component catalog")?;
    for p in problems {
        eprintln!("warning: skipped a plugin: {}", weir::terminal::escape_lines(&p.to_string()));
    }
    Ok(runtime)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Inspect { file } => inspect(&cli, file).await,
        Command::Connectors => connectors(&cli).await,
        Command::Run { file, settings, fresh, grants } => run_job(&cli, file, settings, *fresh, grants).await,
        Command::Check { file, grants } => check_job(&cli, file, grants).await,
        Command::Describe { identifier } => describe(&cli, identifier).await,
        Command::Verify { files, builtins, options, schema, grants } => {
            verify(&cli, files, *builtins, options, schema.as_deref(), grants).await
        }
    }
}

async fn verify(
    cli: &Cli,
    files: &[PathBuf],
    builtins: bool,
    options: &[String],
    schema: Option<&str>,
    grants: &GrantArgs,
) -> anyhow::Result<()> {
    if files.is_empty() && !builtins {
        anyhow::bail!("name the component files to verify, or pass --builtins");
    }
    let options = options
        .iter()
        .map(|o| {
            o.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .with_context(|| format!("--option {o}: write KEY=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let schema = match schema {
        Some(columns) => {
            let ddl = format!("CREATE TABLE t ({columns}) WITH ('connector' = 'x')");
            let job = weir_sql::parse("--schema", &ddl).map_err(|e| anyhow::anyhow!("--schema: {e}"))?;
            Some(job.tables.into_iter().next().context("--schema: no columns")?.schema)
        }
        None => None,
    };
    let several = builtins || files.len() > 1;
    let config = weir_verify::VerifyConfig { options, several, schema, grants: grants.grants()? };
    let engine = Arc::new(Engine::new(&engine_config(cli))?);
    let mut components: Vec<(String, Vec<u8>)> = Vec::new();
    if builtins {
        for (package, wasm, _) in weir::catalog::BUILTINS {
            components.push((format!("built-in {package}"), wasm.to_vec()));
        }
    }
    for file in files {
        let wasm = std::fs::read(file).with_context(|| format!("failed to read {}", file.display()))?;
        components.push((file.display().to_string(), wasm));
    }
    let mut reports = Vec::new();
    for (name, wasm) in &components {
        let report = weir_verify::verify(engine.clone(), name, wasm, &config).await;
        if !cli.json {
            outln!("{}", weir_verify::render(&report));
        }
        reports.push(report);
    }
    if cli.json {
        outln!("{}", serde_json::to_string_pretty(&reports)?);
    }
    let failed: Vec<&str> = reports.iter().filter(|r| !r.passed()).map(|r| r.file.as_str()).collect();
    if !failed.is_empty() {
        anyhow::bail!("{} of {} components failed verification: {}", failed.len(), reports.len(), failed.join(", "));
    }
    Ok(())
}

async fn inspect(cli: &Cli, file: &PathBuf) -> anyhow::Result<()> {
    let wasm = std::fs::read(file).with_context(|| format!("failed to read {}", file.display()))?;
    let engine = Arc::new(Engine::new(&engine_config(cli))?);
    let entry = Entry::load(engine, Origin::File(file.clone()), &wasm)
        .await
        .with_context(|| format!("failed to inspect {}", file.display()))?;
    if cli.json {
        let json = serde_json::json!({
            "file": file,
            "bytes": wasm.len(),
            "kind": entry.kind,
            "wit": format!("weir:connector@{}", entry.loaded()?.wit_version),
            "spec": entry.spec,
        });
        outln!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let s = &entry.spec;
    outln!("file:          {} ({} KiB)", file.display(), wasm.len().div_ceil(1024));
    outln!("kind:          {}", entry.kind);
    outln!("identifier:    {}  ('{}' = '{}')", s.identifier, entry.kind.ddl_key(), s.identifier);
    outln!("contract:      weir:connector@{}", entry.loaded()?.wit_version);
    outln!("version:       {}", s.version);
    outln!("description:   {}", s.description);
    outln!("changelog:     {}", changelog(s));
    if entry.kind != Kind::Format {
        outln!("payload:       {}", if s.needs_format { "raw records (needs a 'format')" } else { "rows" });
    }
    if !s.source_abilities.is_empty() {
        outln!("source abilities: {}", s.source_abilities.join(", "));
    }
    if !s.sink_abilities.is_empty() {
        outln!("sink abilities:   {}", s.sink_abilities.join(", "));
    }
    if s.capabilities.is_empty() {
        outln!("capabilities:  none (pure computation)");
    } else {
        outln!("capabilities:");
        for c in &s.capabilities {
            outln!("  {c}");
        }
    }
    outln!();
    options_table(&entry).print()?;
    Ok(())
}

fn changelog(s: &Spec) -> String {
    if s.changelog_mode.is_empty() {
        "insert-only".to_owned()
    } else {
        s.changelog_mode.iter().map(|k| k.short()).collect::<Vec<_>>().join(" ")
    }
}

async fn connectors(cli: &Cli) -> anyhow::Result<()> {
    let runtime = runtime(cli).await?;
    let entries = runtime.catalog().entries();
    if cli.json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "identifier": e.spec.identifier, "kind": e.kind, "description": e.spec.description,
                    "origin": e.origin.to_string(), "version": e.spec.version,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut t = Table::new(["IDENTIFIER", "KIND", "DESCRIPTION", "ORIGIN"]);
    for e in entries {
        t.row([e.spec.identifier.clone(), e.kind.to_string(), e.spec.description.clone(), e.origin.to_string()]);
    }
    t.print()?;
    Ok(())
}

async fn describe(cli: &Cli, identifier: &str) -> anyhow::Result<()> {
    let runtime = runtime(cli).await?;
    let found = runtime.catalog().find_any(identifier);
    if found.is_empty() {
        let known: Vec<&str> = runtime.catalog().entries().iter().map(|e| e.spec.identifier.as_str()).collect();
        anyhow::bail!("no connector or format named '{identifier}'; the catalog has: {}", known.join(", "));
    }
    if cli.json {
        let list: Vec<_> = found.iter().map(|e| serde_json::json!({ "kind": e.kind, "spec": e.spec })).collect();
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for (i, e) in found.iter().enumerate() {
        if i > 0 {
            outln!();
        }
        outln!("{} '{}' ({}, {}) — {}", e.kind, e.spec.identifier, e.origin, e.spec.version, e.spec.description);
        outln!("changelog: {}", changelog(&e.spec));
        for (what, list) in [("source abilities", &e.spec.source_abilities), ("sink abilities", &e.spec.sink_abilities)]
        {
            if !list.is_empty() {
                outln!("{what}: {}", list.join(", "));
            }
        }
        if !e.spec.capabilities.is_empty() {
            let caps: Vec<String> = e.spec.capabilities.iter().map(ToString::to_string).collect();
            outln!("capabilities: {}", caps.join("; "));
        }
        outln!();
        options_table(e).print()?;
    }
    Ok(())
}

/// Every option with its key as the user writes it (format options carry
/// the format's prefix), including the host-level selector keys.
fn options_table(e: &Entry) -> Table {
    let s = &e.spec;
    let mut t = Table::new(["KEY", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION"]);
    let selector = e.kind.ddl_key();
    t.row([
        selector.to_owned(),
        "String".into(),
        "(none)".into(),
        "yes".into(),
        format!("Must be '{}'.", s.identifier),
    ]);
    if e.kind != Kind::Format && s.needs_format {
        t.row([
            "format".into(),
            "String".into(),
            "(none)".into(),
            "yes".into(),
            "Format of the records, e.g. 'raw'.".into(),
        ]);
    }
    for o in &s.options {
        let key = if e.kind == Kind::Format { format!("{}.{}", s.identifier, o.key) } else { o.key.clone() };
        let mut description = o.description.clone();
        if !o.allowed_values.is_empty() {
            description.push_str(&format!(" [{}]", o.allowed_values.join(", ")));
        }
        if o.secret {
            description.push_str(" (secret)");
        }
        t.row([
            key,
            o.option_type.to_string(),
            o.default_value.clone().unwrap_or_else(|| "(none)".into()),
            if o.required { "yes" } else { "no" }.into(),
            description,
        ]);
    }
    t
}

fn read_job(file: &PathBuf) -> anyhow::Result<weir_pipeline::Job> {
    let text = std::fs::read_to_string(file).with_context(|| format!("failed to read job file {}", file.display()))?;
    Ok(weir_sql::parse(&file.display().to_string(), &text)?)
}

/// `./.weir/checkpoints/<job name>-<8 hex digits>`: the default checkpoint
/// directory, so running the same job file again from the same place
/// resumes it, while another job file of the same name (elsewhere) gets a
/// directory of its own. The digits hash the job file's absolute path.
fn default_checkpoint_dir(file: &std::path::Path) -> PathBuf {
    let stem = file.file_stem().map_or_else(|| "job".into(), |s| s.to_string_lossy().into_owned());
    let path = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
    let id = weir::checkpoint::fingerprint(&[&path.display().to_string()]);
    PathBuf::from(".weir").join("checkpoints").join(format!("{stem}-{}", &id[..8]))
}

/// What an `INSERT` tells on standard error (stdout stays for SELECT rows):
/// that it resumes, and from where; a live line of rows, rows/s and MB/s of
/// raw input on a terminal; a one-line summary at the end, always.
fn progress_line(live: bool) -> weir_pipeline::ProgressSink {
    weir_pipeline::ProgressSink(Arc::new(move |e: &weir_pipeline::ProgressEvent| {
        let secs = e.elapsed.as_secs_f64();
        if e.done {
            let end = if live { "\r\x1b[K" } else { "" };
            let checkpoints = match e.checkpoints {
                1 => "1 checkpoint".to_owned(),
                n => format!("{n} checkpoints"),
            };
            let resumed = if e.rows_at_start > 0 {
                format!(", {} of them before the resume", e.rows_at_start)
            } else {
                String::new()
            };
            let lookups = match e.lookup {
                Some(l) => format!(
                    "; lookups: {} rows joined, {} keys asked in {} calls, {:.0} % of keys from the cache",
                    l.rows,
                    l.misses,
                    l.calls,
                    l.hit_rate() * 100.0
                ),
                None => String::new(),
            };
            eprintln!("{end}{}: {} rows written{resumed}, {checkpoints}, {secs:.1} s{lookups}", e.label, e.rows);
        } else if e.started {
            if let Some(id) = e.resumed_from {
                eprintln!("{}: resuming from checkpoint {id} ({} rows so far)", e.label, e.rows);
            }
        } else if live {
            let mb = if e.bytes > 0 {
                format!(", {:.1} MB/s", e.bytes as f64 / 1e6 / secs.max(1e-9))
            } else {
                String::new()
            };
            eprint!("\r{}: {} rows, {:.0} rows/s{mb} ({secs:.1} s)\x1b[K", e.label, e.rows, e.rate());
        }
    }))
}

async fn run_job(
    cli: &Cli,
    file: &PathBuf,
    settings: &[String],
    fresh: bool,
    grants: &GrantArgs,
) -> anyhow::Result<()> {
    let operator = grants.grants()?;
    let mut job = read_job(file)?;
    for setting in settings {
        let (key, value) =
            setting.split_once('=').with_context(|| format!("--set {setting}: write --set key=value"))?;
        job.settings.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    // Ctrl-C or SIGTERM (what service managers send): the first asks the job
    // to stop — an INSERT after a last checkpoint — the second ends the
    // process at once. Either way the exit code is 128 + the signal.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let inserts = job.statements.iter().any(|s| matches!(s, weir_pipeline::Statement::Insert { .. }));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::spawn(async move {
        loop {
            let signal = tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_ok() { SIGINT } else { return },
                r = terminate.recv() => if r.is_some() { SIGTERM } else { return },
            };
            SIGNAL.store(signal, std::sync::atomic::Ordering::Relaxed);
            if flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!("\nstopping now");
                std::process::exit(128 + signal);
            }
            if inserts {
                eprintln!("\nstopping after a last checkpoint (Ctrl-C again to stop at once)");
            } else {
                eprintln!("\nstopping");
            }
        }
    });
    let defaults = weir_pipeline::RunConfig {
        checkpoint_dir: Some(default_checkpoint_dir(file)),
        checkpoint_interval: None,
        progress: Some(progress_line(std::io::IsTerminal::is_terminal(&std::io::stderr()))),
        stop: Some(stop),
        restart: None,
    };
    let config = weir_pipeline::RunConfig::from_settings(&job, defaults)?;
    if fresh
        && let Some(dir) = &config.checkpoint_dir
        && dir.exists()
    {
        std::fs::remove_dir_all(dir).with_context(|| format!("--fresh: cannot delete {}", dir.display()))?;
    }
    let runtime = runtime(cli).await?;
    let mut out = std::io::stdout();
    weir_pipeline::run(&runtime, &job, &operator, &config, &mut out).await.map_err(|e| in_job(file, e))?;
    Ok(())
}

async fn check_job(cli: &Cli, file: &PathBuf, grants: &GrantArgs) -> anyhow::Result<()> {
    let operator = grants.grants()?;
    let job = read_job(file)?;
    let mut missing = 0;
    let runtime = runtime(cli).await?;
    // Each table once per role it plays, resolved once.
    let mut seen: Vec<(&str, weir::catalog::Role, weir_pipeline::Resolved)> = Vec::new();
    for statement in &job.statements {
        for (name, role) in weir_pipeline::tables_of(statement) {
            if seen.iter().any(|(n, r, _)| *n == name && *r == role) {
                continue;
            }
            let table = job.table(name).context("the SQL front end resolved every table")?;
            let resolved = weir_pipeline::resolve(&runtime, table, role).map_err(|e| in_job(file, e))?;
            // The components' own option rules, as a run applies them first.
            resolved.validate().await.map_err(|e| in_job(file, e))?;
            let role_name = weir_pipeline::table_role(statement, name, role);
            outln!("{role_name} {}: connector '{}'", table.name, resolved.connector.spec.identifier);
            if let Some((format, _)) = &resolved.format {
                outln!("  format: '{}'", format.spec.identifier);
            }
            let kinds: Vec<&str> = resolved.changelog().into_iter().map(weir::spec::RowKind::short).collect();
            outln!(
                "  changelog: {} {}",
                if role == weir::catalog::Role::Source { "produces" } else { "accepts" },
                kinds.join(", ")
            );
            if resolved.needs.is_empty() && resolved.format_needs.is_empty() {
                outln!("  capabilities: none");
            }
            let format_needs = resolved.format_needs.iter().map(|n| (n, "format "));
            for (need, whose) in resolved.needs.iter().map(|n| (n, "")).chain(format_needs) {
                if weir::policy::authorize(std::slice::from_ref(need), &operator).is_ok() {
                    outln!("  {whose}needs: {need}  (granted)");
                } else {
                    missing += 1;
                    outln!("  {whose}needs: {need}  (NOT granted: {})", need.flag());
                }
            }
            seen.push((name, role, resolved));
        }
    }
    if missing > 0 {
        let what = if missing == 1 { "capability is" } else { "capabilities are" };
        anyhow::bail!("{missing} {what} not granted; add the flags shown above");
    }
    // The planner's checks, as a run makes them.
    let resolved =
        |name: &str, role| seen.iter().find(|(n, r, _)| n.eq_ignore_ascii_case(name) && *r == role).map(|(.., t)| t);
    for statement in &job.statements {
        weir_pipeline::check_statement(statement, resolved).map_err(|e| in_job(file, e))?;
    }
    outln!("ok: {} tables, {} statements", job.tables.len(), job.statements.len());
    Ok(())
}
