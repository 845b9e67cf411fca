//! The components of `docs/authoring.md`'s source and sink chapters, built
//! and run: every Rust block the chapters show with `file=` is the whole
//! file of a test component here (so the tutorial compiles in CI), and each
//! component does what the chapter says — checked with plain `std::fs` and
//! a plain TCP server, and with `weir verify`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use weir::policy::{Endpoint, Grants};
use weir_pipeline as pipeline;
use weir_tests::guests::{TUTORIAL_COUNTER, TUTORIAL_FILES, TUTORIAL_LINES};
use weir_tests::runtime_with;

/// Every fenced block of the guide that names a file: `(file, text, whole)`
/// — ```rust file=… shows the whole file, ```rust excerpt=… a part of it.
fn blocks_with_files(guide: &str) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        let (file, whole) = match (line.strip_prefix("```rust file="), line.strip_prefix("```rust excerpt=")) {
            (Some(file), _) => (file, true),
            (_, Some(file)) => (file, false),
            _ => continue,
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        out.push((file.trim().to_owned(), body.join("\n") + "\n", whole));
    }
    out
}

#[test]
fn the_guides_code_is_the_code_that_is_built() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/authoring.md")).expect("the guide");
    let blocks = blocks_with_files(&guide);
    let files: Vec<&str> = blocks.iter().map(|(f, ..)| f.as_str()).collect();
    for expected in ["counter", "lines", "files"] {
        let path = format!("tests/guests/tutorial-{expected}/src/lib.rs");
        assert!(files.contains(&path.as_str()), "the guide shows {path}: {files:?}");
    }
    assert!(blocks.iter().any(|(_, _, whole)| !whole), "the format chapter shows excerpts");
    for (file, shown, whole) in blocks {
        let built = std::fs::read_to_string(root.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let same = if whole { built == shown } else { built.contains(&shown) };
        assert!(same, "docs/authoring.md shows {file} differently from the file that is built:\n{shown}");
    }
}

/// Runs `sql` (after the tables) with `grants`; SELECT rows come back as text.
async fn run(sql: &str, grants: &Grants, stop: Option<Arc<AtomicBool>>, out: &mut dyn pipeline::Output) {
    let runtime = runtime_with(&[TUTORIAL_COUNTER, TUTORIAL_FILES, TUTORIAL_LINES]).await;
    let job = weir_sql::parse("tutorial.sql", sql).unwrap_or_else(|e| panic!("{e}"));
    let config = pipeline::RunConfig { stop, ..pipeline::RunConfig::default() };
    pipeline::run(&runtime, &job, grants, &config, out).await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_counter_and_the_files_sink_write_every_number_once() {
    let dir = std::env::temp_dir().join(format!("weir-tutorial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sql = format!(
        "CREATE TABLE Numbers (n BIGINT) WITH ('connector' = 'counter', 'count' = '1000', 'splits' = '4');
         CREATE TABLE Out (n BIGINT) WITH ('connector' = 'files', 'path' = '{}', 'format' = 'csv');
         INSERT INTO Out SELECT n FROM Numbers;",
        dir.display()
    );
    let grants = Grants { write: vec![dir.clone()], ..Grants::none() };
    run(&sql, &grants, None, &mut Vec::new()).await;
    let mut numbers: Vec<i64> = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("written").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(name.starts_with("part-"), "only committed files are left: {name}");
        let text = std::fs::read_to_string(entry.path()).expect("read");
        numbers.extend(text.lines().map(|l| l.parse::<i64>().expect("a number")));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=1000).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tutorial_components_pass_weir_verify() {
    let engine = Arc::new(weir::engine::Engine::new(&weir_tests::engine_config()).expect("engine"));
    let dir = std::env::temp_dir().join(format!("weir-tutorial-verify-{}", std::process::id()));
    // The counter's table has one BIGINT column (verify's default has two).
    let one_column = weir::Schema::new(vec![weir::Field::new("n", weir::DataType::BigInt)]);
    let counter = weir_verify::VerifyConfig { schema: Some(one_column), ..Default::default() };
    let files = weir_verify::VerifyConfig {
        options: vec![("path".into(), dir.display().to_string())],
        grants: Grants { write: vec![dir.clone()], ..Grants::none() },
        ..Default::default()
    };
    for (path, config, must_pass) in
        [(TUTORIAL_COUNTER, &counter, "source.checkpoint-restore"), (TUTORIAL_FILES, &files, "sink.commit-idempotent")]
    {
        let wasm = std::fs::read(path).expect("built");
        let report = weir_verify::verify(engine.clone(), path, &wasm, config).await;
        assert!(report.passed(), "{}", weir_verify::render(&report));
        let check = report.check(must_pass).expect("ran");
        assert_eq!(check.outcome, weir_verify::Outcome::Pass, "{}", weir_verify::render(&report));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Collects SELECT rows; sets `stop` once `want` arrived.
struct Collect {
    rows: Vec<String>,
    want: usize,
    stop: Arc<AtomicBool>,
}

impl pipeline::Output for Collect {
    fn rows(&mut self, rows: &weir::ChangelogBatch) -> std::io::Result<()> {
        self.rows.extend(weir::display::format_rows(rows));
        if self.rows.len() >= self.want {
            self.stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn write_fmt(&mut self, _: std::fmt::Arguments<'_>) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_line_source_reads_a_server_it_was_granted() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().expect("the component connects");
        peer.write_all(b"first\nsecond\nthi").expect("send");
        std::thread::sleep(std::time::Duration::from_millis(200));
        peer.write_all(b"rd\n").expect("send");
        std::thread::sleep(std::time::Duration::from_secs(5));
    });
    let sql = format!(
        "CREATE TABLE L (line STRING) WITH ('connector' = 'lines', 'hostname' = '127.0.0.1', 'port' = '{port}',
           'format' = 'raw');
         SELECT line FROM L;"
    );
    // Without the grant the job does not start, and says which flag grants it.
    let runtime = runtime_with(&[TUTORIAL_COUNTER, TUTORIAL_FILES, TUTORIAL_LINES]).await;
    let job = weir_sql::parse("tutorial.sql", &sql).expect("parses");
    let denied = pipeline::run(&runtime, &job, &Grants::none(), &Default::default(), &mut Vec::new())
        .await
        .expect_err("no grant, no start")
        .to_string();
    assert!(denied.contains(&format!("--allow-net 127.0.0.1:{port}")), "{denied}");

    let stop = Arc::new(AtomicBool::new(false));
    let grants =
        Grants { connect: vec![Endpoint::parse(&format!("127.0.0.1:{port}")).expect("endpoint")], ..Grants::none() };
    let mut out = Collect { rows: Vec::new(), want: 3, stop: stop.clone() };
    run(&sql, &grants, Some(stop), &mut out).await;
    assert_eq!(out.rows, ["+I[first]", "+I[second]", "+I[third]"], "a line split across reads arrives whole");
    server.join().expect("server");
}
