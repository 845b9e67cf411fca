//! The `kafka` connector against a real Kafka-protocol broker (Tansu,
//! started by the tests on a free loopback port), checked with an
//! independent client (librdkafka through confluent-kafka).

use weir::policy::{Endpoint, Grants};
use weir_pipeline as pipeline;
use weir_tests::peers::kafka;
use weir_tests::runtime;

/// Grants for the test broker.
fn grants() -> Grants {
    Grants { connect: vec![Endpoint { host: "127.0.0.1".into(), port: kafka().port }], ..Grants::none() }
}

/// Runs `sql` with `grants`; returns what it printed.
async fn run_with(sql: &str, grants: &Grants) -> weir::Result<String> {
    let runtime = runtime().await;
    let job = weir_sql::parse("kafka.sql", sql).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, grants, &pipeline::RunConfig::default(), &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8"))
}

async fn run(sql: &str) -> String {
    run_with(sql, &grants()).await.unwrap_or_else(|e| panic!("{e}"))
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_what_librdkafka_produced_with_metadata_columns() {
    let k = kafka();
    k.create_topic("orders-in", 3);
    let input: String = (0..500).map(|i| format!("k{}|{i},item-{i},{}.5\n", i % 17, i * 3)).collect();
    k.client(&["produce", "orders-in", "--keyed"], &input);
    let expected = k.consume("orders-in");
    assert_eq!(expected.len(), 500);

    let sql = format!(
        "CREATE TABLE Orders (
           id BIGINT, item STRING, price DOUBLE,
           `partition` INT METADATA VIRTUAL, `offset` BIGINT METADATA VIRTUAL, tp STRING METADATA FROM 'topic' VIRTUAL,
           ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL
         ) WITH (
           'connector' = 'kafka', 'topic' = 'orders-in', 'properties.bootstrap.servers' = '{}',
           'properties.group.id' = 'weir-test', 'scan.startup.mode' = 'earliest-offset',
           'scan.bounded.mode' = 'latest-offset', 'format' = 'csv'
         );
         SELECT `partition`, `offset`, id, item, tp FROM Orders;",
        k.bootstrap
    );
    let out = run(&sql).await;
    let got: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("+I"))
        .map(|l| {
            // +I[p, o, id, item, topic]
            let inner = l.trim_start_matches("+I[").trim_end_matches(']');
            let f: Vec<&str> = inner.split(", ").collect();
            format!("{}\t{}\t{}", f[0], f[1], f[3])
        })
        .collect();
    let want: Vec<String> = expected
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            format!("{}\t{}\t{}", f[0], f[1], f[3].split(',').nth(1).expect("item"))
        })
        .collect();
    assert_eq!(sorted(got), sorted(want), "{out}");
    assert!(out.lines().filter(|l| l.starts_with("+I")).all(|l| l.ends_with(", orders-in]")), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_what_librdkafka_reads() {
    let k = kafka();
    k.create_topic("nums-out", 2);
    let sql = format!(
        "CREATE TABLE Nums (n INT NOT NULL, label STRING) WITH ('connector' = 'datagen', 'fields.n.kind' = 'sequence',
           'fields.n.start' = '1', 'fields.n.end' = '2000', 'fields.label.length' = '4', 'seed' = '7');
         CREATE TABLE Out (n INT NOT NULL, label STRING) WITH ('connector' = 'kafka', 'topic' = 'nums-out',
           'properties.bootstrap.servers' = '{}', 'format' = 'json', 'sink.partitioner' = 'round-robin');
         INSERT INTO Out SELECT * FROM Nums;",
        k.bootstrap
    );
    run(&sql).await;
    let records = k.consume("nums-out");
    assert_eq!(records.len(), 2000, "{records:?}");
    let mut ns: Vec<i64> = records
        .iter()
        .map(|r| {
            let value = r.split('\t').nth(3).expect("value");
            assert!(value.starts_with("{\"n\":"), "{value}");
            value[5..value.find(',').expect("comma")].parse().expect("n")
        })
        .collect();
    ns.sort();
    assert_eq!(ns, (1..=2000).collect::<Vec<_>>());
    // Round-robin: both partitions got records.
    assert!(records.iter().any(|r| r.starts_with("0\t")) && records.iter().any(|r| r.starts_with("1\t")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_without_the_broker_grant_is_refused_before_start() {
    let k = kafka();
    let sql = format!(
        "CREATE TABLE T (v STRING) WITH ('connector' = 'kafka', 'topic' = 'x', 'properties.bootstrap.servers' = '{}',
           'scan.startup.mode' = 'earliest-offset', 'format' = 'raw');
         SELECT * FROM T;",
        k.bootstrap
    );
    let e = run_with(&sql, &Grants::none()).await.expect_err("refused");
    let message = e.to_string();
    assert!(message.contains(&format!("--allow-net {}", k.bootstrap)), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_garbage_speaking_broker_gives_a_clear_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Three hostile "brokers": an absurd frame length, a truncated frame,
    // and a well-framed response that does not decode.
    for reply in [
        &b"\x7f\xff\xff\xff"[..],
        &b"\x00\x00\x00\x40\x00\x00"[..],
        &b"\x00\x00\x00\x08\x00\x00\x00\x01\xff\xff\xff\xff"[..],
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let port = listener.local_addr().expect("address").port();
        let reply = reply.to_vec();
        let server = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = conn.read(&mut request).await;
                let _ = conn.write_all(&reply).await;
                // Then hang up.
            }
        });
        let sql = format!(
            "CREATE TABLE T (v STRING) WITH ('connector' = 'kafka', 'topic' = 'x',
               'properties.bootstrap.servers' = '127.0.0.1:{port}', 'scan.startup.mode' = 'earliest-offset',
               'format' = 'raw');
             SELECT * FROM T;"
        );
        let grants = Grants { connect: vec![Endpoint { host: "127.0.0.1".into(), port }], ..Grants::none() };
        let e = run_with(&sql, &grants).await.expect_err("garbage is an error");
        let message = e.to_string();
        assert!(message.contains(&format!("127.0.0.1:{port}")) && message.contains("Kafka broker"), "{message}");
        server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_once_commits_one_transaction_per_checkpoint() {
    let k = kafka();
    k.create_topic("eo-out", 2);
    let sql = format!(
        "SET 'execution.checkpointing.interval' = '20 ms';
         CREATE TABLE Nums (n BIGINT NOT NULL) WITH ('connector' = 'datagen', 'fields.n.kind' = 'sequence',
           'fields.n.start' = '1', 'fields.n.end' = '30000', 'rows-per-second' = '200000');
         CREATE TABLE Out (n BIGINT NOT NULL) WITH ('connector' = 'kafka', 'topic' = 'eo-out',
           'properties.bootstrap.servers' = '{b}', 'format' = 'csv', 'sink.delivery-guarantee' = 'exactly-once',
           'sink.transactional-id-prefix' = 'eo-test');
         INSERT INTO Out SELECT * FROM Nums;
         CREATE TABLE Back (n BIGINT NOT NULL, `offset` BIGINT METADATA) WITH ('connector' = 'kafka', 'topic' = 'eo-out',
           'properties.bootstrap.servers' = '{b}', 'format' = 'csv', 'scan.startup.mode' = 'earliest-offset',
           'scan.bounded.mode' = 'latest-offset');
         SELECT n FROM Back;",
        b = k.bootstrap
    );
    let dir = std::env::temp_dir().join(format!("weir-eo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sql = sql.replace(
        "SET 'execution.checkpointing.interval' = '20 ms';",
        &format!(
            "SET 'execution.checkpointing.interval' = '20 ms'; SET 'execution.checkpointing.dir' = '{}';",
            dir.display()
        ),
    );
    let out = run(&sql).await;
    let mut read_back: Vec<i64> =
        out.lines().filter_map(|l| l.strip_prefix("+I[")?.strip_suffix(']')?.parse().ok()).collect();
    read_back.sort();
    assert_eq!(read_back, (1..=30000).collect::<Vec<_>>(), "Weir reads back every committed row once");
    // librdkafka sees the same records (no transaction was aborted).
    let records = k.consume("eo-out");
    let mut independent: Vec<i64> =
        records.iter().map(|r| r.split('\t').nth(3).expect("value").parse().expect("n")).collect();
    independent.sort();
    assert_eq!(independent, read_back);
    // And the marker-aware reader agrees: every transaction was committed.
    let mut committed: Vec<i64> = k.committed_values("eo-out", 2).iter().map(|v| v.parse().expect("n")).collect();
    committed.sort();
    assert_eq!(committed, read_back);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_committed_skips_aborted_transactions_from_the_markers_in_the_log() {
    let k = kafka();
    k.create_topic("txn-in", 1);
    // Written by librdkafka's transactional producer: a, b committed; x, y
    // aborted; c committed; z aborted.
    k.client(&["produce-txn", "txn-in"], "a\nb\n--commit\nx\ny\n--abort\nc\n--commit\nz\n--abort\n");
    let table = |isolation: &str| {
        format!(
            "CREATE TABLE T (v STRING) WITH ('connector' = 'kafka', 'topic' = 'txn-in', 'properties.bootstrap.servers' = '{}',
               'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'raw',
               'properties.isolation.level' = '{isolation}');
             SELECT * FROM T;",
            k.bootstrap
        )
    };
    let committed = run(&table("read_committed")).await;
    assert_eq!(committed.lines().filter(|l| l.starts_with("+I")).collect::<Vec<_>>(), ["+I[a]", "+I[b]", "+I[c]"]);
    let everything = run(&table("read_uncommitted")).await;
    assert_eq!(everything.lines().filter(|l| l.starts_with("+I")).count(), 6, "{everything}");
    // The independent marker-aware reader agrees.
    assert_eq!(k.committed_values("txn-in", 1), ["a", "b", "c"]);
}
