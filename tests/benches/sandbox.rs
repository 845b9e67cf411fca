//! What the sandbox costs.
//!
//! 1. Decode throughput of the csv format with the sandbox's per-call
//!    machinery on (epoch interruption with a CPU budget, memory limiter,
//!    result budget, wall-clock timeout — the defaults) versus an engine
//!    with epoch interruption off and limits out of the way. Target: ≤ 5 %
//!    slower.
//! 2. Instantiation from a pre-linked `InstancePre` with the pooling
//!    allocator: wasmtime's part alone (target ≤ 20 µs) and Weir's whole
//!    instance set-up (WASI context with the grants, store, limits, export
//!    look-ups).
//!
//! ```text
//! cargo bench -p weir-tests --bench sandbox              # 64 MB, 7 passes
//! cargo bench -p weir-tests --bench sandbox -- --mb 16   # quicker
//! ```

use std::time::{Duration, Instant};

use weir::engine::EngineConfig;
use weir::limits::Limits;
use weir::{Runtime, RuntimeConfig};
use weir_tests::parse_schema;

const SCHEMA: &str = "id BIGINT NOT NULL, name STRING, price DOUBLE, qty INT, comment STRING";
const BATCH_ROWS: usize = 4096;

/// CSV batches of about `mb` megabytes in all.
fn generate(mb: usize) -> Vec<weir::Frames> {
    let words = ["quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"];
    let (mut batches, mut total, mut id) = (Vec::new(), 0, 0u64);
    while total < mb << 20 {
        let lines: Vec<String> = (0..BATCH_ROWS)
            .map(|_| {
                id += 1;
                let w = |k: u64| words[(id.wrapping_mul(k) % 8) as usize];
                format!(
                    "{id},{}{},{}.{:02},{},\"{} {}, {}\"",
                    w(3),
                    id % 97,
                    id % 1000,
                    id % 100,
                    id % 50,
                    w(5),
                    w(7),
                    w(11)
                )
            })
            .collect();
        total += lines.iter().map(String::len).sum::<usize>();
        batches.push(weir::Frames::new(lines));
    }
    batches
}

async fn runtime(limits: Limits, epoch: bool) -> Runtime {
    let engine = EngineConfig { limits, epoch_interruption: epoch, ..weir_tests::engine_config() };
    Runtime::new(RuntimeConfig { engine, plugin_dir: None }).await.expect("runtime").0
}

fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() {
    let mb = arg("--mb").unwrap_or(64);
    let runs = arg("--runs").unwrap_or(7);
    let schema = parse_schema(SCHEMA);
    let data = generate(mb);
    let bytes: usize = data.iter().map(weir::Frames::byte_len).sum();

    let on = runtime(Limits::default(), true).await;
    let off_limits = Limits {
        memory_bytes: 1 << 30,
        cpu_per_call: Duration::from_secs(3600),
        wall_clock_per_call: Duration::from_secs(3600),
        result_bytes: usize::MAX,
        ..Limits::default()
    };
    let off = runtime(off_limits, false).await;
    let mut d_on = on.decoder("bench", "csv", &[], &schema).await.expect("decoder");
    let mut d_off = off.decoder("bench", "csv", &[], &schema).await.expect("decoder");

    let (mut best_on, mut best_off) = (Duration::MAX, Duration::MAX);
    for _ in 0..runs {
        for (decoder, best) in [(&mut d_off, &mut best_off), (&mut d_on, &mut best_on)] {
            let start = Instant::now();
            for frames in &data {
                std::hint::black_box(decoder.decode_contract(frames).await.expect("decode"));
            }
            *best = (*best).min(start.elapsed());
        }
    }
    let mbps = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
    println!("csv decode, {:.0} MB, best of {runs}:", bytes as f64 / 1e6);
    println!("  sandbox off (no epochs, no limits): {:>7.1} MB/s", mbps(best_off));
    println!("  sandbox on  (defaults):             {:>7.1} MB/s", mbps(best_on));
    println!(
        "  on/off: {:.3}  ({:.1} % slower; target <= 5 %)",
        mbps(best_on) / mbps(best_off),
        (1.0 - mbps(best_on) / mbps(best_off)) * 100.0
    );

    // Instantiation, pooling allocator on (the default engine).
    let entry = on.catalog().find("csv", weir::catalog::Role::Format).expect("csv");
    let n = 2000;
    for _ in 0..200 {
        entry.loaded().expect("load the component").instantiate_bare().await.expect("warm-up");
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut bare = Vec::with_capacity(n);
    let mut full = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        entry.loaded().expect("load the component").instantiate_bare().await.expect("instantiate");
        bare.push(start.elapsed());
        let start = Instant::now();
        let instance = entry
            .loaded()
            .expect("load the component")
            .instantiate("csv", &weir::policy::Grants::none())
            .await
            .expect("instantiate");
        full.push(start.elapsed());
        drop(instance);
    }
    println!("instantiate (pooling allocator, median of {n}):");
    println!(
        "  InstancePre::instantiate_async + store: {:>6.1} µs (target <= 20 µs)",
        median(bare).as_secs_f64() * 1e6
    );
    println!("  Weir instance (WASI context, limits, exports): {:>6.1} µs", median(full).as_secs_f64() * 1e6);
}
