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
    // In few record batches (one per partition and flush), not one per record.
    let (batches, in_batches) = k.batches("nums-out", 2);
    assert_eq!(in_batches, 2000);
    assert!(batches <= 4, "{batches} batches for 2000 records");
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

#[tokio::test(flavor = "multi_thread")]
async fn key_and_value_formats_as_in_flinks_docs() {
    let k = kafka();
    k.create_topic("behavior", 4);
    // Flink's documented key/value example: the key is user_id and item_id
    // in json, the value the rest (EXCEPT_KEY) in json.
    let table = |name: &str, extra: &str| {
        format!(
            "CREATE TABLE {name} (`user_id` BIGINT, `item_id` BIGINT, `behavior` STRING) WITH (
               'connector' = 'kafka', 'topic' = 'behavior', 'properties.bootstrap.servers' = '{}',
               'key.format' = 'json', 'key.json.ignore-parse-errors' = 'true', 'key.fields' = 'user_id;item_id',
               'value.format' = 'json', 'value.json.fail-on-missing-field' = 'false',
               'value.fields-include' = 'EXCEPT_KEY'{extra});",
            k.bootstrap
        )
    };
    let sql = format!(
        "CREATE TABLE Gen (u BIGINT NOT NULL, i BIGINT NOT NULL, b STRING) WITH ('connector' = 'datagen',
           'number-of-rows' = '300', 'fields.u.kind' = 'sequence', 'fields.u.start' = '1', 'fields.u.end' = '300',
           'fields.i.min' = '1', 'fields.i.max' = '9', 'fields.b.length' = '5', 'seed' = '3');
         {}
         INSERT INTO Behavior SELECT u, i, b FROM Gen;",
        table("Behavior", "")
    );
    run(&sql).await;
    let records = k.consume("behavior");
    assert_eq!(records.len(), 300);
    // librdkafka sees the key and value layouts Flink writes.
    let first = records.iter().find(|r| r.contains("\"user_id\":1,")).expect("user 1");
    let f: Vec<&str> = first.split('\t').collect();
    assert!(f[2].starts_with("{\"user_id\":1,\"item_id\":"), "{first}");
    assert!(f[3].starts_with("{\"behavior\":\"") && !f[3].contains("user_id"), "{first}");
    // The default partitioner is Kafka's (murmur2 of the key bytes): the
    // same keys produced by librdkafka with its Java-compatible murmur2
    // land in the same partitions.
    k.create_topic("behavior-check", 4);
    let keyed: String = records
        .iter()
        .map(|r| {
            let f: Vec<&str> = r.split('\t').collect();
            format!("{}|{}\n", f[2], f[0])
        })
        .collect();
    k.client(&["produce", "behavior-check", "--keyed"], &keyed);
    for r in k.consume("behavior-check") {
        let f: Vec<&str> = r.split('\t').collect();
        assert_eq!(f[0], f[3], "key {} went to partition {} with librdkafka, {} with Weir", f[2], f[0], f[3]);
    }
    // Read back: key columns from the key, the rest from the value.
    let out = run(&format!(
        "{}
         SELECT * FROM Back;",
        table("Back", ", 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'")
    ))
    .await;
    let mut users: Vec<i64> =
        out.lines().filter_map(|l| l.strip_prefix("+I[")?.split(", ").next()?.parse().ok()).collect();
    users.sort();
    assert_eq!(users, (1..=300).collect::<Vec<_>>(), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_kafka_round_trip_gives_the_final_state_per_key() {
    let k = kafka();
    k.create_topic("balances", 2);
    let dir = std::env::temp_dir().join(format!("weir-upsert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // A changelog: inserts, updates (-U/+U) and deletes over 40 keys.
    let mut lines = String::new();
    let mut state = std::collections::BTreeMap::new();
    for step in 0..400u64 {
        let key = (step * 7) % 40;
        let amount = step * 3;
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
    std::fs::write(dir.join("changes.txt"), lines).expect("write");
    let upsert = |name: &str, extra: &str| {
        format!(
            "CREATE TABLE {name} (id BIGINT NOT NULL, amount BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (
               'connector' = 'upsert-kafka', 'topic' = 'balances', 'properties.bootstrap.servers' = '{}',
               'key.format' = 'json', 'value.format' = 'json'{extra});",
            k.bootstrap
        )
    };
    let sql = format!(
        "CREATE TABLE Changes (id BIGINT NOT NULL, amount BIGINT) WITH ('connector' = 'filesystem',
           'path' = '{}', 'format' = 'changelog-csv', 'changelog-csv.column-delimiter' = ',');
         {}
         INSERT INTO Balances SELECT * FROM Changes;",
        dir.join("changes.txt").display(),
        upsert("Balances", "")
    );
    let grants = Grants { read: vec![dir.clone()], ..grants() };
    run_with(&sql, &grants).await.unwrap_or_else(|e| panic!("{e}"));

    // The independent client: the last record per key is the final state
    // (a tombstone — no value — where the key was deleted).
    let mut seen = std::collections::BTreeMap::new();
    for r in k.consume("balances") {
        let f: Vec<&str> = r.split('\t').collect();
        let id: u64 = f[2].trim_start_matches("{\"id\":").trim_end_matches('}').parse().expect("key");
        seen.insert(id, (f[3] != "\\N").then(|| f[3].to_owned()));
    }
    let from_kafka: std::collections::BTreeMap<u64, u64> = seen
        .into_iter()
        .filter_map(|(id, v)| {
            Some((
                id,
                v?.trim_start_matches("{\"id\":").split("\"amount\":").nth(1)?.trim_end_matches('}').parse().ok()?,
            ))
        })
        .collect();
    assert_eq!(from_kafka, state, "librdkafka's view of the topic");

    // Weir reads it back as an upsert changelog; applied, it is the state.
    let out = run(&format!(
        "{}
         SELECT * FROM Back;",
        upsert("Back", ", 'scan.bounded.mode' = 'latest-offset'")
    ))
    .await;
    let mut applied = std::collections::BTreeMap::new();
    for line in out.lines() {
        let (kind, rest) = line.split_at(2);
        let fields: Vec<&str> = rest.trim_start_matches('[').trim_end_matches(']').split(", ").collect();
        let id: u64 = fields[0].parse().expect("id");
        match kind {
            "+I" | "+U" => {
                applied.insert(id, fields[1].parse::<u64>().expect("amount"));
            }
            "-D" => {
                applied.remove(&id);
            }
            other => panic!("unexpected row kind {other} in {out}"),
        }
    }
    assert_eq!(applied, state, "{out}");
    assert!(out.lines().any(|l| l.starts_with("-D[")), "tombstones read as deletes: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn flinks_documented_table_is_written_and_read_with_its_timestamp_metadata() {
    let k = kafka();
    k.create_topic("user_behavior", 1);
    // The DDL of Flink's Kafka connector page, unchanged but for the broker.
    let kafka_table = format!(
        "CREATE TABLE KafkaTable (
           `user_id` BIGINT,
           `item_id` BIGINT,
           `behavior` STRING,
           `ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'
         ) WITH (
           'connector' = 'kafka',
           'topic' = 'user_behavior',
           'properties.bootstrap.servers' = '{}',
           'properties.group.id' = 'testGroup',
           'scan.startup.mode' = 'earliest-offset',
           'format' = 'csv'
         );",
        k.bootstrap
    );
    let sql = format!(
        "CREATE TABLE Gen (u BIGINT NOT NULL, i BIGINT, b STRING, t TIMESTAMP_LTZ(3)) WITH ('connector' = 'datagen',
           'number-of-rows' = '50', 'fields.u.kind' = 'sequence', 'fields.u.start' = '1', 'fields.u.end' = '50',
           'fields.t.max-past' = '10 d', 'seed' = '9');
         {kafka_table}
         INSERT INTO KafkaTable SELECT * FROM Gen;
         SELECT * FROM Gen;"
    );
    let generated = run(&sql).await;
    // librdkafka: the csv value without the metadata column, and the record
    // timestamp taken from it.
    let records = k.consume("user_behavior");
    assert_eq!(records.len(), 50);
    let mut kafka_ts = std::collections::BTreeMap::new();
    for r in &records {
        let f: Vec<&str> = r.split('\t').collect();
        assert_eq!(f[3].split(',').count(), 3, "{r}");
        kafka_ts
            .insert(f[3].split(',').next().expect("id").parse::<i64>().expect("id"), f[4].parse::<i64>().expect("ms"));
    }
    // Read back (bounded): the same values, and as `ts` the record
    // timestamps (datagen's, days in the past — not the time of writing).
    let back = run(&format!(
        "{}
         SELECT user_id, item_id, behavior, ts FROM KafkaTable;",
        kafka_table.replace("'format' = 'csv'", "'format' = 'csv', 'scan.bounded.mode' = 'latest-offset'")
    ))
    .await;
    let values = |out: &str| {
        let mut rows: Vec<String> = out
            .lines()
            .filter(|l| l.starts_with("+I"))
            .map(|l| l.rsplit_once(", ").expect("columns").0.to_owned())
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(values(&back), values(&generated));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    for line in back.lines().filter(|l| l.starts_with("+I[")) {
        let id: i64 = line[3..].split(',').next().expect("id").parse().expect("id");
        let ts = epoch_millis(line.rsplit(", ").next().expect("ts").trim_end_matches(']'));
        assert_eq!(Some(&ts), kafka_ts.get(&id), "{line}");
        assert!(now - ts > 60_000, "the timestamp comes from the column, not the time of writing: {line}");
    }
}

/// `2026-11-27T21:05:00.070Z` (or `…:00Z`, a whole second, as Weir prints
/// it) as milliseconds since the epoch.
fn epoch_millis(text: &str) -> i64 {
    let millis = text
        .get(20..23)
        .filter(|_| text.as_bytes().get(19) == Some(&b'.'))
        .map_or(0, |m| m.parse::<i64>().expect("milliseconds"));
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().expect("digits");
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + n(11..13)) * 60 + n(14..16)) * 60_000 + n(17..19) * 1000 + millis
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpointed_offsets_are_committed_to_the_group_and_group_offsets_resumes_there() {
    let k = kafka();
    k.create_topic("grouped", 2);
    k.client(&["produce", "grouped"], &(0..1000).map(|i| format!("{i}\n")).collect::<String>());
    let table = |mode: &str| {
        format!(
            "CREATE TABLE G (v STRING) WITH ('connector' = 'kafka', 'topic' = 'grouped',
               'properties.bootstrap.servers' = '{}', 'properties.group.id' = 'weir-group', 'format' = 'raw',
               'scan.startup.mode' = '{mode}', 'properties.auto.offset.reset' = 'earliest'{});",
            k.bootstrap,
            if mode == "earliest-offset" { "" } else { ", 'scan.bounded.mode' = 'latest-offset'" }
        )
    };
    // An unbounded job with checkpoints, stopped after a while: each
    // checkpoint commits the offsets of the one before it.
    let dir = std::env::temp_dir().join(format!("weir-group-{}", std::process::id()));
    let sql = format!(
        "{}
         CREATE TABLE Discard (v STRING) WITH ('connector' = 'blackhole');
         INSERT INTO Discard SELECT * FROM G;",
        table("earliest-offset")
    );
    let job = weir_sql::parse("group.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let config = pipeline::RunConfig {
        checkpoint_dir: Some(dir.clone()),
        checkpoint_interval: Some(std::time::Duration::from_millis(100)),
        stop: Some(stop.clone()),
        ..pipeline::RunConfig::default()
    };
    let runtime = runtime().await;
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        })
    };
    match pipeline::run(&runtime, &job, &grants(), &config, &mut Vec::new()).await {
        Err(e) if e.to_string().starts_with("stopped after checkpoint") => {}
        other => panic!("the stop ends the job after a checkpoint: {other:?}"),
    }
    stopper.await.expect("stopper");
    // librdkafka sees the group's committed offsets: every record read.
    let committed: Vec<String> =
        k.client(&["committed", "grouped", "weir-group"], "").lines().map(str::to_owned).collect();
    let ends: std::collections::BTreeMap<String, i64> =
        k.consume("grouped").iter().fold(std::collections::BTreeMap::new(), |mut m, r| {
            let f: Vec<&str> = r.split('\t').collect();
            let e = m.entry(f[0].to_owned()).or_insert(0);
            *e = (*e).max(f[1].parse::<i64>().expect("offset") + 1);
            m
        });
    for line in &committed {
        let (p, o) = line.split_once('\t').expect("partition and offset");
        // A partition the producer left empty (librdkafka's sticky
        // partitioner may put every record in one) is committed at 0.
        let end = ends.get(p).copied().unwrap_or(0);
        assert_eq!(o.parse::<i64>().expect("offset"), end, "{committed:?} vs {ends:?}");
    }
    assert_eq!(committed.len(), 2, "both partitions committed: {committed:?}");
    // More records; group-offsets reads only them.
    k.client(&["produce", "grouped"], &(1000..1100).map(|i| format!("{i}\n")).collect::<String>());
    let out = run(&format!("{}\n SELECT * FROM G;", table("group-offsets"))).await;
    let mut got: Vec<i64> =
        out.lines().filter_map(|l| l.strip_prefix("+I[")?.strip_suffix(']')?.parse().ok()).collect();
    got.sort();
    assert_eq!(got, (1000..1100).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}
