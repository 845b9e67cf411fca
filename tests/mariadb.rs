//! The `jdbc` connector's MySQL dialect against a real MariaDB (Debian's
//! `mariadb-server`, started by the tests as an unprivileged user on a free
//! loopback port, mysql_native_password), checked with the `mariadb`
//! command-line client.

use weir::policy::{Endpoint, Grants};
use weir_pipeline as pipeline;
use weir_tests::peers::mariadb;
use weir_tests::runtime;

fn grants() -> Grants {
    Grants { connect: vec![Endpoint { host: "127.0.0.1".into(), port: mariadb().port }], ..Grants::none() }
}

async fn run_with(sql: &str, grants: &Grants) -> weir::Result<String> {
    let runtime = runtime().await;
    let job = weir_sql::parse("mariadb.sql", sql).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, grants, &pipeline::RunConfig::default(), &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8"))
}

async fn run(sql: &str) -> weir::Result<String> {
    run_with(sql, &grants()).await
}

/// Flink's JDBC DDL for a MariaDB table.
fn table(name: &str, columns: &str, extra: &str, password: &str) -> String {
    let db = mariadb();
    format!(
        "CREATE TABLE {name} ({columns}) WITH ('connector' = 'jdbc', 'url' = '{}', 'table-name' = '{name}',
           'username' = '{}', 'password' = '{password}'{extra});",
        db.url(),
        db.user
    )
}

/// Lines of the `mariadb` client's tab-separated output as Weir prints
/// rows (`+I[a, b]`, NULL as null), sorted.
fn client_rows(sql: &str) -> Vec<String> {
    let mut rows: Vec<String> = mariadb()
        .sql(sql)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').map(|v| if v == "NULL" { "null" } else { v }).collect();
            format!("+I[{}]", f.join(", "))
        })
        .collect();
    rows.sort();
    rows
}

fn weir_rows(out: &str) -> Vec<String> {
    let mut rows: Vec<String> = out.lines().filter(|l| l.starts_with("+I")).map(str::to_owned).collect();
    rows.sort();
    rows
}

#[test]
fn the_peer_starts_and_answers_its_client_with_a_password() {
    assert_eq!(mariadb().sql("SELECT 1 + 1").trim(), "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_scan_of_a_million_rows_returns_exactly_the_table() {
    let db = mariadb();
    db.sql(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer VARCHAR(20), amount DECIMAL(10,2), paid TINYINT(1),
           placed DATETIME(3), day DATE, raw VARBINARY(8));
         INSERT INTO orders SELECT seq, IF(seq % 1000 = 0, NULL, CONCAT('c', seq % 97)), seq * 1.25, seq % 3 = 0,
           TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, DATE '2024-01-01' + INTERVAL (seq % 30) DAY,
           UNHEX(LPAD(HEX(seq), 8, '0'))
         FROM seq_1_to_1000000;",
    );
    let columns = "id BIGINT, customer STRING, amount DECIMAL(10, 2), paid BOOLEAN, placed TIMESTAMP(3), day DATE, \
                   raw BYTES";
    let sql = format!(
        "{}\n SELECT id, customer, amount, paid FROM orders;",
        table(
            "orders",
            columns,
            ", 'scan.partition.column' = 'id', 'scan.partition.num' = '4', 'scan.partition.lower-bound' = '1',
               'scan.partition.upper-bound' = '1000000', 'scan.fetch-size' = '5000', 'scan.parallelism' = '2'",
            db.password
        )
    );
    let got = weir_rows(&run(&sql).await.unwrap_or_else(|e| panic!("{e}")));
    let want: Vec<String> = client_rows("SELECT id, customer, amount, IF(paid, 'true', 'false') FROM orders");
    assert_eq!(got.len(), 1_000_000);
    assert!(got == want, "the scan differs from the table");
    let out = run(&format!(
        "{}\n SELECT placed, day, raw FROM orders WHERE id = 42;",
        table("orders", columns, "", db.password)
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.trim(), "+I[2024-01-01T00:00:42, 2024-01-13, [0, 0, 0, 42]]", "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_a_missing_table_and_a_type_mismatch_are_named() {
    let db = mariadb();
    let e =
        run(&format!("{}\n SELECT * FROM t;", table("t", "a INT", "", "not-the-password"))).await.expect_err("refused");
    let message = e.to_string();
    assert!(message.contains("refused user 'weir'") && message.contains("28000"), "{message}");
    assert!(!message.contains("not-the-password"), "the password leaked: {message}");
    let e = run(&format!("{}\n SELECT * FROM no_such_table;", table("no_such_table", "a INT", "", db.password)))
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("MySQL has no table 'no_such_table'"), "{e}");
    db.sql("CREATE TABLE typed (id BIGINT PRIMARY KEY, label VARCHAR(20))");
    let e = run(&format!("{}\n SELECT * FROM typed;", table("typed", "id INT, label STRING", "", db.password)))
        .await
        .expect_err("refused");
    assert!(
        e.to_string()
            .contains("column 'id' is INT in the table's DDL but bigint(20) in MySQL's 'typed'; declare it BIGINT"),
        "{e}"
    );
    assert!(!e.to_string().contains(db.password), "the password leaked: {e}");
}

/// Orders in a csv file lookup-joined with customers in MariaDB, with and
/// without cache, inner and LEFT — each checked against MariaDB's own join.
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_join_enriches_a_stream() {
    let db = mariadb();
    db.sql(
        "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40), country VARCHAR(10), since DATE);
         INSERT INTO customers SELECT seq, CONCAT('name ', seq), IF(seq % 10 = 0, NULL, CONCAT('c', seq % 7)),
           DATE '2020-01-01' + INTERVAL seq DAY FROM seq_1_to_500;
         CREATE TABLE lookup_orders (order_id INT PRIMARY KEY, customer_id INT, total INT);
         INSERT INTO lookup_orders SELECT seq, (seq * 37) % 640, seq % 1000 FROM seq_1_to_20000;",
    );
    let dir = std::env::temp_dir().join(format!("weir-mariadb-lookup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let csv: String = db
        .sql("SELECT order_id, customer_id, total FROM lookup_orders ORDER BY order_id")
        .lines()
        .map(|l| format!("{}\n", l.replace('\t', ",")))
        .collect();
    std::fs::write(dir.join("orders.csv"), csv).expect("write");
    let grants = Grants { read: vec![dir.clone()], ..grants() };
    let orders = format!(
        "CREATE TABLE Orders (order_id INT, customer_id INT, total INT, proc_time AS PROCTIME())
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');",
        dir.join("orders.csv").display()
    );
    let customers =
        |extra: &str| table("customers", "id INT, name STRING, country STRING, since DATE", extra, db.password);
    let inner = "SELECT o.order_id, o.total, c.name, c.country, c.since FROM Orders AS o
       JOIN customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer_id = c.id;";
    let want = client_rows(
        "SELECT o.order_id, o.total, c.name, c.country, c.since FROM lookup_orders o JOIN customers c
           ON o.customer_id = c.id",
    );
    assert!(want.len() > 10_000 && want.len() < 20_000, "some orders have no customer: {}", want.len());
    let got = run_with(&format!("{orders}\n{}\n{inner}", customers("")), &grants).await;
    assert_eq!(weir_rows(&got.unwrap_or_else(|e| panic!("{e}"))), want, "without a cache");
    let cached = ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '100'";
    let got = run_with(&format!("{orders}\n{}\n{inner}", customers(cached)), &grants).await;
    assert_eq!(weir_rows(&got.unwrap_or_else(|e| panic!("{e}"))), want, "with a cache");
    let left = "SELECT o.order_id, o.customer_id, c.name FROM Orders AS o
       LEFT JOIN customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer_id = c.id WHERE o.total < 100;";
    let want = client_rows(
        "SELECT o.order_id, o.customer_id, c.name FROM lookup_orders o LEFT JOIN customers c
           ON o.customer_id = c.id WHERE o.total < 100",
    );
    assert!(want.iter().any(|r| r.ends_with(", null]")), "missing customers give nulls");
    let got = run_with(&format!("{orders}\n{}\n{left}", customers(cached)), &grants).await;
    assert_eq!(weir_rows(&got.unwrap_or_else(|e| panic!("{e}"))), want, "LEFT JOIN");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A changelog applied to an upsert table (`ON DUPLICATE KEY UPDATE`, -D a
/// DELETE by key) ends with its final state: at-least-once, and exactly-once
/// (XA transactions with a progress row, none left prepared).
#[tokio::test(flavor = "multi_thread")]
async fn an_upsert_sink_fed_a_changelog_ends_with_the_final_state() {
    let db = mariadb();
    let dir = std::env::temp_dir().join(format!("weir-mariadb-upsert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (lines, state) = weir_tests::changelog(3000, |step| format!("o'\\{}", step % 7));
    std::fs::write(dir.join("changes.txt"), lines).expect("write");
    let grants = Grants { read: vec![dir.clone()], ..grants() };
    for (name, extra) in [
        ("balances", ""),
        ("balances_once", ", 'sink.delivery-guarantee' = 'exactly-once', 'sink.buffer-flush.max-rows' = '50'"),
    ] {
        db.sql(&format!("CREATE TABLE {name} (id BIGINT PRIMARY KEY, owner VARCHAR(20), amount BIGINT)"));
        let sql = format!(
            "SET 'execution.checkpointing.interval' = '20 ms';
             CREATE TABLE Changes (id BIGINT NOT NULL, owner STRING, amount BIGINT) WITH ('connector' = 'filesystem',
               'path' = '{}', 'format' = 'changelog-csv', 'changelog-csv.column-delimiter' = ',');
             {}
             INSERT INTO {name} SELECT * FROM Changes;",
            dir.join("changes.txt").display(),
            table(
                name,
                "id BIGINT NOT NULL, owner STRING, amount BIGINT, PRIMARY KEY (id) NOT ENFORCED",
                extra,
                db.password
            )
        );
        run_with(&sql, &grants).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        // The client's -B output escapes a backslash as \\.
        let got: Vec<String> = db
            .sql(&format!("SELECT id, owner, amount FROM {name} ORDER BY id"))
            .lines()
            .map(|l| l.replace("\\\\", "\\"))
            .collect();
        let want: Vec<String> = state.iter().map(|(k, (o, a))| format!("{k}\t{o}\t{a}")).collect();
        assert_eq!(got, want, "{name}");
    }
    let progress = db
        .sql("SELECT count(*), count(DISTINCT checkpoint) FROM weir_sink_progress WHERE prefix = 'weir-balances_once'");
    let counts: Vec<&str> = progress.split_whitespace().collect();
    assert!(counts[0] != "0" && counts[0] == counts[1], "a progress row per checkpoint: {progress}");
    assert_eq!(db.sql("XA RECOVER").trim(), "", "no transaction was left prepared");
    let _ = std::fs::remove_dir_all(&dir);
}
