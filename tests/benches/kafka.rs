//! Kafka throughput: Weir against librdkafka on the same broker (Tansu,
//! started here on a free loopback port) in the same run. 100-byte records:
//!
//! * produce: librdkafka's producer (confluent-kafka) vs a Weir job
//!   `datagen → kafka` (raw format, at-least-once, one writer);
//! * consume: librdkafka's consumer vs a Weir job `kafka → blackhole`
//!   (raw format, one reader), each reading its own topic from the start.
//!
//! ```text
//! cargo bench -p weir-tests --bench kafka                  # 5 M records each way
//! cargo bench -p weir-tests --bench kafka -- --rows 1000000
//! ```

use std::time::Instant;

use weir::policy::{Endpoint, Grants};
use weir_pipeline::{self as pipeline, RunConfig};
use weir_tests::peers::kafka;
use weir_tests::runtime;

async fn run(runtime: &weir::Runtime, sql: &str, grants: &Grants) -> f64 {
    let job = weir_sql::parse("bench.sql", sql).unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    pipeline::run(runtime, &job, grants, &RunConfig::default(), &mut std::io::sink())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: u64 = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let k = kafka();
    let grants = Grants { connect: vec![Endpoint { host: "127.0.0.1".into(), port: k.port }], ..Grants::none() };
    let runtime = runtime().await;
    for topic in ["bench-rdkafka", "bench-weir"] {
        k.create_topic(topic, 3);
    }
    println!("kafka bench: {rows} records of 100 bytes, Tansu on {}", k.bootstrap);

    let rdkafka_produce: f64 =
        k.client(&["bench-produce", "bench-rdkafka", &rows.to_string(), "100"], "").trim().parse().expect("rows/s");
    let secs = run(
        &runtime,
        &format!(
            "CREATE TABLE Gen (v STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '{rows}',
               'rows-per-second' = '1000000000', 'fields.v.length' = '100');
             CREATE TABLE Out (v STRING) WITH ('connector' = 'kafka', 'topic' = 'bench-weir',
               'properties.bootstrap.servers' = '{}', 'format' = 'raw');
             INSERT INTO Out SELECT * FROM Gen;",
            k.bootstrap
        ),
        &grants,
    )
    .await;
    let weir_produce = rows as f64 / secs;
    println!(
        "produce: librdkafka {:>10.0} rows/s, Weir {:>10.0} rows/s  ({:.2}x)",
        rdkafka_produce,
        weir_produce,
        weir_produce / rdkafka_produce
    );

    let rdkafka_consume: f64 =
        k.client(&["bench-consume", "bench-rdkafka", &rows.to_string()], "").trim().parse().expect("rows/s");
    let secs = run(
        &runtime,
        &format!(
            "CREATE TABLE Back (v STRING) WITH ('connector' = 'kafka', 'topic' = 'bench-weir',
               'properties.bootstrap.servers' = '{}', 'format' = 'raw', 'scan.startup.mode' = 'earliest-offset',
               'scan.bounded.mode' = 'latest-offset');
             CREATE TABLE Discard (v STRING) WITH ('connector' = 'blackhole');
             INSERT INTO Discard SELECT * FROM Back;",
            k.bootstrap
        ),
        &grants,
    )
    .await;
    let weir_consume = rows as f64 / secs;
    println!(
        "consume: librdkafka {:>10.0} rows/s, Weir {:>10.0} rows/s  ({:.2}x)",
        rdkafka_consume,
        weir_consume,
        weir_consume / rdkafka_consume
    );
}
