//! On-disk cache of precompiled components, keyed by the component's
//! content hash and the engine's compatibility hash (wasmtime version,
//! target and every setting that affects code), so a changed engine never
//! loads a stale artifact. Compiling a Python component takes 10–20 s,
//! loading it precompiled a few milliseconds.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

/// The cache directory and the engine part of the key.
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// A cache in `dir` for `engine`'s settings.
    pub fn new(dir: PathBuf, engine: &wasmtime::Engine) -> Self {
        // SipHash with fixed keys is stable for a given Rust std; a new
        // toolchain at worst misses the cache once.
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        CompileCache { dir, engine_key: format!("{:016x}", h.finish()) }
    }

    /// Where the artifact for `wasm` lives.
    pub fn path_for(&self, wasm: &[u8]) -> PathBuf {
        let digest = Sha256::digest(wasm);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}-{}.cwasm", self.engine_key))
    }

    /// Loads the precompiled artifact, or compiles and stores it. A broken
    /// or incompatible artifact is recompiled and replaced; a cache that
    /// cannot be written only costs speed.
    pub fn load_or_compile(&self, engine: &wasmtime::Engine, wasm: &[u8]) -> anyhow::Result<Component> {
        let path = self.path_for(wasm);
        if path.is_file() {
            // SAFETY: the file was produced by `precompile_component` of an
            // engine with the same compatibility hash, written by this cache
            // through write-then-rename into a directory only Weir writes.
            // wasmtime additionally checks the header and rejects a blob from
            // a different engine configuration.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!("discarding cached component {}: {e:#}", path.display()),
            }
        }
        let bytes = engine.precompile_component(wasm).map_err(anyhow::Error::from).context("compilation failed")?;
        if let Err(e) = store_atomically(&path, &bytes) {
            tracing::warn!("cannot write the component cache {}: {e:#}", path.display());
        }
        // SAFETY: `bytes` was just produced by this engine's precompiler.
        unsafe { Component::deserialize(engine, &bytes) }
            .map_err(anyhow::Error::from)
            .context("loading the freshly compiled component")
    }
}

fn store_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(())
}
