//! End-to-end throughput of whole jobs through the runner, release build:
//!
//! * `datagen → blackhole`: the source, the boundary and a sink, no I/O;
//! * `filesystem(csv) → filesystem(json)`: at least 1 GB of CSV files read,
//!   decoded, encoded as JSON and written exactly-once (checkpoints every
//!   10 s).
//!
//! ```text
//! cargo bench -p weir-tests --bench pipeline                 # 1 GB, 10 M generated rows
//! cargo bench -p weir-tests --bench pipeline -- --gb 0.2     # quicker
//! cargo bench -p weir-tests --bench pipeline -- --parallelism 2  # 2 readers, 2 writers
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use weir::policy::Grants;
use weir_pipeline::{self as pipeline, RunConfig};

use weir_tests::runtime;

const SCHEMA: &str = "id BIGINT NOT NULL, customer STRING, amount DOUBLE, qty INT, placed TIMESTAMP(3), note STRING";

fn size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map_or(0, |d| d.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
}

async fn run(runtime: &weir::Runtime, sql: &str, grants: &Grants, checkpoints: &Path) -> Duration {
    let job = weir_sql::parse("bench.sql", sql).unwrap_or_else(|e| panic!("{e}"));
    let config = RunConfig {
        checkpoint_dir: Some(checkpoints.to_owned()),
        checkpoint_interval: Some(Duration::from_secs(10)),
        progress: None,
        stop: None,
        restart: None,
    };
    let _ = std::fs::remove_dir_all(checkpoints);
    let start = Instant::now();
    pipeline::run(runtime, &job, grants, &config, &mut std::io::sink()).await.unwrap_or_else(|e| panic!("{e}"));
    start.elapsed()
}

fn datagen(rows: u64, parallelism: &str) -> String {
    format!(
        "CREATE TABLE Gen ({SCHEMA}) WITH ('connector' = 'datagen', 'number-of-rows' = '{rows}',
           'rows-per-second' = '1000000000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
           'fields.id.end' = '{rows}', 'fields.customer.length' = '10', 'fields.customer.null-rate' = '0.1',
           'fields.amount.min' = '0', 'fields.amount.max' = '10000', 'fields.qty.min' = '1', 'fields.qty.max' = '100',
           'fields.placed.max-past' = '30 d', 'fields.note.length' = '40', 'fields.note.null-rate' = '0.3', {parallelism});"
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gb: f64 = args
        .iter()
        .position(|a| a == "--gb")
        .and_then(|i| args.get(i + 1))
        .map_or(1.0, |v| v.parse().expect("--gb takes a number"));
    let parallelism: u32 = args
        .iter()
        .position(|a| a == "--parallelism")
        .and_then(|i| args.get(i + 1))
        .map_or(1, |v| v.parse().expect("--parallelism takes a number"));
    let par = format!("'scan.parallelism' = '{parallelism}'");
    let sink_par = format!("'sink.parallelism' = '{parallelism}'");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pipeline-bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let runtime = runtime().await;
    let grants = Grants { read: vec![work.clone()], write: vec![work.clone()], ..Grants::none() };
    println!("Weir end-to-end throughput (release; scan.parallelism = sink.parallelism = {parallelism})");

    // 1. datagen → blackhole.
    let rows = 5_000_000;
    let elapsed = run(
        &runtime,
        &format!(
            "{}CREATE TABLE Hole ({SCHEMA}) WITH ('connector' = 'blackhole', {sink_par}); INSERT INTO Hole SELECT * FROM Gen;",
            datagen(rows, &par)
        ),
        &grants,
        &work.join("cp1"),
    )
    .await;
    println!(
        "datagen → blackhole: {rows} rows in {:.2} s = {:.0} rows/s",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    );

    // 2. Input: CSV files of at least `gb` GB (about 91 bytes a row).
    let csv_rows = (gb * 1e9 / 85.0) as u64;
    let input = work.join("csv");
    let elapsed = run(
        &runtime,
        &format!(
            "{}CREATE TABLE Csv ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'sink.rolling-policy.file-size' = '64 mb', {sink_par});
             INSERT INTO Csv SELECT * FROM Gen;",
            datagen(csv_rows, &par),
            input.display()
        ),
        &grants,
        &work.join("cp2"),
    )
    .await;
    let bytes = size_of(&input);
    println!(
        "datagen → filesystem(csv): {csv_rows} rows, {:.2} GB in {:.2} s = {:.0} rows/s, {:.1} MB/s written",
        bytes as f64 / 1e9,
        elapsed.as_secs_f64(),
        csv_rows as f64 / elapsed.as_secs_f64(),
        bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );

    // 3. filesystem(csv) → filesystem(json).
    let output = work.join("json");
    let elapsed = run(
        &runtime,
        &format!(
            "CREATE TABLE Csv ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', {par});
             CREATE TABLE Json ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json', 'sink.rolling-policy.file-size' = '64 mb', {sink_par});
             INSERT INTO Json SELECT * FROM Csv;",
            input.display(),
            output.display()
        ),
        &grants,
        &work.join("cp3"),
    )
    .await;
    let written = size_of(&output);
    println!(
        "filesystem(csv) → filesystem(json): {csv_rows} rows, {:.2} GB in, {:.2} GB out, {:.2} s = {:.0} rows/s, {:.1} MB/s of CSV read",
        bytes as f64 / 1e9,
        written as f64 / 1e9,
        elapsed.as_secs_f64(),
        csv_rows as f64 / elapsed.as_secs_f64(),
        bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&work);
}
