//! The `jdbc` connector's scan against a real PostgreSQL (started by the
//! tests as an unprivileged user on a free loopback port, SCRAM-SHA-256),
//! checked with psql.

use weir::policy::{Endpoint, Grants};
use weir_pipeline as pipeline;
use weir_tests::peers::postgres;
use weir_tests::runtime;

fn grants() -> Grants {
    Grants { connect: vec![Endpoint { host: "127.0.0.1".into(), port: postgres().port }], ..Grants::none() }
}

async fn run(sql: &str) -> weir::Result<String> {
    let runtime = runtime().await;
    let job = weir_sql::parse("jdbc.sql", sql).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &grants(), &pipeline::RunConfig::default(), &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8"))
}

fn table(name: &str, columns: &str, extra: &str, password: &str) -> String {
    let pg = postgres();
    format!(
        "CREATE TABLE {name} ({columns}) WITH ('connector' = 'jdbc', 'url' = '{}', 'table-name' = '{name}',
           'username' = '{}', 'password' = '{password}'{extra});",
        pg.url(),
        pg.user
    )
}

#[test]
fn the_peer_starts_and_answers_psql_with_a_password() {
    let pg = postgres();
    assert_eq!(pg.psql("SELECT 1 + 1").trim(), "2");
    assert_eq!(pg.psql("SHOW password_encryption").trim(), "scram-sha-256");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_scan_of_a_million_rows_returns_exactly_the_table() {
    let pg = postgres();
    pg.psql(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer TEXT, amount NUMERIC(10,2), paid BOOLEAN,
           placed TIMESTAMP(3), day DATE, raw BYTEA, seen TIMESTAMPTZ);
         INSERT INTO orders SELECT i, 'c' || (i % 97), (i * 1.25)::numeric(10,2), i % 3 = 0,
           TIMESTAMP '2024-01-01 00:00:00' + i * INTERVAL '1 second', DATE '2024-01-01' + (i % 30),
           decode(lpad(to_hex(i), 8, '0'), 'hex'), TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 minute'
         FROM generate_series(1, 1000000) AS i;
         UPDATE orders SET customer = NULL WHERE id % 1000 = 0;",
    );
    let columns = "id BIGINT, customer STRING, amount DECIMAL(10, 2), paid BOOLEAN, placed TIMESTAMP(3), day DATE, \
                   raw BYTES, seen TIMESTAMP_LTZ(3)";
    let sql = format!(
        "{}
         SELECT id, customer, amount, paid FROM orders;",
        table(
            "orders",
            columns,
            ", 'scan.partition.column' = 'id', 'scan.partition.num' = '4', 'scan.partition.lower-bound' = '1',
               'scan.partition.upper-bound' = '1000000', 'scan.fetch-size' = '10000', 'scan.parallelism' = '2'",
            pg.password
        )
    );
    let out = run(&sql).await.unwrap_or_else(|e| panic!("{e}"));
    let mut got: Vec<String> = out.lines().filter(|l| l.starts_with("+I")).map(str::to_owned).collect();
    got.sort();
    // psql's view of the same rows, printed as Weir prints them.
    let mut want: Vec<String> = pg
        .psql("SELECT id, coalesce(customer, 'null'), amount, paid FROM orders")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            format!("+I[{}, {}, {}, {}]", f[0], f[1], f[2], if f[3] == "t" { "true" } else { "false" })
        })
        .collect();
    want.sort();
    assert_eq!(got.len(), 1_000_000);
    assert_eq!(got, want);
    // The other types, on a few rows.
    let out = run(&format!(
        "{}\n SELECT placed, day, raw, seen FROM orders WHERE id = 42;",
        table("orders", columns, "", pg.password)
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.trim(), "+I[2024-01-01T00:00:42, 2024-01-13, [0, 0, 0, 42], 2024-01-01T00:42:00Z]", "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_and_a_missing_table_say_so_without_the_password() {
    let pg = postgres();
    let e =
        run(&format!("{}\n SELECT * FROM t;", table("t", "a INT", "", "not-the-password"))).await.expect_err("refused");
    let message = e.to_string();
    assert!(
        message.contains("password authentication failed") && message.contains("table 'T'")
            || message.contains("refused user"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "the password leaked: {message}");
    let e = run(&format!("{}\n SELECT * FROM no_such_table;", table("no_such_table", "a INT", "", pg.password)))
        .await
        .expect_err("refused");
    let message = e.to_string();
    assert!(message.contains("no table 'no_such_table'") && message.contains("42P01"), "{message}");
    assert!(!message.contains(pg.password), "the password leaked: {message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upsert_sink_fed_a_changelog_ends_with_the_final_state() {
    let pg = postgres();
    pg.psql("CREATE TABLE balances (id BIGINT PRIMARY KEY, owner TEXT, amount BIGINT)");
    let dir = std::env::temp_dir().join(format!("weir-jdbc-upsert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (lines, state) = weir_tests::changelog(3000, |step| format!("o'{}", step % 7));
    std::fs::write(dir.join("changes.txt"), lines).expect("write");
    let sql = format!(
        "CREATE TABLE Changes (id BIGINT NOT NULL, owner STRING, amount BIGINT) WITH ('connector' = 'filesystem',
           'path' = '{}', 'format' = 'changelog-csv', 'changelog-csv.column-delimiter' = ',');
         {}
         INSERT INTO balances SELECT * FROM Changes;",
        dir.join("changes.txt").display(),
        table(
            "balances",
            "id BIGINT NOT NULL, owner STRING, amount BIGINT, PRIMARY KEY (id) NOT ENFORCED",
            "",
            pg.password
        )
    );
    let runtime = runtime().await;
    let job = weir_sql::parse("upsert.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
    let grants = Grants { read: vec![dir.clone()], ..grants() };
    pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut Vec::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // psql: the table is the changelog applied in order (quotes in text kept).
    let got: Vec<String> =
        pg.psql("SELECT id, owner, amount FROM balances ORDER BY id").lines().map(str::to_owned).collect();
    let want: Vec<String> = state.iter().map(|(k, (o, a))| format!("{k}|{o}|{a}")).collect();
    assert_eq!(got, want);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Orders in a csv file (exported by psql), lookup-joined with customers
/// in PostgreSQL, as Flink's lookup-join example writes it; each result is
/// checked against PostgreSQL's own join of the same rows.
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_join_enriches_a_stream_with_and_without_cache() {
    let pg = postgres();
    pg.psql(
        "CREATE TABLE customers (id INT PRIMARY KEY, name TEXT, country TEXT, since DATE);
         INSERT INTO customers SELECT i, 'name ' || i, CASE WHEN i % 10 = 0 THEN NULL ELSE 'c' || (i % 7) END,
           DATE '2020-01-01' + i FROM generate_series(1, 500) AS i;
         CREATE TABLE lookup_orders (order_id INT PRIMARY KEY, customer_id INT, total INT);
         INSERT INTO lookup_orders SELECT i, (i * 37) % 640, i % 1000 FROM generate_series(1, 20000) AS i;",
    );
    let dir = std::env::temp_dir().join(format!("weir-jdbc-lookup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let csv = pg.psql("COPY (SELECT order_id, customer_id, total FROM lookup_orders ORDER BY order_id) TO STDOUT CSV");
    std::fs::write(dir.join("orders.csv"), csv).expect("write");
    let grants = Grants { read: vec![dir.clone()], ..grants() };
    let orders = format!(
        "CREATE TABLE Orders (order_id INT, customer_id INT, total INT, proc_time AS PROCTIME())
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');",
        dir.join("orders.csv").display()
    );
    let run_with = |cache: &str, query: &str| {
        let sql = format!(
            "{orders}\n{}\n{query}",
            table("customers", "id INT, name STRING, country STRING, since DATE", cache, pg.password)
        );
        let grants = grants.clone();
        async move {
            let runtime = runtime().await;
            let job = weir_sql::parse("lookup.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
            let mut out = Vec::new();
            pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let mut rows: Vec<String> = String::from_utf8(out)
                .expect("UTF-8")
                .lines()
                .filter(|l| l.starts_with("+I"))
                .map(str::to_owned)
                .collect();
            rows.sort();
            rows
        }
    };
    let psql_rows = |sql: &str| pg.flink_rows(sql);
    let inner = "SELECT o.order_id, o.total, c.name, c.country, c.since FROM Orders AS o
       JOIN customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer_id = c.id;";
    let want = psql_rows(
        "SELECT o.order_id, o.total, c.name, c.country, c.since FROM lookup_orders o JOIN customers c
           ON o.customer_id = c.id",
    );
    assert!(want.len() > 10_000 && want.len() < 20_000, "some orders have no customer: {}", want.len());
    assert_eq!(run_with("", inner).await, want, "without a cache");
    let cached = ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '100',
        'lookup.partial-cache.expire-after-write' = '1 h'";
    assert_eq!(run_with(cached, inner).await, want, "with a cache smaller than the keys");
    // LEFT JOIN: orders of missing customers (ids 0 and 501..639) keep
    // their row, the customer's columns null.
    let left = "SELECT o.order_id, o.customer_id, c.name FROM Orders AS o
       LEFT JOIN customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer_id = c.id WHERE o.total < 100;";
    let want = psql_rows(
        "SELECT o.order_id, o.customer_id, c.name FROM lookup_orders o LEFT JOIN customers c
           ON o.customer_id = c.id WHERE o.total < 100",
    );
    assert!(want.iter().any(|r| r.ends_with(", null]")), "missing customers give nulls");
    assert_eq!(run_with(cached, left).await, want, "LEFT JOIN");
    // A condition on the dimension table's columns filters joined rows.
    let filtered = "SELECT o.order_id, c.country FROM Orders AS o
       JOIN customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer_id = c.id WHERE c.country = 'c3';";
    let want = psql_rows(
        "SELECT o.order_id, c.country FROM lookup_orders o JOIN customers c ON o.customer_id = c.id
           WHERE c.country = 'c3'",
    );
    assert_eq!(run_with("", filtered).await, want, "WHERE on the dimension table");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ddl_type_that_does_not_match_the_database_is_named_at_open() {
    let pg = postgres();
    pg.psql("CREATE TABLE typed (id BIGINT PRIMARY KEY, label VARCHAR(20), at TIMESTAMPTZ)");
    let e = run(&format!(
        "{}\n SELECT * FROM typed;",
        table("typed", "id INT, label STRING, at TIMESTAMP_LTZ(3)", "", pg.password)
    ))
    .await
    .expect_err("refused");
    let message = e.to_string();
    assert!(
        message.contains("column 'id' is INT in the table's DDL but bigint in PostgreSQL's 'typed'; declare it BIGINT"),
        "{message}"
    );
    assert!(message.contains("table 'typed'"), "{message}");
    let e = run(&format!("{}\n SELECT * FROM typed;", table("typed", "id BIGINT, nope STRING", "", pg.password)))
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("column 'nope' is not a column of PostgreSQL's 'typed'"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_shows_the_lookup_join_and_a_table_without_lookups_is_refused() {
    let pg = postgres();
    pg.psql("CREATE TABLE IF NOT EXISTS explained (id INT PRIMARY KEY, name TEXT)");
    let orders = "CREATE TABLE Orders (id INT, customer INT, proc_time AS PROCTIME())
        WITH ('connector' = 'datagen', 'number-of-rows' = '10');";
    let customers = table(
        "explained",
        "id INT, name STRING",
        ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '1000',
           'lookup.partial-cache.expire-after-write' = '10 min'",
        pg.password,
    );
    let out = run(&format!(
        "{orders}\n{customers}\nEXPLAIN SELECT o.id, c.name FROM Orders o
           LEFT JOIN explained FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer = c.id;"
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("lookup explained: connector 'jdbc'"), "{out}");
    assert!(out.contains("lookup join: LEFT ON Orders.customer = explained.id"), "{out}");
    assert!(out.contains("lookup cache: PARTIAL in the host (max-rows 1000, expire-after-write 10 min"), "{out}");
    let e = run(&format!(
        "{orders}\nCREATE TABLE Other (id INT, name STRING) WITH ('connector' = 'datagen');
         SELECT o.id, c.name FROM Orders o JOIN Other FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer = c.id;"
    ))
    .await
    .expect_err("refused");
    assert!(e.to_string().contains("does not declare the lookup ability"), "{e}");
}

/// The server restarts (immediate stop: connections drop as in a crash)
/// while a scan reads it: the reader reconnects within
/// `connection.max-retry-timeout` and declares its cursor again after the
/// rows it handed out — the written files hold the table exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_scan_survives_the_server_restarting_mid_way() {
    let pg = weir_tests::peers::postgres_of_its_own("restart");
    pg.psql(
        "CREATE TABLE restarted (id BIGINT PRIMARY KEY, name TEXT);
         INSERT INTO restarted SELECT i, md5(i::text) FROM generate_series(1, 300000) AS i;",
    );
    let dir = std::env::temp_dir().join(format!("weir-jdbc-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("out")).expect("dir");
    let sql = format!(
        "SET 'execution.checkpointing.interval' = '100 ms';
         CREATE TABLE restarted (id BIGINT, name STRING) WITH ('connector' = 'jdbc', 'url' = '{}',
           'table-name' = 'restarted', 'username' = '{}', 'password' = '{}', 'scan.fetch-size' = '500',
           'connection.max-retry-timeout' = '30 s');
         CREATE TABLE Out (id BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
         INSERT INTO Out SELECT * FROM restarted;",
        pg.url(),
        pg.user,
        pg.password,
        dir.join("out").display()
    );
    let grants = Grants {
        connect: vec![Endpoint { host: "127.0.0.1".into(), port: pg.port }],
        write: vec![dir.join("out")],
        ..Grants::none()
    };
    let job = tokio::spawn(async move {
        let runtime = runtime().await;
        let job = weir_sql::parse("restart.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
        pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut Vec::new()).await
    });
    // Restart once the reader's cursor is open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let reading = pg.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'FETCH % FROM weir_scan'");
        if reading.trim() != "0" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the scan never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    pg.restart();
    job.await.expect("the job task").unwrap_or_else(|e| panic!("the scan did not survive the restart: {e}"));
    let mut got = Vec::new();
    for entry in std::fs::read_dir(dir.join("out")).expect("list").flatten() {
        if !entry.file_name().to_string_lossy().starts_with('.') {
            got.extend(std::fs::read_to_string(entry.path()).expect("read").lines().map(str::to_owned));
        }
    }
    got.sort();
    let mut want: Vec<String> = pg.psql("COPY restarted TO STDOUT CSV").lines().map(str::to_owned).collect();
    want.sort();
    assert_eq!(got.len(), want.len(), "rows lost or written twice across the restart");
    assert!(got == want, "the files differ from the table");
    let _ = std::fs::remove_dir_all(&dir);
}

/// PostgreSQL arrays as Flink's ARRAY: read (NULL elements, quoted text,
/// empty arrays) and written back by a jdbc → jdbc job; psql compares the
/// two tables.
#[tokio::test(flavor = "multi_thread")]
async fn arrays_are_read_and_written() {
    let pg = postgres();
    pg.psql(
        r#"CREATE TABLE tagged (id INT PRIMARY KEY, tags TEXT[], scores BIGINT[]);
           INSERT INTO tagged VALUES (1, ARRAY['a', 'b c', 'd"e', NULL], ARRAY[1, NULL, 3]),
             (2, '{}', '{}'), (3, NULL, ARRAY[-5]);
           CREATE TABLE tagged_copy (LIKE tagged INCLUDING ALL);"#,
    );
    let columns = "id INT, tags ARRAY<STRING>, scores ARRAY<BIGINT>";
    let out = run(&format!("{}\n SELECT * FROM tagged;", table("tagged", columns, "", pg.password)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rows: Vec<&str> = out.lines().collect();
    rows.sort();
    assert_eq!(rows, ["+I[1, [a, b c, d\"e, null], [1, null, 3]]", "+I[2, [], []]", "+I[3, null, [-5]]"], "{out}");
    let copy = format!(
        "{}\n{}\nINSERT INTO tagged_copy SELECT * FROM tagged;",
        table("tagged", columns, "", pg.password),
        table("tagged_copy", &format!("{columns}, PRIMARY KEY (id) NOT ENFORCED"), "", pg.password)
    );
    run(&copy).await.unwrap_or_else(|e| panic!("{e}"));
    let same = pg.psql("SELECT count(*) FROM (SELECT * FROM tagged EXCEPT SELECT * FROM tagged_copy) AS d");
    assert_eq!(same.trim(), "0");
    assert_eq!(pg.psql("SELECT count(*) FROM tagged_copy").trim(), "3");
    let e = run(&format!(
        "{}\n SELECT * FROM tagged;",
        table("tagged", "id INT, tags STRING, scores ARRAY<BIGINT>", "", pg.password)
    ))
    .await
    .expect_err("refused");
    assert!(e.to_string().contains("column 'tags' is STRING in the table's DDL but text[]"), "{e}");
}

/// Deterministic pseudo-random vectors (xorshift), components in [-1, 1).
fn vectors(seed: u64, count: usize, dims: usize) -> Vec<Vec<f32>> {
    let mut state = seed | 1;
    (0..count)
        .map(|_| {
            (0..dims)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
                })
                .collect()
        })
        .collect()
}

fn pg_vector(v: &[f32]) -> String {
    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
}

/// Exact top-k by brute force: (id, score) best first; l2 scores are
/// distances (smaller first), cosine scores similarities (larger first).
fn brute_force(docs: &[Vec<f32>], query: &[f32], k: usize, cosine: bool) -> Vec<(usize, f64)> {
    let mut scored: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let dot: f64 = d.iter().zip(query).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
            let norm = |v: &[f32]| v.iter().map(|a| f64::from(*a) * f64::from(*a)).sum::<f64>().sqrt();
            let l2: f64 = d.iter().zip(query).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum::<f64>().sqrt();
            (i + 1, if cosine { dot / (norm(d) * norm(query)) } else { l2 })
        })
        .collect();
    scored.sort_by(|a, b| if cosine { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) });
    scored.truncate(k);
    scored
}

/// VECTOR_SEARCH over a pgvector column: top-k equals an exact brute-force
/// search over the same vectors (ids and order, scores within 1e-5) for l2
/// and cosine, k = 1, 5, 20; with an HNSW index the recall@10 is reported
/// and at least 0.95; bad input is named.
#[tokio::test(flavor = "multi_thread")]
async fn vector_search_finds_the_exact_nearest_rows() {
    let pg = postgres();
    let (n, dims, q) = (2000, 16, 25);
    let docs = vectors(7, n, dims);
    let queries = vectors(99, q, dims);
    let mut sql = String::from(
        "CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE docs (id INT PRIMARY KEY, title TEXT, embedding vector(16));",
    );
    for (i, d) in docs.iter().enumerate() {
        sql.push_str(&format!("INSERT INTO docs VALUES ({}, 'doc {}', '{}');", i + 1, i + 1, pg_vector(d)));
    }
    let dir = std::env::temp_dir().join(format!("weir-vector-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // Too long for one argument: psql reads it from a file.
    std::fs::write(dir.join("docs.sql"), &sql).expect("write");
    let loaded = pg.psql_command().arg("-f").arg(dir.join("docs.sql")).output().expect("psql");
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    let lines: String = queries
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{{\"qid\": {}, \"q\": [{}]}}\n",
                i + 1,
                v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    std::fs::write(dir.join("queries.json"), lines).expect("write");
    let grants = Grants { read: vec![dir.clone()], ..grants() };
    let queries_table = format!(
        "CREATE TABLE Queries (qid INT, q ARRAY<FLOAT>) WITH ('connector' = 'filesystem', 'path' = '{}',
           'format' = 'json');",
        dir.join("queries.json").display()
    );
    let search = |metric: &str, k: usize, query: &str| {
        let sql = format!(
            "{queries_table}\n{}\n{query}",
            table(
                "docs",
                "id INT, title STRING, embedding ARRAY<FLOAT>",
                &format!(", 'vector-search.metric' = '{metric}'"),
                pg.password
            )
        )
        .replace("{k}", &k.to_string());
        let grants = grants.clone();
        async move {
            let runtime = runtime().await;
            let job = weir_sql::parse("search.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
            let mut out = Vec::new();
            pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out).await.map(|()| {
                // qid → [(doc id, score)] in output order.
                let mut found: std::collections::BTreeMap<usize, Vec<(usize, f64)>> = Default::default();
                for line in String::from_utf8(out).expect("UTF-8").lines() {
                    let fields: Vec<&str> = line.trim_start_matches("+I[").trim_end_matches(']').split(", ").collect();
                    found
                        .entry(fields[0].parse().expect("qid"))
                        .or_default()
                        .push((fields[1].parse().expect("id"), fields[2].parse().expect("score")));
                }
                found
            })
        }
    };
    let select = "SELECT Queries.qid, d.id, d.score FROM Queries,
        LATERAL TABLE(VECTOR_SEARCH(TABLE docs, DESCRIPTOR(embedding), Queries.q, {k})) AS d;";
    for (metric, cosine) in [("l2", false), ("cosine", true)] {
        for k in [1, 5, 20] {
            let found = search(metric, k, select).await.unwrap_or_else(|e| panic!("{metric} k={k}: {e}"));
            assert_eq!(found.len(), q, "{metric} k={k}: every query answered");
            for (qid, rows) in &found {
                let exact = brute_force(&docs, &queries[qid - 1], k, cosine);
                let ids: Vec<usize> = rows.iter().map(|r| r.0).collect();
                let want: Vec<usize> = exact.iter().map(|r| r.0).collect();
                assert_eq!(ids, want, "{metric} k={k} query {qid}: ids and order");
                for ((_, got), (_, want)) in rows.iter().zip(&exact) {
                    assert!((got - want).abs() < 1e-5, "{metric} k={k} query {qid}: score {got} vs {want}");
                }
            }
        }
    }
    // The planner's named arguments, in another order, and Flink's config.
    let named = "SELECT Queries.qid, d.id, d.score FROM Queries, LATERAL TABLE(VECTOR_SEARCH(
        SEARCH_TABLE => TABLE docs, COLUMN_TO_QUERY => Queries.q, COLUMN_TO_SEARCH => DESCRIPTOR(embedding),
        TOP_K => {k}, CONFIG => MAP['async', 'false', 'timeout', '10 s'])) AS d;";
    let found = search("l2", 3, named).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found[&1].iter().map(|r| r.0).collect::<Vec<_>>(),
        brute_force(&docs, &queries[0], 3, false).iter().map(|r| r.0).collect::<Vec<_>>()
    );
    // An approximate index (HNSW): recall@10 against the exact answer.
    pg.psql("CREATE INDEX docs_hnsw ON docs USING hnsw (embedding vector_l2_ops)");
    let found = search("l2", 10, select).await.unwrap_or_else(|e| panic!("{e}"));
    let mut hits = 0;
    for (qid, rows) in &found {
        let exact: Vec<usize> = brute_force(&docs, &queries[qid - 1], 10, false).iter().map(|r| r.0).collect();
        hits += rows.iter().filter(|r| exact.contains(&r.0)).count();
    }
    let recall = hits as f64 / (10 * q) as f64;
    eprintln!("HNSW recall@10 over {q} queries of {n} vectors: {recall:.3}");
    assert!(recall >= 0.95, "recall@10 {recall}");
    // Bad input: a query of the wrong dimension, a NULL query, k = 0.
    std::fs::write(dir.join("queries.json"), "{\"qid\": 1, \"q\": [1.0, 2.0]}\n").expect("write");
    let e = search("l2", 3, select).await.expect_err("refused");
    assert!(
        e.to_string().contains("the query vector has 2 dimensions but column t.\"embedding\" of 'docs' has 16"),
        "{e}"
    );
    std::fs::write(dir.join("queries.json"), "{\"qid\": 1, \"q\": null}\n").expect("write");
    let e = search("l2", 3, select).await.expect_err("refused");
    assert!(e.to_string().contains("NULL query vector"), "{e}");
    let e = weir_sql::parse(
        "k.sql",
        &format!(
            "{queries_table}\n{}\n{}",
            table("docs", "id INT, title STRING, embedding ARRAY<FLOAT>", "", pg.password),
            select.replace("{k}", "0")
        ),
    )
    .expect_err("refused");
    assert!(e.to_string().contains("TOP_K is a whole number of at least 1"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `examples/nearest-documents.sql` as written, pointed at the tests'
/// PostgreSQL: the jdbc sink writes the 240 embedded documents into a
/// `vector(384)` column and each question's three nearest documents are
/// the exact cosine top 3 of the same vectors (computed here).
#[tokio::test(flavor = "multi_thread")]
async fn the_nearest_documents_example_runs_as_written() {
    let pg = postgres();
    pg.psql(
        "CREATE EXTENSION IF NOT EXISTS vector;
         CREATE TABLE documents (id INT PRIMARY KEY, topic TEXT, text TEXT, embedding vector(384));",
    );
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data/minilm");
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/nearest-documents.sql"))
        .expect("read the example");
    let sql = example
        .replace("jdbc:postgresql://127.0.0.1:5432/postgres", &pg.url())
        .replace("'username' = 'postgres'", &format!("'username' = '{}'", pg.user))
        .replace("change-me", pg.password)
        .replace("'tests/data/minilm/", &format!("'{data}/"));
    let runtime = runtime().await;
    let job = weir_sql::parse("nearest-documents.sql", &sql).unwrap_or_else(|e| panic!("{e}"));
    let grants = Grants { read: vec![data.into()], ..grants() };
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, &grants, &pipeline::RunConfig::default(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let out = String::from_utf8(out).expect("UTF-8");
    // psql sees the documents the sink wrote.
    assert_eq!(pg.psql("SELECT count(*), count(DISTINCT vector_dims(embedding)) FROM documents").trim(), "240|1");
    let read = |name: &str| -> Vec<(String, Vec<f32>)> {
        std::fs::read_to_string(format!("{data}/{name}"))
            .expect("read")
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.splitn(4, ',').collect();
                (f[2].to_owned(), f[3].split(';').map(|v| v.parse().expect("element")).collect())
            })
            .collect()
    };
    let (docs, questions) = (read("documents.csv"), read("queries.csv"));
    let vectors: Vec<Vec<f32>> = docs.iter().map(|d| d.1.clone()).collect();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3 * questions.len(), "{out}");
    for ((question, vector), got) in questions.iter().zip(lines.chunks(3)) {
        for (line, (id, score)) in got.iter().zip(brute_force(&vectors, vector, 3, true)) {
            let want = format!("+I[{question}, {}, ", docs[id - 1].0);
            assert!(line.starts_with(&want), "{line} should start with {want}");
            let got: f64 = line.rsplit(", ").next().expect("score").trim_end_matches(']').parse().expect("score");
            assert!((got - score).abs() < 1e-5, "{line}: {score}");
        }
    }
}
