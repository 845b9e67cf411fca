//! Builds the test guests under `tests/guests/` and exposes their paths as
//! constants (`ROUNDTRIP_FORMAT`, …). A guest that no test refers to fails
//! the build: every test component must be exercised.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = weir_guest_build::workspace_root();
    let guests_dir = root.join("tests/guests");
    weir_guest_build::rerun_if_changed(&guests_dir);

    let mut names: Vec<String> = std::fs::read_dir(&guests_dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", guests_dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let packages: Vec<String> = names.iter().map(|n| format!("weir-test-{n}")).collect();
    let refs: Vec<&str> = packages.iter().map(String::as_str).collect();
    let built = weir_guest_build::build(&refs);

    let tests_src = read_tests(&root.join("tests"));
    let mut out = String::new();
    for (name, guest) in names.iter().zip(&built) {
        let constant = name.to_uppercase().replace('-', "_");
        if !tests_src.contains(&constant) {
            panic!(
                "test guest tests/guests/{name} is not used by any test: refer to `{constant}` in a test under tests/ or remove the guest"
            );
        }
        writeln!(
            out,
            "/// Path of the `tests/guests/{name}` component.\npub const {constant}: &str = {:?};",
            guest.wasm
        )
        .expect("write to String");
    }
    let dest = Path::new(&std::env::var_os("OUT_DIR").expect("set by cargo")).join("guests.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("failed to write {}: {e}", dest.display()));
}

/// The text of every test source file directly under `tests/`.
fn read_tests(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.extension().is_some_and(|e| e == "rs") && name != "build.rs" && name != "lib.rs" {
            println!("cargo:rerun-if-changed={}", path.display());
            all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    all
}
