//! Builds the built-in components and embeds them in the `weir` binary, so
//! `cargo install --path runtime` gives a working tool with no extra step.

use std::fmt::Write as _;

/// Every built-in component: its crate (a workspace member) and folder.
/// Adding a connector or format = one folder + one line here.
const BUILTINS: &[(&str, &str)] = &[
    ("weir-format-raw", "guest-formats/raw"),
    ("weir-format-csv", "guest-formats/csv"),
    ("weir-format-json", "guest-formats/json"),
    ("weir-format-changelog-csv", "guest-formats/changelog-csv"),
    ("weir-connector-blackhole", "guest-connectors/blackhole"),
    ("weir-connector-datagen", "guest-connectors/datagen"),
    ("weir-connector-print", "guest-connectors/print"),
    ("weir-connector-socket", "guest-connectors/socket"),
    ("weir-connector-filesystem", "guest-connectors/filesystem"),
];

fn main() {
    let root = weir_guest_build::workspace_root();
    for (_, dir) in BUILTINS {
        weir_guest_build::rerun_if_changed(&root.join(dir));
    }
    let packages: Vec<&str> = BUILTINS.iter().map(|(p, _)| *p).collect();
    let built = weir_guest_build::build(&packages);

    let mut out = String::from(
        "/// Built-in components: (crate, component bytes).\npub static BUILTINS: &[(&str, &[u8])] = &[\n",
    );
    for guest in &built {
        writeln!(out, "    ({:?}, include_bytes!({:?})),", guest.package, guest.wasm).expect("write to String");
    }
    out.push_str("];\n");
    let dest = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("builtins.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("failed to write {}: {e}", dest.display()));
}
