//! What a run says and how it ends, as a new user meets it: `check` agrees
//! with `run`, an INSERT reports what it did (and that it resumed), a bad
//! record is placed in its file, SIGTERM stops after a last checkpoint, a
//! closed pipe ends a SELECT quietly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn weir(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
    c.current_dir(dir)
        .env("WEIR_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"))
        .env_remove("WEIR_PLUGIN_DIR");
    c
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("runs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn output(c: &mut Command) -> Output {
    c.output().expect("weir runs")
}

#[test]
fn check_fails_where_run_would_on_a_components_own_rules() {
    let dir = scratch("check");
    // The options parse, but datagen needs a sequence's start and end.
    std::fs::write(
        dir.join("job.sql"),
        "CREATE TABLE T (n BIGINT) WITH ('connector' = 'datagen', 'fields.n.kind' = 'sequence');\nSELECT n FROM T;",
    )
    .expect("write");
    let check = output(weir(&dir).args(["check", "job.sql"]));
    let err = text(&check.stderr);
    assert!(!check.status.success(), "check must refuse what run refuses: {}", text(&check.stdout));
    assert!(err.contains("job.sql:1:") && err.contains("table 'T'") && err.contains("fields.n.start"), "{err}");
    let run = output(weir(&dir).args(["run", "job.sql"]));
    assert!(!run.status.success() && text(&run.stderr).contains("fields.n.start"), "{}", text(&run.stderr));
}

#[test]
fn an_insert_reports_what_it_wrote_on_stderr() {
    let dir = scratch("summary");
    std::fs::write(
        dir.join("job.sql"),
        "CREATE TABLE G (n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '2500');
         CREATE TABLE B (n BIGINT) WITH ('connector' = 'blackhole');
         INSERT INTO B SELECT n FROM G;",
    )
    .expect("write");
    let o = output(weir(&dir).args(["run", "job.sql"]));
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(o.stdout.is_empty(), "stdout stays for SELECT rows: {}", text(&o.stdout));
    let summary = err.lines().last().unwrap_or_default();
    assert!(summary.starts_with("G → B: 2500 rows written, 1 checkpoint, "), "{err}");
    assert!(!err.contains('\x1b'), "no terminal codes when stderr is not a terminal: {err:?}");
}

#[test]
fn a_bad_record_is_placed_in_its_file() {
    let dir = scratch("data-error");
    let mut csv = String::new();
    for i in 1..=20_000 {
        if i == 15_001 {
            csv.push_str("oops,not a number\n");
        } else {
            csv.push_str(&format!("{i},{i}\n"));
        }
    }
    std::fs::create_dir_all(dir.join("in")).expect("dir");
    std::fs::write(dir.join("in/numbers.csv"), csv).expect("write");
    std::fs::write(
        dir.join("job.sql"),
        "CREATE TABLE N (a INT, b INT) WITH ('connector' = 'filesystem', 'path' = 'in', 'format' = 'csv');
         SELECT a FROM N WHERE a < 0;",
    )
    .expect("write");
    let o = output(weir(&dir).args(["run", "--allow-read", "in", "job.sql"]));
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("record 15001 of split 'numbers.csv'") && err.contains("oops"), "{err}");
}

#[test]
fn sigterm_stops_an_insert_after_a_last_checkpoint_and_the_next_run_resumes() {
    let dir = scratch("sigterm");
    std::fs::write(
        dir.join("job.sql"),
        "SET 'execution.checkpointing.interval' = '200 ms';
         CREATE TABLE G (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
           'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '100000');
         CREATE TABLE B (n BIGINT) WITH ('connector' = 'blackhole');
         INSERT INTO B SELECT n FROM G;",
    )
    .expect("write");
    let child = weir(&dir).args(["run", "job.sql"]).stderr(Stdio::piped()).spawn().expect("weir runs");
    // Let it take a few checkpoints, then stop it as a service manager would.
    let checkpoints = dir.join(".weir");
    let start = Instant::now();
    while !checkpoints.exists() || start.elapsed() < Duration::from_secs(1) {
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let o = child.wait_with_output().expect("weir ends");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "128 + SIGTERM: {err}");
    assert!(err.contains("stopping after a last checkpoint") && err.contains("stopped after checkpoint"), "{err}");

    // The next run says it resumes, and counts on from the checkpoint.
    let again = weir(&dir).args(["run", "job.sql"]).stderr(Stdio::piped()).spawn().expect("weir runs");
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("kill").args(["-TERM", &again.id().to_string()]).status();
    let o = again.wait_with_output().expect("weir ends");
    let err = text(&o.stderr);
    let resumed = err.lines().find(|l| l.contains("resuming from checkpoint")).unwrap_or_else(|| panic!("{err}"));
    let so_far: u64 = resumed
        .split('(')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{resumed}"));
    assert!(so_far > 0, "{resumed}");
    let summary = err.lines().rev().find(|l| l.contains("rows written")).unwrap_or_else(|| panic!("{err}"));
    assert!(summary.contains(&format!("{so_far} of them before the resume")), "{summary}");
}

#[test]
fn a_select_ends_quietly_when_its_reader_goes_away() {
    let dir = scratch("pipe");
    std::fs::write(
        dir.join("job.sql"),
        "CREATE TABLE G (n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5000000');
         SELECT n FROM G;",
    )
    .expect("write");
    let mut child =
        weir(&dir).args(["run", "job.sql"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("runs");
    // `| head -2`: read two lines, then close the pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    std::io::Read::read(&mut stdout, &mut first).expect("rows come");
    drop(stdout);
    let o = child.wait_with_output().expect("weir ends");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    assert!(!err.contains("error") && !err.contains("Broken pipe"), "{err}");
}

#[test]
fn the_first_use_of_a_component_says_it_compiles() {
    let dir = scratch("compile");
    let cache = dir.join("cache");
    let first = output(weir(&dir).env("WEIR_CACHE_DIR", &cache).arg("connectors"));
    let err = text(&first.stderr);
    assert!(first.status.success(), "{err}");
    assert!(err.contains("(first use, cached afterwards)") && err.contains("compiled "), "{err}");
    // Cached now: nothing to say.
    let again = output(weir(&dir).env("WEIR_CACHE_DIR", &cache).arg("connectors"));
    assert!(!text(&again.stderr).contains("compiling"), "{}", text(&again.stderr));
}
