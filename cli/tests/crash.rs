//! Exactly-once under crashes: a filesystem → filesystem job is killed with
//! SIGKILL at random points and restarted with the same checkpoint
//! directory until it finishes; the output must hold every input row
//! exactly once.
//!
//! The suite runs 200,000 rows and 10 kills; `scripts/crash-test` runs the
//! full size (`WEIR_CRASH_ROWS`, `WEIR_CRASH_KILLS`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn weir() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
    c.env("WEIR_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache")).env_remove("WEIR_PLUGIN_DIR");
    c
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Sorted lines of every visible file under `dir`.
fn lines_under(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            let text = std::fs::read_to_string(entry.path()).expect("read");
            lines.extend(text.lines().map(str::to_owned));
        }
    }
    lines.sort_unstable();
    lines
}

/// The checkpoint file of statement 1 of the job file `stem.sql` run from
/// `dir` with the default checkpoint directory (`<stem>-<path hash>`).
fn checkpoint_file(dir: &Path, stem: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dir.join(".weir/checkpoints"))
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(&format!("{stem}-")))
        .map(|e| e.path().join("statement-1/checkpoint.json"))
        .filter(|p| p.exists())
}

/// Rows covered by the last completed checkpoint of job `stem`.
fn checkpointed(dir: &Path, stem: &str) -> u64 {
    checkpoint_file(dir, stem)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["rows"].as_u64())
        .unwrap_or(0)
}

/// Runs `weir <args>` in `dir` until it succeeds, killing it with SIGKILL
/// `kills` times at random points spread over the first 70 % of the job's
/// `rows` (by the rows its last checkpoint covers). Returns the kills, the
/// runs and the rows checkpointed at each kill.
fn kill_and_restart(dir: &Path, stem: &str, args: &[&str], rows: u64, kills: u64, seed: u64) -> (u64, u64, Vec<u64>) {
    let mut rng = seed;
    let mut random = move |below: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % below
    };
    // Kill targets: rows checkpointed, spread over the first 70 % of the job.
    let mut targets: Vec<u64> = (0..kills).map(|_| rows / 50 + random(rows * 68 / 100)).collect();
    targets.sort_unstable();
    let (mut killed, mut runs) = (0, 0);
    let mut progress = Vec::new();
    loop {
        runs += 1;
        assert!(runs < 10 * kills + 50, "the job does not finish");
        let mut child =
            weir().current_dir(dir).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("starts");
        // Kill points are spread over the job by progress, not by time (so
        // a faster machine or build cannot let the job finish first): once
        // the last checkpoint has passed this run's target, wait a random
        // few milliseconds (landing anywhere between checkpoints) and kill.
        let target = targets.get(killed as usize).copied();
        let mut kill_at: Option<Instant> = None;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if kill_at.is_none() && target.is_some_and(|t| checkpointed(dir, stem) >= t) {
                kill_at = Some(Instant::now() + Duration::from_millis(random(30)));
            }
            if kill_at.is_some_and(|d| Instant::now() >= d) {
                child.kill().expect("SIGKILL");
                child.wait().expect("reaped");
                killed += 1;
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match status {
            None => {
                // Where the killed run had got to: its last completed checkpoint.
                progress.push(checkpointed(dir, stem));
                continue;
            }
            Some(s) if s.success() => break,
            Some(s) => {
                let mut err = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err).expect("stderr");
                panic!("run {runs} failed ({s}): {err}");
            }
        }
    }
    (killed, runs, progress)
}

#[test]
fn killed_and_restarted_jobs_write_every_row_exactly_once() {
    let rows = env_number("WEIR_CRASH_ROWS", 200_000);
    let kills = env_number("WEIR_CRASH_KILLS", 10);
    let seed = env_number(
        "WEIR_CRASH_SEED",
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1,
    );
    eprintln!("crash test: {rows} rows, {kills} kills, seed {seed} (set WEIR_CRASH_SEED to repeat)");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");

    // The input: csv files written by datagen through the filesystem sink.
    let schema = "id BIGINT NOT NULL, name STRING, amount DOUBLE, at TIMESTAMP(3)";
    std::fs::write(
        dir.join("input.sql"),
        format!(
            "CREATE TABLE Gen ({schema}) WITH ('connector' = 'datagen', 'number-of-rows' = '{rows}',
               'rows-per-second' = '100000000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
               'fields.id.end' = '{rows}', 'fields.name.length' = '8', 'fields.name.null-rate' = '0.1',
               'fields.amount.min' = '0', 'fields.amount.max' = '1000', 'fields.at.max-past' = '1 d');
             CREATE TABLE Input ({schema}) WITH ('connector' = 'filesystem', 'path' = 'in', 'format' = 'csv',
               'csv.null-literal' = '\\N', 'sink.rolling-policy.file-size' = '256 kb');
             INSERT INTO Input SELECT * FROM Gen;"
        ),
    )
    .expect("write job");
    let status = weir().current_dir(&dir).args(["run", "input.sql", "--allow-write", "in"]).status().expect("runs");
    assert!(status.success(), "generating the input failed");
    let input = lines_under(&dir.join("in"));
    assert_eq!(input.len() as u64, rows);

    // The job under test: copy with checkpoints every 50 ms.
    std::fs::write(
        dir.join("copy.sql"),
        format!(
            "SET 'execution.checkpointing.interval' = '50 ms';
             CREATE TABLE Input ({schema}) WITH ('connector' = 'filesystem', 'path' = 'in', 'format' = 'csv',
               'csv.null-literal' = '\\N', 'scan.parallelism' = '3', 'source.split-size' = '100 kb');
             CREATE TABLE Output ({schema}) WITH ('connector' = 'filesystem', 'path' = 'out', 'format' = 'csv',
               'csv.null-literal' = '\\N', 'sink.rolling-policy.file-size' = '64 kb', 'sink.parallelism' = '2');
             INSERT INTO Output SELECT * FROM Input;"
        ),
    )
    .expect("write job");
    let (killed, runs, progress) = kill_and_restart(
        &dir,
        "copy",
        &["run", "copy.sql", "--allow-read", "in", "--allow-write", "out"],
        rows,
        kills,
        seed,
    );
    eprintln!("crash test: {killed} kills over {runs} runs; rows checkpointed at each kill: {progress:?}");
    let mid_job = progress.iter().filter(|&&p| p > 0 && p < rows).count();
    assert!(mid_job >= 3, "too few kills landed mid-job to mean anything: {progress:?}");
    assert_eq!(killed, kills, "every planned kill must land while the job runs (seed {seed})");
    let output = lines_under(&dir.join("out"));
    let names: Vec<String> = std::fs::read_dir(dir.join("out"))
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("part-0-")) && names.iter().any(|n| n.starts_with("part-1-")),
        "both writers wrote: {names:?}"
    );
    assert_eq!(output.len(), input.len(), "rows lost or duplicated after {killed} kills (seed {seed})");
    assert!(output == input, "output differs from input after {killed} kills (seed {seed})");
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("out"))
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".inprogress"))
        .collect();
    assert!(leftovers.is_empty(), "in-progress files left behind: {leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_after_a_checkpoint_and_the_next_run_resumes() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ctrl-c-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("slow.sql"),
        "SET 'execution.checkpointing.interval' = '100 ms';
         CREATE TABLE Gen (id BIGINT NOT NULL) WITH ('connector' = 'datagen', 'number-of-rows' = '60000',
           'rows-per-second' = '20000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '60000');
         CREATE TABLE Out (id BIGINT NOT NULL) WITH ('connector' = 'filesystem', 'path' = 'out', 'format' = 'csv');
         INSERT INTO Out SELECT * FROM Gen;",
    )
    .expect("write job");
    let child = weir()
        .current_dir(&dir)
        .args(["run", "slow.sql", "--allow-write", "out"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // Stop once the job is surely running: its first checkpoint is written.
    let waiting = Instant::now();
    while checkpoint_file(&dir, "slow").is_none() {
        assert!(waiting.elapsed() < Duration::from_secs(60), "the job never took a checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    let interrupted = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill -INT");
    assert!(interrupted.success());
    let out = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("; run the job again to resume from"), "{stderr}");
    let partial = lines_under(&dir.join("out")).len();
    assert!(partial > 0 && partial < 60_000, "the stop came mid-job: {partial} rows");

    let status = weir().current_dir(&dir).args(["run", "slow.sql", "--allow-write", "out"]).status().expect("runs");
    assert!(status.success());
    let mut ids: Vec<u64> = lines_under(&dir.join("out")).iter().map(|l| l.parse().expect("id")).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=60_000).collect::<Vec<u64>>(), "every row exactly once across the stop");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checkpoints_belong_to_their_job() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("identity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let job = |rows: u32, out: &str, extra: &str| {
        format!(
            "{extra}CREATE TABLE Gen (id BIGINT NOT NULL) WITH ('connector' = 'datagen', 'number-of-rows' = '{rows}',
               'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{rows}');
             CREATE TABLE Out (id BIGINT NOT NULL) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'csv');
             INSERT INTO Out SELECT * FROM Gen;"
        )
    };
    for (sub, rows) in [("a", 10), ("b", 20)] {
        std::fs::create_dir_all(dir.join(sub)).expect("dir");
        std::fs::write(dir.join(sub).join("job.sql"), job(rows, &format!("out-{sub}"), "")).expect("job");
    }
    let run = |args: &[&str]| weir().current_dir(&dir).args(args).output().expect("runs");
    // Two different jobs both called job.sql, run from the same directory:
    // each gets its own checkpoints and writes its rows.
    for sub in ["a", "b"] {
        let file = format!("{sub}/job.sql");
        let out = run(&["run", &file, "--allow-write", &format!("out-{sub}")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(lines_under(&dir.join("out-a")).len(), 10);
    assert_eq!(lines_under(&dir.join("out-b")).len(), 20);
    // Running a finished job again says so and fails; --fresh runs it again.
    let again = run(&["run", "a/job.sql", "--allow-write", "out-a"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && stderr.contains("already ran to the end") && stderr.contains("--fresh"),
        "{stderr}"
    );
    assert_eq!(lines_under(&dir.join("out-a")).len(), 10, "nothing written twice");
    let fresh = run(&["run", "a/job.sql", "--fresh", "--allow-write", "out-a"]);
    assert!(fresh.status.success(), "{}", String::from_utf8_lossy(&fresh.stderr));
    assert_eq!(lines_under(&dir.join("out-a")).len(), 20, "--fresh ran it again");
    // Another job pointed at a directory holding this one's state: refused.
    let shared = "SET 'execution.checkpointing.dir' = 'shared';\n";
    std::fs::write(dir.join("one.sql"), job(5, "out-one", shared)).expect("job");
    std::fs::write(dir.join("two.sql"), job(7, "out-two", shared)).expect("job");
    let one = run(&["run", "one.sql", "--allow-write", "out-one"]);
    assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
    let two = run(&["run", "two.sql", "--allow-write", "out-two"]);
    let stderr = String::from_utf8_lossy(&two.stderr);
    assert!(!two.status.success() && stderr.contains("belongs to another statement"), "{stderr}");
    assert!(!dir.join("out-two").exists() || lines_under(&dir.join("out-two")).is_empty(), "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes `rows` csv lines `id,name` (ids 1..=rows) under `dir/in` with
/// Weir itself (datagen → filesystem) and returns them sorted.
fn generate_input(dir: &Path, rows: u64) -> Vec<String> {
    std::fs::write(
        dir.join("input.sql"),
        format!(
            "CREATE TABLE Gen (id BIGINT NOT NULL, name STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '{rows}',
               'rows-per-second' = '100000000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
               'fields.id.end' = '{rows}', 'fields.name.length' = '12');
             CREATE TABLE Input (id BIGINT NOT NULL, name STRING) WITH ('connector' = 'filesystem', 'path' = 'in',
               'format' = 'csv', 'sink.rolling-policy.file-size' = '1 mb');
             INSERT INTO Input SELECT * FROM Gen;"
        ),
    )
    .expect("write job");
    let status = weir().current_dir(dir).args(["run", "input.sql", "--allow-write", "in"]).status().expect("runs");
    assert!(status.success(), "generating the input failed");
    let input = lines_under(&dir.join("in"));
    assert_eq!(input.len() as u64, rows);
    input
}

/// Kafka exactly-once both ways under SIGKILL, against Tansu: file → Kafka
/// with transactions (checked by an independent reader that applies the
/// transaction markers in the log), then Kafka → file with the source
/// offsets in the checkpoints: 1,000,000 rows and 10 kills each way (about
/// 30 s; `WEIR_KAFKA_CRASH_ROWS`, `WEIR_CRASH_KILLS` change them).
#[test]
fn kafka_exactly_once_survives_kills_both_ways() {
    let rows = env_number("WEIR_KAFKA_CRASH_ROWS", 1_000_000);
    let kills = env_number("WEIR_CRASH_KILLS", 10);
    let seed = env_number(
        "WEIR_CRASH_SEED",
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1,
    );
    eprintln!("kafka crash test: {rows} rows, {kills} kills each way, seed {seed} (set WEIR_CRASH_SEED to repeat)");
    let kafka = weir_tests::peers::kafka();
    let topic = format!("crash-{}", std::process::id());
    kafka.create_topic(&topic, 3);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kafka-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let input = generate_input(&dir, rows);
    let kafka_table = |name: &str, extra: &str| {
        format!(
            "CREATE TABLE {name} (id BIGINT NOT NULL, name STRING) WITH ('connector' = 'kafka', 'topic' = '{topic}',
               'properties.bootstrap.servers' = '{}', 'format' = 'csv'{extra});",
            kafka.bootstrap
        )
    };

    // File → Kafka, a transaction per checkpoint.
    std::fs::write(
        dir.join("to_kafka.sql"),
        format!(
            "SET 'execution.checkpointing.interval' = '50 ms';
             CREATE TABLE Input (id BIGINT NOT NULL, name STRING) WITH ('connector' = 'filesystem', 'path' = 'in',
               'format' = 'csv', 'scan.parallelism' = '2');
             {}
             INSERT INTO Out SELECT * FROM Input;",
            kafka_table(
                "Out",
                ", 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'crash', 'sink.parallelism' = '2'"
            )
        ),
    )
    .expect("write job");
    let args = ["run", "to_kafka.sql", "--allow-read", "in", "--allow-net", &kafka.bootstrap];
    let (killed, runs, progress) = kill_and_restart(&dir, "to_kafka", &args, rows, kills, seed);
    eprintln!("file → kafka: {killed} kills over {runs} runs; rows checkpointed at each kill: {progress:?}");
    assert_eq!(killed, kills, "every planned kill must land while the job runs (seed {seed})");
    let mut committed = kafka.committed_values(&topic, 3);
    committed.sort_unstable();
    assert_eq!(committed.len(), input.len(), "records lost or duplicated in Kafka after {killed} kills (seed {seed})");
    assert!(committed == input, "Kafka's committed records differ from the input (seed {seed})");

    // Kafka → file, the source offsets in the checkpoints. From offset 0
    // (not 'earliest-offset'): after aborted transactions Tansu sometimes
    // answers ListOffsets(earliest) with an offset past committed records
    // (librdkafka's low watermark shows the same), see docs/jobs.md.
    std::fs::write(
        dir.join("from_kafka.sql"),
        format!(
            "SET 'execution.checkpointing.interval' = '50 ms';
             {}
             CREATE TABLE Output (id BIGINT NOT NULL, name STRING) WITH ('connector' = 'filesystem', 'path' = 'out',
               'format' = 'csv', 'sink.rolling-policy.file-size' = '256 kb');
             INSERT INTO Output SELECT * FROM Back;",
            kafka_table(
                "Back",
                ", 'scan.startup.mode' = 'specific-offsets',
                   'scan.startup.specific-offsets' = 'partition:0,offset:0;partition:1,offset:0;partition:2,offset:0',
                   'scan.bounded.mode' = 'latest-offset', 'scan.parallelism' = '3'"
            )
        ),
    )
    .expect("write job");
    // Where a read_committed reader's end is (the last stable offset, behind
    // any transaction left open) against the log's end.
    eprintln!("partition, low, high, last stable:\n{}", kafka.client(&["watermarks", &topic], ""));
    let args = ["run", "from_kafka.sql", "--allow-net", &kafka.bootstrap, "--allow-write", "out"];
    let (killed, runs, progress) = kill_and_restart(&dir, "from_kafka", &args, rows, kills, seed.rotate_left(17) | 1);
    eprintln!("kafka → file: {killed} kills over {runs} runs; rows checkpointed at each kill: {progress:?}");
    assert_eq!(killed, kills, "every planned kill must land while the job runs (seed {seed})");
    let output = lines_under(&dir.join("out"));
    assert_eq!(output.len(), input.len(), "rows lost or duplicated reading Kafka after {killed} kills (seed {seed})");
    assert!(output == input, "the files differ from the topic's committed records (seed {seed})");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The jdbc sink's exactly-once (a PostgreSQL prepared transaction per
/// checkpoint with a progress row) under SIGKILL: a changelog file applied
/// to an upsert table ends with the changelog's final state, and an
/// insert-only file appended to a table without a key holds every row
/// exactly once — a checkpoint applied twice would show there. Checked
/// with psql; 10 kills each (`WEIR_CRASH_KILLS`).
#[test]
fn jdbc_exactly_once_survives_kills() {
    let kills = env_number("WEIR_CRASH_KILLS", 10);
    let seed = env_number(
        "WEIR_CRASH_SEED",
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1,
    );
    let pg = weir_tests::peers::postgres();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("jdbc-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("changes")).expect("dir");
    let address = format!("127.0.0.1:{}", pg.port);
    let jdbc = |name: &str, columns: &str| {
        format!(
            "CREATE TABLE {name} ({columns}) WITH ('connector' = 'jdbc', 'url' = '{}', 'table-name' = '{name}',
               'username' = '{}', 'password' = '{}', 'sink.delivery-guarantee' = 'exactly-once',
               'sink.buffer-flush.max-rows' = '500');",
            pg.url(),
            pg.user,
            pg.password
        )
    };

    // A changelog over 5,000 keys, applied by key.
    let changes = env_number("WEIR_JDBC_CRASH_CHANGES", 150_000);
    eprintln!(
        "jdbc crash test: {changes} changes, {kills} kills each phase, seed {seed} (set WEIR_CRASH_SEED to repeat)"
    );
    let mut lines = String::new();
    let mut state = std::collections::BTreeMap::new();
    for step in 0..changes {
        let key = (step * 7919) % 5000;
        let amount = step;
        match (state.get(&key).copied(), step % 5) {
            (None, _) => {
                lines.push_str(&format!("INSERT,{key},{amount}\n"));
                state.insert(key, amount);
            }
            (Some(old), 4) => {
                lines.push_str(&format!("DELETE,{key},{old}\n"));
                state.remove(&key);
            }
            (Some(old), _) => {
                lines.push_str(&format!("UPDATE_BEFORE,{key},{old}\nUPDATE_AFTER,{key},{amount}\n"));
                state.insert(key, amount);
            }
        }
    }
    std::fs::write(dir.join("changes/changes.txt"), lines).expect("write");
    let rows_in = std::fs::read_to_string(dir.join("changes/changes.txt")).expect("read").lines().count() as u64;
    pg.psql("DROP TABLE IF EXISTS crash_balances; CREATE TABLE crash_balances (id BIGINT PRIMARY KEY, amount BIGINT)");
    std::fs::write(
        dir.join("upsert.sql"),
        format!(
            "SET 'execution.checkpointing.interval' = '50 ms';
             CREATE TABLE Changes (id BIGINT NOT NULL, amount BIGINT) WITH ('connector' = 'filesystem',
               'path' = 'changes', 'format' = 'changelog-csv', 'changelog-csv.column-delimiter' = ',');
             {}
             INSERT INTO crash_balances SELECT * FROM Changes;",
            jdbc("crash_balances", "id BIGINT NOT NULL, amount BIGINT, PRIMARY KEY (id) NOT ENFORCED")
        ),
    )
    .expect("write job");
    let args = ["run", "upsert.sql", "--allow-read", "changes", "--allow-net", &address];
    let (killed, runs, progress) = kill_and_restart(&dir, "upsert", &args, rows_in, kills, seed);
    eprintln!("changelog → PostgreSQL: {killed} kills over {runs} runs; rows checkpointed at each kill: {progress:?}");
    assert_eq!(killed, kills, "every planned kill must land while the job runs (seed {seed})");
    let got: Vec<String> =
        pg.psql("SELECT id, amount FROM crash_balances ORDER BY id").lines().map(str::to_owned).collect();
    let want: Vec<String> = state.iter().map(|(k, a)| format!("{k}|{a}")).collect();
    assert!(got == want, "the table is not the changelog's final state after {killed} kills (seed {seed})");
    let checkpoint = std::fs::read_to_string(checkpoint_file(&dir, "upsert").expect("a checkpoint")).expect("read");
    assert!(!checkpoint.contains(pg.password), "the password is in the checkpoint");
    assert_eq!(pg.psql("SELECT count(*) FROM pg_prepared_xacts").trim(), "0", "a prepared transaction was left");

    // Appends without a key: any replayed checkpoint would duplicate rows.
    pg.psql("DROP TABLE IF EXISTS crash_appended; CREATE TABLE crash_appended (id BIGINT, name TEXT)");
    let ddl = jdbc("crash_appended", "id BIGINT, name STRING")
        .replace("'sink.buffer-flush", "'sink.parallelism' = '2', 'sink.buffer-flush");
    append_exactly_once(&dir, "PostgreSQL", &ddl, &address, kills, seed.rotate_left(17) | 1, || {
        pg.psql("SELECT id || ',' || name FROM crash_appended").lines().map(str::to_owned).collect()
    });
    assert_eq!(pg.psql("SELECT count(*) FROM pg_prepared_xacts").trim(), "0", "a prepared transaction was left");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The jdbc sink's exactly-once on MariaDB (XA transactions, the progress
/// row) under SIGKILL: an insert-only file appended to a table without a
/// key holds every row exactly once after 10 kills; no XA transaction is
/// left prepared. Checked with the mariadb client.
#[test]
fn jdbc_exactly_once_survives_kills_on_mariadb() {
    let kills = env_number("WEIR_CRASH_KILLS", 10);
    let seed = env_number(
        "WEIR_CRASH_SEED",
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 3,
    );
    let db = weir_tests::peers::mariadb();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mariadb-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    eprintln!("mariadb crash test: {kills} kills, seed {seed} (set WEIR_CRASH_SEED to repeat)");
    db.sql("DROP TABLE IF EXISTS crash_appended; CREATE TABLE crash_appended (id BIGINT, name VARCHAR(20))");
    let ddl = format!(
        "CREATE TABLE crash_appended (id BIGINT, name STRING) WITH ('connector' = 'jdbc', 'url' = '{}',
           'table-name' = 'crash_appended', 'username' = '{}', 'password' = '{}',
           'sink.delivery-guarantee' = 'exactly-once', 'sink.parallelism' = '2', 'sink.buffer-flush.max-rows' = '500');",
        db.url(),
        db.user,
        db.password
    );
    let address = format!("127.0.0.1:{}", db.port);
    append_exactly_once(&dir, "MariaDB", &ddl, &address, kills, seed, || {
        db.sql("SELECT CONCAT(id, ',', name) FROM crash_appended").lines().map(str::to_owned).collect()
    });
    assert_eq!(db.sql("XA RECOVER").trim(), "", "an XA transaction was left prepared");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Appends `WEIR_JDBC_CRASH_ROWS` (400,000) generated rows to the jdbc
/// table `crash_appended` (created in Weir by `ddl`, exactly-once, no key),
/// killing the job `kills` times: `read` (the independent client) must find
/// every row exactly once.
fn append_exactly_once(
    dir: &Path,
    database: &str,
    ddl: &str,
    address: &str,
    kills: u64,
    seed: u64,
    read: impl Fn() -> Vec<String>,
) {
    let rows = env_number("WEIR_JDBC_CRASH_ROWS", 400_000);
    let input = generate_input(dir, rows);
    std::fs::write(
        dir.join("append.sql"),
        format!(
            "SET 'execution.checkpointing.interval' = '50 ms';
             CREATE TABLE Input (id BIGINT NOT NULL, name STRING) WITH ('connector' = 'filesystem', 'path' = 'in',
               'format' = 'csv', 'scan.parallelism' = '2');
             {ddl}
             INSERT INTO crash_appended SELECT * FROM Input;"
        ),
    )
    .expect("write job");
    let args = ["run", "append.sql", "--allow-read", "in", "--allow-net", address];
    let (killed, runs, progress) = kill_and_restart(dir, "append", &args, rows, kills, seed);
    eprintln!(
        "file → {database} appends: {killed} kills over {runs} runs; rows checkpointed at each kill: {progress:?}"
    );
    assert_eq!(killed, kills, "every planned kill must land while the job runs (seed {seed})");
    let mut appended = read();
    appended.sort_unstable();
    assert_eq!(appended.len(), input.len(), "{database}: rows lost or duplicated after {killed} kills (seed {seed})");
    assert!(appended == input, "{database}: the table differs from the input (seed {seed})");
}
