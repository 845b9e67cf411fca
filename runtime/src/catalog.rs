//! The catalog: built-in components plus a plugin directory, looked up by
//! identifier and kind — Flink's factory discovery. Each component is
//! compiled (or loaded from the compile cache) and its spec read exactly
//! once, when the catalog is built.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::instance::Loaded;
use crate::policy::Grants;
use crate::spec::{Kind, Spec};

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// Where a component came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Embedded in the `weir` binary.
    BuiltIn,
    /// A `.wasm` file in the plugin directory (or given on the command line).
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What a table asks the catalog for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `'format' = '…'`.
    Format,
    /// `'connector' = '…'` read side.
    Source,
    /// `'connector' = '…'` write side.
    Sink,
}

impl Role {
    fn accepts(self, kind: Kind) -> bool {
        match self {
            Role::Format => kind == Kind::Format,
            Role::Source => kind.is_source(),
            Role::Sink => kind.is_sink(),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Role::Format => "format",
            Role::Source => "source connector",
            Role::Sink => "sink connector",
        }
    }
}

/// One catalog entry.
#[derive(Clone)]
pub struct Entry {
    /// The spec, read once.
    pub spec: Spec,
    /// What it can do.
    pub kind: Kind,
    /// Where it came from.
    pub origin: Origin,
    /// The compiled, linked component, loaded on first use for a built-in
    /// whose spec came from the compile cache.
    loaded: Arc<Lazy>,
}

/// A component that is loaded when first used.
struct Lazy {
    cell: OnceLock<Arc<Loaded>>,
    engine: Arc<Engine>,
    label: String,
    wasm: &'static [u8],
}

impl Entry {
    /// Compiles a component, reads its spec and checks it.
    pub async fn load(engine: Arc<Engine>, origin: Origin, wasm: &[u8]) -> Result<Entry> {
        Entry::load_labelled(engine, origin, None, wasm).await
    }

    /// [`Entry::load`], naming the component `label` until its spec is read
    /// (in a compile notice or a load error).
    async fn load_labelled(engine: Arc<Engine>, origin: Origin, label: Option<&str>, wasm: &[u8]) -> Result<Entry> {
        let name = match (&origin, label) {
            (_, Some(label)) => label.to_owned(),
            (Origin::BuiltIn, None) => "built-in component".to_owned(),
            (Origin::File(p), None) => p.display().to_string(),
        };
        let loaded = Arc::new(Loaded::new(engine.clone(), &name, wasm)?);
        // Reading the spec runs the component's own code: in a throwaway
        // instance that is granted nothing.
        let mut instance = loaded.instantiate(&name, &Grants::none()).await?;
        let spec = instance.spec().await?;
        check_identifier(&name, &spec.identifier)?;
        let lazy = Lazy { cell: OnceLock::from(loaded.clone()), engine, label: name, wasm: &[] };
        Ok(Entry { kind: loaded.kind, spec, origin, loaded: Arc::new(lazy) })
    }

    /// A built-in: its spec and kind from the compile cache when stored
    /// there (authenticated like the compiled artifacts), the component
    /// itself loaded on first use; otherwise loaded now and its spec stored.
    /// A process then loads only the components its job uses (start-up
    /// was ~60 ms with all seventeen loaded, ~20 ms with three).
    async fn builtin(engine: Arc<Engine>, package: &str, wasm: &'static [u8], digest: &str) -> Result<Entry> {
        let label = format!("built-in {package}");
        let cache = engine.cache();
        let stored = cache
            .and_then(|c| c.load_record(digest, "spec.json"))
            .and_then(|bytes| serde_json::from_slice::<(Spec, Kind)>(&bytes).ok());
        if let Some((spec, kind)) = stored
            && check_identifier(&label, &spec.identifier).is_ok()
        {
            let lazy = Lazy { cell: OnceLock::new(), engine, label, wasm };
            return Ok(Entry { spec, kind, origin: Origin::BuiltIn, loaded: Arc::new(lazy) });
        }
        let entry = Entry::load_labelled(engine.clone(), Origin::BuiltIn, Some(&label), wasm).await?;
        if let (Some(cache), Ok(bytes)) = (engine.cache(), serde_json::to_vec(&(&entry.spec, entry.kind))) {
            cache.store_record(digest, "spec.json", &bytes);
        }
        Ok(entry)
    }

    /// Whether the component is loaded (a built-in is loaded on first use
    /// once its spec is in the compile cache).
    pub fn is_loaded(&self) -> bool {
        self.loaded.cell.get().is_some()
    }

    /// The compiled, linked component (loaded now if it was not yet).
    pub fn loaded(&self) -> Result<Arc<Loaded>> {
        let lazy = &self.loaded;
        if let Some(loaded) = lazy.cell.get() {
            return Ok(loaded.clone());
        }
        let loaded = Arc::new(Loaded::new(lazy.engine.clone(), &lazy.label, lazy.wasm)?);
        if loaded.kind != self.kind {
            return Err(Error::Load {
                origin: lazy.label.clone(),
                message: format!("it is a {} but the catalog recorded a {}", loaded.kind, self.kind),
            });
        }
        // Two first uses at once load it twice; both get the one kept.
        Ok(lazy.cell.get_or_init(|| loaded).clone())
    }
}

/// Identifiers are what users type in DDL: lowercase letters, digits, `-`,
/// `_` and `.`; nothing that could be mistaken for a path or option.
fn check_identifier(origin: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Load {
            origin: origin.to_owned(),
            message: format!(
                "its spec declares the identifier {id:?}; identifiers must be 1-64 characters of a-z, 0-9, '-', '_' or '.'"
            ),
        })
    }
}

/// The components a process knows.
#[derive(Default)]
pub struct Catalog {
    entries: Vec<Entry>,
}

impl Catalog {
    /// The built-in components plus every `*.wasm` in `plugin_dir`. A plugin
    /// that fails to load is reported, not fatal: the others stay usable.
    pub async fn load(engine: Arc<Engine>, plugin_dir: Option<&Path>) -> Result<(Catalog, Vec<Error>)> {
        let mut catalog = Catalog::default();
        // Compiled side by side on first use (the cache has them after).
        let builtins: Vec<_> = BUILTINS
            .iter()
            .map(|&(package, wasm, digest)| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    Entry::builtin(engine, package, wasm, digest)
                        .await
                        .map_err(|e| Error::Load { origin: format!("built-in {package}"), message: e.to_string() })
                })
            })
            .collect();
        for load in builtins {
            let entry = load.await.map_err(|e| Error::Host(anyhow::anyhow!("loading a built-in failed: {e}")))??;
            catalog.add(entry)?;
        }
        let mut problems = Vec::new();
        if let Some(dir) = plugin_dir {
            // Compiled side by side (a Python component takes seconds), in
            // file-name order in the catalog.
            let loads: Vec<_> = read_plugins(dir)?
                .into_iter()
                .map(|(path, wasm)| {
                    let engine = engine.clone();
                    tokio::spawn(async move { Entry::load(engine, Origin::File(path), &wasm).await })
                })
                .collect();
            for load in loads {
                let loaded = load.await.map_err(|e| Error::Host(anyhow::anyhow!("loading a plugin failed: {e}")))?;
                match loaded {
                    Ok(entry) => {
                        if let Err(e) = catalog.add(entry) {
                            problems.push(e);
                        }
                    }
                    Err(e) => problems.push(e),
                }
            }
        }
        Ok((catalog, problems))
    }

    /// Adds an entry; an identifier may appear once per role.
    pub fn add(&mut self, entry: Entry) -> Result<()> {
        let clash = self.entries.iter().find(|e| {
            e.spec.identifier == entry.spec.identifier && (e.kind == Kind::Format) == (entry.kind == Kind::Format)
        });
        if let Some(existing) = clash {
            return Err(Error::Duplicate {
                identifier: entry.spec.identifier.clone(),
                existing: existing.origin.to_string(),
                origin: entry.origin.to_string(),
            });
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Every entry, built-ins first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The component for `identifier` in `role`.
    pub fn find(&self, identifier: &str, role: Role) -> Result<&Entry> {
        self.entries.iter().find(|e| e.spec.identifier == identifier && role.accepts(e.kind)).ok_or_else(|| {
            let available: Vec<&str> =
                self.entries.iter().filter(|e| role.accepts(e.kind)).map(|e| e.spec.identifier.as_str()).collect();
            let suggestion = crate::options::closest(identifier, available.iter().copied())
                .map(|c| format!(", did you mean '{c}'?"))
                .unwrap_or_default();
            Error::NotFound {
                kind: role.noun(),
                identifier: identifier.to_owned(),
                suggestion,
                available: if available.is_empty() { "none".to_owned() } else { available.join(", ") },
            }
        })
    }

    /// Every entry with this identifier (a connector and a format may share
    /// one, as Flink's `filesystem` and `csv` could).
    pub fn find_any(&self, identifier: &str) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.spec.identifier == identifier).collect()
    }
}

/// Reads `*.wasm` files directly in `dir` through a capability handle on
/// that directory, so a symlink cannot make the catalog read elsewhere.
fn read_plugins(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    use anyhow::Context as _;
    let handle = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
        .with_context(|| format!("cannot open the plugin directory {}", dir.display()))?;
    let mut names = Vec::new();
    for entry in handle.entries().with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        if Path::new(&name).extension().is_some_and(|e| e == "wasm") {
            names.push(name);
        }
    }
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let bytes = handle.read(&name).with_context(|| format!("cannot read {}", dir.join(&name).display()))?;
        out.push((dir.join(name), bytes));
    }
    Ok(out)
}
