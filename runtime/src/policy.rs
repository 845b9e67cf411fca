//! The one place where a guest's capabilities are decided.
//!
//! Every component instance gets a WASI context built here. The default
//! policy grants nothing: no files, no sockets (and no name lookups), no
//! environment, no arguments, no stdin; stdout is discarded and stderr is
//! captured by the host only to attach a panic message to the error. Clocks
//! and random numbers are available, as they give the guest no reach into
//! the world. Operator grants (`--allow-read`, `--allow-net`, …) arrive with
//! the sandbox issue and extend [`Grants`]; nothing else may add to a
//! context, so no code path grants a guest anything implicitly.

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// How much of a guest's stderr the host keeps for error messages.
pub const STDERR_CAPTURE_BYTES: usize = 64 * 1024;

/// What the operator granted one instance. Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    // Filled in by the sandbox issue: directories (read / read-write),
    // socket endpoints, URL prefixes, environment variables. An empty
    // struct is the policy "deny everything".
}

impl Grants {
    /// The grant-nothing policy.
    pub fn none() -> Self {
        Grants::default()
    }
}

/// Builds the WASI context of one instance from its grants. Returns the
/// context and the pipe its stderr goes to.
pub fn wasi_context(grants: &Grants) -> (WasiCtx, MemoryOutputPipe) {
    let Grants {} = grants;
    let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
    let mut builder = WasiCtxBuilder::new();
    builder
        .stderr(stderr.clone())
        // Deny by construction rather than rely on defaults: no TCP, no
        // UDP, no name lookups, and an address check that refuses all.
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_addr, _use| Box::pin(async { false }));
    (builder.build(), stderr)
}
