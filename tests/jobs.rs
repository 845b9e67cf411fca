//! The job runner on built-in components: SQL → datagen → filters,
//! projection, limit → terminal or sink; datagen's determinism and exact
//! restore from a checkpoint; option errors that name the table.

use weir::catalog::Role;
use weir_pipeline as pipeline;

use weir_tests::runtime;

const ORDERS: &str = "CREATE TABLE Orders (
  id BIGINT NOT NULL, customer STRING, amount DECIMAL(10, 2), placed TIMESTAMP(3), flag BOOLEAN
) WITH (
  'connector' = 'datagen', 'number-of-rows' = '200', 'seed' = '42',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000',
  'fields.customer.length' = '6', 'fields.customer.null-rate' = '0.2',
  'fields.amount.min' = '1', 'fields.amount.max' = '500', 'fields.placed.max-past' = '1h'
);
CREATE TABLE Discard (id BIGINT NOT NULL, amount DECIMAL(10, 2)) WITH ('connector' = 'blackhole');
";

/// Runs `statements` after the tables above; returns what they printed.
async fn run(statements: &str) -> String {
    let runtime = runtime().await;
    let job = weir_sql::parse("test.sql", &format!("{ORDERS}{statements}")).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &weir::policy::Grants::none(), &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out).expect("UTF-8")
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[tokio::test]
async fn select_filters_projects_and_limits() {
    let all = run("SELECT id, customer, amount FROM Orders;").await;
    let all = lines(&all);
    assert_eq!(all.len(), 200, "number-of-rows");
    assert!(all[0].starts_with("+I[1, ") && all[199].starts_with("+I[200, "), "a sequence from 1: {all:?}");
    let nulls = all.iter().filter(|l| l.contains(", null, ")).count();
    assert!((10..=80).contains(&nulls), "null-rate 0.2 gives about 40 nulls of 200, got {nulls}");

    let filtered = run("SELECT id, amount FROM Orders WHERE amount > 250 AND customer IS NOT NULL LIMIT 7;").await;
    let filtered = lines(&filtered);
    assert_eq!(filtered.len(), 7, "{filtered:?}");
    for line in &filtered {
        let amount: f64 = line.trim_end_matches(']').rsplit(", ").next().and_then(|a| a.parse().ok()).expect("amount");
        assert!(amount > 250.0 && amount <= 500.0, "{line}");
        let id = line.trim_start_matches("+I[").split(", ").next().expect("id");
        let source_line = all.iter().find(|l| l.starts_with(&format!("+I[{id}, "))).expect("same row in the full scan");
        assert!(!source_line.contains(", null, "), "customer IS NOT NULL: {source_line}");
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_rows() {
    let a = run("SELECT * FROM Orders LIMIT 50;").await;
    let b = run("SELECT * FROM Orders LIMIT 50;").await;
    let strip_time =
        |s: &str| s.lines().map(|l| l.split(", ").take(3).collect::<Vec<_>>().join(", ")).collect::<Vec<_>>();
    assert_eq!(strip_time(&a), strip_time(&b), "ids, customers and amounts repeat with the seed");
}

#[tokio::test]
async fn insert_into_a_sink_and_explain() {
    assert_eq!(run("INSERT INTO Discard SELECT id, amount FROM Orders;").await, "");
    let plan = run("EXPLAIN INSERT INTO Discard SELECT id, amount FROM Orders WHERE id < 10;").await;
    for needle in [
        "source Orders: connector 'datagen'",
        "splits: 1 (bounded)",
        "projection push-down: applied by Weir",
        "filter push-down: 0 of 1 filters accepted",
        "sink Discard: connector 'blackhole'",
    ] {
        assert!(plan.contains(needle), "{needle:?} in\n{plan}");
    }
}

#[tokio::test]
async fn datagen_resumes_exactly_from_a_checkpoint() {
    let runtime = runtime().await;
    let job = weir_sql::parse("test.sql", ORDERS).expect("parses");
    let table = job.table("Orders").expect("table");
    let source = pipeline::resolve(&runtime, table, Role::Source).expect("resolves");
    use weir::handles::{Read, ScanRequest, ScanSource, SplitReader};
    let open = || async {
        let none = weir::policy::Grants::none();
        ScanSource::open(&source.connector, &source.options, &table.schema, &ScanRequest::default(), &none)
            .await
            .expect("source opens")
    };
    let mut instance = open().await;
    let plan = instance.plan().await.expect("plan");
    let split = &plan.splits[0];
    let reader = instance.open_reader(split, None).await.expect("open");
    // The reader is rate-limited (rows-per-second): read until n rows came.
    async fn take(source: &mut ScanSource, reader: SplitReader, n: usize) -> Vec<String> {
        let mut rows = Vec::new();
        while rows.len() < n {
            let want = (n - rows.len()) as u32;
            if let Read::Rows(b) = source.read(reader, want).await.expect("next") {
                rows.extend(weir::display::format_rows(&b));
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        rows
    }
    let first = take(&mut instance, reader, 30).await;
    let state = instance.checkpoint(reader).await.expect("checkpoint");
    let rest = take(&mut instance, reader, 30).await;

    // A new instance, as after a crash: restore and read the same rows again.
    let mut again = open().await;
    let restored = again.open_reader(split, Some(&state)).await.expect("restore");
    let replay = take(&mut again, restored, 30).await;
    assert_eq!(first.len() + rest.len(), 60);
    assert_eq!(replay, rest, "the restored reader continues exactly where the checkpoint was taken");
}

#[tokio::test]
async fn option_mistakes_name_the_table_and_the_fix() {
    let runtime = runtime().await;
    let check = |sql: &str| {
        let job = weir_sql::parse("test.sql", sql).unwrap_or_else(|e| panic!("{e}"));
        let table = job.tables[0].clone();
        (job, table)
    };
    let (_, table) = check("CREATE TABLE T (a INT) WITH ('connector' = 'datagen', 'rows-per-secnd' = '5');");
    let err = pipeline::resolve(&runtime, &table, Role::Source).err().expect("typo refused").to_string();
    assert!(err.contains("table 'T'") && err.contains("did you mean 'rows-per-second'"), "{err}");
    let (_, table) = check("CREATE TABLE T (a INT) WITH ('connector' = 'kafak');");
    let err = pipeline::resolve(&runtime, &table, Role::Source).err().expect("unknown connector").to_string();
    assert!(err.contains("kafak") && err.contains("datagen"), "{err}");
    let (_, table) = check("CREATE TABLE T (a INT, t STRING METADATA FROM 'topic') WITH ('connector' = 'datagen');");
    let err = pipeline::resolve(&runtime, &table, Role::Source).err().expect("metadata refused").to_string();
    assert!(err.contains("column 't' is METADATA FROM 'topic'") && err.contains("reading-metadata"), "{err}");
    let (_, table) = check("CREATE TABLE T (a INT) WITH ('connector' = 'blackhole');");
    let err = pipeline::resolve(&runtime, &table, Role::Source).err().expect("blackhole is no source").to_string();
    assert!(err.contains("blackhole"), "{err}");
}

#[tokio::test]
async fn format_mistakes_say_where_and_what_to_write() {
    let runtime = runtime().await;
    let table = |sql: &str| weir_sql::parse("test.sql", sql).unwrap_or_else(|e| panic!("{e}")).tables[0].clone();
    let sql =
        "\n\nCREATE TABLE Events (line STRING) WITH ('connector' = 'filesystem', 'path' = '/tmp', 'format' = 'jsn');";
    let err = pipeline::resolve(&runtime, &table(sql), Role::Source).err().expect("unknown format");
    assert!(matches!(err, weir::Error::At { line: 3, .. }), "the table's line: {err}");
    let err = err.to_string();
    assert!(err.contains("table 'Events'") && err.contains("did you mean 'json'?"), "{err}");
    // A format option without the format's prefix: say which prefix.
    let sql = "CREATE TABLE Events (a STRING, b STRING) WITH ('connector' = 'filesystem', 'path' = '/tmp', \
               'format' = 'csv', 'field-delimiter' = ';');";
    let err = pipeline::resolve(&runtime, &table(sql), Role::Source).err().expect("unprefixed").to_string();
    assert!(err.contains("'csv.field-delimiter'") && err.contains("format 'csv'"), "{err}");
    // The format's own rule names the option as the user writes it.
    let sql = "CREATE TABLE Events (a STRING) WITH ('connector' = 'filesystem', 'path' = '/tmp', \
               'format' = 'csv', 'csv.field-delimiter' = ';', 'csv.quote-character' = ';');";
    let resolved = pipeline::resolve(&runtime, &table(sql), Role::Source).expect("the catalog's checks pass");
    let err = resolved.validate().await.expect_err("csv refuses").to_string();
    assert!(err.contains("option 'csv.quote-character'") && err.contains("table 'Events'"), "{err}");
}

#[tokio::test]
async fn a_components_own_option_rules_are_checked_before_a_run() {
    let runtime = runtime().await;
    // Options that parse, but that datagen itself refuses (a sequence
    // needs its start and end): `weir check` must see what a run sees.
    let sql = "CREATE TABLE T (a BIGINT) WITH ('connector' = 'datagen', 'fields.a.kind' = 'sequence');";
    let table = weir_sql::parse("test.sql", sql).expect("parses").tables[0].clone();
    let resolved = pipeline::resolve(&runtime, &table, Role::Source).expect("the catalog's checks pass");
    let err = resolved.validate().await.expect_err("datagen refuses").to_string();
    assert!(err.contains("table 'T'") && err.contains("fields.a.start"), "{err}");
}

#[tokio::test]
async fn where_literals_must_fit_their_column() {
    let bad = format!("{ORDERS}SELECT id FROM Orders WHERE id > 'abc';");
    let err = weir_sql::parse("test.sql", &bad).expect_err("a text is no BIGINT").to_string();
    assert!(err.starts_with("test.sql:10:"), "the statement's place: {err}");
    assert!(err.contains("column 'id' is BIGINT") && err.contains("'abc'"), "{err}");
    let bad = format!("{ORDERS}SELECT id FROM Orders WHERE placed < '2024-13-01 00:00:00';");
    let err = weir_sql::parse("test.sql", &bad).expect_err("no month 13").to_string();
    assert!(err.contains("column 'placed' is TIMESTAMP(3)"), "{err}");
    let good = format!("{ORDERS}SELECT id FROM Orders WHERE amount > 10 AND placed < '2999-01-01 00:00:00';");
    weir_sql::parse("test.sql", &good).expect("numbers fit DECIMAL, text fits TIMESTAMP");
}

#[tokio::test]
async fn datagen_draws_each_random_string_independently() {
    // The defaults (seed 0, the string first): where rows were once shifted
    // copies of one stream.
    let runtime = runtime().await;
    let sql = "CREATE TABLE S (s STRING NOT NULL) WITH ('connector' = 'datagen', 'number-of-rows' = '200',
                 'fields.s.length' = '10');
               SELECT s FROM S;";
    let job = weir_sql::parse("test.sql", sql).expect("parses");
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &weir::policy::Grants::none(), &pipeline::RunConfig::default(), &mut out)
        .await
        .expect("runs");
    let out = String::from_utf8(out).expect("UTF-8");
    let strings: Vec<&str> = lines(&out).iter().filter_map(|l| l.strip_prefix("+I[")?.strip_suffix(']')).collect();
    assert_eq!(strings.len(), 200, "{out}");
    // Flink draws every value on its own: no value is its predecessor
    // moved by one character.
    let shifted = strings.windows(2).filter(|w| w[0].get(1..) == w[1].get(..w[1].len() - 1)).count();
    assert!(shifted <= 1, "{shifted} of {} values are the previous one shifted: {strings:?}", strings.len());
}

/// Lines written to it arrive on a channel (a job's terminal output).
struct Lines(tokio::sync::mpsc::UnboundedSender<String>, Vec<u8>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(buf);
        while let Some(at) = self.1.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.1.drain(..=at).collect();
            let _ = self.0.send(String::from_utf8_lossy(&line[..at]).into_owned());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_socket_example_prints_the_four_changelog_rows_and_reconnects() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("address").port();
    // A real TCP server: the seed's four lines, then it goes away; the
    // second connection (the source reconnecting) gets one more line.
    let server = tokio::spawn(async move {
        let (mut first, _) = listener.accept().await.expect("first connection");
        first.write_all(b"INSERT|Alice|12\nINSERT|Bob|5\nDELETE|Alice|12\nINSERT|Alice|18\n").await.expect("send");
        drop(first);
        let (mut second, _) = listener.accept().await.expect("the source reconnects");
        second.write_all(b"UPDATE_AFTER|Bob|6\n").await.expect("send");
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    });
    let sql = format!(
        "CREATE TABLE UserScores (name STRING, score INT) WITH (
          'connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}',
          'byte-delimiter' = '10', 'format' = 'changelog-csv',
          'changelog-csv.column-delimiter' = '|', 'reconnect-interval' = '100 ms');
        SELECT * FROM UserScores;"
    );
    let job = weir_sql::parse("seed.sql", &sql).expect("the seed DDL parses");
    let runtime = runtime().await;

    let denied =
        pipeline::run(&runtime, &job, &weir::policy::Grants::none(), &pipeline::RunConfig::default(), &mut Vec::new())
            .await
            .expect_err("denied");
    assert!(
        denied.to_string().contains(&format!("tcp-connect 127.0.0.1:{port} (grant with --allow-net 127.0.0.1:{port})")),
        "{denied}"
    );

    let grants = weir::policy::Grants {
        connect: vec![weir::policy::Endpoint { host: "127.0.0.1".into(), port }],
        ..weir::policy::Grants::none()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let running = tokio::spawn(async move {
        let mut out = Lines(tx, Vec::new());
        pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out).await
    });
    let mut lines = Vec::new();
    while lines.len() < 5 {
        match tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await {
            Ok(Some(line)) => lines.push(line),
            other => panic!("job stopped early ({other:?}); got {lines:?}; job: {:?}", running.is_finished()),
        }
    }
    assert_eq!(lines, ["+I[Alice, 12]", "+I[Bob, 5]", "-D[Alice, 12]", "+I[Alice, 18]", "+U[Bob, 6]"]);
    running.abort();
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_socket_sink_sends_encoded_records() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("the sink connects");
        let mut received = String::new();
        conn.read_to_string(&mut received).await.expect("read");
        received
    });
    let sql = format!(
        "CREATE TABLE Nums (n INT NOT NULL, label STRING) WITH ('connector' = 'datagen', 'fields.n.kind' = 'sequence',
           'fields.n.start' = '1', 'fields.n.end' = '3', 'fields.label.length' = '2', 'seed' = '1');
         CREATE TABLE Out (n INT NOT NULL, label STRING) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1',
           'port' = '{port}', 'byte-delimiter' = '59', 'format' = 'json');
         INSERT INTO Out SELECT * FROM Nums;"
    );
    let job = weir_sql::parse("sink.sql", &sql).expect("parses");
    let runtime = runtime().await;
    let grants = weir::policy::Grants {
        connect: vec![weir::policy::Endpoint { host: "127.0.0.1".into(), port }],
        ..weir::policy::Grants::none()
    };
    pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut Vec::new()).await.expect("runs");
    drop(runtime);
    let received =
        tokio::time::timeout(std::time::Duration::from_secs(10), server).await.expect("in time").expect("server");
    let records: Vec<&str> = received.split_terminator(';').collect();
    assert_eq!(records.len(), 3, "{received}");
    assert!(records[0].starts_with("{\"n\":1,\"label\":\"") && records[2].starts_with("{\"n\":3,"), "{received}");
}

#[tokio::test(flavor = "multi_thread")]
async fn filesystem_monitoring_reads_new_files_as_they_appear() {
    let dir = std::env::temp_dir().join(format!("weir-watch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("a.csv"), "1,first\n2,second\n").expect("write");
    std::fs::write(dir.join(".hidden.csv"), "9,hidden\n").expect("write");
    let sql = format!(
        "CREATE TABLE Watched (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{}',
           'format' = 'csv', 'source.monitor-interval' = '50 ms');
         SELECT * FROM Watched;",
        dir.display()
    );
    let job = weir_sql::parse("watch.sql", &sql).expect("parses");
    let runtime = runtime().await;
    let grants = weir::policy::Grants { read: vec![dir.clone()], ..weir::policy::Grants::none() };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let running = tokio::spawn(async move {
        let mut out = Lines(tx, Vec::new());
        pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out).await
    });
    let mut lines = Vec::new();
    let mut added = false;
    while lines.len() < 3 {
        match tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await {
            Ok(Some(line)) => lines.push(line),
            other => panic!("no more rows ({other:?}); got {lines:?}"),
        }
        if lines.len() == 2 && !added {
            // A new file appears whole (written aside, then moved in).
            std::fs::write(dir.join(".b.tmp"), "3,third\n").expect("write");
            std::fs::rename(dir.join(".b.tmp"), dir.join("b.csv")).expect("move in");
            added = true;
        }
    }
    assert_eq!(lines, ["+I[1, first]", "+I[2, second]", "+I[3, third]"]);
    running.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn hive_style_partition_directories_fill_partition_columns() {
    let dir = std::env::temp_dir().join(format!("weir-partitions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (day, region, text) in
        [("2024-01-01", "eu", "1,a\n2,b\n"), ("2024-01-02", "us", "3,c\n"), ("2024-01-02", "eu", "4,d\n")]
    {
        let part = dir.join(format!("dt={day}")).join(format!("region={region}"));
        std::fs::create_dir_all(&part).expect("dir");
        std::fs::write(part.join("part-0-0"), text).expect("write");
    }
    let sql = format!(
        "CREATE TABLE Events (id INT, name STRING, dt DATE, region STRING) PARTITIONED BY (dt, region)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
         SELECT id, dt, region FROM Events WHERE dt = '2024-01-02';
         SELECT * FROM Events WHERE id = 1;
         EXPLAIN SELECT * FROM Events WHERE region = 'eu' AND id > 1;
         SELECT id FROM Events WHERE region = 'eu' AND id > 1;",
        dir.display()
    );
    let job = weir_sql::parse("partitions.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
    let runtime = runtime().await;
    let grants = weir::policy::Grants { read: vec![dir.clone()], ..weir::policy::Grants::none() };
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut printed: Vec<String> = String::from_utf8(out).expect("UTF-8").lines().map(str::to_owned).collect();
    // Pruning: `region = 'eu'` is taken by the source (2 of 3 files), `id > 1` by the runner.
    let mut pruned: Vec<String> = printed.drain(printed.len() - 2..).collect();
    pruned.sort();
    assert_eq!(pruned, ["+I[2]", "+I[4]"]);
    let explain: Vec<String> = printed.drain(printed.len() - 9..).collect();
    assert!(explain.iter().any(|l| l.contains("splits: 2 (bounded)")), "{explain:?}");
    assert!(explain.iter().any(|l| l.contains("filter push-down: 1 of 2 filters accepted")), "{explain:?}");
    let last = printed.pop().expect("the second SELECT");
    printed.sort();
    assert_eq!(printed, ["+I[3, 2024-01-02, us]", "+I[4, 2024-01-02, eu]"]);
    assert_eq!(last, "+I[1, a, 2024-01-01, eu]");

    // Writing: rows go to `k=v/` directories (Hive-escaped), exactly-once,
    // and read back into the same rows.
    let out_dir = dir.join("written");
    let write = weir_sql::parse(
        "w.sql",
        &format!(
            "CREATE TABLE Gen (id INT NOT NULL, region STRING, dt DATE) WITH ('connector' = 'datagen', 'number-of-rows' = '40',
               'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '40',
               'fields.region.length' = '1', 'fields.dt.max-past' = '3 d', 'fields.region.null-rate' = '0.2');
             CREATE TABLE Out (id INT NOT NULL, region STRING, dt DATE) PARTITIONED BY (region, dt)
               WITH ('connector' = 'filesystem', 'path' = '{0}', 'format' = 'csv', 'sink.parallelism' = '2');
             SELECT * FROM Gen;
             INSERT INTO Out SELECT * FROM Gen;
             SELECT * FROM Out;",
            out_dir.display()
        ),
    )
    .expect("parses");
    let grants =
        weir::policy::Grants { read: vec![dir.clone()], write: vec![out_dir.clone()], ..weir::policy::Grants::none() };
    let mut out = Vec::new();
    pipeline::run(&runtime, &write, &grants, &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<String> = String::from_utf8(out).expect("UTF-8").lines().map(str::to_owned).collect();
    let (generated, read_back) = lines.split_at(40);
    let (mut generated, mut read_back) = (generated.to_vec(), read_back.to_vec());
    generated.sort();
    read_back.sort();
    assert_eq!(read_back, generated, "partitioned write then read gives the same rows");
    let dirs: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        dirs.iter().all(|d| d.starts_with("region=")) && dirs.iter().any(|d| d == "region=__HIVE_DEFAULT_PARTITION__"),
        "{dirs:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn large_files_are_read_as_byte_ranges_each_line_exactly_once() {
    let dir = std::env::temp_dir().join(format!("weir-ranges-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    // Lines of varied length, some with CRLF, one long line crossing many
    // range boundaries, no final newline.
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        let name = "x".repeat(i % 37) + &(if i == 250 { "long".repeat(200) } else { String::new() });
        text.push_str(&format!("{i},{name}{}", if i % 5 == 0 { "\r\n" } else { "\n" }));
        expected.push(format!("+I[{i}, {name}]"));
    }
    text.pop();
    std::fs::write(dir.join("big.csv"), &text).expect("write");
    let sql = format!(
        "CREATE TABLE Big (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
           'source.split-size' = '97b');
         EXPLAIN SELECT * FROM Big;
         SELECT * FROM Big;",
        dir.display()
    );
    let job = weir_sql::parse("ranges.sql", &sql).expect("parses");
    let runtime = runtime().await;
    let grants = weir::policy::Grants { read: vec![dir.clone()], ..weir::policy::Grants::none() };
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let out = String::from_utf8(out).expect("UTF-8");
    let splits = (text.len() as f64 / 97.0).ceil() as usize;
    assert!(out.contains(&format!("splits: {splits} (bounded)")), "{out}");
    let mut rows: Vec<String> = out.lines().filter(|l| l.starts_with("+I[")).map(str::to_owned).collect();
    rows.sort();
    expected.sort();
    assert_eq!(rows, expected, "every line once, none cut");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An INSERT with a LIMIT that a file reaches in its first batch, while
/// later batches are still being decoded on the decoders' tasks: the job
/// ends with exactly the limit written (its final checkpoint once failed
/// with "a batch still decoding").
#[tokio::test(flavor = "multi_thread")]
async fn a_limit_reached_with_batches_still_decoding_ends_the_job_cleanly() {
    let dir = std::env::temp_dir().join(format!("weir-limit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("in")).expect("dir");
    let text: String = (0..200_000).map(|i| format!("{i},name{i}\n")).collect();
    std::fs::write(dir.join("in/rows.csv"), text).expect("write");
    let sql = format!(
        "CREATE TABLE Rows (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{0}/in', 'format' = 'csv');
         CREATE TABLE Out (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{0}/out', 'format' = 'csv');
         INSERT INTO Out SELECT * FROM Rows WHERE id >= 3 LIMIT 7;",
        dir.display()
    );
    let job = weir_sql::parse("limit.sql", &sql).expect("parses");
    let runtime = runtime().await;
    let grants =
        weir::policy::Grants { read: vec![dir.clone()], write: vec![dir.clone()], ..weir::policy::Grants::none() };
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut written: Vec<String> = std::fs::read_dir(dir.join("out"))
        .expect("output")
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .flat_map(|e| std::fs::read_to_string(e.path()).expect("file").lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    written.sort();
    assert_eq!(written.len(), 7, "{written:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn filesystem_metadata_columns() {
    let dir = std::env::temp_dir().join(format!("weir-metadata-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("a.csv"), "1\n2\n").expect("write");
    let sql = format!(
        "CREATE TABLE Files (n INT, file STRING METADATA FROM 'file.name' VIRTUAL, size BIGINT METADATA FROM 'file.size')
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
         SELECT n, file, size FROM Files;
         SELECT * FROM Files;",
        dir.display()
    );
    let job = weir_sql::parse("metadata.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
    let runtime = runtime().await;
    let grants = weir::policy::Grants { read: vec![dir.clone()], ..weir::policy::Grants::none() };
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(String::from_utf8(out).expect("UTF-8"), "+I[1, a.csv, 4]\n+I[2, a.csv, 4]\n+I[1]\n+I[2]\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_stream_still_checkpoints_and_stops() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("connect");
        conn.write_all(b"INSERT|Alice|12\nINSERT|Bob|5\n").await.expect("send");
        // Then silence, connection open.
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    });
    let dir = std::env::temp_dir().join(format!("weir-quiet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sql = format!(
        "CREATE TABLE S (name STRING, score INT) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}',
           'format' = 'changelog-csv');
         CREATE TABLE F (name STRING, score INT) WITH ('connector' = 'filesystem', 'path' = '{}',
           'format' = 'changelog-csv');
         INSERT INTO F SELECT * FROM S;",
        dir.join("out").display()
    );
    let job = weir_sql::parse("quiet.sql", &sql).expect("parses");
    let runtime = runtime().await;
    let grants = weir::policy::Grants {
        connect: vec![weir::policy::Endpoint { host: "127.0.0.1".into(), port }],
        write: vec![dir.join("out")],
        ..weir::policy::Grants::none()
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let config = pipeline::RunConfig {
        checkpoint_dir: Some(dir.join("cp")),
        checkpoint_interval: Some(std::time::Duration::from_millis(100)),
        progress: None,
        stop: Some(stop.clone()),
        restart: None,
    };
    let running = tokio::spawn(async move { pipeline::run(&runtime, &job, &grants, &config, &mut Vec::new()).await });
    // The two rows become visible through a checkpoint although no more rows come.
    let committed = || -> usize {
        std::fs::read_dir(dir.join("out")).map_or(0, |d| {
            d.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default().lines().count())
                .sum()
        })
    };
    let waiting = std::time::Instant::now();
    while committed() < 2 {
        assert!(waiting.elapsed() < std::time::Duration::from_secs(20), "no checkpoint on a quiet stream");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let result =
        tokio::time::timeout(std::time::Duration::from_secs(10), running).await.expect("stops promptly").expect("task");
    let err = result.expect_err("a stopped unbounded job reports the stop");
    assert!(err.to_string().contains("stopped after checkpoint"), "{err}");
    assert_eq!(committed(), 2);
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_blocked_past_the_wall_clock_limit_stops_its_instance() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        let (_conn, _) = listener.accept().await.expect("connect");
        tokio::time::sleep(std::time::Duration::from_secs(60)).await; // silent
    });
    // The socket source waits up to 200 ms in one read: above a 50 ms limit.
    let limits =
        weir::limits::Limits { wall_clock_per_call: std::time::Duration::from_millis(50), ..Default::default() };
    let engine = weir::engine::EngineConfig { limits, ..weir_tests::engine_config() };
    let (runtime, _) =
        weir::Runtime::new(weir::RuntimeConfig { engine, plugin_dir: None }).await.expect("runtime starts");
    let job = weir_sql::parse(
        "slow.sql",
        &format!(
            "CREATE TABLE S (line STRING) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}', 'format' = 'raw');
             SELECT * FROM S;"
        ),
    )
    .expect("parses");
    let grants = weir::policy::Grants {
        connect: vec![weir::policy::Endpoint { host: "127.0.0.1".into(), port }],
        ..weir::policy::Grants::none()
    };
    let (config, mut out) = (pipeline::RunConfig::default(), Vec::new());
    let run = pipeline::run(&runtime, &job, &grants, &config, &mut out);
    let err =
        tokio::time::timeout(std::time::Duration::from_secs(20), run).await.expect("stops").expect_err("limit hit");
    let text = err.to_string();
    assert!(
        text.contains("table 'S': component 'socket' was stopped: a call took longer than the 50ms wall-clock limit"),
        "{text}"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_delay_restarts_recover_when_the_server_comes_up() {
    use tokio::io::AsyncReadExt;
    // A port with nobody listening yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("listen");
        let (mut conn, _) = listener.accept().await.expect("the restarted sink connects");
        let mut received = String::new();
        conn.read_to_string(&mut received).await.expect("read");
        received
    });
    let sql = format!(
        "SET 'restart-strategy' = 'fixed-delay';
         SET 'restart-strategy.fixed-delay.attempts' = '20';
         SET 'restart-strategy.fixed-delay.delay' = '100 ms';
         CREATE TABLE N (n INT NOT NULL) WITH ('connector' = 'datagen', 'fields.n.kind' = 'sequence',
           'fields.n.start' = '1', 'fields.n.end' = '3');
         CREATE TABLE Out (n INT NOT NULL) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}', 'format' = 'csv');
         INSERT INTO Out SELECT * FROM N;"
    );
    let job = weir_sql::parse("restart.sql", &sql).expect("parses");
    let config = pipeline::RunConfig::from_settings(&job, pipeline::RunConfig::default()).expect("settings");
    assert_eq!(config.restart, Some(pipeline::Restart { attempts: 20, delay: std::time::Duration::from_millis(100) }));
    let runtime = runtime().await;
    let grants = weir::policy::Grants {
        connect: vec![weir::policy::Endpoint { host: "127.0.0.1".into(), port }],
        ..weir::policy::Grants::none()
    };
    pipeline::run(&runtime, &job, &grants, &config, &mut Vec::new()).await.expect("succeeds after restarts");
    drop(runtime);
    let received =
        tokio::time::timeout(std::time::Duration::from_secs(10), server).await.expect("in time").expect("server");
    assert_eq!(received, "1\n2\n3\n");

    // Without a restart strategy the same failure ends the job, naming the table.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let sql = format!(
        "CREATE TABLE N (n INT NOT NULL) WITH ('connector' = 'datagen', 'number-of-rows' = '1');
         CREATE TABLE Out (n INT NOT NULL) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{closed}', 'format' = 'csv');
         INSERT INTO Out SELECT * FROM N;"
    );
    let job = weir_sql::parse("norestart.sql", &sql).expect("parses");
    let runtime = weir_tests::runtime().await;
    let grants = weir::policy::Grants {
        connect: vec![weir::policy::Endpoint { host: "127.0.0.1".into(), port: closed }],
        ..weir::policy::Grants::none()
    };
    let err = pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut Vec::new())
        .await
        .expect_err("fails");
    assert!(err.to_string().starts_with("table 'Out': component 'socket': connection error: cannot connect"), "{err}");
}

#[tokio::test]
async fn insert_widens_integers_and_floats() {
    let dir = std::env::temp_dir().join(format!("weir-widen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sql = format!(
        "CREATE TABLE Small (a TINYINT NOT NULL, b INT, c FLOAT) WITH ('connector' = 'datagen', 'number-of-rows' = '3',
           'fields.a.kind' = 'sequence', 'fields.a.start' = '1', 'fields.a.end' = '3', 'fields.b.min' = '-5', 'fields.b.max' = '5',
           'fields.c.min' = '0', 'fields.c.max' = '1');
         CREATE TABLE Wide (a BIGINT NOT NULL, b DOUBLE, c DOUBLE) WITH ('connector' = 'filesystem', 'path' = '{0}', 'format' = 'json');
         INSERT INTO Wide SELECT * FROM Small;
         SELECT a FROM Wide;",
        dir.display()
    );
    let job = weir_sql::parse("widen.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
    let runtime = runtime().await;
    let grants = weir::policy::Grants { write: vec![dir.clone()], ..weir::policy::Grants::none() };
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rows: Vec<String> = String::from_utf8(out).expect("UTF-8").lines().map(str::to_owned).collect();
    rows.sort();
    assert_eq!(rows, ["+I[1]", "+I[2]", "+I[3]"]);
    let json = std::fs::read_to_string(dir.join("part-0-0")).expect("written");
    assert!(json.lines().all(|l| l.contains("\"b\":") && (l.contains('.') || l.contains("\"b\":null"))), "{json}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn datagen_draws_floats_from_flinks_range_and_generates_nested_values() {
    let runtime = runtime().await;
    let text = "CREATE TABLE G (d DOUBLE, f FLOAT, tags ARRAY<STRING>, m MAP<BOOLEAN, INT>, r ROW<city STRING, n INT>)
        WITH ('connector' = 'datagen', 'number-of-rows' = '50', 'fields.tags.length' = '2',
              'fields.tags.element.length' = '4', 'fields.m.length' = '5', 'fields.r.n.min' = '7', 'fields.r.n.max' = '7',
              'fields.r.city.length' = '3');
        SELECT * FROM G;";
    let job = weir_sql::parse("nested.sql", text).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &weir::policy::Grants::none(), &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let out = String::from_utf8(out).expect("UTF-8");
    assert_eq!(out.lines().count(), 50, "{out}");
    assert!(!out.contains("Infinity") && !out.contains("NaN"), "{out}");
    for line in out.lines() {
        // +I[d, f, [xxxx, xxxx], {k=v, …}, +I[ccc, 7]]
        let tags = line.split_once(", [").map(|(_, rest)| rest.split_once(']').expect("array end").0).expect("array");
        let tags: Vec<&str> = tags.split(", ").collect();
        assert!(tags.len() == 2 && tags.iter().all(|t| t.len() == 4), "{line}");
        let map = line.split_once('{').and_then(|(_, rest)| rest.split_once('}')).expect("map").0;
        let keys: Vec<&str> = map.split(", ").map(|e| e.split_once('=').expect("entry").0).collect();
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert!(!keys.is_empty() && keys.len() <= 2 && distinct.len() == keys.len(), "distinct BOOLEAN keys: {line}");
        assert!(line.ends_with(", 7]]") && line.contains("+I["), "{line}");
        let d: f64 = line.trim_start_matches("+I[").split(", ").next().expect("d").parse().expect("a number");
        assert!(d > 0.0 && d.is_finite(), "DOUBLE in (0, MAX] as Flink draws it: {line}");
    }
    // An option one level down must name a part that exists.
    let bad = "CREATE TABLE G (tags ARRAY<STRING>) WITH ('connector' = 'datagen', 'fields.tags.elements.length' = '4');
               SELECT * FROM G;";
    let job = weir_sql::parse("bad.sql", bad).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let e = pipeline::run(&runtime, &job, &weir::policy::Grants::none(), &pipeline::RunConfig::default(), &mut out)
        .await
        .expect_err("unknown part")
        .to_string();
    assert!(e.contains("fields.tags.elements.length") && e.contains("'element'"), "{e}");
}

/// The sink side encodes on tasks of its own, several batches in flight:
/// a quiet stream's last rows must still reach a write-through sink at
/// once, not wait for the next checkpoint (a minute away here).
#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_stream_reaches_a_write_through_sink_without_a_checkpoint() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let source = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let (source_port, sink_port) =
        (source.local_addr().expect("address").port(), sink.local_addr().expect("address").port());
    let feeding = tokio::spawn(async move {
        let (mut conn, _) = source.accept().await.expect("connect");
        conn.write_all(b"Alice,12\nBob,5\n").await.expect("send");
        // Then silence, connection open.
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    });
    let (got, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let receiving = tokio::spawn(async move {
        let (mut conn, _) = sink.accept().await.expect("the sink connects");
        let mut buf = [0u8; 4096];
        let mut text = String::new();
        while let Ok(n) = conn.read(&mut buf).await {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            while let Some(end) = text.find('\n') {
                let _ = got.send(text[..end].to_owned());
                text.drain(..=end);
            }
        }
    });
    let sql = format!(
        "CREATE TABLE S (name STRING, score INT) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1',
           'port' = '{source_port}', 'format' = 'csv');
         CREATE TABLE Out (name STRING, score INT) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1',
           'port' = '{sink_port}', 'format' = 'json');
         INSERT INTO Out SELECT * FROM S;"
    );
    let job = weir_sql::parse("quiet-sink.sql", &sql).expect("parses");
    let runtime = runtime().await;
    let grants = weir::policy::Grants {
        connect: vec![
            weir::policy::Endpoint { host: "127.0.0.1".into(), port: source_port },
            weir::policy::Endpoint { host: "127.0.0.1".into(), port: sink_port },
        ],
        ..weir::policy::Grants::none()
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let config = pipeline::RunConfig {
        checkpoint_dir: None,
        checkpoint_interval: Some(std::time::Duration::from_secs(60)),
        progress: None,
        stop: Some(stop.clone()),
        restart: None,
    };
    let running = tokio::spawn(async move { pipeline::run(&runtime, &job, &grants, &config, &mut Vec::new()).await });
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let Ok(line) = tokio::time::timeout(std::time::Duration::from_secs(10), received.recv()).await else {
            let state = if running.is_finished() {
                format!("the job ended: {:?}", running.await.expect("task").err())
            } else {
                "the job runs".to_owned()
            };
            panic!("the sink got {lines:?} within 10 s, not both rows ({state})");
        };
        lines.push(line.expect("the sink server runs"));
    }
    assert_eq!(lines, ["{\"name\":\"Alice\",\"score\":12}", "{\"name\":\"Bob\",\"score\":5}"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), running).await.expect("stops promptly");
    feeding.abort();
    receiving.abort();
}
