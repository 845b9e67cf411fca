//! JDBC throughput against PostgreSQL (started here on a free loopback
//! port), Weir beside psql's `\copy` on the same tables in the same run:
//!
//! * scan: `\copy (SELECT …) TO /dev/null` vs a Weir job `jdbc → blackhole`
//!   (one reader, then 4 partitions read by 2 readers);
//! * upsert: `\copy … FROM` a csv of the same rows into an empty table vs a
//!   Weir job `datagen → jdbc` upserting by key (inserts into an empty
//!   table, then the same keys again as updates), at-least-once and
//!   exactly-once;
//! * lookup join: `datagen → lookup join → blackhole` against a table of
//!   10,000 customers, without a cache and with a PARTIAL one, with the
//!   cache's hit rate (no psql counterpart: a lookup join has none).
//!
//! ```text
//! cargo bench -p weir-tests --bench jdbc                 # 1 M rows
//! cargo bench -p weir-tests --bench jdbc -- --rows 200000
//! ```

use std::sync::{Arc, Mutex};
use std::time::Instant;

use weir::policy::{Endpoint, Grants};
use weir_pipeline::{self as pipeline, LookupStats, ProgressSink, RunConfig};
use weir_tests::peers::postgres;
use weir_tests::runtime;

/// Runs a job; its time and the lookup counters of its last progress event.
async fn run(runtime: &weir::Runtime, sql: &str, grants: &Grants) -> (f64, Option<LookupStats>) {
    let job = weir_sql::parse("bench.sql", sql).unwrap_or_else(|e| panic!("{e}"));
    let lookup = Arc::new(Mutex::new(None));
    let seen = lookup.clone();
    let config = RunConfig {
        progress: Some(ProgressSink(Arc::new(move |e: &pipeline::ProgressEvent| {
            *seen.lock().expect("lock") = e.lookup;
        }))),
        ..RunConfig::default()
    };
    let start = Instant::now();
    pipeline::run(runtime, &job, grants, &config, &mut std::io::sink()).await.unwrap_or_else(|e| panic!("{e}"));
    let secs = start.elapsed().as_secs_f64();
    let stats = *lookup.lock().expect("lock");
    (secs, stats)
}

/// Runs psql with `args`; its time.
fn psql_timed(args: &[&str]) -> f64 {
    let start = Instant::now();
    let out = postgres().psql_command().args(args).output().expect("psql");
    assert!(out.status.success(), "psql {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    start.elapsed().as_secs_f64()
}

fn line(what: &str, rows: u64, psql: f64, weir: f64) {
    let (p, w) = (rows as f64 / psql, rows as f64 / weir);
    println!("{what:<34} psql {p:>10.0} rows/s, Weir {w:>10.0} rows/s  ({:.2}x)", w / p);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: u64 = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let pg = postgres();
    let grants = Grants { connect: vec![Endpoint { host: "127.0.0.1".into(), port: pg.port }], ..Grants::none() };
    let runtime = runtime().await;
    println!("jdbc bench: {rows} rows, PostgreSQL on 127.0.0.1:{}", pg.port);
    pg.psql(&format!(
        "DROP TABLE IF EXISTS bench_scan, bench_copy, bench_upsert, bench_customers;
         CREATE TABLE bench_scan (id BIGINT PRIMARY KEY, name TEXT, amount BIGINT, placed TIMESTAMP(3));
         INSERT INTO bench_scan SELECT i, md5(i::text), i * 7, TIMESTAMP '2024-01-01' + i * INTERVAL '1 ms'
           FROM generate_series(1, {rows}) AS i;
         CREATE TABLE bench_copy (LIKE bench_scan INCLUDING ALL);
         CREATE TABLE bench_upsert (LIKE bench_scan INCLUDING ALL);
         CREATE TABLE bench_customers (id BIGINT PRIMARY KEY, name TEXT, country TEXT);
         INSERT INTO bench_customers SELECT i, 'customer ' || i, 'c' || (i % 50) FROM generate_series(1, 10000) AS i;"
    ));
    pg.psql("VACUUM ANALYZE");
    let jdbc = |name: &str, extra: &str| {
        format!(
            "CREATE TABLE {name} (id BIGINT NOT NULL, name STRING, amount BIGINT, placed TIMESTAMP(3),
               PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'jdbc', 'url' = '{}', 'table-name' = '{name}',
               'username' = '{}', 'password' = '{}'{extra});",
            pg.url(),
            pg.user,
            pg.password
        )
    };

    // Scan.
    let psql = psql_timed(&["-c", "\\copy (SELECT * FROM bench_scan) TO '/dev/null'"]);
    let discard = "CREATE TABLE Discard (id BIGINT, name STRING, amount BIGINT, placed TIMESTAMP(3))
        WITH ('connector' = 'blackhole');";
    let (weir, _) = run(
        &runtime,
        &format!("{}\n{discard}\nINSERT INTO Discard SELECT * FROM bench_scan;", jdbc("bench_scan", "")),
        &grants,
    )
    .await;
    line("scan, 1 reader", rows, psql, weir);
    let partitioned = format!(
        ", 'scan.partition.column' = 'id', 'scan.partition.num' = '4', 'scan.partition.lower-bound' = '1',
           'scan.partition.upper-bound' = '{rows}', 'scan.parallelism' = '2'"
    );
    let (weir, _) = run(
        &runtime,
        &format!("{}\n{discard}\nINSERT INTO Discard SELECT * FROM bench_scan;", jdbc("bench_scan", &partitioned)),
        &grants,
    )
    .await;
    line("scan, 4 partitions / 2 readers", rows, psql, weir);

    // Upsert: psql's COPY of the same rows into an empty table is the mark.
    let csv = std::env::temp_dir().join(format!("weir-jdbc-bench-{}.csv", std::process::id()));
    psql_timed(&["-c", &format!("\\copy bench_scan TO '{}' CSV", csv.display())]);
    let psql = psql_timed(&["-c", &format!("\\copy bench_copy FROM '{}' CSV", csv.display())]);
    let _ = std::fs::remove_file(&csv);
    let generate = format!(
        "CREATE TABLE Gen (id BIGINT NOT NULL, name STRING, amount BIGINT, placed TIMESTAMP(3))
           WITH ('connector' = 'datagen', 'number-of-rows' = '{rows}', 'rows-per-second' = '1000000000',
           'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{rows}',
           'fields.name.length' = '32');"
    );
    for (what, extra) in [
        ("upsert (inserts), at-least-once", ", 'sink.buffer-flush.max-rows' = '5000'"),
        ("upsert (updates), at-least-once", ", 'sink.buffer-flush.max-rows' = '5000'"),
        (
            "upsert (updates), exactly-once",
            ", 'sink.buffer-flush.max-rows' = '5000', 'sink.delivery-guarantee' = 'exactly-once'",
        ),
    ] {
        let (weir, _) = run(
            &runtime,
            &format!("SET 'execution.checkpointing.interval' = '1 s';\n{generate}\n{}\nINSERT INTO bench_upsert SELECT * FROM Gen;", jdbc("bench_upsert", extra)),
            &grants,
        )
        .await;
        line(what, rows, psql, weir);
    }
    let count = pg.psql("SELECT count(*) FROM bench_upsert");
    assert_eq!(count.trim(), rows.to_string(), "every key upserted once");

    // Lookup join.
    let orders = format!(
        "CREATE TABLE Orders (id BIGINT, customer BIGINT, proc_time AS PROCTIME())
           WITH ('connector' = 'datagen', 'number-of-rows' = '{rows}', 'rows-per-second' = '1000000000',
           'fields.customer.min' = '1', 'fields.customer.max' = '12000');
         CREATE TABLE Enriched (id BIGINT, name STRING, country STRING) WITH ('connector' = 'blackhole');"
    );
    for (what, extra) in [
        ("lookup join, no cache", String::new()),
        (
            "lookup join, PARTIAL cache",
            ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '20000'".to_owned(),
        ),
    ] {
        let customers = format!(
            "CREATE TABLE bench_customers (id BIGINT, name STRING, country STRING) WITH ('connector' = 'jdbc',
               'url' = '{}', 'table-name' = 'bench_customers', 'username' = '{}', 'password' = '{}'{extra});",
            pg.url(),
            pg.user,
            pg.password
        );
        let (secs, stats) = run(
            &runtime,
            &format!(
                "{orders}\n{customers}\nINSERT INTO Enriched SELECT o.id, c.name, c.country FROM Orders AS o
                   LEFT JOIN bench_customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer = c.id;"
            ),
            &grants,
        )
        .await;
        let stats = stats.expect("lookup counters");
        println!(
            "{what:<34} Weir {:>10.0} rows/s; {} keys asked in {} calls, {:.1} % of keys from the cache",
            rows as f64 / secs,
            stats.misses,
            stats.calls,
            stats.hit_rate() * 100.0
        );
    }
}
