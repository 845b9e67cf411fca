//! On-disk cache of precompiled components, keyed by the component's
//! content hash and the engine's compatibility hash (wasmtime version,
//! target and every setting that affects code), so a changed engine never
//! loads a stale artifact. Compiling a Python component takes 10–20 s,
//! loading it precompiled a few milliseconds.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

/// Name of the file holding the cache's key (32 random bytes, owner-only).
const KEY_FILE: &str = "cache.key";

/// The cache directory, the engine part of the key, and the secret that
/// authenticates artifacts.
///
/// A precompiled artifact is native code: loading a forged one would run
/// the forger's code in the host. So each artifact is stored with an
/// HMAC-SHA256 tag over its name (component hash and engine key) and its
/// bytes, keyed with a secret kept in the cache directory; an artifact is
/// read into memory and its tag checked *before* it is deserialised. No
/// component can reach that secret or the artifacts: the policy refuses any
/// grant that covers the cache directory ([`CompileCache::dir`]).
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
    /// The secret, read (or made) on first use; `None` when it cannot be
    /// had, which disables the cache.
    key: OnceLock<Option<Vec<u8>>>,
}

impl CompileCache {
    /// A cache in `dir` for `engine`'s settings.
    pub fn new(dir: PathBuf, engine: &wasmtime::Engine) -> Self {
        // SipHash with fixed keys is stable for a given Rust std; a new
        // toolchain at worst misses the cache once.
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        CompileCache { dir, engine_key: format!("{:016x}", h.finish()), key: OnceLock::new() }
    }

    /// The cache directory (which no grant may cover).
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// Where the artifact for `wasm` lives.
    pub fn path_for(&self, wasm: &[u8]) -> PathBuf {
        let digest = Sha256::digest(wasm);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.file(&hex, "cwasm")
    }

    /// The cache file for the component whose wasm has the SHA-256 `digest`
    /// (hex), for this engine, with extension `what`.
    fn file(&self, digest: &str, what: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.{what}", self.engine_key))
    }

    /// A small record stored for the component whose wasm has the SHA-256
    /// `digest` (hex), authenticated like the artifacts: the catalog keeps
    /// each built-in's spec here, so a process reads it without loading the
    /// component. `None` when missing, unauthenticated or unreadable.
    pub fn load_record(&self, digest: &str, what: &str) -> Option<Vec<u8>> {
        let path = self.file(digest, what);
        match read_authenticated(self.key()?, &path)? {
            Ok(bytes) => Some(bytes),
            Err(why) => {
                tracing::warn!("ignoring {}: {why}", path.display());
                None
            }
        }
    }

    /// Stores a record for [`load_record`](Self::load_record); a cache that
    /// cannot be written only costs speed.
    pub fn store_record(&self, digest: &str, what: &str, bytes: &[u8]) {
        if let Some(key) = self.key() {
            store_authenticated(key, &self.file(digest, what), bytes);
        }
    }

    /// Loads the precompiled artifact, or compiles and stores it. A broken,
    /// incompatible or unauthenticated artifact is recompiled and replaced;
    /// a cache that cannot be written only costs speed.
    /// The component, and whether it was compiled now (`compiling` is
    /// called first) rather than loaded.
    pub fn load_or_compile(
        &self,
        engine: &wasmtime::Engine,
        wasm: &[u8],
        compiling: impl FnOnce(),
    ) -> anyhow::Result<(Component, bool)> {
        let path = self.path_for(wasm);
        let key = self.key();
        if let Some(stored) = key.and_then(|key| read_authenticated(key, &path)) {
            match stored {
                Ok(bytes) => {
                    // SAFETY: the bytes are authenticated as an artifact this
                    // cache stored for exactly this component and engine
                    // (HMAC under a key only Weir can read), produced by
                    // `precompile_component` of an engine with the same
                    // compatibility hash; wasmtime checks the header again.
                    match unsafe { Component::deserialize(engine, &bytes) } {
                        Ok(c) => return Ok((c, false)),
                        Err(e) => tracing::warn!("discarding cached component {}: {e:#}", path.display()),
                    }
                }
                Err(why) => tracing::warn!("discarding cached component {}: {why}", path.display()),
            }
        }
        compiling();
        let bytes = engine.precompile_component(wasm).map_err(anyhow::Error::from).context("compilation failed")?;
        if let Some(key) = key {
            store_authenticated(key, &path, &bytes);
        }
        // SAFETY: `bytes` was just produced by this engine's precompiler.
        unsafe { Component::deserialize(engine, &bytes) }
            .map(|c| (c, true))
            .map_err(anyhow::Error::from)
            .context("loading the freshly compiled component")
    }

    /// The cache's secret, read once per engine.
    fn key(&self) -> Option<&[u8]> {
        self.key
            .get_or_init(|| match self.load_key() {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::warn!("component cache disabled: {e:#}");
                    None
                }
            })
            .as_deref()
    }

    /// The cache's secret from its file, created (owner-only) if missing.
    fn load_key(&self) -> anyhow::Result<Vec<u8>> {
        let path = self.dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(key) if key.len() == 32 => return Ok(key),
            Ok(_) => anyhow::bail!("{} is damaged; delete it (the cache is rebuilt)", path.display()),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(anyhow::Error::from(e).context(format!("reading {}", path.display())));
            }
            Err(_) => {}
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let mut key = vec![0u8; 32];
        {
            use std::io::Read as _;
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut key))
                .context("reading /dev/urandom for the cache key")?;
        }
        // Created exclusively: of two processes racing, one key wins and
        // both use it.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut f) => {
                use std::io::Write as _;
                f.write_all(&key).with_context(|| format!("writing {}", path.display()))?;
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::thread::sleep(std::time::Duration::from_millis(10));
                let key = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                anyhow::ensure!(key.len() == 32, "{} is damaged; delete it", path.display());
                Ok(key)
            }
            Err(e) => Err(anyhow::Error::from(e).context(format!("creating {}", path.display()))),
        }
    }
}

/// The bytes of `path` if its tag shows this cache wrote them; `None` when
/// there is no such file, the reason when its tag is missing or wrong.
fn read_authenticated(key: &[u8], path: &Path) -> Option<Result<Vec<u8>, &'static str>> {
    let bytes = std::fs::read(path).ok()?;
    Some(match std::fs::read(tag_path(path)) {
        Ok(tag) if tag_of(key, path, &bytes).verify_slice(&tag).is_ok() => Ok(bytes),
        _ => Err("its authentication tag is missing or wrong (was it replaced?)"),
    })
}

/// Writes `bytes` to `path` with their tag; a cache that cannot be written
/// only costs speed.
fn store_authenticated(key: &[u8], path: &Path, bytes: &[u8]) {
    let tag = tag_of(key, path, bytes).finalize().into_bytes();
    if let Err(e) = store_atomically(path, bytes).and_then(|()| store_atomically(&tag_path(path), &tag)) {
        tracing::warn!("cannot write the component cache {}: {e:#}", path.display());
    }
}

/// The tag file next to an artifact or record.
fn tag_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".tag");
    PathBuf::from(name)
}

/// The MAC of an artifact: its file name (which says which component and
/// engine it is for) and its bytes.
fn tag_of(key: &[u8], path: &Path, bytes: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(bytes);
    mac
}

fn store_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(())
}
