//! The filesystem gate: a few `wasi:filesystem` functions shadowed on top of
//! wasmtime-wasi's own, for what preopens alone cannot express.
//!
//! - **No symbolic links are created.** `symlink-at` is refused for every
//!   component: a link's target is not checked when it is made, so a
//!   component with a write grant could leave `out/dt=x → ../../elsewhere`
//!   for the next program that opens that path (another job, the operator's
//!   shell). No connector needs to create links.
//! - **A file grant gives that file only.** WASI preopens directories, so a
//!   file grant preopens the file's directory; through that preopen only the
//!   granted file names can be opened, stat'ed or linked, and the directory
//!   cannot be listed.
//!
//! The policy decides (`policy::wasi_context` returns which preopens are
//! file-only); this module only enforces it at the WASI calls. Every refusal
//! is recorded in the instance's [`crate::policy::Denials`].

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::FsError;
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, DescriptorFlags, DescriptorStat, DirectoryEntryStream, ErrorCode, HostDescriptor, MetadataHashValue,
    OpenFlags, PathFlags,
};

/// The gate's per-instance state.
#[derive(Debug, Default)]
pub struct FsGate {
    /// Guest paths of file-only preopens and the names reachable in each.
    only_files: BTreeMap<String, Vec<String>>,
    /// Descriptors (by resource index) handed out for those preopens.
    filtered: HashMap<u32, Vec<String>>,
}

impl FsGate {
    /// A gate for the file-only preopens `only_files` (guest path → names).
    pub fn new(only_files: BTreeMap<String, Vec<String>>) -> Self {
        FsGate { only_files, filtered: HashMap::new() }
    }

    /// Whether `path` may be reached through the descriptor `rep`.
    fn admits(&self, rep: u32, path: &str) -> bool {
        self.filtered.get(&rep).is_none_or(|names| names.iter().any(|n| n == path))
    }

    fn is_filtered(&self, rep: u32) -> bool {
        self.filtered.contains_key(&rep)
    }
}

/// The versioned interface names wasmtime-wasi links (WASI 0.2.x).
const TYPES: &str = "wasi:filesystem/types@0.2.12";
const PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";

type Out<'a, T> = Box<dyn Future<Output = wasmtime::Result<(Result<T, ErrorCode>,)>> + Send + 'a>;

/// What the gate needs of an instance's store data: wasmtime-wasi's
/// filesystem view, the gate's state, and where refusals go.
pub trait GateView: WasiFilesystemView + 'static {
    /// The gate's state of this instance.
    fn gate(&mut self) -> &mut FsGate;
    /// Records a refused access (for the operator and `weir verify`).
    fn refused(&mut self, what: String);
}

/// Refuses `what` for the instance: records it and answers `not-permitted`.
fn refuse<R>(state: &mut impl GateView, what: String) -> wasmtime::Result<(Result<R, ErrorCode>,)> {
    state.refused(what);
    Ok((Err(ErrorCode::NotPermitted),))
}

/// wasmtime-wasi's answer, with its error turned into the guest's code.
fn answer<R>(state: &mut impl GateView, r: Result<R, FsError>) -> wasmtime::Result<(Result<R, ErrorCode>,)> {
    match r {
        Ok(v) => Ok((Ok(v),)),
        Err(e) => Ok((Err(types::Host::convert_error_code(&mut state.filesystem(), e)?),)),
    }
}

/// Links the gate over wasmtime-wasi's filesystem (shadowing is on).
pub fn add_to_linker<T: GateView>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    let mut pre = linker.instance(PREOPENS).map_err(anyhow::Error::from).context(PREOPENS)?;
    pre.func_wrap("get-directories", |mut store: StoreContextMut<'_, T>, (): ()| {
        let state = store.data_mut();
        let dirs = preopens::Host::get_directories(&mut state.filesystem())?;
        let gate = state.gate();
        for (fd, guest) in &dirs {
            if let Some(names) = gate.only_files.get(guest) {
                gate.filtered.insert(fd.rep(), names.clone());
            }
        }
        Ok((dirs,))
    })?;

    let mut ty = linker.instance(TYPES).map_err(anyhow::Error::from).context(TYPES)?;
    ty.func_wrap_async(
        "[method]descriptor.symlink-at",
        |mut store: StoreContextMut<'_, T>,
         (_fd, target, link): (Resource<Descriptor>, String, String)|
         -> Out<'_, ()> {
            Box::new(async move {
                refuse(
                    store.data_mut(),
                    format!("creating the symbolic link {link} → {target} (components may not create links)"),
                )
            })
        },
    )?;
    ty.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, T>,
         (fd, pf, path, of, flags): (Resource<Descriptor>, PathFlags, String, OpenFlags, DescriptorFlags)|
         -> Out<'_, Resource<Descriptor>> {
            Box::new(async move {
                let state = store.data_mut();
                if !state.gate().admits(fd.rep(), &path) {
                    return refuse(state, format!("opening '{path}' next to a file granted alone"));
                }
                let r = HostDescriptor::open_at(&mut state.filesystem(), fd, pf, path, of, flags).await;
                answer(state, r)
            })
        },
    )?;
    ty.func_wrap_async(
        "[method]descriptor.stat-at",
        |mut store: StoreContextMut<'_, T>,
         (fd, pf, path): (Resource<Descriptor>, PathFlags, String)|
         -> Out<'_, DescriptorStat> {
            Box::new(async move {
                let state = store.data_mut();
                if !state.gate().admits(fd.rep(), &path) {
                    return refuse(state, format!("inspecting '{path}' next to a file granted alone"));
                }
                let r = HostDescriptor::stat_at(&mut state.filesystem(), fd, pf, path).await;
                answer(state, r)
            })
        },
    )?;
    ty.func_wrap_async(
        "[method]descriptor.metadata-hash-at",
        |mut store: StoreContextMut<'_, T>,
         (fd, pf, path): (Resource<Descriptor>, PathFlags, String)|
         -> Out<'_, MetadataHashValue> {
            Box::new(async move {
                let state = store.data_mut();
                if !state.gate().admits(fd.rep(), &path) {
                    return refuse(state, format!("inspecting '{path}' next to a file granted alone"));
                }
                let r = HostDescriptor::metadata_hash_at(&mut state.filesystem(), fd, pf, path).await;
                answer(state, r)
            })
        },
    )?;
    ty.func_wrap_async(
        "[method]descriptor.readlink-at",
        |mut store: StoreContextMut<'_, T>, (fd, path): (Resource<Descriptor>, String)| -> Out<'_, String> {
            Box::new(async move {
                let state = store.data_mut();
                if !state.gate().admits(fd.rep(), &path) {
                    return refuse(state, format!("reading the link '{path}' next to a file granted alone"));
                }
                let r = HostDescriptor::readlink_at(&mut state.filesystem(), fd, path).await;
                answer(state, r)
            })
        },
    )?;
    ty.func_wrap_async(
        "[method]descriptor.read-directory",
        |mut store: StoreContextMut<'_, T>,
         (fd,): (Resource<Descriptor>,)|
         -> Out<'_, Resource<DirectoryEntryStream>> {
            Box::new(async move {
                let state = store.data_mut();
                if state.gate().is_filtered(fd.rep()) {
                    return refuse(state, "listing the directory of a file granted alone".to_owned());
                }
                let r = HostDescriptor::read_directory(&mut state.filesystem(), fd).await;
                answer(state, r)
            })
        },
    )?;
    ty.func_wrap_async(
        "[method]descriptor.link-at",
        |mut store: StoreContextMut<'_, T>,
         (fd, pf, old, new_fd, new): (Resource<Descriptor>, PathFlags, String, Resource<Descriptor>, String)|
         -> Out<'_, ()> {
            Box::new(async move {
                let state = store.data_mut();
                if state.gate().is_filtered(fd.rep()) || state.gate().is_filtered(new_fd.rep()) {
                    return refuse(state, format!("linking '{old}' as '{new}' next to a file granted alone"));
                }
                let r = HostDescriptor::link_at(&mut state.filesystem(), fd, pf, old, new_fd, new).await;
                answer(state, r)
            })
        },
    )?;
    Ok(())
}
