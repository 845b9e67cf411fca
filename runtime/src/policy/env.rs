//! Environment variables: a guest sees exactly the variables it declared
//! and the operator granted, with the host's values; nothing else.

use wasmtime_wasi::WasiCtxBuilder;

/// Gives the guest the granted variables `names` (those set on the host).
pub(super) fn configure(builder: &mut WasiCtxBuilder, names: &[String]) {
    for name in names {
        if let Ok(value) = std::env::var(name) {
            builder.env(name, value);
        }
    }
}
