//! Shared helpers of Weir's integration tests: paths of the test guests and
//! a runtime whose compile cache lives in the target directory.

use std::path::PathBuf;
use std::sync::Arc;

use weir::catalog::{Entry, Origin};
use weir::engine::{Engine, EngineConfig};
use weir::{Runtime, RuntimeConfig};

/// Paths of the test guest components (built by `build.rs`).
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A compile cache shared by all tests, inside the target directory.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("OUT_DIR")).join("component-cache")
}

/// Engine settings for tests: the shared cache, default limits.
pub fn engine_config() -> EngineConfig {
    EngineConfig { cache_dir: Some(cache_dir()), ..EngineConfig::default() }
}

/// A runtime with the built-in components.
pub async fn runtime() -> Runtime {
    let config = RuntimeConfig { engine: engine_config(), plugin_dir: None };
    let (runtime, problems) = Runtime::new(config).await.expect("runtime starts");
    assert!(problems.is_empty(), "{problems:?}");
    runtime
}

/// A runtime with the built-ins plus the given test guests in its catalog.
pub async fn runtime_with(guests: &[&str]) -> Runtime {
    let mut runtime = runtime().await;
    for path in guests {
        let entry = load(runtime.engine().clone(), path).await;
        runtime.catalog_mut().add(entry).expect("no duplicate identifiers");
    }
    runtime
}

/// Loads one component file as a catalog entry.
pub async fn load(engine: Arc<Engine>, path: &str) -> Entry {
    let wasm = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    Entry::load(engine, Origin::File(path.into()), &wasm).await.unwrap_or_else(|e| panic!("load {path}: {e}"))
}

/// Owned option pairs from string slices.
pub fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}
