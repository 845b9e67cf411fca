//! Files: every path a component may reach is opened by the host beneath
//! the operator's grant it came from (cap-std resolves each component from
//! the grant's handle, so no symbolic link leads out), then preopened; a
//! file grant reaches that file only; no grant reaches Weir's compile
//! cache. The `wasi:filesystem` side of these rules is [`gate`].

pub mod gate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::Grants;

/// A granted path as the host opened it, beneath its root.
enum Opened {
    Dir(cap_std::fs::Dir),
    /// A file: its directory (preopened, but only `name` reachable).
    File {
        parent: cap_std::fs::Dir,
        name: String,
    },
}

/// Opens the granted `path` beneath the operator's grant `root` without
/// leaving it: symbolic links are followed only while they stay inside
/// `root` (cap-std resolves every component from the root's handle), so a
/// link planted inside a grant — `granted/link → /etc` — cannot make the
/// host open something the operator never granted. The root itself is the
/// operator's own path and is opened as given. A write grant's directory is
/// created (beneath the root) when missing; a read grant must exist.
fn open_beneath(root: &Path, path: &Path, write: bool) -> Result<Opened, String> {
    use cap_std::ambient_authority;
    use cap_std::fs::Dir;
    let shown = path.display();
    let io = |what: &str, e: std::io::Error| {
        if e.to_string().contains("outside of the filesystem") {
            format!(
                "the granted path {shown} leads outside the operator's grant {} (through a symbolic link or '..'); \
                 the host refuses to follow it — grant the link's target instead",
                root.display()
            )
        } else {
            format!("cannot {what} the granted path {shown}: {e}")
        }
    };
    let rel = path.strip_prefix(root).map_err(|_| format!("{shown} is not beneath its grant {}", root.display()))?;
    if write {
        std::fs::create_dir_all(root).map_err(|e| io("create", e))?;
    }
    let meta = std::fs::metadata(root).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "the granted path {} does not exist (a read grant needs an existing file or directory)",
                root.display()
            )
        } else {
            io("open", e)
        }
    })?;
    let root_dir = if meta.is_dir() {
        Dir::open_ambient_dir(root, ambient_authority()).map_err(|e| io("open", e))?
    } else if rel.as_os_str().is_empty() && !write {
        // The operator granted this very file: its directory, that file only.
        let name = root.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("{shown} has no file name"))?;
        let parent = root.parent().unwrap_or(Path::new("/"));
        let parent = Dir::open_ambient_dir(parent, ambient_authority()).map_err(|e| io("open", e))?;
        return Ok(Opened::File { parent, name: name.to_owned() });
    } else {
        return Err(format!("the granted path {} is a file, not a directory", root.display()));
    };
    if rel.as_os_str().is_empty() {
        return Ok(Opened::Dir(root_dir));
    }
    if write {
        return match root_dir.open_dir(rel) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                root_dir.create_dir_all(rel).map_err(|e| io("create", e))?;
                root_dir.open_dir(rel).map(Opened::Dir).map_err(|e| io("open", e))
            }
            opened => opened.map(Opened::Dir).map_err(|e| io("open", e)),
        };
    }
    match root_dir.metadata(rel) {
        Ok(m) if m.is_dir() => root_dir.open_dir(rel).map(Opened::Dir).map_err(|e| io("open", e)),
        Ok(_) => {
            let name = rel.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("{shown} has no file name"))?;
            let parent = match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(p) => root_dir.open_dir(p).map_err(|e| io("open", e))?,
                None => root_dir,
            };
            Ok(Opened::File { parent, name: name.to_owned() })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("the granted path {shown} does not exist (a read grant needs an existing file or directory)"))
        }
        Err(e) => Err(io("open", e)),
    }
}

/// A host path naming exactly the directory `dir` the host already opened,
/// for wasmtime-wasi's preopen (which takes a path): on Linux the
/// descriptor's `/proc/self/fd` entry, which names that directory itself,
/// not a path to resolve again. Elsewhere the resolved path, checked to lie
/// beneath `root`.
fn host_path_of(dir: &cap_std::fs::Dir, path: &Path, root: &Path) -> Result<PathBuf, String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let proc = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        if proc.exists() {
            return Ok(proc);
        }
    }
    let _ = dir;
    let real = std::fs::canonicalize(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let root = std::fs::canonicalize(root).map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    if real.starts_with(&root) {
        Ok(real)
    } else {
        Err(format!("the granted path {} leads outside the operator's grant {}", path.display(), root.display()))
    }
}

/// The identity (device, inode) of a directory, to compare paths that may
/// reach it through symbolic links or bind mounts.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether `a` is `b` or one of its ancestors, comparing identities (so a
/// symbolic link or bind mount naming the same directory counts).
#[cfg(unix)]
fn is_ancestor_or_same(a: &Path, b: &Path) -> bool {
    let Some(a) = identity(a) else { return false };
    let b = std::fs::canonicalize(b).unwrap_or_else(|_| b.to_owned());
    b.ancestors().any(|p| identity(p) == Some(a))
}

#[cfg(not(unix))]
fn is_ancestor_or_same(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    canon(b).starts_with(canon(a))
}

/// Refuses to open `dir` (what `path` was opened as) for a component when
/// it covers, or lies inside, one of Weir's own `protected` directories
/// (the precompiled-component cache: native code the host loads). With
/// `file_only`, only lying inside counts (the rest of `dir` is not
/// reachable).
fn check_protected(host: &Path, path: &Path, protected: &[PathBuf], file_only: bool) -> Result<(), String> {
    for p in protected.iter().filter(|p| p.exists()) {
        let covers = !file_only && is_ancestor_or_same(host, p);
        if covers || is_ancestor_or_same(p, host) {
            return Err(format!(
                "the granted path {} {} Weir's component cache {}, which no component may reach (it holds native code \
                 the host runs); grant a narrower directory, or move the cache elsewhere with WEIR_CACHE_DIR",
                path.display(),
                if covers { "covers" } else { "lies inside" },
                p.display()
            ));
        }
    }
    Ok(())
}

/// One directory to preopen: the handle the host opened beneath `root`, at
/// the guest path `guest`; `only` lists the reachable names when it is the
/// directory of file grants.
struct Preopen {
    dir: cap_std::fs::Dir,
    guest: PathBuf,
    root: PathBuf,
    write: bool,
    only: Option<Vec<String>>,
}

/// Opens each granted path beneath its grant and preopens it at the same
/// absolute path inside the guest, read-only or read-write. A directory
/// grant gives that directory; a file grant gives that file only: its
/// directory is preopened, and the filesystem gate lets no other name in it
/// be opened, listed or linked. Returns those file-only preopens (guest
/// path → the names reachable in it) for the gate.
pub(super) fn preopen(
    builder: &mut WasiCtxBuilder,
    grants: &Grants,
    protected: &[PathBuf],
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut dirs = Vec::new();
    let mut files: BTreeMap<PathBuf, Preopen> = BTreeMap::new();
    for (path, write) in grants.read.iter().map(|p| (p, false)).chain(grants.write.iter().map(|p| (p, true))) {
        let root = grants.root_of(path).to_owned();
        match open_beneath(&root, path, write).map_err(anyhow::Error::msg)? {
            Opened::Dir(dir) => dirs.push(Preopen { dir, guest: path.clone(), root, write, only: None }),
            Opened::File { parent, name } => {
                let guest = path.parent().map(Path::to_owned).unwrap_or_default();
                let entry = files.entry(guest.clone()).or_insert_with(|| Preopen {
                    dir: parent,
                    guest,
                    root,
                    write: false,
                    only: Some(Vec::new()),
                });
                entry.only.get_or_insert_default().push(name);
            }
        }
    }
    // A file inside a granted directory needs no preopen of its own.
    files.retain(|parent, _| !dirs.iter().any(|d| parent.starts_with(&d.guest)));
    let mut only_files = BTreeMap::new();
    for p in dirs.into_iter().chain(files.into_values()) {
        let host = host_path_of(&p.dir, &p.guest, &p.root).map_err(anyhow::Error::msg)?;
        check_protected(&host, &p.guest, protected, p.only.is_some()).map_err(anyhow::Error::msg)?;
        let perms = if p.write { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
        let guest = p.guest.display().to_string();
        builder
            .preopened_dir(&host, &guest, perms)
            .map_err(|e| anyhow::anyhow!("cannot open the granted directory {guest}: {e}"))?;
        if let Some(names) = p.only {
            only_files.insert(guest, names);
        }
    }
    Ok(only_files)
}
