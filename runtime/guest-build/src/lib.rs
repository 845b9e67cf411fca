//! Builds Weir guest crates into `wasm32-wasip2` components from a build
//! script, so `cargo build`, `cargo test` and `cargo install --path runtime`
//! need no manual step.
//!
//! Guests are built by a nested `cargo build` into their own target
//! directory (next to the outer one): the outer build holds the lock on its
//! own directory, and the guests' profile (`guest`: opt-level 3, LTO) and
//! target differ anyway. The nested cargo shares the workspace's Cargo.lock.
//!
//! ```no_run
//! // build.rs
//! let built = weir_guest_build::build(&["weir-format-raw"]);
//! for guest in &built {
//!     println!("{} -> {}", guest.package, guest.wasm.display());
//! }
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target every guest is compiled for.
pub const TARGET: &str = "wasm32-wasip2";

/// A built guest component.
#[derive(Debug, Clone)]
pub struct Built {
    /// Cargo package name, e.g. `weir-format-raw`.
    pub package: String,
    /// Absolute path of the component.
    pub wasm: PathBuf,
}

/// The workspace root (where `Cargo.toml` with `[workspace]` lives), found
/// from the calling build script's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|toml| toml.contains("[workspace]")))
        .unwrap_or_else(|| panic!("no workspace Cargo.toml above {}", manifest.display()))
        .to_path_buf()
}

/// Builds `packages` (workspace members) for `wasm32-wasip2` with the
/// `guest` profile and returns where each component is. Panics with a
/// message saying what to do when the build fails: a build script has no
/// other way to report.
pub fn build(packages: &[&str]) -> Vec<Built> {
    let root = workspace_root();
    for dir in ["wit", "sdk/rust/src", "sdk/rust/build.rs", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    ensure_target();

    let target_dir = guest_target_dir();
    packages.iter().map(|p| build_one(&root, &target_dir, p)).collect()
}

/// Guests are plain `rlib`s in the workspace (so native builds, tests and
/// clippy treat them like any library); only here are they linked as a
/// `cdylib`, which for wasm32-wasip2 is a component.
fn build_one(root: &Path, target_dir: &Path, package: &str) -> Built {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["rustc", "--quiet", "--profile", "guest", "--target", TARGET, "--crate-type", "cdylib", "-p", package])
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's settings must not leak into the guest build: clippy's
    // wrapper, host rustflags and a forced target would change or break it.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    // WebAssembly SIMD (on in wasmtime by default) lets LLVM vectorise the
    // byte scans of the text formats, as it does natively with SSE2.
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+simd128");
    let status = cmd.status().unwrap_or_else(|e| panic!("failed to run cargo to build guest {package}: {e}"));
    if !status.success() {
        panic!(
            "building the guest component {package} for {TARGET} failed (see the errors above); rebuild it by hand \
             with `cargo rustc --profile guest --target {TARGET} --crate-type cdylib -p {package}`"
        );
    }
    let wasm = target_dir.join(TARGET).join("guest").join(format!("{}.wasm", package.replace('-', "_")));
    assert!(wasm.is_file(), "guest {package} built but {} is missing", wasm.display());
    Built { package: package.to_owned(), wasm }
}

/// Tells cargo to rebuild when anything under `dir` changes.
pub fn rerun_if_changed(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
}

/// `<outer target dir>/wasm-guests`, derived from OUT_DIR
/// (`<target>/[<triple>/]<profile>/build/<pkg>-<hash>/out`).
fn guest_target_dir() -> PathBuf {
    let out = PathBuf::from(env("OUT_DIR"));
    let build = out
        .ancestors()
        .find(|d| d.file_name().is_some_and(|n| n == "build"))
        .unwrap_or_else(|| panic!("unexpected OUT_DIR layout: {}", out.display()));
    let profile_dir = build.parent().expect("build dir has a parent");
    let target_root = profile_dir.parent().expect("profile dir has a parent");
    target_root.join("wasm-guests")
}

/// Installs the wasm32-wasip2 standard library through rustup when it is
/// missing, so a fresh toolchain builds without a manual step.
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let installed = sysroot.is_some_and(|s| s.join("lib/rustlib").join(TARGET).is_dir());
    if installed {
        return;
    }
    let ok = Command::new("rustup").args(["target", "add", TARGET]).status().is_ok_and(|s| s.success());
    if !ok {
        panic!("the Rust standard library for {TARGET} is missing; install it with `rustup target add {TARGET}`");
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: call this from a build script"))
}
