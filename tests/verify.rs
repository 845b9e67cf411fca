//! `weir verify` — the contract-conformance suite — passes on every built-in
//! component and on the Python and JavaScript ones, and fails, naming the
//! right check, on components broken on purpose.

use std::net::TcpListener;
use std::path::PathBuf;

use weir::policy::{Endpoint, Grants};
use weir_tests::guests::{BROKEN_CAPABILITY, BROKEN_COMMIT, BROKEN_RESTORE, BROKEN_SPEC, BROKEN_TRAP};
use weir_tests::{engine_config, polyglot};
use weir_verify::{Outcome, Report, VerifyConfig};

async fn verify_bytes(name: &str, wasm: &[u8], config: &VerifyConfig) -> Report {
    let engine = std::sync::Arc::new(weir::engine::Engine::new(&engine_config()).expect("engine"));
    let report = weir_verify::verify(engine, name, wasm, config).await;
    eprintln!("{}", weir_verify::render(&report));
    report
}

async fn verify_file(path: &str, config: &VerifyConfig) -> Report {
    let wasm = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    verify_bytes(path, &wasm, config).await
}

fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Asserts that `check` failed and its detail mentions `expected`.
fn assert_fails(report: &Report, check: &str, expected: &str) {
    assert!(!report.passed(), "{} should fail verification", report.file);
    let c = report.check(check).unwrap_or_else(|| panic!("{}: no check '{check}' ran", report.file));
    assert_eq!(c.outcome, Outcome::Fail, "{}: '{check}' should fail: {}", report.file, c.detail);
    assert!(c.detail.contains(expected), "{}: '{check}': expected {expected:?} in {:?}", report.file, c.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_built_in_component_conforms() {
    let dir = std::env::temp_dir().join(format!("weir-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::write(dir.join("part-0.csv"), (0..50).map(|i| format!("{i},name{i}\n")).collect::<String>())
        .expect("data");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("address").port().to_string();
    let accepting = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).expect("non-blocking");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline && held.len() < 64 {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    });
    let path = dir.display().to_string();
    for (package, wasm, _) in weir::catalog::BUILTINS {
        // What each built-in needs from the operator to run its data path.
        let config = match *package {
            "weir-connector-datagen" => {
                VerifyConfig { options: options(&[("number-of-rows", "300")]), ..Default::default() }
            }
            "weir-connector-filesystem" => VerifyConfig {
                options: options(&[("path", &path)]),
                grants: Grants { write: vec![PathBuf::from(&path)], ..Grants::none() },
                ..Default::default()
            },
            "weir-connector-socket" => VerifyConfig {
                options: options(&[("hostname", "127.0.0.1"), ("port", &port)]),
                grants: Grants {
                    connect: vec![Endpoint { host: "127.0.0.1".into(), port: port.parse().expect("port") }],
                    ..Grants::none()
                },
                ..Default::default()
            },
            "weir-connector-kafka" => {
                let k = weir_tests::peers::kafka();
                k.create_topic("verify", 2);
                k.client(&["produce", "verify"], &(0..300).map(|i| format!("{i}\n")).collect::<String>());
                VerifyConfig {
                    options: options(&[
                        ("topic", "verify"),
                        ("properties.bootstrap.servers", &k.bootstrap),
                        ("scan.startup.mode", "earliest-offset"),
                        ("scan.bounded.mode", "latest-offset"),
                    ]),
                    grants: Grants {
                        connect: vec![Endpoint { host: "127.0.0.1".into(), port: k.port }],
                        ..Grants::none()
                    },
                    ..Default::default()
                }
            }
            "weir-connector-upsert-kafka" => {
                let k = weir_tests::peers::kafka();
                k.create_topic("verify-upsert", 1);
                k.client(
                    &["produce", "verify-upsert", "--keyed"],
                    &(0..50).map(|i| format!("{i}|{i}\n")).collect::<String>(),
                );
                use weir::model::{DataType, Field, Schema};
                let mut schema = Schema::new(vec![
                    Field { nullable: false, ..Field::new("id", DataType::BigInt) },
                    Field::new("name", DataType::String),
                ]);
                schema.primary_key = vec!["id".into()];
                VerifyConfig {
                    options: options(&[
                        ("topic", "verify-upsert"),
                        ("properties.bootstrap.servers", &k.bootstrap),
                        ("key.format", "raw"),
                        ("value.format", "raw"),
                        ("scan.bounded.mode", "latest-offset"),
                    ]),
                    schema: Some(schema),
                    grants: Grants {
                        connect: vec![Endpoint { host: "127.0.0.1".into(), port: k.port }],
                        ..Grants::none()
                    },
                    ..Default::default()
                }
            }
            "weir-connector-jdbc" => {
                let pg = weir_tests::peers::postgres();
                pg.psql(
                    "CREATE TABLE IF NOT EXISTS verify_rows (id BIGINT, name TEXT);
                     TRUNCATE verify_rows; INSERT INTO verify_rows SELECT i, 'n' || i FROM generate_series(1, 300) i;",
                );
                VerifyConfig {
                    options: options(&[
                        ("url", &pg.url()),
                        ("table-name", "verify_rows"),
                        ("username", pg.user),
                        ("password", pg.password),
                    ]),
                    grants: Grants {
                        connect: vec![Endpoint { host: "127.0.0.1".into(), port: pg.port }],
                        ..Grants::none()
                    },
                    ..Default::default()
                }
            }
            "weir-connector-chroma" => {
                let chroma = weir_tests::peers::chroma();
                chroma.client_with("seed", "verify-rows", &["300"]);
                VerifyConfig {
                    options: options(&[("url", &chroma.url()), ("collection", "verify-rows")]),
                    schema: Some(vector_schema()),
                    grants: Grants { http: vec![format!("{}/", chroma.url())], ..Grants::none() },
                    ..Default::default()
                }
            }
            "weir-connector-print" => {
                VerifyConfig { grants: Grants { stdout: true, ..Grants::none() }, ..Default::default() }
            }
            _ => VerifyConfig::default(),
        };
        let report = verify_bytes(package, wasm, &config).await;
        assert!(report.passed(), "{package} should conform:\n{}", weir_verify::render(&report));
        let ran = report.checks.iter().filter(|c| c.outcome == Outcome::Pass).count();
        assert!(ran >= 9, "{package}: only {ran} checks passed");
    }
    drop(accepting);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_restore_check_reads_real_splits() {
    // datagen, bounded: the restore check runs (and passes) rather than skip.
    let wasm = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-connector-datagen").expect("datagen").1;
    let config = VerifyConfig { options: options(&[("number-of-rows", "300")]), ..Default::default() };
    let report = verify_bytes("datagen", wasm, &config).await;
    let restore = report.check("source.checkpoint-restore").expect("ran");
    assert_eq!(restore.outcome, Outcome::Pass, "{}", restore.detail);
    assert!(restore.detail.contains("300 records read"), "{}", restore.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_restore_check_compares_a_bounded_prefix_of_long_and_slow_splits() {
    let wasm = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-connector-datagen").expect("datagen").1;
    // Longer than one read of the check (100,000 records): a correct
    // source must pass on the prefix, not be blamed for "duplicates".
    let long = VerifyConfig {
        options: options(&[("number-of-rows", "300000"), ("rows-per-second", "100000000")]),
        ..Default::default()
    };
    let report = verify_bytes("datagen", wasm, &long).await;
    let restore = report.check("source.checkpoint-restore").expect("ran");
    assert_eq!(restore.outcome, Outcome::Pass, "{}", restore.detail);
    assert!(restore.detail.contains("of a longer split"), "{}", restore.detail);
    // Rate-limited: the reader says would-block between rows.
    let slow = VerifyConfig {
        options: options(&[("number-of-rows", "100000"), ("rows-per-second", "200")]),
        ..Default::default()
    };
    let report = verify_bytes("datagen", wasm, &slow).await;
    let restore = report.check("source.checkpoint-restore").expect("ran");
    assert_eq!(restore.outcome, Outcome::Pass, "{}", restore.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn skipped_checks_are_counted_with_their_true_reason() {
    let wasm = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-connector-filesystem").expect("fs").1;
    // No 'path': the data-path checks cannot run, and the verdict says so.
    let report = verify_bytes("filesystem", wasm, &VerifyConfig::default()).await;
    let verdict = weir_verify::verdict(&report);
    assert!(report.passed(), "nothing failed");
    assert!(!verdict.contains("conforms"), "{verdict}");
    assert!(
        verdict.contains("skipped")
            && verdict.contains("not verified: ")
            && verdict.contains("source.checkpoint-restore"),
        "{verdict}"
    );
    let skipped = report.check("source.checkpoint-restore").expect("listed");
    assert!(
        skipped.detail.contains("'path'") && skipped.detail.contains("--option filesystem:path="),
        "{}",
        skipped.detail
    );
    // A schema the component refuses is the reason given, not "needs options".
    let datagen = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-connector-datagen").expect("datagen").1;
    let schema = weir::model::Schema::new(vec![weir::model::Field::new("v", weir::model::DataType::Varbinary(3))]);
    let config = VerifyConfig {
        options: options(&[("number-of-rows", "10"), ("fields.v.kind", "sequence")]),
        schema: Some(schema),
        ..Default::default()
    };
    let report = verify_bytes("datagen", datagen, &config).await;
    let skipped = report.check("source.checkpoint-restore").expect("listed");
    assert_eq!(skipped.outcome, Outcome::Skip);
    assert!(skipped.detail.contains("refused the options or the schema"), "{}", skipped.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn options_can_be_scoped_to_one_of_several_components() {
    let config = VerifyConfig {
        options: options(&[("datagen:number-of-rows", "50"), ("raw:charset", "UTF-8")]),
        several: true,
        ..Default::default()
    };
    for (package, name) in [("weir-connector-datagen", "datagen"), ("weir-format-csv", "csv")] {
        let wasm = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == package).expect("built in").1;
        let report = verify_bytes(name, wasm, &config).await;
        assert!(report.passed(), "{name}: {}", weir_verify::render(&report));
    }
    let wasm = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-connector-datagen").expect("datagen").1;
    let report = verify_bytes("datagen", wasm, &config).await;
    let restore = report.check("source.checkpoint-restore").expect("ran");
    assert!(restore.detail.contains("50 records read"), "the scoped option reached datagen: {}", restore.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn python_and_javascript_components_conform() {
    for name in ["python-changelog-csv", "js-changelog-csv", "python-logfmt", "js-urlencoded"] {
        let report = verify_file(&polyglot(name), &VerifyConfig::default()).await;
        assert!(report.passed(), "{name} should conform:\n{}", weir_verify::render(&report));
        let round_trip = report.check("format.round-trip").expect("ran");
        assert!(round_trip.detail.contains("14 types"), "{name}: {}", round_trip.detail);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_spec_fails_spec_options() {
    let report = verify_file(BROKEN_SPEC, &VerifyConfig::default()).await;
    assert_fails(&report, "spec.options", "the default of 'max-line-length' fails its own validation");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_on_malformed_input_fails_format_malformed_input() {
    let report = verify_file(BROKEN_TRAP, &VerifyConfig::default()).await;
    assert_fails(&report, "format.malformed-input", "must give a data error, not a trap");
    // The well-formed checks still pass: the failure is pinned to one check.
    assert_eq!(report.check("format.round-trip").expect("ran").outcome, Outcome::Pass);
}

#[tokio::test(flavor = "multi_thread")]
async fn undeclared_capability_use_fails_capabilities_used() {
    let report = verify_file(BROKEN_CAPABILITY, &VerifyConfig::default()).await;
    assert_fails(&report, "capabilities.used", "TCP connect or listen");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_idempotent_commit_fails_sink_commit_idempotent() {
    let report = verify_file(BROKEN_COMMIT, &VerifyConfig::default()).await;
    assert_fails(&report, "sink.commit-idempotent", "commit #2 of the same committables failed");
    assert_eq!(report.check("sink.abort").expect("ran").outcome, Outcome::Pass);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lossy_restore_fails_source_checkpoint_restore() {
    let report = verify_file(BROKEN_RESTORE, &VerifyConfig::default()).await;
    assert_fails(&report, "source.checkpoint-restore", "50 duplicated");
}

/// The vector-search checks on jdbc over pgvector: a table with rows and
/// an empty one; a wrong dimension is refused, top-k stays within bounds.
#[tokio::test(flavor = "multi_thread")]
async fn jdbc_vector_search_passes_the_vector_checks() {
    let pg = weir_tests::peers::postgres();
    pg.psql(
        "CREATE EXTENSION IF NOT EXISTS vector;
         CREATE TABLE IF NOT EXISTS verify_vectors (id BIGINT, embedding vector(3));
         TRUNCATE verify_vectors; INSERT INTO verify_vectors SELECT i, ARRAY[i, i * 2, 1]::vector FROM generate_series(1, 20) i;
         CREATE TABLE IF NOT EXISTS verify_no_vectors (id BIGINT, embedding vector(3));",
    );
    use weir::model::{DataType, Field, Schema};
    let schema = Schema::new(vec![
        Field::new("id", DataType::BigInt),
        Field::new("embedding", DataType::Array { element: Box::new(DataType::Float), nullable: true }),
    ]);
    let jdbc = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-connector-jdbc").expect("jdbc").1;
    for (table, rows) in [("verify_vectors", "5 rows"), ("verify_no_vectors", "0 rows")] {
        let config = VerifyConfig {
            options: options(&[
                ("url", &pg.url()),
                ("table-name", table),
                ("username", pg.user),
                ("password", pg.password),
            ]),
            schema: Some(schema.clone()),
            grants: Grants { connect: vec![Endpoint { host: "127.0.0.1".into(), port: pg.port }], ..Grants::none() },
            ..Default::default()
        };
        let report = verify_bytes("weir-connector-jdbc", jdbc, &config).await;
        let rendered = weir_verify::render(&report);
        for name in ["vector.top-k", "vector.dimension", "vector.top-k-bounds"] {
            let check = report.check(name).unwrap_or_else(|| panic!("{name} ran:\n{rendered}"));
            assert_eq!(check.outcome, Outcome::Pass, "{table}: {name}:\n{rendered}");
        }
        let top_k = &report.check("vector.top-k").expect("ran").detail;
        assert!(top_k.contains("dimension 3") && top_k.contains(rows), "{table}: {top_k}");
        assert!(report.check("vector.dimension").expect("ran").detail.contains("has 3"), "{rendered}");
    }
}

/// `id BIGINT NOT NULL, embedding ARRAY<FLOAT> NOT NULL, name STRING,
/// PRIMARY KEY (id)` (a Chroma record always has a vector).
fn vector_schema() -> weir::model::Schema {
    use weir::model::{DataType, Field, Schema};
    let mut schema = Schema::new(vec![
        Field { nullable: false, ..Field::new("id", DataType::BigInt) },
        Field {
            nullable: false,
            ..Field::new("embedding", DataType::Array { element: Box::new(DataType::Float), nullable: true })
        },
        Field::new("name", DataType::String),
    ]);
    schema.primary_key = vec!["id".into()];
    schema
}

#[tokio::test(flavor = "multi_thread")]
async fn chroma_passes_the_vector_checks_on_a_full_and_an_empty_collection() {
    let chroma = weir_tests::peers::chroma();
    chroma.client_with("seed", "verify-vectors", &["20"]);
    chroma.client_with("seed", "verify-empty", &["0"]);
    let wasm = weir::catalog::BUILTINS.iter().find(|(p, _, _)| *p == "weir-connector-chroma").expect("chroma").1;
    for (collection, top_k, dimension) in [
        ("verify-vectors", "dimension 3 answered 5 rows", "the query vector has 2 dimensions"),
        ("verify-empty", "dimension 1 answered 0 rows", "the index is empty and declares no dimension"),
    ] {
        let config = VerifyConfig {
            options: options(&[("url", &chroma.url()), ("collection", collection)]),
            schema: Some(vector_schema()),
            grants: Grants { http: vec![format!("{}/", chroma.url())], ..Grants::none() },
            ..Default::default()
        };
        let report = verify_bytes("weir-connector-chroma", wasm, &config).await;
        let rendered = weir_verify::render(&report);
        for name in ["vector.top-k", "vector.dimension", "vector.top-k-bounds"] {
            let check = report.check(name).unwrap_or_else(|| panic!("{name} ran:\n{rendered}"));
            assert_eq!(check.outcome, Outcome::Pass, "{collection}: {name}:\n{rendered}");
        }
        assert!(report.check("vector.top-k").expect("ran").detail.contains(top_k), "{rendered}");
        assert!(report.check("vector.dimension").expect("ran").detail.contains(dimension), "{rendered}");
        // The sink checks write vectors of the dimension the search
        // answered (none is known for the empty collection).
        let sink = report.check("sink.commit-idempotent").expect("ran");
        let want = if collection == "verify-vectors" { Outcome::Pass } else { Outcome::Skip };
        assert_eq!(sink.outcome, want, "{collection}:\n{rendered}");
    }
    // Chroma's own client sees the records the sink check upserted beside
    // the 20 seeded ones (20 generated rows, some keys repeated: upserts).
    let count: usize = chroma.client("count", "verify-vectors").trim().parse().expect("a count");
    assert!((21..=40).contains(&count), "{count} records");
}
