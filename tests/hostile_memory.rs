//! The host's own memory stays bounded while 100 hostile instances run one
//! after another: memory bombs, aliased results and handle floods are each
//! stopped, and what they took is given back. A test binary of its own, so
//! no other test's allocations blur the measurement.

use std::time::Duration;

use weir::engine::EngineConfig;
use weir::limits::Limits;
use weir::policy::Grants;
use weir::{Runtime, RuntimeConfig};
use weir_tests::guests::HOSTILE_FORMAT;

/// Resident set size of this process, in bytes (Linux).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// The tests of this binary measure this process's memory: one at a time.
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn host_memory_stays_bounded_over_100_hostile_instances() {
    let _one_at_a_time = MEASURING.lock().await;
    let limits = Limits { cpu_per_call: Duration::from_millis(300), ..Limits::default() };
    let config = RuntimeConfig { engine: EngineConfig { limits, ..weir_tests::engine_config() }, plugin_dir: None };
    let (runtime, _) = Runtime::new(config).await.expect("runtime");
    let entry = weir_tests::load(runtime.engine().clone(), HOSTILE_FORMAT).await;
    let schema = weir::schema![("line", String)];

    let run = |attack: &'static str| {
        let (entry, schema) = (&entry, &schema);
        async move {
            let mut instance = entry
                .loaded()
                .expect("load the component")
                .instantiate("hostile", &Grants::none())
                .await
                .expect("instance");
            let options = vec![("attack".to_owned(), attack.to_owned())];
            let decoder = instance.open_decoder(&options, &schema.to_contract()).await.expect("opens");
            let e = instance.decode(decoder, weir::Frames::new(["go"]).as_contract()).await.expect_err("contained");
            assert!(instance.is_poisoned() || attack == "offsets-out-of-bounds", "{attack}: {e}");
        }
    };
    let attacks = ["memory-bomb", "aliased-columns", "stack-overflow", "panic"];
    // Warm up: the first instances fault in the pool's slots and the caches.
    for attack in attacks {
        run(attack).await;
    }
    let before = rss();
    let mut peak = before;
    for i in 0..100 {
        run(attacks[i % attacks.len()]).await;
        peak = peak.max(rss());
    }
    let after = rss();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!("RSS before {:.0} MiB, peak {:.0} MiB, after {:.0} MiB", mib(before), mib(peak), mib(after));
    // Each memory bomb fills its 64 MiB; the aliased batch would be 16 GiB
    // if lifted. Growth stays within a couple of instances' worth.
    assert!(peak < before + (256 << 20), "peak grew by {:.0} MiB", mib(peak - before));
    assert!(after < before + (128 << 20), "memory not given back: grew by {:.0} MiB", mib(after - before));
}

/// Counts what a job printed, sampling this process's memory as it goes.
struct Counting {
    bytes: u64,
    lines: u64,
    peak: u64,
}

impl std::io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        self.peak = self.peak.max(rss());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_select_of_a_huge_batch_keeps_host_memory_bounded() {
    let _one_at_a_time = MEASURING.lock().await;
    // 8 Mi rows in a 1 MiB BOOLEAN column (the probe used 64 Mi): rendering
    // every row to its own String first cost the host ~450 MiB here.
    let rows: u64 = 8 << 20;
    let runtime = weir_tests::runtime_with(&[HOSTILE_FORMAT]).await;
    let dir = std::env::temp_dir().join(format!("weir-select-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("in.txt"), "go\n").expect("input");
    let text = format!(
        "CREATE TABLE T (b BOOLEAN) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'hostile', \
         'hostile.attack' = 'bool-flood', 'hostile.rows' = '{rows}');\nSELECT * FROM T;\n",
        dir.join("in.txt").display()
    );
    let job = weir_sql::parse("flood.sql", &text).expect("parses");
    let grants = Grants { read: vec![dir.join("in.txt")], ..Grants::none() };
    let before = rss();
    let mut out = Counting { bytes: 0, lines: 0, peak: before };
    weir_pipeline::run(&runtime, &job, &grants, &weir_pipeline::RunConfig::default(), &mut out).await.expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "printed {} MiB in {} lines; RSS before {:.0} MiB, peak {:.0} MiB",
        mib(out.bytes),
        out.lines,
        mib(before),
        mib(out.peak)
    );
    // (The decoder returns the batch on each of its calls: one per frame,
    // one at the end of the file.)
    assert!(out.lines >= rows && out.lines.is_multiple_of(rows), "every row printed: {} lines", out.lines);
    // The batch itself is 1 MiB (plus the guest's 64 MiB memory); the text
    // is ~75 MiB, streamed in 64 KiB chunks.
    assert!(out.peak < before + (96 << 20), "host memory grew by {:.0} MiB while printing", mib(out.peak - before));
}
