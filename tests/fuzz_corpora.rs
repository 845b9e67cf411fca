//! Replays the fuzz corpora (`fuzz/corpus/<target>/`, and any crash
//! reproducers kept in `fuzz/regressions/<target>/`) through the same entry
//! points the fuzz targets use, on stable Rust, so what the fuzzer found
//! stays fixed. `bash scripts/fuzz` grows the corpora.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz");
    let mut files = 0;
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).expect("corpus file");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} makes the host panic", entry.path().display());
            files += 1;
        }
    }
    assert!(files > 0, "no corpus for fuzz target '{target}' under {}", root.display());
}

#[test]
fn batch_validation_corpus_replays_without_a_panic() {
    replay("batch", weir_fuzz::batch);
}

#[test]
fn options_validation_corpus_replays_without_a_panic() {
    replay("options", weir_fuzz::options);
}

#[test]
fn sql_front_end_corpus_replays_without_a_panic() {
    replay("sql", |data| {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = weir_sql::parse("fuzz.sql", text);
        }
    });
}

#[test]
fn url_prefix_corpus_replays_without_a_finding() {
    replay("url_prefix", weir_fuzz::url_prefix);
}

#[test]
fn cdc_decoder_corpus_replays_without_a_panic() {
    replay("cdc", weir_fuzz::cdc);
}
