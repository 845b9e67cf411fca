//! The engine lifetime: one wasmtime `Engine` per process with the
//! component model, async support, epoch interruption (driven by a ticker
//! thread) and the pooling allocator; one `Linker` with full WASI 0.2 and
//! the `host` interface; and the on-disk cache of precompiled components.

mod cache;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};

use crate::bindings::v0_1_0;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::policy::sockets::HasNameLookup;
use crate::store::InstanceState;

pub use cache::CompileCache;

/// How often the epoch advances: the granularity of CPU budgets.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where precompiled components are kept (`None`: no disk cache).
    pub cache_dir: Option<PathBuf>,
    /// Use the pooling instance allocator (fast instantiation).
    pub pooling: bool,
    /// Limits applied to every instance.
    pub limits: Limits,
    /// Epoch interruption: guests check a counter at function entries and
    /// loop back-edges so the CPU budget per call can stop them. Turn it
    /// off only to measure what it costs — without it a guest stuck in a
    /// loop is never stopped.
    pub epoch_interruption: bool,
    /// Told when a component is compiled rather than loaded from the cache
    /// (seconds for a Python component): a CLI shows it.
    pub on_compile: Option<CompileNotice>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache_dir: default_cache_dir(),
            pooling: true,
            limits: Limits::default(),
            epoch_interruption: true,
            on_compile: None,
        }
    }
}

/// Called with a component's origin when its compilation starts (`None`)
/// and when it ends (`Some(time it took)`).
#[derive(Clone)]
pub struct CompileNotice(pub Arc<CompileCallback>);

/// What a [`CompileNotice`] calls.
pub type CompileCallback = dyn Fn(&str, Option<std::time::Duration>) + Send + Sync;

impl std::fmt::Debug for CompileNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompileNotice")
    }
}

/// `$WEIR_CACHE_DIR`, else `$XDG_CACHE_HOME/weir/components`, else
/// `$HOME/.cache/weir/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEIR_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("weir").join("components"))
}

/// Stops the epoch ticker thread when the engine goes away.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The process-wide engine. Cheap to share behind an `Arc`.
pub struct Engine {
    wasmtime: wasmtime::Engine,
    linker: Linker<InstanceState>,
    cache: Option<CompileCache>,
    limits: Limits,
    on_compile: Option<CompileNotice>,
    _ticker: Ticker,
}

impl Engine {
    /// Creates the engine. Falls back to on-demand allocation if the pooling
    /// allocator cannot reserve its memory on this machine.
    pub fn new(config: &EngineConfig) -> Result<Engine> {
        let wasmtime = match build_engine(config, config.pooling) {
            Ok(e) => e,
            Err(e) if config.pooling => {
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
                build_engine(config, false)?
            }
            Err(e) => return Err(e.into()),
        };

        let mut linker = Linker::new(&wasmtime);
        // Full WASI 0.2 is linked because guests in every language import it
        // even for pure computation; the policy decides what it can reach.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("failed to link WASI 0.2")?;
        // wasi:http (JavaScript components import it even for pure work);
        // requests are checked against the granted URL prefixes in the store.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("failed to link wasi:http")?;
        // Name lookups: only the instance's granted host names resolve.
        linker.allow_shadowing(true);
        wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::add_to_linker::<InstanceState, HasNameLookup>(
            &mut linker,
            InstanceState::name_lookup,
        )
        .map_err(anyhow::Error::from)
        .context("failed to link the name-lookup check")?;
        // Files: no symbolic links created, file grants reach only their file.
        crate::policy::files::gate::add_to_linker(&mut linker).context("failed to link the filesystem gate")?;
        linker.allow_shadowing(false);
        v0_1_0::weir::connector::host::add_to_linker::<InstanceState, HasSelf<InstanceState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)
            .context("failed to link the weir host interface")?;

        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (engine, stop) = (wasmtime.clone(), stop.clone());
            std::thread::Builder::new()
                .name("weir-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .context("failed to start the epoch ticker thread")?
        };

        let cache = config.cache_dir.as_ref().map(|dir| CompileCache::new(dir.clone(), &wasmtime));
        Ok(Engine {
            wasmtime,
            linker,
            cache,
            limits: config.limits,
            on_compile: config.on_compile.clone(),
            _ticker: Ticker { stop, thread: Some(thread) },
        })
    }

    /// The wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.wasmtime
    }

    /// The on-disk compile cache, if there is one.
    pub fn cache(&self) -> Option<&CompileCache> {
        self.cache.as_ref()
    }

    /// Weir's own directories that no grant may reach: the compile cache.
    pub fn protected_dirs(&self) -> &[PathBuf] {
        self.cache.as_ref().map_or(&[], |c| std::slice::from_ref(c.dir()))
    }

    /// The limits every instance gets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Compiles `wasm` (or loads it precompiled from the cache).
    pub fn compile(&self, origin: &str, wasm: &[u8]) -> Result<Component> {
        let load_err = |e: anyhow::Error| Error::Load { origin: origin.to_owned(), message: format!("{e:#}") };
        // A file that is not a component at all gets one line, not the
        // parser's dump of its first bytes.
        let refuse = |message: &str| Err(Error::Load { origin: origin.to_owned(), message: message.to_owned() });
        match wasm.get(..8) {
            Some([0, b'a', b's', b'm', _, _, 0, 0]) => {
                return refuse(
                    "a core WebAssembly module, not a component; build for wasm32-wasip2 or wrap it with `wasm-tools component new`",
                );
            }
            Some([0, b'a', b's', b'm', ..]) => {}
            _ => return refuse("not a WebAssembly component (no \\0asm header)"),
        }
        let started = std::time::Instant::now();
        let notice = |done: Option<std::time::Duration>| {
            if let Some(n) = &self.on_compile {
                (n.0)(origin, done);
            }
        };
        let compiled = match &self.cache {
            Some(cache) => cache.load_or_compile(&self.wasmtime, wasm, || notice(None)).map_err(load_err),
            None => {
                notice(None);
                Component::new(&self.wasmtime, wasm).map(|c| (c, true)).map_err(|e| load_err(anyhow::Error::from(e)))
            }
        };
        let (component, was_compiled) = compiled?;
        if was_compiled {
            notice(Some(started.elapsed()));
        }
        Ok(component)
    }

    /// Links a component once, so instances are created without lookups.
    pub fn instantiate_pre(&self, origin: &str, component: &Component) -> Result<InstancePre<InstanceState>> {
        self.linker.instantiate_pre(component).map_err(|e| Error::Load {
            origin: origin.to_owned(),
            message: format!("it imports something the Weir host does not provide: {e:#}"),
        })
    }
}

fn build_engine(config: &EngineConfig, pooling: bool) -> anyhow::Result<wasmtime::Engine> {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(config.epoch_interruption);
    // Fuel changes the generated code, so it is only on when a budget is set
    // (the compile cache keys on these settings).
    c.consume_fuel(config.limits.fuel_per_call.is_some());
    c.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // `WEIR_PERF_MAP=1`: write /tmp/perf-<pid>.map so `perf report` names
    // the components' functions (docs/performance.md, "Where the time goes").
    if std::env::var_os("WEIR_PERF_MAP").is_some_and(|v| v == "1") {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        // Sized for a few hundred concurrent instances; each memory slot is
        // only address space until touched.
        pool.total_component_instances(256)
            .total_core_instances(512)
            .total_memories(512)
            .total_tables(512)
            .max_memory_size(config.limits.memory_bytes.max(64 << 20))
            .max_memories_per_component(8)
            .max_core_instances_per_component(32)
            .max_tables_per_component(16);
        c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(wasmtime::Engine::new(&c)?)
}
