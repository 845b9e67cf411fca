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

#[tokio::test(flavor = "multi_thread")]
async fn host_memory_stays_bounded_over_100_hostile_instances() {
    let limits = Limits { cpu_per_call: Duration::from_millis(300), ..Limits::default() };
    let config = RuntimeConfig { engine: EngineConfig { limits, ..weir_tests::engine_config() }, plugin_dir: None };
    let (runtime, _) = Runtime::new(config).await.expect("runtime");
    let entry = weir_tests::load(runtime.engine().clone(), HOSTILE_FORMAT).await;
    let schema = weir::schema![("line", String)];

    let run = |attack: &'static str| {
        let (entry, schema) = (&entry, &schema);
        async move {
            let mut instance = entry.loaded.instantiate("hostile", &Grants::none()).await.expect("instance");
            let options = vec![("attack".to_owned(), attack.to_owned())];
            let decoder = instance.open_decoder(&options, schema).await.expect("opens");
            let e = instance.decode(decoder, &weir::frames(["go"])).await.expect_err("contained");
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
