//! The `weir` binary's first verbs on the built-in components.

use std::path::PathBuf;
use std::process::{Command, Output};

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .env("WEIR_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"))
        .env_remove("WEIR_PLUGIN_DIR")
        .output()
        .expect("weir runs")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "weir failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

#[test]
fn connectors_lists_the_builtins() {
    let out = stdout(&weir(&["connectors"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("IDENTIFIER") && lines[0].contains("ORIGIN"), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("raw ") && l.contains("format") && l.ends_with("built-in")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("blackhole ") && l.contains("sink")), "{out}");

    let json: serde_json::Value = serde_json::from_str(&stdout(&weir(&["connectors", "--json"]))).expect("json");
    let ids: Vec<&str> = json.as_array().expect("array").iter().filter_map(|e| e["identifier"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "raw",
            "csv",
            "json",
            "changelog-csv",
            "debezium-json",
            "canal-json",
            "maxwell-json",
            "ogg-json",
            "blackhole",
            "datagen",
            "print",
            "socket",
            "filesystem",
            "kafka",
            "upsert-kafka",
            "jdbc",
            "chroma"
        ]
    );
}

#[test]
fn describe_prints_every_option() {
    let out = stdout(&weir(&["describe", "raw"]));
    assert!(out.contains("format 'raw' (built-in"), "{out}");
    let row = |key: &str| {
        out.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no row for {key} in\n{out}")).to_owned()
    };
    let charset = row("raw.charset");
    assert!(charset.contains("String") && charset.contains("UTF-8") && charset.contains(" no "), "{charset}");
    let endianness = row("raw.endianness");
    assert!(
        endianness.contains("Enum") && endianness.contains("big-endian") && endianness.contains("little-endian"),
        "{endianness}"
    );
    assert!(out.lines().any(|l| l.starts_with("format ") && l.contains("Must be 'raw'")), "{out}");
}

#[test]
fn describe_unknown_identifier_fails_helpfully() {
    let o = weir(&["describe", "kafak"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "no connector or format named 'kafak'; the catalog has: raw, csv, json, changelog-csv, debezium-json, canal-json, maxwell-json, ogg-json, blackhole, datagen, print, socket, filesystem, kafka, upsert-kafka, jdbc"
        ),
        "{err}"
    );
}

#[test]
fn inspect_reads_a_component_file() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (_, wasm, _) =
        weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-format-raw").expect("raw is built in");
    let file = dir.join("inspect-raw.wasm");
    std::fs::write(&file, wasm).expect("write");
    let out = stdout(&weir(&["inspect", file.to_str().expect("utf-8 path")]));
    for needle in [
        "kind:          format",
        "identifier:    raw  ('format' = 'raw')",
        "contract:      weir:connector@0.1.0",
        "capabilities:  none",
        "raw.endianness",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }

    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"\0asm but not really").expect("write");
    let o = weir(&["inspect", junk.to_str().expect("utf-8 path")]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("failed to inspect") && err.contains("junk.wasm"), "{err}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["describe", "json"])
        .env("WEIR_CACHE_DIR", PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weir runs");
    drop(child.stdout.take()); // the reader goes away before weir writes: `weir … | head -0`
    let out = child.wait_with_output().expect("weir ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("panicked"), "{:?}: {stderr}", out.status);
}

#[test]
fn run_and_check_a_job_file() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("cli-job.sql");
    std::fs::write(
        &file,
        "CREATE TABLE Numbers (n INT NOT NULL, label STRING) WITH (
           'connector' = 'datagen', 'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '5',
           'fields.label.length' = '3', 'seed' = '7');
         SELECT n FROM Numbers WHERE n >= 3;",
    )
    .expect("write job");
    let path = file.to_str().expect("utf-8 path");
    assert_eq!(stdout(&weir(&["run", path])), "+I[3]\n+I[4]\n+I[5]\n");
    let check = stdout(&weir(&["check", path]));
    assert!(
        check.contains("source Numbers: connector 'datagen'") && check.contains("ok: 1 tables, 1 statements"),
        "{check}"
    );

    std::fs::write(&file, "CREATE TABLE T (n INT) WITH ('connector' = 'datagen');\nSELECT m FROM T;").expect("write");
    let o = weir(&["check", path]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("cli-job.sql:2:8: table 'T' has no column 'm'"), "{err}");
}

#[test]
fn check_lists_a_grant_for_every_kafka_broker() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("cli-kafka.sql");
    std::fs::write(
        &file,
        "CREATE TABLE K (v STRING) WITH ('connector' = 'kafka', 'topic' = 't',
           'properties.bootstrap.servers' = 'b1.example:9092,b2.example:9093', 'scan.startup.mode' = 'earliest-offset',
           'format' = 'raw');
         SELECT * FROM K;",
    )
    .expect("write job");
    let o = weir(&["check", file.to_str().expect("utf-8 path")]);
    let check = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("2 capabilities are not granted"), "{err}");
    assert!(check.contains("--allow-net b1.example:9092") && check.contains("--allow-net b2.example:9093"), "{check}");
}

#[test]
fn grants_come_from_flags_or_a_policy_file() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-policy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let job = dir.join("print.sql");
    std::fs::write(
        &job,
        "CREATE TABLE N (n INT NOT NULL) WITH ('connector' = 'datagen', 'fields.n.kind' = 'sequence',
           'fields.n.start' = '1', 'fields.n.end' = '2');
         CREATE TABLE P (n INT NOT NULL) WITH ('connector' = 'print', 'print-identifier' = 'out');
         INSERT INTO P SELECT * FROM N;",
    )
    .expect("write job");
    let path = job.to_str().expect("utf-8 path");
    // Checkpoints in the scratch directory, not the working directory.
    let cp = format!("execution.checkpointing.dir={}", dir.join("cp").display());
    let weir = |args: &[&str]| weir(&[args, &["--set", &cp]].concat());
    let denied = weir(&["run", path, "--fresh"]);
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(!denied.status.success() && err.contains("stdout (grant with --allow-stdout)"), "{err}");
    assert_eq!(stdout(&weir(&["run", path, "--fresh", "--allow-stdout"])), "out> +I[1]\nout> +I[2]\n");
    std::fs::write(dir.join("policy.toml"), "stdout = true\n").expect("write policy");
    let policy = dir.join("policy.toml");
    assert_eq!(
        stdout(&weir(&["run", path, "--fresh", "--policy", policy.to_str().expect("utf-8")])),
        "out> +I[1]\nout> +I[2]\n"
    );
    std::fs::write(&policy, "stdot = true\n").expect("write policy");
    let bad = weir(&["run", path, "--policy", policy.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("policy file") && err.contains("stdot"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
