//! The hostile-guest suite: every attack of `tests/guests/hostile-format`
//! and `tests/guests/hostile-source` runs inside a real job, and each test
//! asserts that it is contained (nothing leaks, nothing is written, nothing
//! connects, the host keeps running) and that the error names the table,
//! the component and the reason. `docs/security.md` has the table.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use weir::engine::EngineConfig;
use weir::limits::Limits;
use weir::policy::{Endpoint, Grants};
use weir::{Runtime, RuntimeConfig};
use weir_pipeline as pipeline;
use weir_tests::guests::{HOSTILE_FORMAT, HOSTILE_SOURCE};

/// Limits small enough to keep the suite fast.
fn test_limits() -> Limits {
    Limits {
        cpu_per_call: Duration::from_millis(300),
        wall_clock_per_call: Duration::from_secs(2),
        memory_bytes: 64 << 20,
        ..Limits::default()
    }
}

async fn hostile_runtime(limits: Limits) -> Runtime {
    let config = RuntimeConfig { engine: EngineConfig { limits, ..weir_tests::engine_config() }, plugin_dir: None };
    let (mut runtime, problems) = Runtime::new(config).await.expect("runtime starts");
    assert!(problems.is_empty(), "{problems:?}");
    for path in [HOSTILE_FORMAT, HOSTILE_SOURCE] {
        let entry = weir_tests::load(runtime.engine().clone(), path).await;
        runtime.catalog_mut().add(entry).expect("no duplicate identifiers");
    }
    runtime
}

/// A scratch directory with `in.txt` (one line, so `decode` runs once).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("weir-hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).expect("scratch dir");
        std::fs::write(dir.join("in.txt"), "go\n").expect("input");
        std::fs::write(dir.join("data/secret.txt"), "granted data\n").expect("data");
        Scratch(dir)
    }

    fn path(&self, rel: &str) -> String {
        self.0.join(rel).display().to_string()
    }

    /// The grants a job reading `in.txt` needs, plus `extra`.
    fn grants(&self, extra: Grants) -> Grants {
        Grants { read: vec![self.0.join("in.txt")], ..Grants::none() }.union(extra)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the job `text` with `grants`; returns what it printed, or its error.
async fn run_job(
    runtime: &Runtime,
    text: &str,
    grants: &Grants,
    config: &pipeline::RunConfig,
) -> Result<String, String> {
    let job = weir_sql::parse("attack.sql", text).map_err(|e| format!("parse: {e}"))?;
    let mut out = Vec::new();
    match pipeline::run(runtime, &job, grants, config, &mut out).await {
        Ok(()) => Ok(String::from_utf8_lossy(&out).into_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs `attack` in the decoder of a filesystem table `T`; returns what the
/// job printed, or its error.
async fn attack_with(
    runtime: &Runtime,
    scratch: &Scratch,
    attack: &str,
    options: &[(&str, String)],
    grants: &Grants,
) -> Result<String, String> {
    let mut with = format!(
        "'connector' = 'filesystem', 'path' = '{}', 'format' = 'hostile', 'hostile.attack' = '{attack}'",
        scratch.path("in.txt")
    );
    for (k, v) in options {
        with.push_str(&format!(", 'hostile.{k}' = '{v}'"));
    }
    let text = format!("CREATE TABLE T (line STRING) WITH ({with});\nSELECT * FROM T;\n");
    run_job(runtime, &text, grants, &pipeline::RunConfig::default()).await
}

/// Runs `attack` on a fresh runtime with `limits`, in `scratch`: `{dir}`
/// in option values and in the paths of the `extra` grants stands for the
/// scratch directory. Returns the runtime and grants too, for a next job.
async fn attack_in(
    scratch: &Scratch,
    limits: Limits,
    attack: &str,
    options: &[(&str, String)],
    extra: Grants,
) -> (Runtime, Grants, Result<String, String>) {
    let dir = scratch.0.display().to_string();
    let options: Vec<(&str, String)> = options.iter().map(|(k, v)| (*k, v.replace("{dir}", &dir))).collect();
    let paths =
        |p: Vec<PathBuf>| p.iter().map(|p| PathBuf::from(p.display().to_string().replace("{dir}", &dir))).collect();
    let extra = Grants { read: paths(extra.read), write: paths(extra.write), ..extra };
    let runtime = hostile_runtime(limits).await;
    let grants = scratch.grants(extra);
    let outcome = attack_with(&runtime, scratch, attack, &options, &grants).await;
    (runtime, grants, outcome)
}

/// Runs `attack` with default test limits and asserts it failed with an
/// error naming table `T`, component `hostile` and every one of `expected`.
async fn contained(name: &str, options: &[(&str, String)], extra: Grants, expected: &[&str]) -> String {
    let scratch = Scratch::new(name);
    let (runtime, grants, outcome) = attack_in(&scratch, test_limits(), name, options, extra).await;
    let error = match outcome {
        Ok(out) => panic!("attack '{name}' was not contained; the job printed:\n{out}"),
        Err(e) => e,
    };
    eprintln!("{name}: {error}");
    for part in ["table 'T'", "'hostile'"].iter().chain(expected) {
        assert!(error.contains(part), "attack '{name}': the error should mention {part:?}:\n{error}");
    }
    // The host is still fine: the same runtime runs a clean job next.
    let clean = attack_with(&runtime, &scratch, "errors-forever", &[], &grants).await.expect_err("transient");
    assert!(clean.contains("try again"), "the runtime keeps working after '{name}': {clean}");
    error
}

fn read_grant(path: &str) -> Grants {
    Grants { read: vec![PathBuf::from(path)], ..Grants::none() }
}

fn net_grant(endpoint: &str) -> Grants {
    Grants { connect: vec![Endpoint::parse(endpoint).expect("endpoint")], ..Grants::none() }
}

fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("loopback listener");
    l.set_nonblocking(true).expect("non-blocking");
    let addr = l.local_addr().expect("address").to_string();
    (l, addr)
}

fn assert_no_connection(l: &TcpListener) {
    std::thread::sleep(Duration::from_millis(50));
    assert!(l.accept().is_err(), "a connection reached the listener");
}

fn opt(key: &'static str, value: &str) -> (&'static str, String) {
    (key, value.to_owned())
}

// ---- files ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn reading_outside_the_grant_is_refused() {
    let e =
        contained("read-outside", &[opt("path", "{dir}/data")], read_grant("/tmp"), &["read-outside refused"]).await;
    assert!(!e.contains("root:"), "no passwd content leaks: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dotdot_escape_from_a_granted_directory_is_refused() {
    contained("dotdot-escape", &[opt("path", "{dir}/data")], read_grant("/tmp"), &["dotdot-escape refused"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn symlink_escape_from_a_granted_directory_is_refused() {
    let scratch = Scratch::new("symlink-escape");
    std::os::unix::fs::symlink("/etc", scratch.0.join("data/link")).expect("symlink");
    let options = [opt("path", "{dir}/data")];
    let (.., outcome) = attack_in(&scratch, test_limits(), "symlink-escape", &options, read_grant("{dir}/data")).await;
    let e = outcome.expect_err("contained");
    assert!(e.contains("table 'T'") && e.contains("symlink-escape refused"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_granted_to_the_job_but_not_declared_is_refused() {
    // The operator grants two directories; the component declared one.
    let e = contained(
        "undeclared-read",
        &[opt("path", "{dir}/data"), opt("victim", "{dir}/in.txt")],
        read_grant("/tmp"),
        &["undeclared-read refused"],
    )
    .await;
    assert!(!e.contains("go"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_into_a_read_only_grant_is_refused() {
    let scratch = Scratch::new("write-readonly");
    let options = [opt("path", "{dir}/data")];
    let (.., outcome) = attack_in(&scratch, test_limits(), "write-readonly", &options, read_grant("{dir}/data")).await;
    let e = outcome.expect_err("contained");
    assert!(e.contains("write-readonly refused"), "{e}");
    assert!(!scratch.0.join("data/planted").exists(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_outside_a_writable_grant_is_refused() {
    let scratch = Scratch::new("write-outside");
    let grants = Grants { write: vec![PathBuf::from("{dir}/out")], ..Grants::none() };
    let (.., outcome) = attack_in(&scratch, test_limits(), "write-outside", &[opt("out", "{dir}/out")], grants).await;
    let e = outcome.expect_err("contained");
    assert!(e.contains("write-outside refused"), "{e}");
    assert!(!scratch.0.join("planted").exists(), "nothing was written outside");
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_the_root_is_refused() {
    contained("list-root", &[], Grants::none(), &["list-root refused"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_open_files_hits_the_handle_limit() {
    contained(
        "file-flood",
        &[opt("path", "{dir}/data/secret.txt")],
        read_grant("/tmp"),
        &["was stopped", "open-handle limit of 1024 exceeded"],
    )
    .await;
}

// ---- network ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn connecting_to_a_port_not_granted_is_refused() {
    let (granted, granted_addr) = listener();
    let (victim, victim_addr) = listener();
    contained(
        "connect-port",
        &[opt("target", &granted_addr), opt("victim", &victim_addr)],
        net_grant(&granted_addr),
        &["connect-port refused", "Permission denied"],
    )
    .await;
    assert_no_connection(&victim);
    drop(granted);
}

#[tokio::test(flavor = "multi_thread")]
async fn connecting_to_a_host_not_granted_is_refused() {
    let (_granted, granted_addr) = listener();
    contained(
        "connect-host",
        &[opt("target", &granted_addr), opt("victim", "10.255.255.1:80")],
        net_grant(&granted_addr),
        &["connect-host refused", "Permission denied"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn name_lookups_resolve_only_granted_host_names() {
    let (_granted, addr) = listener();
    let port = addr.rsplit_once(':').expect("port").1;
    let target = format!("localhost:{port}");
    contained(
        "dns-lookup",
        &[opt("target", &target), opt("victim", "example.com")],
        net_grant(&target),
        &["dns-lookup refused", "Permission denied"],
    )
    .await;
    // The granted name itself resolves.
    let scratch = Scratch::new("dns-granted");
    let options = [opt("target", &target), opt("victim", "LOCALHOST")];
    let (.., outcome) = attack_in(&scratch, test_limits(), "dns-lookup", &options, net_grant(&target)).await;
    let out = outcome.expect("a granted name resolves");
    assert!(out.contains("addresses"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_is_refused_even_with_a_connect_grant() {
    let (_granted, addr) = listener();
    contained(
        "listen",
        &[opt("target", &addr), opt("victim", "127.0.0.1:0")],
        net_grant(&addr),
        &["listen refused", "Permission denied"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_is_refused() {
    let (_granted, addr) = listener();
    contained("udp", &[opt("target", &addr), opt("victim", &addr)], net_grant(&addr), &["udp refused"]).await;
}

/// An HTTP/1.1 server on loopback answering every request with its own
/// path; it counts the requests that reached it.
fn http_server() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("loopback listener");
    let addr = l.local_addr().expect("address").to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for mut stream in l.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let head = String::from_utf8_lossy(&request[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("?").to_owned();
            let body = format!("served {path}");
            let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (addr, hits)
}

#[tokio::test(flavor = "multi_thread")]
async fn http_requests_reach_only_granted_url_prefixes() {
    let (addr, hits) = http_server();
    let prefix = format!("http://{addr}/api/");
    let grant = || Grants { http: vec![prefix.clone()], ..Grants::none() };
    // Granted: the request is sent and the body comes back.
    let scratch = Scratch::new("http-granted");
    let options = [opt("url", &prefix), opt("victim", &format!("http://{addr}/api/items"))];
    let (.., outcome) = attack_in(&scratch, test_limits(), "http-get", &options, grant()).await;
    let out = outcome.expect("a granted request goes through");
    assert!(out.contains("served /api/items"), "{out}");
    // (The decoder runs the attack on every decode call of the job.)
    let served = hits.load(Ordering::SeqCst);
    assert!(served >= 1);
    // Outside the prefix (another path, a look-alike path, a `..` climb):
    // refused before any connection is made.
    for victim in [format!("http://{addr}/admin"), format!("http://{addr}/apix"), format!("http://{addr}/api/../admin")]
    {
        contained(
            "http-get",
            &[opt("url", &prefix), opt("victim", &victim)],
            grant(),
            &["http-get refused", "HttpRequestDenied"],
        )
        .await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), served, "no refused request reached the server");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_is_refused_without_a_grant_even_when_declared() {
    let (addr, hits) = http_server();
    let url = format!("http://{addr}/");
    // Declared, not granted: the job does not start, naming the flag.
    let scratch = Scratch::new("http-undeclared");
    let (.., outcome) =
        attack_in(&scratch, test_limits(), "http-get", &[opt("url", &url), opt("victim", &url)], Grants::none()).await;
    let error = outcome.expect_err("not granted");
    assert!(error.contains(&format!("--allow-http {url}")), "{error}");
    // Not declared (a lying spec), though the operator granted it:
    // refused at the request check.
    let scratch = Scratch::new("http-lying");
    let grant = Grants { http: vec![url.clone()], ..Grants::none() };
    let (.., outcome) = attack_in(&scratch, test_limits(), "http-get", &[opt("victim", &url)], grant).await;
    let error = outcome.expect_err("undeclared");
    assert!(error.contains("http-get refused: ErrorCode::HttpRequestDenied"), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_sockets_hits_the_handle_limit() {
    let (l, addr) = listener();
    // Accept in the background so connects keep succeeding.
    let accepting = std::thread::spawn(move || {
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && held.len() < 2000 {
            match l.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    contained("socket-flood", &[opt("target", &addr)], net_grant(&addr), &["open-handle limit of 1024 exceeded"]).await;
    drop(accepting);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_that_blocks_forever_is_stopped_by_the_wall_clock_limit() {
    let (l, addr) = listener();
    let _held = std::thread::spawn(move || {
        // Accept and then say nothing.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok((s, _)) = l.accept() {
                std::thread::sleep(Duration::from_secs(10));
                drop(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    contained("blocking-read", &[opt("target", &addr)], net_grant(&addr), &["2s wall-clock limit"]).await;
}

// ---- process ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn environment_variables_are_invisible_even_when_the_job_grants_them() {
    // The operator grants PATH; the component never declared it.
    let grants = Grants { env: vec!["PATH".into()], ..Grants::none() };
    contained("env", &[], grants, &["env refused: no variables"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn arguments_and_stdin_are_empty() {
    contained("args-stdin", &[], Grants::none(), &["no arguments, empty stdin"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_ends_the_instance_not_the_host() {
    contained("exit", &[], Grants::none(), &["was stopped", "called exit(1)"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stderr_flood_is_captured_within_bounds() {
    // The host keeps the first 64 KiB of a guest's stderr and the error
    // shows at most 2000 characters of it; the rest is dropped.
    let e = contained("stderr-flood", &[], Grants::none(), &["the component panicked", "xxxx"]).await;
    assert!(e.len() < 4096, "only a bounded part of stderr reaches the error: {} bytes", e.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn metric_and_log_floods_are_bounded() {
    let runtime = hostile_runtime(test_limits()).await;
    let entry = runtime.catalog().find("hostile", weir::catalog::Role::Format).expect("hostile");
    let mut instance =
        entry.loaded().expect("load the component").instantiate("hostile", &Grants::none()).await.expect("instance");
    let schema = weir::schema![("line", String)];
    let options = vec![("attack".to_owned(), "metric-flood".to_owned())];
    let decoder = instance.open_decoder(&options, &schema.to_contract()).await.expect("opens");
    instance.decode(decoder, weir::Frames::new(["go"]).as_contract()).await.expect("the flood itself runs");
    let metrics = instance.metrics();
    assert!(metrics.counters.len() <= 256 && metrics.gauges.len() <= 256, "metric names are capped");
    assert!(metrics.counters.keys().chain(metrics.gauges.keys()).all(|k| k.len() <= 128), "names are truncated");
}

// ---- CPU, memory, stack -------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_is_stopped_by_the_cpu_limit() {
    contained("infinite-loop", &[], Grants::none(), &["was stopped", "CPU time limit of 300ms per call exceeded"])
        .await;
}

/// One tokio thread: the loop must yield to it, or the ticker never runs.
#[tokio::test(flavor = "current_thread")]
async fn a_loop_that_never_returns_does_not_block_the_runtime() {
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    contained("slow-loop", &[], Grants::none(), &["CPU time limit of 300ms per call exceeded"]).await;
    ticker.abort();
    let n = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(n >= 5, "the runtime's other tasks ran while the guest looped ({n} ticks)");
}

#[tokio::test(flavor = "multi_thread")]
async fn sleeping_forever_is_stopped_by_the_wall_clock_limit() {
    contained("sleep-forever", &[], Grants::none(), &["a call took longer than the 2s wall-clock limit"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_hits_the_memory_limit() {
    contained("memory-bomb", &[], Grants::none(), &["was stopped", "memory limit 64 MiB exceeded"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_overflow_ends_the_instance() {
    contained("stack-overflow", &[], Grants::none(), &["was stopped", "stack overflow"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_ends_the_instance_with_its_message() {
    contained("panic", &[], Grants::none(), &["the component panicked", "hostile guest panics on purpose"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fuel_gives_a_deterministic_budget() {
    let limits = Limits { fuel_per_call: Some(50_000_000), ..test_limits() };
    let (.., outcome) = attack_in(&Scratch::new("fuel"), limits, "infinite-loop", &[], Grants::none()).await;
    let e = outcome.expect_err("contained");
    assert!(e.contains("fuel limit of 50000000 per call exhausted"), "{e}");
}

// ---- what the host lifts and reads --------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_row_count_is_refused() {
    contained("huge-batch", &[], Grants::none(), &["'hostile' returned an invalid batch", "offsets"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aliased_columns_cannot_make_the_host_allocate_without_limit() {
    contained("aliased-columns", &[], Grants::none(), &["result size limit of 64 MiB per call exceeded"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn offsets_out_of_bounds_are_refused() {
    contained("offsets-out-of-bounds", &[], Grants::none(), &["returned an invalid batch", "byte 1000000"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn decreasing_offsets_are_refused() {
    contained("offsets-backwards", &[], Grants::none(), &["returned an invalid batch", "offsets decrease"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_in_a_string_column_is_refused() {
    contained("invalid-utf8", &[], Grants::none(), &["returned an invalid batch", "non UTF-8"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_column_count_is_refused() {
    contained("wrong-column-count", &[], Grants::none(), &["2 columns, the schema has 1"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_column_type_is_refused() {
    contained("wrong-column-type", &[], Grants::none(), &["int64 values for a column of type Utf8"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_validity_bitmap_is_refused() {
    contained("short-bitmap", &[], Grants::none(), &["validity bitmap has 1 bytes for 100 rows"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_row_kind_is_refused() {
    contained("bad-row-kind", &[], Grants::none(), &["row kind 200"]).await;
}

// ---- sources ------------------------------------------------------------

async fn run_source(runtime: &Runtime, attack: &str, config: &pipeline::RunConfig) -> Result<String, String> {
    let text = format!(
        "CREATE TABLE S (x STRING) WITH ('connector' = 'hostile-source', 'attack' = '{attack}');\nSELECT * FROM S;\n"
    );
    run_job(runtime, &text, &Grants::none(), config).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aliased_scan_plan_cannot_make_the_host_allocate_without_limit() {
    let runtime = hostile_runtime(test_limits()).await;
    let e = run_source(&runtime, "aliased-splits", &pipeline::RunConfig::default()).await.expect_err("contained");
    assert!(e.contains("table 'S'") && e.contains("'hostile-source'"), "{e}");
    assert!(e.contains("result size limit of 64 MiB per call exceeded"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_forever_end_the_job_after_the_restart_strategy_without_a_busy_loop() {
    let runtime = hostile_runtime(test_limits()).await;
    let config = pipeline::RunConfig {
        restart: Some(pipeline::Restart { attempts: 3, delay: Duration::from_millis(200) }),
        ..pipeline::RunConfig::default()
    };
    let started = Instant::now();
    let e = run_source(&runtime, "errors-forever", &config).await.expect_err("gives up");
    let took = started.elapsed();
    assert!(e.contains("table 'S'") && e.contains("transient error: the upstream is away"), "{e}");
    assert!(took >= Duration::from_millis(600), "three restarts, 200 ms apart: {took:?}");
    assert!(took < Duration::from_secs(10), "and then it stops: {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_limit_can_be_raised() {
    let limits = Limits { memory_bytes: 128 << 20, ..test_limits() };
    let (.., outcome) = attack_in(&Scratch::new("raised"), limits, "memory-bomb", &[], Grants::none()).await;
    let e = outcome.expect_err("contained");
    assert!(e.contains("memory limit 128 MiB exceeded"), "{e}");
}

// ---- found by the independent probe -----------------------------------
//
// Each of these attacks got through before the fixes they test; see
// docs/security.md § "The independent probe".

/// `{dir}/outside/secret.txt`: what no grant covers.
fn outside(scratch: &Scratch) -> PathBuf {
    let dir = scratch.0.join("outside");
    std::fs::create_dir_all(&dir).expect("outside dir");
    std::fs::write(dir.join("secret.txt"), "outside the grant\n").expect("secret");
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_inside_a_read_grant_does_not_lead_the_host_out() {
    let scratch = Scratch::new("probe-link-read");
    outside(&scratch);
    std::os::unix::fs::symlink("../outside", scratch.0.join("data/rel")).expect("relative link");
    std::os::unix::fs::symlink("/etc", scratch.0.join("data/abs")).expect("absolute link");
    let runtime = hostile_runtime(test_limits()).await;
    let grants = Grants { read: vec![scratch.0.join("data")], ..Grants::none() };
    // The built-in filesystem connector, as any job would use it.
    for path in [scratch.path("data/rel"), scratch.path("data/rel/secret.txt"), scratch.path("data/abs/hostname")] {
        let text = format!(
            "CREATE TABLE T (line STRING) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'raw');\nSELECT * FROM T;\n"
        );
        let e = run_job(&runtime, &text, &grants, &pipeline::RunConfig::default()).await.expect_err("refused");
        assert!(e.contains("leads outside the operator's grant"), "{path}: {e}");
        assert!(!e.contains("outside the grant\n"), "{e}");
    }
    // A link that stays inside the grant still works.
    std::os::unix::fs::symlink("secret.txt", scratch.0.join("data/inside")).expect("inner link");
    let text = format!(
        "CREATE TABLE T (line STRING) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'raw');\nSELECT * FROM T;\n",
        scratch.path("data/inside")
    );
    let out = run_job(&runtime, &text, &grants, &pipeline::RunConfig::default()).await.expect("inside the grant");
    assert!(out.contains("granted data"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlinked_partition_directory_does_not_lead_the_host_out() {
    // `w/dt=x` was turned into a link out of the write grant (by a component
    // before links were refused, or by anyone): a job writing there with
    // only the built-in connectors must not follow it.
    let scratch = Scratch::new("probe-link-write");
    let outside = outside(&scratch);
    std::fs::create_dir_all(scratch.0.join("w")).expect("w");
    std::os::unix::fs::symlink("../outside", scratch.0.join("w/dt=x")).expect("link");
    let runtime = hostile_runtime(test_limits()).await;
    let grants = Grants { write: vec![scratch.0.join("w")], ..Grants::none() };
    let text = format!(
        "CREATE TABLE S (n INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');\n\
         CREATE TABLE W (n INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO W SELECT * FROM S;\n",
        scratch.path("w/dt=x")
    );
    let e = run_job(&runtime, &text, &grants, &pipeline::RunConfig::default()).await.expect_err("refused");
    assert!(e.contains("table 'W'") && e.contains("leads outside the operator's grant"), "{e}");
    let entries: Vec<_> = std::fs::read_dir(&outside).expect("outside").flatten().map(|e| e.file_name()).collect();
    assert_eq!(entries, ["secret.txt"], "nothing was written outside the grant");
}

#[tokio::test(flavor = "multi_thread")]
async fn components_may_not_create_symbolic_links() {
    let scratch = Scratch::new("probe-symlink-create");
    outside(&scratch);
    let grants = Grants { write: vec![PathBuf::from("{dir}/w")], ..Grants::none() };
    let options = [opt("out", "{dir}/w"), opt("victim", "../outside")];
    let (runtime, grants, outcome) = attack_in(&scratch, test_limits(), "symlink-create", &options, grants).await;
    let e = outcome.expect_err("refused");
    assert!(e.contains("symlink-create refused") && e.contains("not-permitted"), "{e}");
    assert!(std::fs::symlink_metadata(scratch.0.join("w/dt=x")).is_err(), "no link was made");
    drop((runtime, grants));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_grant_gives_that_file_only() {
    let scratch = Scratch::new("probe-file-grant");
    std::fs::write(scratch.0.join("data/other.txt"), "not granted\n").expect("sibling");
    let grant = read_grant("{dir}/data/secret.txt");
    let declared = opt("path", "{dir}/data/secret.txt");
    // The granted file itself is readable…
    let (.., outcome) = attack_in(
        &scratch,
        test_limits(),
        "undeclared-read",
        &[declared.clone(), opt("victim", "{dir}/data/secret.txt")],
        grant.clone(),
    )
    .await;
    let out = outcome.expect("the granted file reads");
    assert!(out.contains("granted data"), "{out}");
    // …its neighbours and its directory are not.
    let e = contained(
        "undeclared-read",
        &[declared.clone(), opt("victim", "{dir}/data/other.txt")],
        grant.clone(),
        &["undeclared-read refused"],
    )
    .await;
    assert!(!e.contains("not granted"), "{e}");
    contained("list-dir", &[declared, opt("victim", "{dir}/data")], grant, &["list-dir refused"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_on_a_missing_path_does_not_open_its_parent() {
    let scratch = Scratch::new("probe-missing-grant");
    let options = [opt("path", "{dir}/data/notyet"), opt("victim", "{dir}/data")];
    let (.., outcome) = attack_in(&scratch, test_limits(), "list-dir", &options, read_grant("{dir}/data/notyet")).await;
    let e = outcome.expect_err("refused");
    assert!(e.contains("table 'T'") && e.contains("does not exist"), "{e}");
    assert!(!e.contains("entries"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_may_not_reach_the_compile_cache() {
    let scratch = Scratch::new("probe-cache-grant");
    let cache = scratch.0.join("home/.cache/weir/components");
    let engine = EngineConfig { cache_dir: Some(cache.clone()), limits: test_limits(), ..EngineConfig::default() };
    let (mut runtime, _) = Runtime::new(RuntimeConfig { engine, plugin_dir: None }).await.expect("runtime");
    let entry = weir_tests::load(runtime.engine().clone(), HOSTILE_FORMAT).await;
    runtime.catalog_mut().add(entry).expect("added");
    assert!(cache.is_dir(), "the cache is in use");
    // `--allow-write .` run from $HOME: the grant covers the cache.
    for out in [scratch.path("home"), cache.display().to_string(), scratch.path("home/.cache/weir/components/x")] {
        let grants = scratch.grants(Grants { write: vec![PathBuf::from(&out)], ..Grants::none() });
        let e =
            attack_with(&runtime, &scratch, "list-root", &[("out", out.clone())], &grants).await.expect_err("refused");
        assert!(e.contains("table 'T'") && e.contains("component cache"), "{out}: {e}");
    }
    // Through a symbolic link naming the cache: refused all the same.
    std::os::unix::fs::symlink(&cache, scratch.0.join("alias")).expect("link");
    let grants = scratch.grants(Grants { write: vec![scratch.0.join("alias")], ..Grants::none() });
    let e = attack_with(&runtime, &scratch, "list-root", &[("out", scratch.path("alias"))], &grants)
        .await
        .expect_err("refused");
    assert!(e.contains("component cache"), "{e}");
}

/// A fresh engine (as a new process would have) on the compile cache `cache`.
fn engine_with_cache(cache: &Path) -> Arc<weir::engine::Engine> {
    let config = EngineConfig { cache_dir: Some(cache.to_path_buf()), ..EngineConfig::default() };
    Arc::new(weir::engine::Engine::new(&config).expect("engine"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_cache_artifact_is_not_loaded() {
    use weir::catalog::{Entry, Origin};
    let scratch = Scratch::new("probe-cache-poison");
    let cache = scratch.0.join("cache");
    let engine = || engine_with_cache(&cache);
    let (_, raw, _) = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-format-raw").expect("raw");
    let hostile = std::fs::read(HOSTILE_FORMAT).expect("hostile");
    let load = |engine, wasm: &[u8]| {
        let wasm = wasm.to_vec();
        async move { Entry::load(engine, Origin::BuiltIn, &wasm).await.expect("loads").spec.identifier }
    };
    assert_eq!(load(engine(), raw).await, "raw");
    assert_eq!(load(engine(), &hostile).await, "hostile");
    // The attacker overwrites raw's artifact (and its tag) with hostile's.
    let artifacts: Vec<PathBuf> = std::fs::read_dir(&cache)
        .expect("cache")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(artifacts.len(), 2, "{artifacts:?}");
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).expect("mtime");
    let (first, second) = if modified(&artifacts[0]) <= modified(&artifacts[1]) {
        (&artifacts[0], &artifacts[1])
    } else {
        (&artifacts[1], &artifacts[0])
    };
    std::fs::copy(second, first).expect("overwrite the artifact");
    let tag = |p: &PathBuf| p.with_extension("cwasm.tag");
    if tag(second).exists() {
        std::fs::copy(tag(second), tag(first)).expect("overwrite the tag");
    }
    // A fresh process (engine) loading raw gets raw, not the planted code.
    assert_eq!(load(engine(), raw).await, "raw", "a planted artifact was loaded as trusted code");
}

/// The catalog keeps each built-in's spec (capabilities included) in the
/// compile cache, authenticated like the artifacts: records swapped
/// between components, or rewritten, are not used.
#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_spec_record_is_not_used() {
    use weir::catalog::Catalog;
    let scratch = Scratch::new("probe-spec-records");
    let cache = scratch.0.join("cache");
    let engine = || engine_with_cache(&cache);
    let (honest, _) = Catalog::load(engine(), None).await.expect("catalog");
    let specs = |c: &Catalog| c.entries().iter().map(|e| (e.spec.clone(), e.kind)).collect::<Vec<_>>();
    let records: Vec<PathBuf> = std::fs::read_dir(&cache)
        .expect("cache")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".spec.json"))
        .collect();
    assert_eq!(records.len(), weir::catalog::BUILTINS.len(), "{records:?}");
    let tag = |p: &PathBuf| PathBuf::from(format!("{}.tag", p.display()));
    // Every record (and its tag) replaced by the next one's: a print sink
    // would claim the filesystem's grants, a format a connector's.
    let saved: Vec<(Vec<u8>, Vec<u8>)> =
        records.iter().map(|p| (std::fs::read(p).expect("record"), std::fs::read(tag(p)).expect("tag"))).collect();
    for (i, p) in records.iter().enumerate() {
        let (record, t) = &saved[(i + 1) % saved.len()];
        std::fs::write(p, record).expect("replace the record");
        std::fs::write(tag(p), t).expect("replace the tag");
    }
    let (after, _) = Catalog::load(engine(), None).await.expect("catalog");
    assert_eq!(specs(&after), specs(&honest), "a replaced spec record was used");
    assert!(after.entries().iter().all(|e| e.is_loaded()), "each spec was read from its component again");
}

#[tokio::test(flavor = "multi_thread")]
async fn encoded_separators_and_dot_segments_do_not_climb_out_of_an_http_grant() {
    let (addr, hits) = http_server();
    let prefix = format!("http://{addr}/api/");
    let grant = || Grants { http: vec![prefix.clone()], ..Grants::none() };
    for path in
        ["/api/..%2fadmin/secret.txt", "/api/..%2Fadmin", "/api/..%5cadmin", "/api/%252e%252e/admin", "/api/..;/admin"]
    {
        contained(
            "http-get",
            &[opt("url", &prefix), opt("victim", &format!("http://{addr}{path}"))],
            grant(),
            &["http-get refused", "HttpRequestDenied"],
        )
        .await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no refused request reached the server");
}

/// The `weir` binary next to this test binary (built by `cargo test
/// --workspace`, whose runtime package tests it).
fn weir_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let weir = dir.join("weir");
    assert!(
        weir.is_file(),
        "{} is missing: run `cargo test --workspace` (or `cargo build -p weir-runtime`)",
        weir.display()
    );
    weir
}

#[tokio::test(flavor = "multi_thread")]
async fn component_text_is_escaped_before_it_reaches_a_terminal() {
    // An error message that erases the line and retitles the terminal.
    let e = contained("evil-error", &[], Grants::none(), &["all good"]).await;
    assert!(!e.contains(['\u{1b}', '\r', '\u{7}']), "raw control characters in {e:?}");
    assert!(e.contains("\\u{1b}[2K\\rall good") && e.contains("\\nforged: line"), "{e:?}");
    // Values printed by SELECT.
    let scratch = Scratch::new("probe-evil-values");
    let (.., outcome) = attack_in(&scratch, test_limits(), "evil-values", &[], Grants::none()).await;
    let out = outcome.expect("rows");
    assert!(!out.contains(['\u{1b}', '\r']) && out.contains("\\u{1b}[2K\\r+I[forged]"), "{out:?}");
    // Spec text shown by `weir inspect` and `weir describe`.
    let cache = scratch.0.join("cli-cache");
    let plugins = scratch.0.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins");
    std::fs::copy(HOSTILE_FORMAT, plugins.join("hostile.wasm")).expect("plugin");
    for args in [vec!["inspect", HOSTILE_FORMAT], vec!["describe", "hostile"]] {
        let o = std::process::Command::new(weir_binary())
            .args(&args)
            .arg("--plugins")
            .arg(&plugins)
            .env("WEIR_CACHE_DIR", &cache)
            .output()
            .expect("weir runs");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(!out.contains(['\u{1b}', '\r']), "{args:?} printed raw control characters:\n{out:?}");
        assert!(out.contains("\\u{1b}[8m (hidden text)"), "{args:?}: {out}");
        if args[0] == "inspect" {
            assert!(out.contains("env AWS_SECRET_ACCESS_KEY\\u{1b}[1A"), "the capability shows: {out}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_error_message_is_cut() {
    let e = contained("huge-error", &[], Grants::none(), &["more bytes dropped"]).await;
    assert!(e.len() < 16 * 1024, "a {} byte error", e.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_flood_is_capped_per_call() {
    let runtime = hostile_runtime(Limits { cpu_per_call: Duration::from_secs(30), ..test_limits() }).await;
    let entry = runtime.catalog().find("hostile", weir::catalog::Role::Format).expect("hostile");
    let mut instance =
        entry.loaded().expect("load the component").instantiate("hostile", &Grants::none()).await.expect("instance");
    let schema = weir::schema![("line", String)];
    let decoder = instance
        .open_decoder(&vec![("attack".into(), "log-flood".into())], &schema.to_contract())
        .await
        .expect("opens");
    instance.decode(decoder, weir::Frames::new(["go"]).as_contract()).await.expect("the flood returns");
    let dropped = instance.metrics().counters.get(weir::store::LOG_DROPPED_COUNTER).copied().unwrap_or(0);
    let kept = 200_000 - dropped;
    assert!(kept <= u64::from(weir::store::MAX_LOG_MESSAGES_PER_CALL), "{kept} of 200000 messages were logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_listen_is_recorded_as_a_listen() {
    let (l, addr) = listener();
    let runtime = hostile_runtime(test_limits()).await;
    let entry = runtime.catalog().find("hostile", weir::catalog::Role::Format).expect("hostile");
    let mut instance =
        entry.loaded().expect("load the component").instantiate("hostile", &net_grant(&addr)).await.expect("instance");
    let schema = weir::schema![("line", String)];
    let options = vec![("attack".to_owned(), "listen".to_owned()), ("victim".to_owned(), "0.0.0.0:0".to_owned())];
    let decoder = instance.open_decoder(&options, &schema.to_contract()).await.expect("opens");
    let e = instance.decode(decoder, weir::Frames::new(["go"]).as_contract()).await.expect_err("refused").to_string();
    assert!(e.contains("listen refused"), "{e}");
    let denials = instance.denials();
    assert!(denials.iter().any(|d| d.starts_with("TCP listen on")), "{denials:?}");
    assert!(!denials.iter().any(|d| d.contains("UDP")), "{denials:?}");
    assert_no_connection(&l);
}
