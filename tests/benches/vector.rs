//! Vector search throughput: queries/s of Weir's VECTOR_SEARCH over a
//! pgvector table against the same SQL (`ORDER BY embedding <-> q LIMIT
//! 10`) issued by psql, one statement per query, in the same run on the
//! same PostgreSQL (started here on a free loopback port), with an HNSW
//! index on the column.
//!
//! ```text
//! cargo bench -p weir-tests --bench vector                 # 100 k vectors, 10 k queries, dimension 384
//! cargo bench -p weir-tests --bench vector -- --vectors 20000 --queries 2000
//! ```

use std::time::Instant;

use weir::policy::{Endpoint, Grants};
use weir_pipeline::{self as pipeline, RunConfig};
use weir_tests::peers::postgres;
use weir_tests::runtime;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (vectors, queries, dims) = (arg(&args, "--vectors", 100_000), arg(&args, "--queries", 10_000), 384);
    let pg = postgres();
    println!("vector bench: {queries} queries of dimension {dims} against {vectors} vectors (HNSW, l2, top 10)");
    let setup = Instant::now();
    pg.psql(&format!(
        "CREATE EXTENSION IF NOT EXISTS vector; DROP TABLE IF EXISTS bench_vectors;
         CREATE TABLE bench_vectors (id INT PRIMARY KEY, embedding vector({dims}));
         INSERT INTO bench_vectors SELECT i, (SELECT array_agg(random()) FROM generate_series(1, {dims}) WHERE i > 0)::vector
           FROM generate_series(1, {vectors}) AS i;
         CREATE INDEX ON bench_vectors USING hnsw (embedding vector_l2_ops);"
    ));
    println!("setup (table and HNSW index): {:.1} s", setup.elapsed().as_secs_f64());
    // The queries: random vectors, as a JSON file for Weir and as SQL for psql.
    let dir = std::env::temp_dir().join(format!("weir-vector-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut json = String::new();
    let mut sql = String::from("SET hnsw.ef_search = 40;\n");
    for q in 0..queries {
        let v: Vec<String> = (0..dims)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("{:.6}", (state >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        json.push_str(&format!("{{\"qid\": {q}, \"q\": [{}]}}\n", v.join(", ")));
        sql.push_str(&format!(
            "SELECT id, embedding <-> '[{0}]' FROM bench_vectors ORDER BY embedding <-> '[{0}]' LIMIT 10;\n",
            v.join(",")
        ));
    }
    // Weir's statement orders by the distance's alias: PostgreSQL must
    // still use the index.
    let probe: String = (0..dims).map(|_| "0.5").collect::<Vec<_>>().join(",");
    let plan = pg.psql(&format!(
        "EXPLAIN SELECT t.id, (t.embedding <-> '[{probe}]'::vector) AS weir_distance FROM bench_vectors AS t
         WHERE t.embedding IS NOT NULL ORDER BY weir_distance LIMIT 10"
    ));
    println!("Weir's query plan uses the HNSW index: {}", plan.contains("Index Scan using"));
    std::fs::write(dir.join("queries.json"), json).expect("write");
    std::fs::write(dir.join("queries.sql"), sql).expect("write");
    let start = Instant::now();
    let out = pg.psql_command().arg("-f").arg(dir.join("queries.sql")).output().expect("psql");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let psql = queries as f64 / start.elapsed().as_secs_f64();
    let runtime = runtime().await;
    let grants = Grants {
        connect: vec![Endpoint { host: "127.0.0.1".into(), port: pg.port }],
        read: vec![dir.clone()],
        ..Grants::none()
    };
    let job = format!(
        "CREATE TABLE Queries (qid INT, q ARRAY<FLOAT>) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
         CREATE TABLE bench_vectors (id INT, embedding ARRAY<FLOAT>) WITH ('connector' = 'jdbc', 'url' = '{}',
           'table-name' = 'bench_vectors', 'username' = '{}', 'password' = '{}', 'vector-search.metric' = 'l2');
         CREATE TABLE Found (qid INT, id INT, score DOUBLE) WITH ('connector' = 'blackhole');
         INSERT INTO Found SELECT Queries.qid, d.id, d.score FROM Queries,
           LATERAL TABLE(VECTOR_SEARCH(TABLE bench_vectors, DESCRIPTOR(embedding), Queries.q, 10)) AS d;",
        dir.join("queries.json").display(),
        pg.url(),
        pg.user,
        pg.password
    );
    let job = weir_sql::parse("vector.sql", &job).unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    pipeline::run(&runtime, &job, &grants, &RunConfig::default(), &mut std::io::sink())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let weir = queries as f64 / start.elapsed().as_secs_f64();
    println!("queries/s: psql {psql:.0}, Weir {weir:.0}  ({:.2}x)", weir / psql);
    let _ = std::fs::remove_dir_all(&dir);
}
