//! Host bindings, one module per supported version of the WIT package.
//!
//! A released contract version is never edited: when `0.2.0` arrives it gets
//! a module beside `v0_1_0`, and the runtime converts both into its own
//! model: [`crate::spec`] for specs, `convert` for schemas and types
//! ([`crate::model`]). The boundary batch of `v0_1_0` is converted straight
//! to Arrow ([`crate::batch`]).

pub(crate) mod convert;

/// `weir:connector@0.1.0`, bound through its union world `runtime`, so one
/// set of types serves every component kind; each component only has the
/// interfaces of its own kind's world, loaded one by one in
/// [`crate::instance`].
pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        world: "weir:connector/runtime@0.1.0",
        path: "../wit/v0.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });

    /// The package version this module binds.
    pub const VERSION: &str = "0.1.0";
}
