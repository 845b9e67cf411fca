//! Builds the built-in components and embeds them in the library (feature
//! `builtins`, on by default), so `cargo install --path cli` gives a
//! working tool with no extra step. Without the feature nothing is built
//! and the catalog starts empty.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// Every built-in component: its crate (a workspace member) and folder.
/// Adding a connector or format = one folder + one line here.
const BUILTINS: &[(&str, &str)] = &[
    ("weir-format-raw", "guest-formats/raw"),
    ("weir-format-csv", "guest-formats/csv"),
    ("weir-format-json", "guest-formats/json"),
    ("weir-format-changelog-csv", "guest-formats/changelog-csv"),
    ("weir-format-debezium-json", "guest-formats/debezium-json"),
    ("weir-format-canal-json", "guest-formats/canal-json"),
    ("weir-format-maxwell-json", "guest-formats/maxwell-json"),
    ("weir-format-ogg-json", "guest-formats/ogg-json"),
    ("weir-connector-blackhole", "guest-connectors/blackhole"),
    ("weir-connector-datagen", "guest-connectors/datagen"),
    ("weir-connector-print", "guest-connectors/print"),
    ("weir-connector-socket", "guest-connectors/socket"),
    ("weir-connector-filesystem", "guest-connectors/filesystem"),
    ("weir-connector-kafka", "guest-connectors/kafka"),
    ("weir-connector-upsert-kafka", "guest-connectors/upsert-kafka"),
    ("weir-connector-jdbc", "guest-connectors/jdbc"),
    ("weir-connector-chroma", "guest-connectors/chroma"),
];

fn main() {
    if std::env::var_os("CARGO_FEATURE_BUILTINS").is_none() {
        let dest = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("builtins.rs");
        let empty = "/// Built-in components: none (the `builtins` feature is off).\npub static BUILTINS: &[(&str, &[u8], &str)] = &[];\n";
        std::fs::write(&dest, empty).unwrap_or_else(|e| panic!("failed to write {}: {e}", dest.display()));
        return;
    }
    let root = weir_guest_build::workspace_root();
    for (_, dir) in BUILTINS {
        weir_guest_build::rerun_if_changed(&root.join(dir));
    }
    // What every built-in is made of besides its own folder: the contract
    // and the guest SDK (a change there must rebuild them too).
    for shared in ["wit", "sdk/rust/src", "sdk/text/src", "sdk/framing/src"] {
        weir_guest_build::rerun_if_changed(&root.join(shared));
    }
    let packages: Vec<&str> = BUILTINS.iter().map(|(p, _)| *p).collect();
    let built = weir_guest_build::build(&packages);

    let mut out = String::from(
        "/// Built-in components: (crate, component bytes, their SHA-256 in hex).\n\
         pub static BUILTINS: &[(&str, &[u8], &str)] = &[\n",
    );
    for guest in &built {
        // The digest names the component in the compile cache; worked out
        // here so a process start does not hash every built-in.
        let bytes = std::fs::read(&guest.wasm).unwrap_or_else(|e| panic!("reading {}: {e}", guest.wasm.display()));
        let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        writeln!(out, "    ({:?}, include_bytes!({:?}), {digest:?}),", guest.package, guest.wasm)
            .expect("write to String");
    }
    out.push_str("];\n");
    let dest = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("builtins.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("failed to write {}: {e}", dest.display()));
}
