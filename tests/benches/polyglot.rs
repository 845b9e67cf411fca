//! The Python and JavaScript `changelog-csv` against the Rust one: decode
//! throughput, cold compile time (no cache) and warm start time (from the
//! precompiled-component cache) of each.
//!
//! ```text
//! bash scripts/build-polyglot && cargo bench -p weir-tests --bench polyglot
//! cargo bench -p weir-tests --bench polyglot -- --rows 20000   # quicker
//! ```

use std::sync::Arc;
use std::time::Instant;

use weir::catalog::{Entry, Origin};
use weir::engine::{Engine, EngineConfig};
use weir_tests::{FormatUnderTest, parse_schema, polyglot};

const SCHEMA: &str = "name STRING, score INT, price DECIMAL(10,2), at TIMESTAMP(3)";

fn input(rows: usize) -> Vec<Vec<u8>> {
    let kinds = ["INSERT", "UPDATE_BEFORE", "UPDATE_AFTER", "DELETE"];
    (0..rows)
        .map(|i| {
            format!(
                "{}|user{}|{}|{}.{:02}|2024-01-{:02} 12:{:02}:{:02}.{:03}",
                kinds[i % 4],
                i % 997,
                i % 1000,
                i % 5000,
                i % 100,
                1 + i % 28,
                i % 60,
                i % 60,
                i % 1000
            )
            .into_bytes()
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let components = [
        ("changelog-csv", None),
        ("changelog-csv-py", Some("python-changelog-csv")),
        ("changelog-csv-js", Some("js-changelog-csv")),
    ];

    // Cold compile (no cache) and warm start (cache hit), per component.
    println!("component          size      cold compile   warm start (cache)");
    for (id, file) in components {
        let wasm = match file {
            Some(f) => std::fs::read(polyglot(f)).expect("component"),
            None => weir::catalog::BUILTINS
                .iter()
                .find(|(p, _, _)| *p == "weir-format-changelog-csv")
                .expect("built-in")
                .1
                .to_vec(),
        };
        let dir = std::env::temp_dir().join(format!("weir-bench-cache-{}-{id}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = EngineConfig { cache_dir: Some(dir.clone()), ..EngineConfig::default() };
        let start = Instant::now();
        let engine = Arc::new(Engine::new(&config).expect("engine"));
        Entry::load(engine, Origin::File(id.into()), &wasm).await.expect("loads");
        let cold = start.elapsed();
        let mut warm = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let engine = Arc::new(Engine::new(&config).expect("engine"));
            Entry::load(engine, Origin::File(id.into()), &wasm).await.expect("loads");
            warm.push(start.elapsed());
        }
        warm.sort();
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "{id:<18} {:>5.1} MB  {:>10.2} s  {:>10.1} ms",
            wasm.len() as f64 / 1e6,
            cold.as_secs_f64(),
            warm[2].as_secs_f64() * 1e3
        );
    }

    // Decode throughput, batches of 4096 frames, median of 5 passes. The
    // JavaScript engine's heap only grows across calls (its collector does
    // not run inside one export call), so sustained decoding needs more than
    // the default 64 MiB: every component gets 1 GiB here.
    let paths = [polyglot("python-changelog-csv"), polyglot("js-changelog-csv")];
    let limits = weir::limits::Limits { memory_bytes: 1 << 30, ..weir::limits::Limits::default() };
    let config =
        weir::RuntimeConfig { engine: EngineConfig { limits, ..weir_tests::engine_config() }, plugin_dir: None };
    let (mut runtime, _) = weir::Runtime::new(config).await.expect("runtime");
    for p in &paths {
        let entry = weir_tests::load(runtime.engine().clone(), p).await;
        runtime.catalog_mut().add(entry).expect("no duplicates");
    }
    let schema = parse_schema(SCHEMA);
    let lines = input(rows);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let batches: Vec<weir::Frames> = lines.chunks(4096).map(|c| weir::Frames::new(c.iter())).collect();
    println!("\ndecode of {rows} rows ({:.1} MB), median of 5 passes:", bytes as f64 / 1e6);
    let mut rust_rate = 0.0;
    for (id, _) in components {
        let mut f = FormatUnderTest::open(&runtime, id, &[], &schema).await.expect("opens");
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            for b in &batches {
                f.decoder.decode_contract(b).await.expect("decodes");
            }
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let rate = rows as f64 / times[2];
        if id == "changelog-csv" {
            rust_rate = rate;
        }
        println!(
            "{id:<18} {:>12.0} rows/s  {:>7.1} MB/s  {:>6.3}x Rust",
            rate,
            bytes as f64 / times[2] / 1e6,
            rate / rust_rate
        );
    }
}
