//! Weir components inside Apache Flink (`'connector' = 'wasm'`, the bridge
//! in bridges/flink): real Flink 2.3 mini-clusters started by PyFlink
//! (tests/flink/bridge.py), the bridge jar built by `scripts/test` with
//! `scripts/build-flink-bridge --debug`. Results are read from Flink's own
//! output (its collected rows, the files its sinks committed) and compared
//! with `weir run` on the same input.
//!
//! Each scenario starts a JVM; they run one at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One Flink mini-cluster at a time: two at once on a small machine slow
/// each other down past the failover test's timing.
static FLINK: Mutex<()> = Mutex::new(());

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test binary");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

fn jar() -> PathBuf {
    let jar = target_dir().join("flink-bridge/debug/weir-flink-bridge.jar");
    assert!(
        jar.is_file(),
        "{} is missing: run the tests with `bash scripts/test` (it runs `scripts/build-flink-bridge --debug`)",
        jar.display()
    );
    jar
}

fn python() -> PathBuf {
    let venv = std::env::var_os("WEIR_FLINK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/weir/flink-venv"));
    let python = venv.join("bin/python");
    assert!(python.is_file(), "{} is missing: run `bash scripts/build-flink-bridge`", python.display());
    python
}

fn driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("flink/bridge.py")
}

/// Runs a scenario of tests/flink/bridge.py to its end.
fn flink(args: &[&str]) -> String {
    flink_with(args, &[])
}

/// [`flink`] with environment variables for the JVM (and so the bridge).
fn flink_with(args: &[&str], env: &[(&str, &str)]) -> String {
    let out: Output = Command::new(python())
        .arg(driver())
        .arg(jar())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run PyFlink");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "Flink scenario {args:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn weir_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let weir = exe.parent().and_then(|d| d.parent()).expect("target dir").join("weir");
    assert!(weir.is_file(), "{} is missing: run `cargo test --workspace`", weir.display());
    weir
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("weir-flink-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SCHEMA: &str = "id BIGINT, name STRING, price DOUBLE, ts TIMESTAMP(3), flag BOOLEAN";

/// `files` CSV files of `rows` rows each under `dir`: quoted names with
/// commas and doubled quotes, and a NULL (empty field) now and then.
fn write_csv(dir: &str, files: usize, rows: usize) {
    std::fs::create_dir_all(dir).expect("input dir");
    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
    for f in 0..files {
        let mut text = String::new();
        for r in 0..rows {
            let i = (f * rows + r + 1) as u64;
            let h = i.wrapping_mul(2_654_435_761) & 0xFFFF_FFFF;
            let base = names[(h % 8) as usize];
            let name = match h % 13 {
                0 => format!("\"{base}, jr.\""),
                1 => format!("\"{base} \"\"the\"\" {}\"", h % 100),
                _ => format!("{base}{}", h % 1000),
            };
            let ms = 1_700_000_000_000 + i * 37;
            let (secs, milli) = (ms / 1000, ms % 1000);
            let (days, rest) = (secs / 86_400, secs % 86_400);
            // 2023-11-14 is day 19675 after the epoch; the days that follow stay in November.
            let ts = format!(
                "2023-11-{:02} {:02}:{:02}:{:02}.{milli:03}",
                14 + days - 19_675,
                rest / 3600,
                rest % 3600 / 60,
                rest % 60
            );
            let fields = [
                i.to_string(),
                if h % 67 == 1 { String::new() } else { name },
                if h % 67 == 2 { String::new() } else { format!("{:.2}", (h % 1_000_000) as f64 / 100.0) },
                if h % 67 == 3 { String::new() } else { ts },
                if h % 67 == 4 { String::new() } else { (h & 1 == 1).to_string() },
            ];
            text.push_str(&fields.join(","));
            text.push('\n');
        }
        std::fs::write(format!("{dir}/part-{f}.csv"), text).expect("input file");
    }
}

/// Every line of the committed (visible) files under `dir`, counted.
fn committed_lines(dir: &str) -> BTreeMap<String, usize> {
    let mut lines = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("output dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).expect("output file").lines() {
            *lines.entry(line.to_owned()).or_insert(0) += 1;
        }
    }
    lines
}

/// What `weir run` writes for csv `input` as json.
fn weir_copy(scratch: &Scratch, input: &str) -> BTreeMap<String, usize> {
    let out = scratch.path("weir-out");
    let job = scratch.path("copy.sql");
    std::fs::write(
        &job,
        format!(
            "CREATE TABLE src ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = '{input}', 'format' = 'csv', \
             'csv.null-literal' = '');\n\
             CREATE TABLE dst ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');\n\
             INSERT INTO dst SELECT * FROM src;\n"
        ),
    )
    .expect("job file");
    let status = Command::new(weir_binary())
        .args(["run", &job, "--allow-read", input, "--allow-write", &out])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("weir run");
    assert!(status.success(), "weir run failed");
    committed_lines(&out)
}

#[test]
fn the_socket_changelog_example_prints_flinks_rows_through_the_wasm_connector() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let out = flink(&["changelog"]);
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with(['+', '-'])).collect();
    assert_eq!(rows, ["+I[Alice, 12]", "+I[Bob, 5]", "-D[Alice, 12]", "+I[Alice, 18]"], "{out}");
}

#[test]
fn a_csv_to_json_copy_at_parallelism_2_in_flink_writes_what_weir_writes() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("copy");
    let input = scratch.path("in");
    write_csv(&input, 4, 5_000);
    let expected = weir_copy(&scratch, &input);
    assert_eq!(expected.values().sum::<usize>(), 20_000);
    let out = scratch.path("flink-out");
    flink(&["copy", &input, &out, "2"]);
    assert_eq!(committed_lines(&out), expected, "Flink through the bridge wrote other rows than weir run");
    let parts: Vec<String> =
        std::fs::read_dir(&out).expect("out").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    for subtask in ["part-0-", "part-1-"] {
        assert!(parts.iter().any(|p| p.starts_with(subtask)), "both writer subtasks wrote: {parts:?}");
    }
}

#[test]
fn a_wasm_table_is_refused_when_flink_plans_it_without_its_grant_or_with_a_misspelt_option() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("refused");
    let input = scratch.path("in");
    write_csv(&input, 1, 10);
    let denied = flink(&["denied", &input]);
    assert!(
        denied.contains(&format!(
            "refused: table 'src': connector 'filesystem' needs a capability that the table's options do not grant: \
             read {input} (grant with 'weir.allow-read' = '{input}')"
        )),
        "{denied}"
    );
    let misspelt = flink(&["bad-option", &input]);
    assert!(
        misspelt.contains("refused: table 'src': unsupported option 'csv.field-delimeter' for format 'csv', did you mean 'csv.field-delimiter'?"),
        "{misspelt}"
    );
}

#[test]
fn flinks_projection_filters_and_limit_are_pushed_into_the_wasm_source() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("pushdown");
    let input = scratch.path("in");
    write_csv(&input, 1, 100);
    let out = flink(&["pushdown", &input]);
    let scan = out.lines().find(|l| l.starts_with("scan:")).unwrap_or_else(|| panic!("no source scan in {out}"));
    assert!(scan.contains("project=[id, flag]") && scan.contains("limit=[100]"), "{scan}");
    assert!(scan.contains("filter=["), "{scan}");
    assert!(!out.lines().any(|l| l.starts_with("calc:") && l.contains("where=")), "every filter was pushed: {out}");
    let mut got: Vec<u64> = out
        .lines()
        .filter_map(|l| l.strip_prefix("row "))
        .map(|l| l.split(' ').next().expect("id").parse().expect("id"))
        .collect();
    got.sort();
    // The input file, read independently: ids below 40 whose flag is true and name not empty.
    let text = std::fs::read_to_string(format!("{input}/part-0.csv")).expect("input");
    let want: Vec<u64> = text
        .lines()
        .filter_map(|l| {
            let id: u64 = l.split(',').next()?.parse().ok()?;
            let name_empty = l.split(',').nth(1) == Some("");
            (l.ends_with(",true") && !name_empty && id < 40).then_some(id)
        })
        .collect();
    assert!(want.len() > 5, "{want:?}");
    assert_eq!(got, want);
}

#[test]
fn a_lookup_join_in_flink_asks_postgresql_through_the_wasm_jdbc_component() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let pg = weir_tests::peers::postgres();
    pg.psql(
        "CREATE TABLE customers (id INT PRIMARY KEY, name TEXT, country TEXT, since DATE);
         INSERT INTO customers SELECT i, 'name ' || i, CASE WHEN i % 10 = 0 THEN NULL ELSE 'c' || (i % 7) END,
           DATE '2020-01-01' + i FROM generate_series(1, 300) AS i;
         CREATE TABLE lookup_orders (order_id INT PRIMARY KEY, customer_id INT, total INT);
         INSERT INTO lookup_orders SELECT i, (i * 37) % 400, i % 1000 FROM generate_series(1, 2000) AS i;",
    );
    let scratch = Scratch::new("lookup");
    let orders = scratch.path("orders.csv");
    std::fs::write(
        &orders,
        pg.psql("COPY (SELECT order_id, customer_id, total FROM lookup_orders ORDER BY order_id) TO STDOUT CSV"),
    )
    .expect("orders");
    let out = flink(&["lookup", &orders, &pg.url(), pg.user, pg.password]);
    assert!(!out.contains(pg.password), "the password stays out of Flink's output");
    let mut got: Vec<&str> = out.lines().filter(|l| l.starts_with("+I[")).collect();
    got.sort();
    // PostgreSQL's own join of the same rows (the independent answer).
    let want = pg.flink_rows(
        "SELECT o.order_id, o.total, c.name, c.country, c.since FROM lookup_orders o JOIN customers c
           ON o.customer_id = c.id",
    );
    assert!(want.len() > 1000 && want.len() < 2000, "some orders have no customer: {}", want.len());
    assert_eq!(got, want);
}

#[test]
fn a_component_file_runs_as_a_connector_and_a_trapping_component_fails_its_job_not_the_jvm() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("third-party");
    let plugins = scratch.path("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins");
    std::fs::copy(weir_tests::guests::PANIC_FORMAT, format!("{plugins}/panicky.wasm")).expect("plugin");
    let input = scratch.path("in");
    std::fs::create_dir_all(&input).expect("input");
    std::fs::write(format!("{input}/a.txt"), "one\ntwo\n").expect("input file");
    let out = flink_with(
        &["third-party", weir_tests::guests::TUTORIAL_COUNTER, &input],
        &[("WEIR_PLUGIN_DIR", plugins.as_str())],
    );
    let sums: Vec<&str> = out.lines().filter(|l| l.starts_with("sum ")).collect();
    assert_eq!(sums, ["sum 1000 500500", "sum 1000 500500"], "the same JVM answers after the failed job: {out}");
    let failed =
        out.lines().find(|l| l.starts_with("failed:")).unwrap_or_else(|| panic!("the job did not fail: {out}"));
    assert!(failed.contains("panicky"), "the failure names the component: {failed}");
}

#[test]
fn weir_formats_run_inside_flinks_own_filesystem_connector_as_format_wasm() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("format");
    let input = scratch.path("in");
    std::fs::create_dir_all(&input).expect("input");
    std::fs::write(format!("{input}/a.csv"), "1;alice;1.5\n2;\"bob; jr.\";\n3;\"say \"\"hi\"\"\";2.25\n")
        .expect("input file");
    let out = scratch.path("out");
    flink(&["wasm-format", &input, &out]);
    let got: Vec<String> = committed_lines(&out).into_keys().collect();
    assert_eq!(
        got,
        [
            r#"{"id":1,"name":"alice","price":1.5}"#,
            r#"{"id":2,"name":"bob; jr.","price":null}"#,
            r#"{"id":3,"name":"say \"hi\"","price":2.25}"#,
        ]
    );
}

#[test]
fn array_columns_cross_from_flink_to_a_wasm_sink_with_their_nulls() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("arrays");
    let out = scratch.path("out");
    flink(&["arrays", &out]);
    let got: Vec<String> = committed_lines(&out).into_keys().collect();
    assert_eq!(
        got,
        [
            r#"{"id":1,"v":[1.5,null,-2.0],"w":[0.25]}"#,
            r#"{"id":2,"v":null,"w":[1.0,2.0]}"#,
            r#"{"id":3,"v":[3.0],"w":null}"#,
        ]
    );
}

#[test]
fn flinks_vector_search_finds_pgvectors_nearest_rows_through_the_wasm_jdbc_component() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let pg = weir_tests::peers::postgres();
    pg.psql(
        "CREATE EXTENSION IF NOT EXISTS vector;
         CREATE TABLE flink_docs (id INT PRIMARY KEY, title TEXT, embedding vector(3));
         INSERT INTO flink_docs VALUES (1, 'x', '[1,0,0]'), (2, 'mostly x', '[0.9,0.1,0.2]'),
           (3, 'y', '[0,1,0]'), (4, 'z', '[0,0,1]'), (5, 'yz', '[0,0.6,0.9]');",
    );
    let out = flink(&["vector-search", &pg.url(), pg.user, pg.password]);
    let mut got: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("hit ")).collect();
    got.sort();
    // pgvector's own answer (psql): the two nearest by cosine distance, with
    // the similarity the jdbc component reports (1 - distance).
    let mut want = Vec::new();
    for (qid, q) in [(1, "[1,0,0]"), (2, "[0,0.5,1]")] {
        let rows = pg.psql(&format!(
            "SELECT id, round((1 - (embedding <=> '{q}'))::numeric, 5) FROM flink_docs ORDER BY embedding <=> '{q}' LIMIT 2"
        ));
        for line in rows.lines() {
            let (id, score) = line.split_once('|').expect("id|score");
            want.push(format!("{qid} {id} {score}"));
        }
    }
    want.sort();
    assert_eq!(got, want, "{out}");
}

#[test]
fn a_flink_job_writes_kafka_exactly_once_and_reads_it_back_through_the_wasm_kafka_component() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let k = weir_tests::peers::kafka();
    k.create_topic("flink-bridge-eo", 2);
    let scratch = Scratch::new("kafka");
    let input = scratch.path("in");
    std::fs::create_dir_all(&input).expect("input dir");
    for f in 0..4u64 {
        let numbers: String = (f * 5000 + 1..=(f + 1) * 5000).map(|n| format!("{n}\n")).collect();
        std::fs::write(format!("{input}/part-{f}.csv"), numbers).expect("input file");
    }
    let out = flink(&["kafka-sink", &input, &k.bootstrap, "flink-bridge-eo"]);
    assert!(out.contains("done"), "{out}");
    let want: Vec<i64> = (1..=20_000).collect();
    // librdkafka (read_committed) reads every number once…
    let mut read: Vec<i64> =
        k.consume("flink-bridge-eo").iter().map(|r| r.split('\t').nth(3).expect("value").parse().expect("n")).collect();
    read.sort();
    assert_eq!(read, want, "librdkafka reads every row once");
    // …and the marker-aware reader finds every transaction committed.
    let mut committed: Vec<i64> =
        k.committed_values("flink-bridge-eo", 2).iter().map(|v| v.parse().expect("n")).collect();
    committed.sort();
    assert_eq!(committed, want, "every record is in a committed transaction");
    // Read back through the wasm Kafka source (bounded at the latest offsets).
    let back = flink(&["kafka-source", &k.bootstrap, "flink-bridge-eo"]);
    let mut back: Vec<i64> = back.lines().filter_map(|l| l.strip_prefix("n ")?.parse().ok()).collect();
    back.sort();
    assert_eq!(back, want, "the wasm Kafka source reads every row once");
}

/// Runs the failover scenario's first attempt and kills its whole process
/// (the JVM with the mini-cluster: job manager and task manager) once a
/// checkpoint completed and some rows were committed. The JVM's temp dir is
/// `tmp`, where the bridge unpacks its native library.
fn run_and_kill(input: &str, out: &str, checkpoints: &str, tmp: &str) -> String {
    use std::os::unix::process::CommandExt;
    let log = format!("{checkpoints}/../first-attempt.log");
    let mut child = Command::new(python())
        .arg(driver())
        .arg(jar())
        .args(["failover", input, out, checkpoints])
        .env("JVM_ARGS", format!("-Djava.io.tmpdir={tmp}"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start PyFlink");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let committed = std::fs::read_dir(out)
            .is_ok_and(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("part-")));
        if committed && latest_checkpoint(checkpoints).is_some() {
            break;
        }
        assert!(child.try_wait().expect("wait").is_none(), "the first attempt ended before it could be killed");
        assert!(Instant::now() < deadline, "no checkpoint completed in 5 minutes");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status().expect("kill");
    assert!(status.success(), "kill the first attempt");
    let _ = child.wait();
    std::fs::read_to_string(&log).unwrap_or_default()
}

/// The newest completed checkpoint (`<job>/chk-N` with its `_metadata`).
fn latest_checkpoint(dir: &str) -> Option<PathBuf> {
    let mut best: Option<(u64, PathBuf)> = None;
    for job in std::fs::read_dir(dir).ok()?.flatten() {
        for chk in std::fs::read_dir(job.path()).into_iter().flatten().flatten() {
            let name = chk.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_prefix("chk-").and_then(|n| n.parse::<u64>().ok())
                && chk.path().join("_metadata").is_file()
                && best.as_ref().is_none_or(|(b, _)| n > *b)
            {
                best = Some((n, chk.path()));
            }
        }
    }
    best.map(|(_, p)| p)
}

#[test]
fn a_flink_job_killed_mid_run_resumes_from_its_checkpoint_with_no_row_lost_or_duplicated() {
    let _one = FLINK.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Scratch::new("failover");
    let input = scratch.path("in");
    write_csv(&input, 8, 50_000);
    let expected = weir_copy(&scratch, &input);
    let out = scratch.path("flink-out");
    let checkpoints = scratch.path("checkpoints");
    std::fs::create_dir_all(&checkpoints).expect("checkpoints dir");
    let tmp = scratch.path("jvm-tmp");
    std::fs::create_dir_all(&tmp).expect("JVM temp dir");
    let first = run_and_kill(&input, &out, &checkpoints, &tmp);
    assert!(!first.contains("done"), "the job finished before the kill: {first}");
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .expect("JVM temp dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("weir_flink"))
        .collect();
    assert!(left.is_empty(), "a killed JVM left the bridge's unpacked native library behind: {left:?}");
    let before: usize = committed_lines(&out).values().sum();
    assert!(before > 0 && before < 400_000, "killed mid-run ({before} rows committed)");
    let restore = latest_checkpoint(&checkpoints).expect("a completed checkpoint");
    let second = flink(&["failover", &input, &out, &checkpoints, &restore.display().to_string()]);
    assert!(second.contains("done"), "{second}");
    let got = committed_lines(&out);
    let duplicated: Vec<&String> =
        got.iter().filter(|(l, n)| **n > expected.get(*l).copied().unwrap_or(0)).map(|(l, _)| l).collect();
    let lost = expected.keys().filter(|l| !got.contains_key(*l)).count();
    assert!(
        duplicated.is_empty() && lost == 0,
        "{} duplicated, {lost} lost (first: {:?})",
        duplicated.len(),
        duplicated.first()
    );
    assert_eq!(got, expected);
}
