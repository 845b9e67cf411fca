//! Encodes, for each component kind, the WIT world its export macro declares.
//!
//! The SDK binds the union world `runtime` once (so wit-bindgen's
//! per-interface export glue exists exactly once), but a component must be
//! typed by its own kind's world: a format exports `factory` and `format`,
//! nothing else. Each `export_*!` macro therefore embeds the encoding of its
//! kind's world as a `component-type` custom section, exactly what
//! wit-bindgen itself emits, produced here with the same encoder.

use std::fmt::Write as _;
use std::path::PathBuf;

const WORLDS: &[(&str, &str)] = &[
    ("FORMAT", "format-component"),
    ("SOURCE", "source-component"),
    ("SINK", "sink-component"),
    ("CONNECTOR", "connector-component"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let wit = manifest.join("../../wit/v0.1.0");
    println!("cargo:rerun-if-changed={}", wit.display());

    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve
        .push_path(&wit)
        .unwrap_or_else(|e| panic!("failed to parse the WIT package in {}: {e:?}", wit.display()));

    let mut out = String::new();
    for (name, world) in WORLDS {
        let id = resolve
            .select_world(&[pkg], Some(world))
            .unwrap_or_else(|e| panic!("world `{world}` missing from the WIT package: {e:?}"));
        let bytes = wit_component::metadata::encode(&resolve, id, wit_component::StringEncoding::UTF8, None)
            .unwrap_or_else(|e| panic!("failed to encode world `{world}`: {e:?}"));
        writeln!(out, "#[doc(hidden)] pub const {name}_WORLD_TYPE: [u8; {}] = {:?};", bytes.len(), bytes)
            .expect("writing to a String");
    }
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("worlds.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("failed to write {}: {e}", dest.display()));
}
