//! Bindings generated from the union world `weir:connector/runtime@0.1.0`.
//!
//! One `generate!` for every interface, so each interface's export glue and
//! each type (`Batch`, `ComponentSpec`, `Error`…) exists once whatever the
//! component's kind. `pub_export_macro` keeps the exports out of the custom
//! section emitted here; the SDK's `export_*!` macros add the section of the
//! component's own world (see `build.rs`).

#![allow(missing_docs, clippy::all)]

wit_bindgen::generate!({
    world: "weir:connector/runtime@0.1.0",
    path: "../../wit/v0.1.0",
    pub_export_macro: true,
    default_bindings_module: "weir_sdk::bindings",
    generate_unused_types: true,
});

include!(concat!(env!("OUT_DIR"), "/worlds.rs"));
